import CHDF5
import Foundation

/// Crash isolation for untrusted HDF5 files.
///
/// libhdf5 1.10 trusts the bytes it parses: a damaged object header or chunk index can make it read out of
/// bounds or loop forever (our mutation test finds such files in minutes). So before a file is parsed in
/// this process, a child process (`tessera __h5probe FILE`) walks it: every object header and attribute,
/// every chunked, compact or variable-length dataset read in full, and every contiguous dataset's extent
/// checked against the file size. A crash or hang stays in the child and becomes a `.corrupt` error here;
/// a file that passes is then read in-process along the same paths the probe exercised.
public enum HDF5Probe {
    /// The executable that implements `__h5probe`: `$TESSERA_HDF5_PROBE`, else `tessera` beside this
    /// process's executable (true for the CLI, the daemon and the test runner), else nil (no isolation).
    public static let executable: String? = {
        let env = ProcessInfo.processInfo.environment
        if let p = env["TESSERA_HDF5_PROBE"] { return p.isEmpty || p == "off" ? nil : p }
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let candidate = (exe as NSString).deletingLastPathComponent + "/tessera"
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }()

    /// Seconds the child may take; scaled up for large files. `$TESSERA_HDF5_PROBE_TIMEOUT` overrides.
    static func timeout(forBytes size: Int) -> Double {
        if let t = ProcessInfo.processInfo.environment["TESSERA_HDF5_PROBE_TIMEOUT"].flatMap(Double.init) { return t }
        return 60 + Double(size) / 20_000_000
    }

    /// Runs the probe on `path` in a child process; throws `.corrupt` when it crashes or hangs, or the
    /// child's own typed error. Returns the variable-length string datasets the child decoded (path →
    /// strings), so the caller need not decode them again.
    static func verify(_ path: String) throws -> [String: [String]] {
        guard let exe = executable else { return [:] }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["__h5probe", path]
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"   // the child does no linear algebra; no spinning BLAS threads
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return [:] }   // cannot spawn: fall back to in-process reading
        // Drain stdout while the child runs (it can write more than a pipe buffer holds).
        final class Sink: @unchecked Sendable { var data = Data() }
        let sink = Sink(), drained = DispatchSemaphore(value: 0)
        let reader = out.fileHandleForReading
        Thread.detachNewThread { sink.data = reader.readDataToEndOfFile(); drained.signal() }
        let deadline = Date().addingTimeInterval(timeout(forBytes: size))
        var timedOut = false
        while p.isRunning {
            if Date() > deadline { kill(p.processIdentifier, SIGKILL); timedOut = true; break }
            usleep(1_000)
        }
        p.waitUntilExit()
        drained.wait()
        if timedOut {
            throw ImportError(.corrupt, file: path, field: "", problem: "parsing the HDF5 structure did not finish (the file's internal links loop or are damaged)",
                              fix: "the file is damaged; copy it again from its source")
        }
        if p.terminationReason == .uncaughtSignal {
            throw ImportError(.corrupt, file: path, field: "", problem: "the HDF5 library crashed (signal \(p.terminationStatus)) while parsing the file's structure",
                              fix: "the file is damaged or truncated; copy it again from its source")
        }
        let (strings, childError) = ProbeStream.decode(sink.data)
        if let e = childError { throw e }
        guard p.terminationStatus == 0 else {
            throw ImportError(.corrupt, file: path, field: "", problem: "the structure check failed (exit status \(p.terminationStatus))",
                              fix: "the file is damaged; copy it again from its source")
        }
        return strings
    }

    /// The child side: walks the file, streaming decoded string datasets and then the verdict to `out`.
    /// Returns the exit status (0 sound, 3 a typed problem).
    public static func runChild(_ path: String, out: FileHandle) -> Int32 {
        var stream = ProbeStream(out: out)
        do {
            let f = try H5File.open(path, probe: false)
            try withHDF5 { try f.exerciseAllData { stream.emit(path: $0, count: $1, body: $2) } }
            stream.finish(nil)
            return 0
        } catch {
            let e = error as? ImportError ?? ImportError(.corrupt, file: path, field: "", problem: "\(error)", fix: "the file is damaged; copy it again from its source")
            stream.finish(e)
            return 3
        }
    }
}

/// The probe's stdout: records `S` (UInt32 path length, path, UInt64 count, UInt64 byte length, the strings
/// each NUL-terminated), then `K` (sound) or `E` (UInt32 length, the ImportError as JSON).
struct ProbeStream {
    let out: FileHandle?

    init(out: FileHandle?) { self.out = out }

    /// `body` holds `count` NUL-terminated strings back to back.
    mutating func emit(path: String, count: Int, body: [UInt8]) {
        guard let out else { return }
        var d = Data("S".utf8)
        append(&d, UInt32(path.utf8.count)); d.append(contentsOf: path.utf8)
        append(&d, UInt64(count)); append(&d, UInt64(body.count))
        out.write(d); body.withUnsafeBytes { out.write(Data($0)) }
    }

