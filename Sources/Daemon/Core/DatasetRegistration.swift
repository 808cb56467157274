import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SpatialData

/// What a client asks to register: a file or folder on the daemon's machine, and for counts tables the files
/// joined to them (as `tessera inspect` takes them).
public struct RegistrationRequest: Codable, Sendable, Equatable {
    public var path: String
    public var locations: String?
    public var metadata: String?
    public var orientation: String?
    public init(path: String, locations: String? = nil, metadata: String? = nil, orientation: String? = nil) {
        self.path = path; self.locations = locations; self.metadata = metadata; self.orientation = orientation
    }
    /// Whether the dataset is assembled from several files (then it is stored converted, as one h5ad).
    var joinsFiles: Bool { locations != nil || metadata != nil || orientation != nil }
}

/// What registration found: the file jobs will read, its content hash, shape and summary.
public struct RegisteredDataset: Codable, Sendable {
    public var path: String
    public var contentHash: String
    public var cells: Int
    public var genes: Int
    /// `DatasetSummary` as JSON text.
    public var summary: String
}

/// Registration itself, run in a child process (`tesserad register`): reading a user's file can hang (a FIFO),
/// exhaust memory (a symlink to /dev/zero, a huge sparse file) or crash (a damaged HDF5), and none of that may
/// reach the daemon. Only regular files and folders of regular files are accepted; hashes are streamed; a
/// folder is hashed by its files' names and contents, so changed files give a new hash (and `--reuse` never
/// answers from a result computed on the old ones).
public enum DatasetRegistration {
    /// The message for any path that is not a dataset; it never says what the path holds.
    static func notADataset(_ path: String) -> APIError {
        APIError(status: .unprocessableContent, code: "unreadable_dataset",
                 message: "path: \(path) is not a readable dataset (a regular file or a folder in a supported format); run `tessera inspect` on the daemon's machine for details")
    }

    /// A regular file or a folder (following a symlink), checked without opening it.
    static func checkKind(_ path: String, field: String = "path") throws -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw APIError(status: .unprocessableContent, code: "invalid_field", message: "\(field): \(path) does not exist on the daemon's machine or cannot be read")
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return false
        case S_IFDIR: return true
        default:
            throw APIError(status: .unprocessableContent, code: "unreadable_dataset",
                           message: "\(field): \(path) is not a regular file or folder (a device, FIFO or socket cannot be a dataset)")
        }
    }

    /// Runs in the child: checks, reads, hashes; converts joined tables into one h5ad under `store`.
    public static func run(_ r: RegistrationRequest, store: URL) throws -> RegisteredDataset {
        guard r.path.hasPrefix("/") else {
            throw APIError(status: .unprocessableContent, code: "invalid_field",
                           message: "path: '\(r.path)' is relative; the daemon needs an absolute path (the CLI sends one)")
        }
        let isFolder = try checkKind(r.path)
        var sources = [r.path]
        var options = DatasetReader.Options()
        for (field, value) in [("locations", r.locations), ("metadata", r.metadata)] {
            guard let value else { continue }
            guard value.hasPrefix("/"), try !checkKind(value, field: field) else {
                throw APIError(status: .unprocessableContent, code: "invalid_field", message: "\(field): give the absolute path of a regular file")
            }
            sources.append(value)
        }
        options.locations = r.locations; options.metadata = r.metadata
        if let o = r.orientation {
            guard let v = DelimitedCountsReader.Orientation(rawValue: o), v != .sniff else {
                throw APIError(status: .unprocessableContent, code: "invalid_field", message: "orientation: must be cells-x-genes or genes-x-cells")
            }
            options.orientation = v
        }
        let files = try isFolder ? regularFiles(in: r.path) : [r.path]
        let ds: Dataset
        do { ds = try DatasetReader.read(path: r.path, options: options) } catch let e as ImportError {
            throw redacted(e, path: r.path)
        } catch { throw notADataset(r.path) }
        let hash: String
        if !isFolder && sources.count == 1 {
            hash = try SHA256.file(URL(fileURLWithPath: r.path)).hash   // a single file: the hash of its bytes
        } else {
            // Names (relative to the folder) and contents of every file, in order.
            var h = SHA256()
            let named = files.map { (isFolder ? String($0.dropFirst(r.path.count)) : URL(fileURLWithPath: $0).lastPathComponent, $0) }
                + sources.dropFirst().map { ("+" + URL(fileURLWithPath: $0).lastPathComponent, $0) }
            for (name, file) in named { h.update(Data("\(name)\u{0}\(try SHA256.file(URL(fileURLWithPath: file)).hash)\n".utf8)) }
            hash = h.finalize()
        }
        var path = r.path
        if r.joinsFiles {
            // Jobs read one file: the joined tables are stored as the h5ad they make.
            try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
            path = store.appendingPathComponent("\(hash.prefix(16)).h5ad").path
            if !FileManager.default.fileExists(atPath: path) { try H5ADWriter.write(ds, to: path) }
        }
        let summary = String(decoding: try JSONEncoder().encode(DatasetSummary(ds)), as: UTF8.self)
        return RegisteredDataset(path: path, contentHash: hash, cells: ds.cellCount, genes: ds.geneCount, summary: summary)
    }

    /// Every file under a folder (sorted, for a stable hash); anything that is not a regular file or folder
    /// is refused, so a FIFO inside a folder cannot hang a reader.
    static func regularFiles(in folder: String) throws -> [String] {
        guard let e = FileManager.default.enumerator(atPath: folder) else { throw notADataset(folder) }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            let p = folder.hasSuffix("/") ? folder + rel : folder + "/" + rel
            // The answer names the folder the user gave, never what it holds.
            let isFolder: Bool
            do { isFolder = try checkKind(p, field: "path") } catch {
                throw APIError(status: .unprocessableContent, code: "unreadable_dataset",
                               message: "path: \(folder) holds something other than regular files and folders (a FIFO, socket, device or broken link), so it is not read as a dataset")
            }
            if !isFolder { out.append(p) }
            if out.count > 100_000 { throw notADataset(folder) }
        }
        return out.sorted()
    }

    /// An import error as the daemon may tell it: the file, field, row and the fix, but not the reader's
    /// problem text, which can quote the file's contents or list a folder.
    static func redacted(_ e: ImportError, path: String) -> APIError {
        if e.field.isEmpty && (e.kind == .unreadable || e.kind == .unsupported) { return notADataset(path) }
        let at = e.row.map { " (row \($0))" } ?? ""
        let what: String
        switch e.kind {
        case .unreadable: what = "cannot be read"
        case .corrupt: what = "is damaged"
        case .missingField: what = "is missing"
        case .shapeMismatch: what = "has a shape that does not match the rest of the data"
        case .invalidValue: what = "holds invalid values"
        case .duplicateID: what = "repeats ids that must be unique"
        case .unsupported: what = "uses a feature this build cannot read"
        }
        let file = URL(fileURLWithPath: e.file).lastPathComponent
        return APIError(status: .unprocessableContent, code: "unreadable_dataset",
                        message: "\(file): \(e.field.isEmpty ? "the file" : e.field)\(at) \(what). Fix: \(e.fix) (`tessera inspect` on the daemon's machine shows the details)")
    }
}

