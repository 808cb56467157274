import Foundation
import SpatialData
import Store
import Workflows

/// The daemon's operations, independent of HTTP: projects, dataset registration, validated submission (with
/// `--reuse` answered from cache), cancellation, events, and the scheduling loop. The HTTP routes are a thin
/// layer over it. The store is the only database writer; the queue is driven under one lock, so the
/// scheduler and API calls never interleave inside a queue operation.
public final class DaemonService: @unchecked Sendable {
    public let config: DaemonConfig
    public let store: ProjectStore
    public let queue: JobQueue
    public let catalog: WorkflowCatalog
    private let queueLock = NSLock()

    /// Opens (creating) the data root and its database, loads the workflow catalog and reconciles every job
    /// an earlier daemon left running.
    public init(config: DaemonConfig, executor: LocalExecutor) throws {
        try config.validate()
        self.config = config
        let root = config.rootURL
        try FileManager.default.createDirectory(at: root.appendingPathComponent("jobs"), withIntermediateDirectories: true)
        store = try ProjectStore(path: config.databasePath)
        catalog = try WorkflowCatalog.load(directory: URL(fileURLWithPath: config.workflows, isDirectory: true))
        queue = JobQueue(store: store, root: root, executor: executor, concurrency: config.concurrency)
        do { try queueLock.withLock { _ = try queue.reconcile() } } catch {
            FileHandle.standardError.write(Data("tesserad: reconciling jobs after restart failed: \(error)\n".utf8))
        }
    }

    /// One scheduling round (also used by tests to step the queue deterministically).
    public func tick() throws {
        guard config.startsJobs else { return }
        try queueLock.withLock { try queue.tick() }
    }

    /// Runs scheduling rounds until the task is cancelled. A failing round is logged and retried.
    public func runScheduler(log: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) async {
        while !Task.isCancelled {
            do { try tick() } catch { log("scheduler: \(error)") }
            try? await Task.sleep(nanoseconds: UInt64(config.tickSeconds * 1e9))
        }
    }

    // MARK: projects and datasets

    public func createProject(name: String, description: String) throws -> Project {
        try store.createProject(name: name, description: description)
    }

    /// Registers a dataset file: reads it (so a file Tessera cannot read is refused now, not at run time),
    /// hashes its bytes and stores its shape and summary.
    public func registerDataset(project: String, path: String, name: String?) throws -> DatasetRecord {
        _ = try store.project(project)
        guard path.hasPrefix("/") else {
            throw APIError(status: .unprocessableContent, code: "invalid_field",
                           message: "path: '\(path)' is relative; the daemon needs an absolute path (the CLI sends one)")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw APIError(status: .unprocessableContent, code: "invalid_field", message: "path: \(path) does not exist on the daemon's machine")
        }
        let ds: Dataset
        do { ds = try DatasetReader.read(path: path) } catch {
            throw APIError(status: .unprocessableContent, code: "unreadable_dataset", message: "\(path): \(error)")
        }
        let hash = try isDir.boolValue ? SHA256.hex(path) : SHA256.file(URL(fileURLWithPath: path)).hash
        let summary = String(decoding: try JSONEncoder().encode(DatasetSummary(ds)), as: UTF8.self)
        let dsName = name ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try store.registerDataset(project: project, name: dsName, path: path, contentHash: hash,
                                         cells: ds.cellCount, genes: ds.geneCount, summary: summary)
    }

    // MARK: jobs

    /// What a client submits.
    public struct Submission: Codable, Sendable {
        public var project: String
        public var workflow: String
        /// nil: the daemon's version of the workflow.
        public var version: String?
        public var parameters: [String: JSONValue]?
        /// role → dataset id or name (within the project).
        public var inputs: [String: String]?
        public var priority: Int?
        /// Answer from a finished job with the same cache key instead of running again.
        public var reuse: Bool?
    }

