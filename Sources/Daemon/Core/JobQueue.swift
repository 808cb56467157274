import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Store
import Workflows

/// The persistent job queue: starts queued jobs on their executor (local processes up to a concurrency
/// limit, Slurm up to its capacity; priority, then age), tails each worker's events into the store, turns
/// `exit.json` (or what the executor reports of a worker that said nothing) into the job's final state,
/// retries up to the job's attempt limit, and cancels on request. All state lives in the store and the job
/// folders, so a new queue over the same database picks up where a killed daemon stopped (`reconcile`).
public final class JobQueue: @unchecked Sendable {
    public let store: ProjectStore
    public let root: URL
    /// The local process executor (always present).
    public let executor: LocalExecutor
    /// Every executor by name ("local", and "slurm" when configured); a job names its own.
    public let executors: [String: any Executor]
    /// Local jobs running at once.
    public var concurrency: Int
    /// Seconds between SIGTERM and SIGKILL when cancelling.
    public var cancelGrace: TimeInterval = 10

    private var cancelRequested: [String: Date] = [:]
    /// Dataset id → path, for writing specs.
    private let datasetPath: (String) throws -> String

    /// The executor state last recorded per job ("STATE|reason"), so only changes are stored.
    private var lastReported: [String: String] = [:]

    public init(store: ProjectStore, root: URL, executor: LocalExecutor, others: [any Executor] = [], concurrency: Int = 1) {
        self.store = store; self.root = root; self.executor = executor; self.concurrency = max(1, concurrency)
        var all: [String: any Executor] = [executor.name: executor]
        for e in others { all[e.name] = e }
        executors = all
        datasetPath = { try store.dataset($0).path }
    }

    func executorJob(_ job: Job) -> ExecutorJob { ExecutorJob(jobID: job.id, folder: folder(job.id), externalId: job.externalId) }

    /// One observation per job, asking each executor once for all its jobs. An executor that cannot be asked
    /// (slurmctld down) gives no observation for its jobs: nothing is concluded from its silence.
    func observe(_ jobs: [Job], now: Date = Date()) -> [String: ExecutorObservation] {
        var out: [String: ExecutorObservation] = [:]
        for (name, group) in Dictionary(grouping: jobs, by: \.executor) {
            guard let ex = executors[name], !isResting(name, now: now) else { continue }
            do { out.merge(try ex.observe(group.map(executorJob))) { $1 }; restingFor[name] = nil } catch { rest(name, now: now, why: "\(error)") }
        }
        return out
    }

    /// Seconds an executor that could not be reached is first left alone, doubling while it stays
    /// unreachable up to `unreachableBackoffMax`: a stopped slurmctld makes every `sbatch` and `squeue` wait
    /// about 9 s, and the scheduler (and a cancel waiting for it) should not wait that long each round.
    public var unreachableBackoff: TimeInterval = 10
    public var unreachableBackoffMax: TimeInterval = 60
    private var restingUntil: [String: Date] = [:]
    private var restingFor: [String: TimeInterval] = [:]
    private var restingWhy: [String: String] = [:]
    func rest(_ executor: String, now: Date, why: String) {
        let pause = min(unreachableBackoffMax, restingFor[executor].map { $0 * 2 } ?? unreachableBackoff)
        restingFor[executor] = pause
        restingUntil[executor] = now.addingTimeInterval(pause); restingWhy[executor] = why
    }
    func isResting(_ executor: String, now: Date) -> Bool { (restingUntil[executor] ?? .distantPast) > now }

    public func folder(_ jobID: String) -> JobFolder { JobFolder(root.appendingPathComponent("jobs/\(jobID)", isDirectory: true)) }

    /// After a restart: every job the store believes running is checked against its folder and PID. A live
    /// worker is kept; a finished one is finalised from `exit.json`; a vanished one is retried (it resumes from
    /// its checkpoints) or failed with the reason. Returns the ids it touched.
    @discardableResult
    public func reconcile(now: Date = Date()) throws -> [String] {
        var touched: [String] = []
        let jobs = try store.jobs(state: .running, limit: .max) + store.jobs(state: .retrying, limit: .max)
        let seen = observe(jobs.filter { $0.state == .running }, now: now)
        for job in jobs {
            try poll(job, observation: seen[job.id], now: now, restarting: true)
            touched.append(job.id)
        }
        try repairFinishedJobs(now: now)
        return touched
    }

