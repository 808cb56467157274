import CHDF5
import Foundation

/// libhdf5 (Debian's serial build) is not thread-safe: every call into it runs under this lock.
let hdf5Lock = NSRecursiveLock()

/// Runs `body` holding the HDF5 lock. Readers take it once for a whole file.
func withHDF5<T>(_ body: () throws -> T) rethrows -> T {
    hdf5Lock.lock(); defer { hdf5Lock.unlock() }
    return try body()
}

/// The error HDF5 put on its stack for the last failed call, as one line ("" when the stack is empty).
func hdf5ErrorMessage() -> String {
    final class Box { var lines: [String] = [] }
    let box = Box()
    let ctx = Unmanaged.passRetained(box).toOpaque()
    defer { Unmanaged<Box>.fromOpaque(ctx).release() }
    H5Ewalk2(tsr_e_default(), H5E_WALK_DOWNWARD, { _, err, data in
        guard let err, let data else { return 0 }
        let b = Unmanaged<Box>.fromOpaque(data).takeUnretainedValue()
        if let d = err.pointee.desc { b.lines.append(String(cString: d)) }
        return 0
    }, ctx)
    H5Eclear2(tsr_e_default())
    // The outermost message says what failed, the innermost why.
    guard let first = box.lines.first, let last = box.lines.last else { return "" }
    return first == last ? first : "\(first): \(last)"
}

/// An open HDF5 file. Closing happens when the last reference goes away.
public final class H5File: @unchecked Sendable {
    public let id: hid_t
    public let path: String
    /// String datasets the HDF5 probe decoded through libhdf5 (those GlobalHeapStrings cannot read),
    /// path → values; readers use them instead of decoding the same strings a second time.
    var probedStrings: [String: [String]] = [:]
    /// Large arrays the probe's extents let us start reading early.
    var prefetch: ProbePrefetch?

    init(id: hid_t, path: String) { self.id = id; self.path = path }

    /// Opens an existing file read-only, or throws an `ImportError` that says why not.
    public static func open(_ path: String, probe: Bool = true) throws -> H5File {
        // Existence and signature first (cheap, clear errors), then the crash-isolated structure walk.
        try checkSignature(path)
        let probed = probe ? try HDF5Probe.verify(path) : HDF5Probe.Result()
        return try withHDF5 {
            LZFFilter.register
            let fid = H5Fopen(path, tsr_f_acc_rdonly(), tsr_fapl_read())
            if fid < 0 {
                let msg = hdf5ErrorMessage()
                throw H5File.openError(path: path, message: msg)
            }
            let f = H5File(id: fid, path: path)
            if !probed.verified { try f.checkMetadata() }   // the probe child already walked every header
            f.probedStrings = probed.strings
            f.prefetch = probed.prefetch
            return f
        }
    }

    static func checkSignature(_ path: String) throws {
        try withHDF5 {
            tsr_silence_errors()
            guard FileManager.default.fileExists(atPath: path) else {
                throw ImportError(.unreadable, file: path, field: "", problem: "the file does not exist",
                                  fix: "check the path")
            }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ImportError(.unreadable, file: path, field: "", problem: "the file is not readable",
                                  fix: "check its permissions")
            }
            let isH5 = H5Fis_hdf5(path)
            if isH5 <= 0 {
                _ = hdf5ErrorMessage()
                throw ImportError(.corrupt, file: path, field: "", problem: "this is not an HDF5 file (no HDF5 signature found; the file may be truncated or another format)",
                                  fix: "check that the download or copy completed; .h5ad and 10x .h5 files are HDF5")
            }
        }
    }

    /// Creates (truncating) a file for writing.
    public static func create(_ path: String) throws -> H5File {
        try withHDF5 {
            tsr_silence_errors()
            let fid = H5Fcreate(path, tsr_f_acc_trunc(), tsr_p_default(), tsr_fapl_close_strong())
            if fid < 0 {
                throw ImportError(.unreadable, file: path, field: "", problem: "cannot create the file (\(hdf5ErrorMessage()))",
                                  fix: "check that the folder exists and is writable")
            }
            return H5File(id: fid, path: path)
        }
    }

    static func openError(path: String, message: String) -> ImportError {
        let lower = message.lowercased()
        // Files written with libver='latest' by a newer HDF5 (h5py wheels bundle 1.14/2.x) can carry
        // superblock or object-header versions that Debian's 1.10 does not know.
        if lower.contains("version") && (lower.contains("superblock") || lower.contains("bad") || lower.contains("unknown")) {
            return ImportError(.unsupported, file: path, field: "superblock",
                               problem: "the file uses an HDF5 format version this build's libhdf5 (\(H5File.libraryVersion)) cannot read (\(message))",
                               fix: "rewrite it in the default (oldest compatible) format: in Python, anndata.read_h5ad(path).write_h5ad(out)")
        }
        return ImportError(.corrupt, file: path, field: "", problem: "HDF5 cannot open the file: \(message.isEmpty ? "unknown error" : message)",
                           fix: "the file is damaged or truncated; copy it again from its source")
    }

    /// The libhdf5 version this process is linked against, e.g. "1.10.8".
    public static var libraryVersion: String {
        var a: UInt32 = 0, b: UInt32 = 0, c: UInt32 = 0
        H5get_libversion(&a, &b, &c)
        return "\(a).\(b).\(c)"
    }

    public var root: H5Group { H5Group(file: self, id: -1, path: "/") }

    deinit { withHDF5 { _ = H5Fclose(id) } }
}

extension String {
    /// Decodes a NUL-terminated C buffer.
    init(nulTerminated buf: [CChar]) {
        self = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