    /// Validates a submission fully before anything is stored: the workflow and version exist, the roles fit
    /// its inputs, every dataset exists in the project and suits its slot, every parameter is known, typed and
    /// in range (defaults filled), and `job:ID` checkpoints name a finished job with a checkpoint. Returns the
    /// new job, or the cached one when `reuse` is set and an identical job has succeeded.
    public func submit(_ s: Submission) throws -> (job: Job, reused: Bool) {
        let project = try store.project(s.project)
        let spec = try catalog.spec(named: s.workflow)
        if let v = s.version, v != spec.version {
            throw APIError(status: .unprocessableContent, code: "invalid_field",
                           message: "version: the daemon has \(spec.name) version \(spec.version), not \(v); resubmit with the current spec")
        }
        let inputs = s.inputs ?? [:]
        try spec.checkInputs(roles: Array(inputs.keys))
        var resolvedInputs: [String: String] = [:], hashes: [String: String] = [:]
        for (role, key) in inputs {
            let d: DatasetRecord
            do { d = try store.dataset(key, project: project.id) } catch {
                throw APIError(status: .unprocessableContent, code: "unknown_dataset",
                               message: "inputs.\(role): no dataset '\(key)' in project \(project.name); register it with `tessera dataset add`")
            }
            guard d.projectId == project.id else {
                throw APIError(status: .unprocessableContent, code: "unknown_dataset", message: "inputs.\(role): dataset \(key) belongs to another project")
            }
            if spec.input(forRole: role)?.kind == .spatial,
               (try? JSONDecoder().decode(DatasetSummary.self, from: Data(d.summary.utf8)))?.x == nil {
                throw APIError(status: .unprocessableContent, code: "invalid_input",
                               message: "inputs.\(role): dataset \(d.name) has no cell coordinates, and role '\(role)' is spatial; bind a spatial dataset (with x/y) or use a workflow role that takes scRNA-seq")
            }
            resolvedInputs[role] = d.id; hashes[role] = d.contentHash
        }
        var params = try spec.resolve(parameters: s.parameters ?? [:])
        for p in spec.parameters where p.type == .checkpoint {
            guard case .string(let value)? = params[p.name] else { continue }
            params[p.name] = .string(try checkpointPath(value, parameter: p.name))
        }
        let paramsJSON = try Self.canonical(params)
        let key = SHA256.hex(try Self.canonical([
            "workflow": .string(spec.name), "version": .string(spec.version), "parameters": .object(params),
            "inputs": .object(hashes.mapValues { .string($0) }),
        ]))
        if s.reuse == true, let cached = try store.cachedJob(cacheKey: key) { return (cached, true) }
        let job = try store.submitJob(project: project.id, workflow: spec.name, version: spec.version, parameters: paramsJSON,
                                      inputs: resolvedInputs, priority: s.priority ?? 0, maxAttempts: spec.maxAttempts ?? 1,
                                      cacheKey: key)
        return (job, false)
    }

    /// A checkpoint parameter: `job:ID` → that finished job's checkpoint artifact; otherwise an existing
    /// absolute path to a file.
    func checkpointPath(_ value: String, parameter: String) throws -> String {
        if value.hasPrefix("job:") {
            let job = try store.job(matching: String(value.dropFirst(4)))
            guard job.state == .succeeded else {
                throw APIError(status: .unprocessableContent, code: "invalid_field",
                               message: "parameters.\(parameter): job \(job.id) is \(job.state.rawValue); use a job that has succeeded")
            }
            guard let a = try store.artifacts(job: job.id).last(where: { $0.kind == "checkpoint" }) else {
                throw APIError(status: .unprocessableContent, code: "invalid_field",
                               message: "parameters.\(parameter): job \(job.id) (\(job.workflow)) wrote no checkpoint; use a pretrain job")
            }
            return queue.folder(job.id).url.appendingPathComponent(a.path).path
        }
        guard value.hasPrefix("/"), FileManager.default.fileExists(atPath: value) else {
            throw APIError(status: .unprocessableContent, code: "invalid_field",
                           message: "parameters.\(parameter): '\(value)' is not an existing absolute path; give a .tsr checkpoint file or job:ID")
        }
        return value
    }

    public func cancel(_ key: String) throws -> Job {
        let job = try store.job(matching: key)
        try queueLock.withLock { try queue.cancel(job.id) }
        return try store.job(job.id)
    }

    /// Events of a job from a byte offset, waiting up to `wait` seconds for new ones (long-poll) unless the
    /// job has finished.
    public func events(job key: String, after offset: UInt64, wait: Double) async throws -> (events: [JobEvent], next: UInt64, job: Job) {
        let id = try store.job(matching: key).id
        let deadline = Date().addingTimeInterval(min(max(wait, 0), 60))
        while true {
            let job = try store.job(id)
            let (events, next, _) = try JobEventReader.read(queue.folder(id), from: offset)
            if !events.isEmpty || job.state.isTerminal || Date() >= deadline { return (events, next, job) }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
    }

    /// The last progress event of a job, for status lines and progress bars.
    public func lastProgress(job id: String) -> JobEvent? {
        let url = queue.folder(id).eventsURL
        guard let h = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? h.close() }
        let size = (try? h.seekToEnd()) ?? 0
        try? h.seek(toOffset: size > 16_384 ? size - 16_384 : 0)
        let data = (try? h.readToEnd()) ?? Data()
        let d = JSONDecoder(); d.dateDecodingStrategy = .iso8601
        for line in data.split(separator: 0x0A).reversed() {
            if let e = try? d.decode(JobEvent.self, from: Data(line)), e.kind == .progress { return e }
        }
        return nil
    }

    /// JSON with sorted keys: equal values give equal strings (cache keys, stored parameters).
    static func canonical(_ v: [String: JSONValue]) throws -> String {
        let e = JSONEncoder(); e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(v), as: UTF8.self)
    }
}