    /// One scheduling round.
    public func tick(now: Date = Date()) throws {
        let running = try store.jobs(state: .running, limit: .max)
        let seen = observe(running, now: now)
        for job in running { try poll(job, observation: seen[job.id], now: now, restarting: false) }
        for job in try store.jobs(state: .retrying) {
            try store.transition(job: job.id, to: .queued, reason: "retry \(job.attempts + 1) of \(job.maxAttempts)", now: now)
        }
        let busy = Dictionary(grouping: try store.jobs(state: .running, limit: .max), by: \.executor).mapValues(\.count)
        var free = executors.mapValues { $0 === executor ? concurrency : $0.capacity }
        for (name, n) in busy { free[name, default: 0] -= n }
        for job in try store.jobs(state: .queued) {
            guard let ex = executors[job.executor] else {
                try store.transition(job: job.id, to: .failed, reason: "executor '\(job.executor)' is not configured in this daemon: set \"executor\" and its section in tesserad.json, or resubmit with --executor local", now: now)
                continue
            }
            if isResting(ex.name, now: now) {
                try report(job, .waiting(state: "UNAVAILABLE", reason: Self.notSubmitted(ex.name, restingWhy[ex.name] ?? "no answer")), now: now)
                continue
            }
            guard (free[ex.name] ?? 0) > 0 else { continue }
            if try start(job, on: ex, now: now) { free[ex.name, default: 0] -= 1 }
        }
    }

    /// Records an executor state when it differs from the last one recorded for the job.
    func report(_ job: Job, _ o: ExecutorObservation?, now: Date) throws {
        guard let (state, reason) = o?.report else { return }
        let key = state + "|" + reason
        if lastReported[job.id] == nil, let last = try store.lastExecutorStates(jobs: [job.id])[job.id] {
            lastReported[job.id] = last.state + "|" + last.reason
        }
        guard lastReported[job.id] != key else { return }
        lastReported[job.id] = key
        try store.recordExecutorState(job: job.id, externalId: job.externalId, state: state, reason: reason, now: now)
    }

    /// Cancels a job: a queued one at once, a running one by SIGTERM (SIGKILL after `cancelGrace`).
    public func cancel(_ jobID: String, now: Date = Date()) throws {
        let job = try store.job(jobID)
        switch job.state {
        case .queued, .retrying: try store.transition(job: jobID, to: .cancelled, reason: "cancelled before it started", now: now)
        case .running:
            cancelRequested[jobID] = now
            let f = folder(jobID)
            // Remembered on disk: a worker that checkpoints and exits after a daemon restart is still "cancelled".
            FileManager.default.createFile(atPath: f.cancelRequestURL.path, contents: Data(ISO8601DateFormatter().string(from: now).utf8))
            (executors[job.executor] ?? executor).cancel(executorJob(job), force: false)
        default: throw StoreError.invalidTransition(job: jobID, from: job.state, to: .cancelled)
        }
    }

    /// Starts (or adopts) a queued job on `ex`. Returns false when the executor cannot be reached: the job
    /// stays queued with the reason recorded, the executor rests, and the job is submitted in a later round.
    @discardableResult
    private func start(_ job: Job, on ex: any Executor, now: Date) throws -> Bool {
        let f = folder(job.id)
        do {
            let inputs = try (JSONSerialization.jsonObject(with: Data(job.inputs.utf8)) as? [String: String] ?? [:])
                .mapValues { try datasetPath($0) }
            let params = try JSONDecoder().decode([String: JSONValue].self, from: Data(job.parameters.utf8))
            try f.create(spec: .init(jobID: job.id, workflow: job.workflow, version: job.workflowVersion, parameters: params,
                                     inputs: inputs, seed: Self.seed(job.id)))
        } catch {
            // A job that cannot even be written out (a dataset gone, a full disk) fails with the reason instead
            // of blocking the queue round after round.
            try store.transition(job: job.id, to: .failed, reason: "could not prepare the job folder \(f.url.path): \(error)", now: now)
            return true
        }
        let ej = executorJob(job)
        do {
            // A daemon killed right after starting a worker (or submitting a Slurm job), before recording it, left
            // that worker running: adopt it rather than start a second one on the same folder.
            if let found = try ex.find(ej) {
                let what = ex === executor ? "worker \(WorkerProcess(found)?.pid ?? 0)" : "\(ex.name) job \(found)"
                try store.transition(job: job.id, to: .running, reason: "adopted \(what) started before a daemon restart", now: now) {
                    $0.externalId = found
                }
                return true
            }
            try? FileManager.default.removeItem(at: f.exitURL)   // a retry starts without the last attempt's exit
            try? FileManager.default.removeItem(at: f.workerPIDURL)
            try? FileManager.default.removeItem(at: f.cancelRequestURL)
            let id = try ex.submit(ej, resources: try resources(job.id))
            restingFor[ex.name] = nil
            let what = ex === executor ? "worker \(WorkerProcess(id)?.pid ?? 0) started" : "submitted to \(ex.name) as job \(id)"
            try store.transition(job: job.id, to: .running, reason: "\(what) (attempt \(job.attempts + 1))", now: now) {
                $0.externalId = id
            }
            return true
        } catch let e as StoreError { throw e }
        catch ExecutorError.unavailable(let why) {
            rest(ex.name, now: now, why: why)
            try report(job, .waiting(state: "UNAVAILABLE", reason: Self.notSubmitted(ex.name, why)), now: now)
            return false
        } catch ExecutorError.rejected(let why) {
            try store.transition(job: job.id, to: .failed, reason: why, now: now)
            return true
        } catch {
            try store.transition(job: job.id, to: .failed, reason: "could not start the worker: \(error)", now: now)
            return true
        }
    }

