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
    public let registrar: DatasetRegistrar
    private let queueLock = NSLock()
    /// Held for the daemon's life: one daemon per data root.
    private let rootLock: RootLock

    /// Opens (creating) the data root and its database, loads the workflow catalog and reconciles every job
    /// an earlier daemon left running. Refuses a root another daemon serves, a damaged database, one written
    /// by a newer version, and a missing or empty database beside existing job folders.
    public init(config: DaemonConfig, executor: LocalExecutor, others: [any Executor] = [], registrar: DatasetRegistrar = .besideExecutable()) throws {
        try config.validate()
        self.config = config
        self.registrar = registrar
        let root = config.rootURL
        try FileManager.default.createDirectory(at: root.appendingPathComponent("jobs"), withIntermediateDirectories: true)
        rootLock = try RootLock(root: root)
        try Self.checkDatabasePresence(config)
        do { store = try ProjectStore(path: config.databasePath) }
        catch let e as StoreError { throw DaemonError.config(e.description) }
        catalog = try WorkflowCatalog.load(directory: URL(fileURLWithPath: config.workflows, isDirectory: true))
        queue = JobQueue(store: store, root: root, executor: executor, others: others, concurrency: config.concurrency)
        guard queue.executors[config.executor] != nil else {
            throw DaemonError.config("executor \"\(config.executor)\" is configured but the daemon was started without it (add a \"slurm\" section to \(root.path)/tesserad.json)")
        }
        do { try queueLock.withLock { _ = try queue.reconcile() } } catch {
            FileHandle.standardError.write(Data("tesserad: reconciling jobs after restart failed: \(error)\n".utf8))
        }
    }

    /// A database that is missing or empty while job folders exist means the store was lost or replaced:
    /// starting would silently orphan every job's results.
    static func checkDatabasePresence(_ c: DaemonConfig) throws {
        let db = c.databasePath
        let size = (try? FileManager.default.attributesOfItem(atPath: db)[.size] as? Int) ?? nil
        guard size == nil || size == 0 else { return }
        let jobs = (try? FileManager.default.contentsOfDirectory(atPath: c.rootURL.appendingPathComponent("jobs").path)) ?? []
        guard !jobs.isEmpty else { return }
        throw DaemonError.config("""
            \(db) is \(size == nil ? "missing" : "empty") but \(c.rootURL.path)/jobs holds \(jobs.count) job folder(s): \
            restore the database from a backup, or move the jobs folder aside to start a new store on this root
            """)
    }

    /// One scheduling round (also used by tests to step the queue deterministically).
    public func tick() throws {
        guard config.startsJobs else { return }
        try queueLock.withLock { try queue.tick() }
    }

    /// Runs scheduling rounds until the task is cancelled. A failing round (a full disk, a locked database) is logged once per distinct error and the next rounds
    /// back off up to 10 s, so a persistent fault neither floods the log nor spins.
    public func runScheduler(log: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) async {
        var lastError = "", delay = config.tickSeconds
        while !Task.isCancelled {
            do {
                try tick()
                if !lastError.isEmpty { log("scheduler: recovered"); lastError = "" }
                delay = config.tickSeconds
            } catch {
                let text = StoreError.classify(error, path: config.databasePath)?.description ?? "\(error)"
                if text != lastError { log("scheduler: \(text)"); lastError = text }
                delay = min(10, max(config.tickSeconds, delay * 2))
            }
            try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
        }
    }

    // MARK: projects and datasets

    public func createProject(name: String, description: String) throws -> Project {
        try store.createProject(name: name, description: description)
    }

    /// Registers a dataset: a child process checks it is a regular file or folder, reads it (so a file Tessera
    /// cannot read is refused now, not at run time), streams its hash and summarises it; the daemon stores the
    /// result. Returns the record and the names of datasets in the project with the same content.
    public func registerDataset(project: String, request: RegistrationRequest, name: String?) throws -> (DatasetRecord, sameContent: [String]) {
        let p = try store.project(project)
        guard request.path.hasPrefix("/") else {
            throw APIError(status: .unprocessableContent, code: "invalid_field",
                           message: "path: '\(request.path)' is relative; the daemon needs an absolute path (the CLI sends one)")
        }
        if let name { try Self.checkName(name) }
        _ = try DatasetRegistration.checkKind(request.path)   // stat only: a FIFO is refused before any child opens it
        let r = try registrar.register(request, store: config.rootURL.appendingPathComponent("datasets", isDirectory: true))
        let dsName = name ?? URL(fileURLWithPath: request.path).deletingPathExtension().lastPathComponent
        let same = try store.datasets(project: p.id).filter { $0.contentHash == r.contentHash }.map(\.name)
        let record = try store.registerDataset(project: p.id, name: dsName, path: r.path, contentHash: r.contentHash,
                                               cells: r.cells, genes: r.genes, summary: r.summary)
        return (record, same)
    }

    static func checkName(_ name: String) throws {
        guard !name.isEmpty, name.count <= 200, !name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw APIError(status: .unprocessableContent, code: "invalid_field", message: "name: must be 1 to 200 printable characters")
        }
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
        /// Where to run it ("local", "slurm"); nil: the daemon's default.
        public var executor: String?
        /// Cpus, memory, time limit, partition, account (Slurm); nil fields take the daemon's defaults.
        public var resources: ExecutorResources?

        public init(project: String, workflow: String, version: String? = nil, parameters: [String: JSONValue]? = nil,
                    inputs: [String: String]? = nil, priority: Int? = nil, reuse: Bool? = nil) {
            self.project = project; self.workflow = workflow; self.version = version; self.parameters = parameters
            self.inputs = inputs; self.priority = priority; self.reuse = reuse
        }

        enum CodingKeys: String, CodingKey { case project, workflow, version, parameters, inputs, priority, reuse, executor, resources }

        /// As synthesised, except that a priority that is not a small integer (2^63, 1.5) names the field.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            project = try c.decode(String.self, forKey: .project)
            workflow = try c.decode(String.self, forKey: .workflow)
            version = try c.decodeIfPresent(String.self, forKey: .version)
            parameters = try c.decodeIfPresent([String: JSONValue].self, forKey: .parameters)
            inputs = try c.decodeIfPresent([String: String].self, forKey: .inputs)
            reuse = try c.decodeIfPresent(Bool.self, forKey: .reuse)
            executor = try c.decodeIfPresent(String.self, forKey: .executor)
            resources = try c.decodeIfPresent(ExecutorResources.self, forKey: .resources)
            if c.contains(.priority), try !c.decodeNil(forKey: .priority) {
                guard let p = try? c.decode(Int.self, forKey: .priority), (-1_000_000...1_000_000).contains(p) else {
                    throw APIError(status: .unprocessableContent, code: "invalid_field", message: "priority: must be an integer from -1000000 to 1000000")
                }
                priority = p
            }
        }
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
                           message: "version: the daemon has \(spec.name) version \(spec.version), not \(v.prefix(40))\(v.count > 40 ? "…" : ""); resubmit with the current spec")
        }
        let executorName = s.executor ?? config.executor
        guard queue.executors[executorName] != nil else {
            throw APIError(status: .unprocessableContent, code: "invalid_field",
                           message: "executor: '\(executorName.prefix(40))' is not available in this daemon (it has \(queue.executors.keys.sorted().joined(separator: ", "))); Slurm needs a \"slurm\" section in tesserad.json")
        }
        try Self.checkResources(s.resources)
        if (s.resources?.arrayTasks ?? 1) > 1 && (s.workflow != "embed" || executorName != "slurm") {
            throw APIError(status: .unprocessableContent, code: "invalid_field",
                           message: "resources.arrayTasks: only embed jobs on the slurm executor run as job arrays; submit without it, or with --executor slurm")
        }
        let inputs = s.inputs ?? [:]
        try spec.checkInputs(roles: Array(inputs.keys))
        var resolvedInputs: [String: String] = [:], hashes: [String: String] = [:], records: [String: DatasetRecord] = [:]
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
            if spec.input(forRole: role)?.kind == .reference, Self.summary(d)?.x != nil {
                throw APIError(status: .unprocessableContent, code: "invalid_input",
                               message: "inputs.\(role): dataset \(d.name) is spatial (it has cell coordinates), and role '\(role)' takes an scRNA-seq reference; bind it as the spatial input and a dissociated dataset as \(role)")
            }
            if let other = resolvedInputs.first(where: { $0.value == d.id })?.key {
                throw APIError(status: .unprocessableContent, code: "invalid_input",
                               message: "inputs: dataset \(d.name) is bound to both '\(other)' and '\(role)'; bind each dataset to one role")
            }
            resolvedInputs[role] = d.id; hashes[role] = d.contentHash; records[role] = d
        }
        var params = try spec.resolve(parameters: s.parameters ?? [:])
        try Self.checkLabelColumns(spec: spec, parameters: params, datasets: records)
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
                                      executor: executorName, cacheKey: key)
        if let r = s.resources, r != ExecutorResources() {
            try store.setResources(job: job.id, json: String(decoding: try JSONEncoder().encode(r), as: UTF8.self))
        }
        return (job, false)
    }

    /// Resources in range; partition and account are Slurm names (letters, digits, `-_.`).
    static func checkResources(_ r: ExecutorResources?) throws {
        guard let r else { return }
        func bad(_ field: String, _ why: String) -> APIError {
            APIError(status: .unprocessableContent, code: "invalid_field", message: "resources.\(field): \(why)")
        }
        if let c = r.cpus, !(1...4096).contains(c) { throw bad("cpus", "must be from 1 to 4096") }
        if let m = r.memoryMB, !(1...(1 << 24)).contains(m) { throw bad("memoryMB", "must be from 1 to 16777216") }
        if let t = r.timeLimitMinutes, !(1...(366 * 24 * 60)).contains(t) { throw bad("timeLimitMinutes", "must be from 1 to 527040") }
        if let a = r.arrayTasks, !(1...1000).contains(a) { throw bad("arrayTasks", "must be from 1 to 1000") }
        for (field, v) in [("partition", r.partition), ("account", r.account)] {
            if let v, v.isEmpty || v.count > 64 || !v.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) {
                throw bad(field, "must be 1 to 64 letters, digits, '-', '_' or '.'")
            }
        }
    }

    static func summary(_ d: DatasetRecord) -> DatasetSummary? {
        try? JSONDecoder().decode(DatasetSummary.self, from: Data(d.summary.utf8))
    }

    /// A parameter naming an obs column of classes (`label_column`, `*_label_column`) must name a column of a
    /// bound dataset that holds classes: not a continuous one (a float column would become thousands of
    /// "classes"), with at least two and at most half as many classes as cells. Checked from the stored
    /// summaries, before anything is stored or run.
    static func checkLabelColumns(spec: WorkflowSpec, parameters: [String: JSONValue], datasets: [String: DatasetRecord]) throws {
        for p in spec.parameters where p.type == .string && (p.name == "label_column" || p.name.hasSuffix("_label_column")) {
            guard case .string(let column)? = parameters[p.name], !column.isEmpty, !datasets.isEmpty else { continue }
            let found = datasets.sorted { $0.key < $1.key }.compactMap { role, d -> (String, DatasetRecord, DatasetSummary.Column)? in
                guard let c = summary(d)?.obs.first(where: { $0.name == column }) else { return nil }
                return (role, d, c)
            }
            guard !found.isEmpty else {
                let names = datasets.values.flatMap { summary($0)?.obs.map(\.name) ?? [] }
                throw APIError(status: .unprocessableContent, code: "invalid_parameter",
                               message: "parameters.\(p.name): no bound dataset has an obs column '\(column.prefix(100))'; " +
                                   (names.isEmpty ? "the datasets have no obs columns" : "columns: \(Set(names).sorted().prefix(30).joined(separator: ", "))"))
            }
            for (role, d, c) in found {
                // As the worker counts classes (SupervisedLabels): a float column of class codes is fine, a
                // continuous one is not; "Unknown", "NA"… are not classes.
                if c.type == "float" && (c.integral == false && (c.distinct ?? .max) > 20 || c.integral == nil) {
                    throw APIError(status: .unprocessableContent, code: "invalid_parameter",
                                   message: "parameters.\(p.name): column '\(column)' of \(d.name) (inputs.\(role)) holds continuous numbers; name a column of classes (categorical, text or integer codes)")
                }
                let unlabelled = (c.categories ?? [:]).filter { SupervisedLabels.unlabelledNames.contains($0.key.trimmingCharacters(in: .whitespaces).lowercased()) }
                guard let n = (c.categoryCount ?? c.distinct).map({ $0 - unlabelled.count }) else { continue }
                let labelled = d.cells - c.missing - unlabelled.values.reduce(0, +)
                if n < 2 {
                    throw APIError(status: .unprocessableContent, code: "invalid_parameter",
                                   message: "parameters.\(p.name): column '\(column)' of \(d.name) has \(max(n, 0)) class; it needs at least two")
                }
                if n > max(2, labelled / 2) {
                    throw APIError(status: .unprocessableContent, code: "invalid_parameter",
                                   message: "parameters.\(p.name): column '\(column)' of \(d.name) has \(n) classes for \(labelled) labelled cells (more than half as many classes as cells): it looks like ids or values, not classes; name a column of cell types or domains")
                }
            }
        }
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
