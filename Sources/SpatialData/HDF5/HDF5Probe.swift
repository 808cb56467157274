import CHDF5
import Foundation

/// Crash isolation for untrusted HDF5 files.
///
/// libhdf5 1.10 trusts the bytes it parses: a damaged object header or chunk index can make it read out of
/// bounds or loop forever (the mutation test finds such files within a few hundred tries). So before a
/// file is parsed in this process, a child process (`tessera __h5probe FILE`) walks it: every object
/// header and attribute, every chunked, compact or variable-length dataset read in full, every contiguous
/// dataset's extent checked against the file size. A crash or hang stays in the child and becomes a
/// `.corrupt` error here; a file that passes is then read in-process along the paths the probe exercised.
///
/// The child's work is not wasted: it streams back the strings it decoded, and first of all the extents
/// of the large contiguous arrays, which this process starts reading with plain `pread` (safe on any
/// bytes) while the child is still walking. See `ProbeStream` for the wire format.
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

    /// What a successful probe hands to the reader.
    struct Result {
        var strings: [String: [String]] = [:]
        var prefetch: ProbePrefetch? = nil
        /// True when a child walked the file (false when no probe executable is available).
        var verified = false
    }

    /// Runs the probe on `path` in a child process; throws `.corrupt` when it crashes or hangs, or the
    /// child's own typed error.
    static func verify(_ path: String) throws -> Result {
        guard let exe = executable else { return Result() }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["__h5probe", path]
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"   // the child does no linear algebra: no spinning BLAS threads
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return Result() }   // cannot spawn: fall back to in-process reading
        // Parse stdout while the child runs: prefetches start as soon as their extents arrive.
        let prefetch = ProbePrefetch(path: path, fileSize: size)
        final class Outcome: @unchecked Sendable { var strings: [String: [String]] = [:]; var error: ImportError?; var sound = false }
        let outcome = Outcome(), parsed = DispatchSemaphore(value: 0)
        let reader = out.fileHandleForReading
        Thread.detachNewThread {
            var stream = ProbeStream.Reader(reader)
            stream.parse(onExtent: { prefetch.start($0) }, onStrings: { outcome.strings[$0] = $1 },
                         onVerdict: { outcome.error = $0; outcome.sound = $0 == nil })
            parsed.signal()
        }
        let deadline = Date().addingTimeInterval(timeout(forBytes: size))
        var timedOut = false
        while p.isRunning {
            if Date() > deadline { kill(p.processIdentifier, SIGKILL); timedOut = true; break }
            usleep(1_000)
        }
        p.waitUntilExit()
        parsed.wait()
        if timedOut {
            throw ImportError(.corrupt, file: path, field: "", problem: "parsing the HDF5 structure did not finish (the file's internal links loop or are damaged)",
                              fix: "the file is damaged; copy it again from its source")
        }
        if p.terminationReason == .uncaughtSignal {
            throw ImportError(.corrupt, file: path, field: "", problem: "the HDF5 library crashed (signal \(p.terminationStatus)) while parsing the file's structure",
                              fix: "the file is damaged or truncated; copy it again from its source")
        }
        if let e = outcome.error { throw e }
        guard p.terminationStatus == 0, outcome.sound else {
            throw ImportError(.corrupt, file: path, field: "", problem: "the structure check failed (exit status \(p.terminationStatus))",
                              fix: "the file is damaged; copy it again from its source")
        }
        return Result(strings: outcome.strings, prefetch: prefetch, verified: true)
    }

    /// The child side: walks the file, streaming extents, decoded strings and the verdict to `out`.
    /// Returns the exit status (0 sound, 3 a typed problem).
    public static func runChild(_ path: String, out: FileHandle) -> Int32 {
        let stream = ProbeStream.Writer(out)
        do {
            let f = try H5File.open(path, probe: false)
            try withHDF5 { try f.exerciseAllData(stream) }
            stream.finish(nil)
            return 0
        } catch {
            let e = error as? ImportError ?? ImportError(.corrupt, file: path, field: "", problem: "\(error)", fix: "the file is damaged; copy it again from its source")
            stream.finish(e)
            return 3
        }
    }
}

extension H5File {
    /// The probe's walk (the HDF5 lock held): first the extents of large contiguous arrays, bounds-checked
    /// and streamed so the parent can start reading them; then every attribute and every dataset whose
    /// decoding goes through libhdf5's parsers (chunk indexes, filters, global heaps, compact storage).
    func exerciseAllData(_ stream: ProbeStream.Writer) throws {
        var paths: [String] = []
        func collect(_ g: H5Group) {
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
        var contiguous = Set<String>()
        for p in paths {
            let d = try root.dataset(String(p.dropFirst()))
            try d.checkPlausible(bytesPerElement: 1)
            guard let extent = d.contiguousExtent() else { continue }
            if extent.offset > UInt64(fileSize) || Int(extent.offset).addingReportingOverflow(extent.bytes).partialValue > fileSize {
                throw d.fail(.corrupt, "its data extends past the end of the file", fix: "the file is truncated; copy it again from its source")
            }
            contiguous.insert(p)
            if extent.bytes >= H5Dataset.parallelThreshold, let kind = d.elementKind {
                stream.extent(ProbeStream.Extent(path: p, offset: extent.offset, bytes: extent.bytes, kind: kind, size: d.elementSize))
            }
        }
        stream.endOfExtents()
        func attributes(_ g: H5Group) {
            exerciseAttributes(g.id, path: g.path)
            for c in g.children() where g.kind(of: c) == .group { if let sub = try? g.group(c) { attributes(sub) } }
        }
        attributes(root)
        for p in paths {
            let d = try root.dataset(String(p.dropFirst()))
            exerciseAttributes(d.id, path: p)
            if let target = try d.referencedDataset(attribute: "categories") { _ = try target.readStrings() }
            if contiguous.contains(p) { continue }
            if d.isCompound {
                for m in H5Strings.compoundMembers(d) {
                    if m.typeClass == H5T_STRING { _ = try H5Strings.readCompoundStrings(d, member: m.name, size: m.size) }
                    else if m.typeClass == H5T_INTEGER || m.typeClass == H5T_FLOAT || m.typeClass == H5T_ENUM { _ = try H5Strings.readCompoundNumbers(d, member: m.name) }
                }
            } else if d.isString && H5Tis_variable_str(d.fileType) > 0 {
                // The plain layout is decoded by GlobalHeapStrings in the reading process, without libhdf5;
                // any other goes through libhdf5 here, and its strings travel back.
                if GlobalHeapStrings.extent(d) == nil {
                    stream.strings(path: p, count: d.count, body: try H5Strings.readVariableBytes(d))
                }
            } else if d.isString {
                _ = try d.readStrings()
            } else if d.isNumeric {
                _ = try d.readDoubles()
            }
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