    static func notSubmitted(_ executor: String, _ why: String) -> String {
        "not submitted yet: \(why); it is submitted when \(executor) answers again"
    }

    /// The resources the job's submission asked for (none: the executor's defaults).
    func resources(_ jobID: String) throws -> ExecutorResources {
        guard let json = try store.resources(job: jobID) else { return .init() }
        return (try? JSONDecoder().decode(ExecutorResources.self, from: Data(json.utf8))) ?? .init()
    }

    /// Tails events into metrics and artifacts (exactly once: the read offset is stored with them); finalises
    /// the job if its worker has finished or vanished. After `exit.json` is seen the events are drained once
    /// more: a worker writes its last events just before `exit.json`, and they may have landed between the
    /// first read and that one.
    private func poll(_ job: Job, observation: ExecutorObservation?, now: Date, restarting: Bool) throws {
        let f = folder(job.id)
        let offset = try drain(job.id, folder: f, from: UInt64(job.eventsOffset), now: now)
        if job.state == .retrying { return }
        let ex = executors[job.executor] ?? executor
        let ej = executorJob(job)
        let asked = cancelRequested[job.id] != nil || f.cancelRequested
        try report(job, observation, now: now)
        if let exit = f.readExit() {
            if exit.status == .cancelled, !asked, ex.reportsFinalStates {
                // The worker was stopped, but not by us: the executor's final state says why (a time limit, a
                // preemption). Until it reports one, wait.
                guard case .ended(let state, let reason, let retryable)? = observation else {
                    if observation != .gone { return }
                    return try finish(job, f, offset, ex, ej, now) {
                        try store.transition(job: job.id, to: .failed, reason: "the worker was stopped without a request from the daemon (\(exit.reason)); \(ex.name) no longer knows job \(job.externalId ?? "?")", now: now)
                    }
                }
                return try finish(job, f, offset, ex, ej, now) {
                    let why = "\(ex.name) job \(job.externalId ?? "?") ended \(reason) (the worker said: \(exit.reason))"
                    if state == "CANCELLED" { try store.transition(job: job.id, to: .cancelled, reason: why, now: now) }
                    else if retryable { try retryOrFail(job, reason: why, now: now) }
                    else { try store.transition(job: job.id, to: .failed, reason: why, now: now) }
                }
            }
            return try finish(job, f, offset, ex, ej, now) {
                switch exit.status {
                case .succeeded: try store.transition(job: job.id, to: .succeeded, reason: exit.reason, now: now)
                case .cancelled: try store.transition(job: job.id, to: .cancelled, reason: exit.reason, now: now)
                case .failed:
                    if exit.retryable == false { try store.transition(job: job.id, to: .failed, reason: exit.reason, now: now) }
                    else { try retryOrFail(job, reason: exit.reason, now: now) }
                }
            }
        }
        switch observation {
        case nil: return   // the executor could not be asked this round
        case .running?, .waiting?:
            if let t = cancelRequested[job.id], now.timeIntervalSince(t) > cancelGrace, !ex.reportsFinalStates { ex.cancel(ej, force: true) }
            return
        case .ended(let state, let reason, let retryable)?:
            // Ended without exit.json: killed (signal, out of memory, node failure) or stopped before it began.
            let why = "\(ex.name) job \(job.externalId ?? "?") ended \(reason.isEmpty ? state : reason) without writing exit.json"
            return try finish(job, f, offset, ex, ej, now) {
                if asked { try store.transition(job: job.id, to: .cancelled, reason: "cancelled; \(ex.name) ended the job \(state)", now: now) }
                else if retryable { try retryOrFail(job, reason: why, now: now) }
                else { try store.transition(job: job.id, to: .failed, reason: why, now: now) }
            }
        case .gone?:
            // The worker is gone without saying how.
            let pid = job.externalId.flatMap(WorkerProcess.init) ?? f.readWorker()
            return try finish(job, f, offset, ex, ej, now) {
                if asked {
                    try store.transition(job: job.id, to: .cancelled, reason: "cancelled; the worker was stopped", now: now)
                    return
                }
                let who = ex === executor ? "worker \(pid.map { String($0.pid) } ?? "?")" : "\(ex.name) job \(job.externalId ?? "?")"
                let why = ex === executor
                    ? (restarting ? "\(who) was not running when the daemon restarted" : "\(who) exited without writing exit.json (crash or kill)")
                    : "\(who) is no longer known to \(ex.name) and wrote no exit.json"
                try retryOrFail(job, reason: why, now: now)
            }
        }
    }