/// Starts `tesserad register` for each registration, under a time limit (the child is killed when it runs
/// over) and a memory limit (the child sets RLIMIT_AS on itself before reading anything).
public struct DatasetRegistrar: Sendable {
    /// The registration command for a request (as JSON) and the folder converted datasets go to.
    public let command: @Sendable (_ requestJSON: String, _ store: URL, _ memoryMB: Int) -> (executable: URL, arguments: [String])
    public var timeoutSeconds: Double
    public var memoryMB: Int

    public init(timeoutSeconds: Double = 600, memoryMB: Int = 8192,
                command: @escaping @Sendable (String, URL, Int) -> (executable: URL, arguments: [String])) {
        self.command = command; self.timeoutSeconds = timeoutSeconds; self.memoryMB = memoryMB
    }

    /// `tesserad register …` with the `tesserad` beside this executable (or one folder up, as in tests).
    public static func besideExecutable() -> DatasetRegistrar {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let dir = exe.deletingLastPathComponent()
        let candidates = [exe, dir.appendingPathComponent("tesserad"), dir.deletingLastPathComponent().appendingPathComponent("tesserad")]
        let tesserad = candidates.first { $0.lastPathComponent == "tesserad" && FileManager.default.isExecutableFile(atPath: $0.path) }
            ?? dir.appendingPathComponent("tesserad")
        return DatasetRegistrar { json, store, mb in (tesserad, ["register", "--request", json, "--store", store.path, "--memory-mb", "\(mb)"]) }
    }

    /// Registers in a child process; its one line of JSON on stdout is the result or an `APIError`.
    public func register(_ request: RegistrationRequest, store: URL) throws -> RegisteredDataset {
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        let (exe, args) = command(json, store, memoryMB)
        let p = Process()
        p.executableURL = exe; p.arguments = args
        let out = Pipe()
        p.standardOutput = out; p.standardError = FileHandle.nullDevice; p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch {
            throw APIError(status: .internalServerError, code: "internal", message: "could not start the registration process \(exe.path): \(error)")
        }
        // Read on a thread of its own so a child that fills the pipe never blocks, and the deadline still holds.
        let box = OutputBox()
        let reader = Thread { box.set(out.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            throw APIError(status: .unprocessableContent, code: "unreadable_dataset",
                           message: "path: \(request.path) was not read within \(Int(timeoutSeconds)) s and registration was stopped; if it is a very large dataset, raise registerTimeoutSeconds in tesserad.json")
        }
        p.waitUntilExit()
        let data = box.wait()
        let line = data.split(separator: 0x0A).last.map { Data($0) } ?? Data()
        if let r = try? JSONDecoder().decode(ChildAnswer.self, from: line) {
            if let ok = r.ok { return ok }
            if let e = r.error { throw APIError(status: .init(code: e.status), code: e.code, message: e.message) }
        }
        if p.terminationReason == .uncaughtSignal {
            throw APIError(status: .unprocessableContent, code: "unreadable_dataset",
                           message: "path: \(request.path) stopped the reader (signal \(p.terminationStatus)); it is damaged, or needs more than registerMemoryMB = \(memoryMB) MB of memory (tesserad.json)")
        }
        throw DatasetRegistration.notADataset(request.path)
    }

    /// The child's answer: exactly one of the two.
    public struct ChildAnswer: Codable, Sendable {
        public struct Failure: Codable, Sendable { public var status: Int; public var code: String; public var message: String }
        public var ok: RegisteredDataset?
        public var error: Failure?
        public init(ok: RegisteredDataset) { self.ok = ok }
        public init(error: APIError) { self.error = Failure(status: error.status.code, code: error.code, message: error.message) }
    }

    private final class OutputBox: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var data = Data()
        func set(_ d: Data) { data = d; done.signal() }
        func wait() -> Data { done.wait(); return data }
    }
}