    func finish(_ error: ImportError?) {
        guard let out else { return }
        if let error, let json = try? JSONEncoder().encode(error) {
            var d = Data("E".utf8); append(&d, UInt32(json.count)); d.append(json); out.write(d)
        } else {
            out.write(Data("K".utf8))
        }
    }

    private func append<T: FixedWidthInteger>(_ d: inout Data, _ v: T) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }

    /// Parses a stream; a truncated stream (the child died) yields what was complete and no verdict.
    static func decode(_ data: Data) -> (strings: [String: [String]], error: ImportError?) {
        var out: [String: [String]] = [:]
        return data.withUnsafeBytes { raw -> ([String: [String]], ImportError?) in
            var i = 0
            func int<T: FixedWidthInteger>(_: T.Type) -> T? {
                guard i + MemoryLayout<T>.size <= raw.count else { return nil }
                var v: T = 0
                withUnsafeMutableBytes(of: &v) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[i..<i + MemoryLayout<T>.size])) }
                i += MemoryLayout<T>.size
                return T(littleEndian: v)
            }
            while i < raw.count {
                let tag = raw[i]; i += 1
                switch tag {
                case UInt8(ascii: "S"):
                    guard let pl = int(UInt32.self), i + Int(pl) <= raw.count else { return (out, nil) }
                    let path = String(decoding: UnsafeRawBufferPointer(rebasing: raw[i..<i + Int(pl)]), as: UTF8.self); i += Int(pl)
                    guard let n = int(UInt64.self), let len = int(UInt64.self), i + Int(len) <= raw.count else { return (out, nil) }
                    var strings = [String](); strings.reserveCapacity(Int(n))
                    var start = i
                    let end = i + Int(len)
                    while start < end {
                        var stop = start
                        while raw[stop] != 0 { stop += 1 }
                        strings.append(String(decoding: UnsafeRawBufferPointer(rebasing: raw[start..<stop]), as: UTF8.self))
                        start = stop + 1
                    }
                    i = end
                    if strings.count == Int(n) { out[path] = strings }
                case UInt8(ascii: "E"):
                    guard let l = int(UInt32.self), i + Int(l) <= raw.count else { return (out, nil) }
                    let e = try? JSONDecoder().decode(ImportError.self, from: Data(raw[i..<i + Int(l)]))
                    return (out, e)
                default:
                    return (out, nil)
                }
            }
            return (out, nil)
        }
    }
}

extension H5File {
    /// Reads every dataset whose decoding goes through libhdf5's parsers (chunk indexes, filters, global
    /// heaps of variable-length strings, compact storage) and bounds-checks the rest.
    func exerciseAllData(emit: (String, Int, [UInt8]) -> Void) throws {
        var paths: [String] = []
        func collect(_ g: H5Group) {
            exerciseAttributes(g.id, path: g.path)
            for c in g.children() {
                switch g.kind(of: c) {
                case .group?: if let sub = try? g.group(c), paths.count < 1_000_000 { collect(sub) }
                case .dataset?: paths.append(g.childPath(c))
                default: break
                }
            }
        }
        collect(root)
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? Int.max
        for p in paths {
            let d = try root.dataset(String(p.dropFirst()))
            exerciseAttributes(d.id, path: p)
            if let target = try d.referencedDataset(attribute: "categories") { _ = try target.readStrings() }
            try d.checkPlausible(bytesPerElement: 1)
            let dcpl = H5Dget_create_plist(d.id); defer { H5Pclose(dcpl) }
            let layout = H5Pget_layout(dcpl)
            let variable = d.isString && H5Tis_variable_str(d.fileType) > 0
            if layout == H5D_CONTIGUOUS && !variable && H5Pget_nfilters(dcpl) == 0 {
                let offset = H5Dget_offset(d.id)
                let bytes = Int(clamping: H5Dget_storage_size(d.id))
                if offset != UInt64.max, Int(clamping: offset).addingReportingOverflow(bytes).partialValue > fileSize || offset > UInt64(fileSize) {
                    throw d.fail(.corrupt, "its data extends past the end of the file", fix: "the file is truncated; copy it again from its source")
                }
                continue
            }
            // Read it through libhdf5, in the type class it holds.
            if d.isCompound {
                for m in H5Strings.compoundMembers(d) {
                    if m.typeClass == H5T_STRING { _ = try H5Strings.readCompoundStrings(d, member: m.name, size: m.size) }
                    else if m.typeClass == H5T_INTEGER || m.typeClass == H5T_FLOAT || m.typeClass == H5T_ENUM { _ = try H5Strings.readCompoundNumbers(d, member: m.name) }
                }
                continue
            }
            if d.isString && variable { emit(p, d.count, try H5Strings.readVariableBytes(d)) }
            else if d.isString { _ = try d.readStrings() }
            else if d.isNumeric { _ = try d.readDoubles() }
        }
    }

    /// Reads every attribute's value the way readers do (strings through the global heap, numbers, bools).
    func exerciseAttributes(_ obj: hid_t, path: String) {
        for name in H5Attributes.names(objectID: obj) {
            _ = H5Attributes.strings(file: self, objectID: obj, path: path, name)
            _ = H5Attributes.ints(objectID: obj, name)
        }
    }
}