    /// Finalises a job: reads the events once more (the last ones land just before the end), forgets the
    /// executor's handle and the cancel request, then applies `decide`.
    private func finish(_ job: Job, _ f: JobFolder, _ offset: UInt64, _ ex: any Executor, _ ej: ExecutorJob, _ now: Date,
                        _ decide: () throws -> Void) throws {
        _ = try drain(job.id, folder: f, from: offset, now: now)
        ex.release(ej)
        try decide()
        cancelRequested[job.id] = nil
        lastReported[job.id] = nil
        try? FileManager.default.removeItem(at: f.cancelRequestURL)
    }

    /// Records the complete events after `offset` and returns the new offset.
    @discardableResult
    func drain(_ jobID: String, folder f: JobFolder, from offset: UInt64, now: Date) throws -> UInt64 {
        let (events, next, _) = try JobEventReader.read(f, from: offset)
        guard next != offset else { return offset }
        var points: [(step: Int, name: String, value: Double)] = []
        var artifacts: [ArtifactInfo] = []
        for e in events {
            switch e.kind {
            case .metric, .progress:
                for (k, v) in (e.values ?? [:]).sorted(by: { $0.key < $1.key }) { points.append((e.step ?? 0, k, v)) }
            case .artifact:
                guard let rel = e.path, let url = Self.inside(f.url, rel), Self.isRegularFile(url) else { continue }
                guard let (hash, size) = try? SHA256.file(url) else { continue }
                artifacts.append(ArtifactInfo(kind: e.text ?? url.pathExtension, path: rel, hash: hash, size: size))
            default: break
            }
        }
        try store.recordEvents(job: jobID, metrics: points, artifacts: artifacts, offset: Int64(next), now: now)
        return next
    }

    /// Finished jobs whose events file grew past what was read (a daemon that finalised a job before the fix
    /// for the exit race, or one killed between the two): their last metrics and artifacts are recorded now.
    @discardableResult
    public func repairFinishedJobs(now: Date = Date()) throws -> [String] {
        var repaired: [String] = []
        for (id, offset) in try store.finishedJobOffsets() {
            let f = folder(id)
            guard let size = (try? FileManager.default.attributesOfItem(atPath: f.eventsURL.path)[.size] as? NSNumber)?.int64Value,
                  size > offset else { continue }
            if try drain(id, folder: f, from: UInt64(offset), now: now) != UInt64(offset) { repaired.append(id) }
        }
        return repaired
    }

    /// Below this much free space a crashed job is failed rather than retried.
    static let minimumFreeBytes: UInt64 = 32 << 20

    /// Bytes available to this process on the file system holding `url`.
    static func freeBytes(_ url: URL) -> UInt64? {
        var st = statvfs()
        guard statvfs(url.path, &st) == 0 else { return nil }
        return UInt64(st.f_bavail) * UInt64(st.f_frsize)
    }

    /// A regular file (a FIFO or device announced as an artifact is never opened).
    static func isRegularFile(_ url: URL) -> Bool {
        (try? FileManager.default.attributesOfItem(atPath: url.path)[.type] as? FileAttributeType) == .typeRegular
    }

    /// `rel` resolved inside `folder`, or nil when it would leave it (a worker cannot register files elsewhere).
    static func inside(_ folder: URL, _ rel: String) -> URL? {
        guard !rel.hasPrefix("/"), !rel.split(separator: "/").contains("..") else { return nil }
        let url = folder.appendingPathComponent(rel).standardizedFileURL
        return url.path.hasPrefix(folder.standardizedFileURL.path + "/") ? url : nil
    }

    /// A stable seed from the job id (FNV-1a; `hashValue` changes between runs).
    static func seed(_ id: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    private func retryOrFail(_ job: Job, reason: String, now: Date) throws {
        if let free = Self.freeBytes(root), free < Self.minimumFreeBytes {
            // Retrying onto a full disk fails the same way each time and keeps the disk full.
            try store.transition(job: job.id, to: .failed, reason: "\(reason); no space left on device (\(root.path): \(free / 1024) KiB free), so it is not retried: free disk space, then resubmit", now: now)
            return
        }
        if job.attempts < job.maxAttempts {
            try store.transition(job: job.id, to: .retrying, reason: reason, now: now)
        } else {
            try store.transition(job: job.id, to: .failed, reason: reason, now: now)
        }
    }
}
