import CHDF5
import Dispatch
import Foundation

/// The fast path for large arrays: a contiguous, unfiltered dataset whose on-disk type is already the
/// native type asked for is a plain run of bytes at a known file offset, so it is read with `pread` on
/// several threads straight into the result (libhdf5 would copy it on one). Everything else, and any
/// dataset under 8 MiB, goes through `H5Dread`, the reference path the tests also exercise.
extension H5Dataset {
    static let parallelThreshold = 8 << 20

    /// File offset and size of a contiguous, unfiltered, fixed-size dataset (the HDF5 lock held).
    func contiguousExtent() -> (offset: UInt64, bytes: Int)? {
        let dcpl = H5Dget_create_plist(id); defer { H5Pclose(dcpl) }
        guard H5Pget_layout(dcpl) == H5D_CONTIGUOUS, H5Pget_nfilters(dcpl) == 0,
              !(isString && H5Tis_variable_str(fileType) > 0) else { _ = hdf5ErrorMessage(); return nil }
        let o = H5Dget_offset(id)
        let bytes = Int(clamping: H5Dget_storage_size(id))
        guard o != haddr_t.max, bytes == count * Int(H5Tget_size(fileType)) else { _ = hdf5ErrorMessage(); return nil }
        return (UInt64(o), bytes)
    }

    /// 'f', 'i' or 'u' for little-endian numbers (what may be copied byte for byte), else nil.
    var elementKind: UInt8? {
        withHDF5 {
            guard H5Tget_order(fileType) == H5T_ORDER_LE else { return nil }
            if typeClass == H5T_FLOAT { return UInt8(ascii: "f") }
            if typeClass == H5T_INTEGER { return H5Tget_sign(fileType) == H5T_SGN_2 ? UInt8(ascii: "i") : UInt8(ascii: "u") }
            return nil
        }
    }

    func readContiguous<T>(_ memType: hid_t, as: T.Type) throws -> [T]? {
        let n = count
        let bytes = n * MemoryLayout<T>.stride
        guard bytes >= H5Dataset.parallelThreshold else { return nil }
        let extent: (offset: UInt64, bytes: Int)? = withHDF5 {
            guard H5Tequal(fileType, memType) > 0, H5Tget_size(fileType) == MemoryLayout<T>.stride else { return nil }
            return contiguousExtent()
        }
        guard let extent, extent.bytes == bytes else { return nil }
        // The HDF5 probe may already have read these bytes while it walked the file.
        if let pre = file.prefetch?.take(path: path, offset: extent.offset, bytes: bytes, as: T.self) { return pre }
        guard let out: [T] = ContiguousRead.pread(file: file.path, offset: extent.offset, count: n) else {
            throw fail(.corrupt, "its \(bytes) bytes at offset \(extent.offset) cannot be read (the file is shorter than its header says)",
                       fix: "the file is truncated; copy it again from its source")
        }
        return out
    }
}

enum ContiguousRead {
    /// Reads `count` elements of T at `offset` with pread on up to 8 threads; nil when the file is short.
    static func pread<T>(file: String, offset: UInt64, count n: Int) -> [T]? {
        let bytes = n * MemoryLayout<T>.stride
        let fd = Foundation.open(file, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var failed = false
        let out = [T](unsafeUninitializedCapacity: n) { buf, initialized in
            let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
            let chunk = (bytes + parts - 1) / parts
            let errors = UnsafeMutablePointer<Bool>.allocate(capacity: parts)
            errors.initialize(repeating: false, count: parts)
            defer { errors.deallocate() }
            // Addresses cross into the worker closure as integers; each worker owns a disjoint range.
            let base = Int(bitPattern: buf.baseAddress), errs = Int(bitPattern: errors)
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                var done = p * chunk
                let stop = min(bytes, done + chunk)
                while done < stop {
                    let r = Foundation.pread(fd, UnsafeMutableRawPointer(bitPattern: base + done), stop - done, off_t(offset) + off_t(done))
                    if r <= 0 { UnsafeMutablePointer<Bool>(bitPattern: errs)![p] = true; return }
                    done += r
                }
            }
            failed = (0..<parts).contains { errors[$0] }
            initialized = n
        }
        return failed ? nil : out
    }
}

/// Arrays the parent starts reading while the HDF5 probe is still walking the file. `pread` of an extent
/// inside the file is safe whatever the bytes hold; the reader later takes a buffer only when libhdf5,
/// in this process, reports the same offset and size for that dataset.
final class ProbePrefetch: @unchecked Sendable {
    final class Entry: @unchecked Sendable {
        let extent: ProbeStream.Extent
        let done = DispatchGroup()
        var array: Any?
        init(_ e: ProbeStream.Extent) { extent = e }
    }

    let path: String
    let fileSize: Int
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]

    init(path: String, fileSize: Int) { self.path = path; self.fileSize = fileSize }

    func start(_ e: ProbeStream.Extent) {
        guard e.bytes > 0, e.offset <= UInt64(fileSize), Int(e.offset) + e.bytes <= fileSize else { return }
        switch (e.kind, e.size) {
        case (UInt8(ascii: "f"), 4): launch(e, Float.self)
        case (UInt8(ascii: "f"), 8): launch(e, Double.self)
        case (UInt8(ascii: "i"), 4): launch(e, Int32.self)
        case (UInt8(ascii: "i"), 8): launch(e, Int64.self)
        default: break
        }
    }

    private func launch<T>(_ e: ProbeStream.Extent, _: T.Type) {
        guard e.bytes % MemoryLayout<T>.stride == 0 else { return }
        let entry = Entry(e)
        lock.lock(); entries[e.path] = entry; lock.unlock()
        entry.done.enter()
        let file = path
        DispatchQueue.global().async {
            entry.array = ContiguousRead.pread(file: file, offset: e.offset, count: e.bytes / MemoryLayout<T>.stride) as [T]?
            entry.done.leave()
        }
    }

    /// The prefetched array for `path`, when its extent matches; waits for the read to finish.
    func take<T>(path: String, offset: UInt64, bytes: Int, as: T.Type) -> [T]? {
        lock.lock(); let e = entries.removeValue(forKey: path); lock.unlock()
        guard let e, e.extent.offset == offset, e.extent.bytes == bytes else { return nil }
        e.done.wait()
        return e.array as? [T]
    }
}
