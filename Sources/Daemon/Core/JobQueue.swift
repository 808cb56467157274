import Foundation
import Store
import Workflows

/// The persistent job queue: starts queued jobs on the executor up to a concurrency limit (priority, then
/// age), tails each worker's events into the store, turns `exit.json` (or a vanished worker) into the job's
/// final state, retries up to the job's attempt limit, and cancels on request. All state lives in the store
/// and the job folders, so a new queue over the same database picks up where a killed daemon stopped
/// (`reconcile`).
public final class JobQueue: @unchecked Sendable {
    public let store: ProjectStore
    public let root: URL
    public let executor: LocalExecutor
    public var concurrency: Int
    /// Seconds between SIGTERM and SIGKILL when cancelling.
    public var cancelGrace: TimeInterval = 10

    private var cancelRequested: [String: Date] = [:]
    /// Dataset id → path, for writing specs.
    private let datasetPath: (String) throws -> String

    public init(store: ProjectStore, root: URL, executor: LocalExecutor, concurrency: Int = 1) {
        self.store = store; self.root = root; self.executor = executor; self.concurrency = max(1, concurrency)
        datasetPath = { try store.dataset($0).path }
    }

    public func folder(_ jobID: String) -> JobFolder { JobFolder(root.appendingPathComponent("jobs/\(jobID)", isDirectory: true)) }

    /// After a restart: every job the store believes running is checked against its folder and PID. A live
    /// worker is kept; a finished one is finalised from `exit.json`; a vanished one is retried (it resumes from
    /// its checkpoints) or failed with the reason. Returns the ids it touched.
    @discardableResult
    public func reconcile(now: Date = Date()) throws -> [String] {
        var touched: [String] = []
        for job in try store.jobs(state: .running) + store.jobs(state: .retrying) {
            try poll(job, now: now, restarting: true)
            touched.append(job.id)
        }
        return touched
    }

    /// One scheduling round.
    public func tick(now: Date = Date()) throws {
        for job in try store.jobs(state: .running) { try poll(job, now: now, restarting: false) }
        for job in try store.jobs(state: .retrying) {
            try store.transition(job: job.id, to: .queued, reason: "retry \(job.attempts + 1) of \(job.maxAttempts)", now: now)
        }
        var free = concurrency - (try store.jobs(state: .running).count)
        for job in try store.jobs(state: .queued) where free > 0 {
            try start(job, now: now)
            free -= 1
        }
    }

    /// Cancels a job: a queued one at once, a running one by SIGTERM (SIGKILL after `cancelGrace`).
    public func cancel(_ jobID: String, now: Date = Date()) throws {
        let job = try store.job(jobID)
        switch job.state {
        case .queued, .retrying: try store.transition(job: jobID, to: .cancelled, reason: "cancelled before it started", now: now)
        case .running:
            cancelRequested[jobID] = now
            if let pid = job.externalId.flatMap(Int32.init) { executor.signal(pid, force: false) }
        default: throw StoreError.invalidTransition(job: jobID, from: job.state, to: .cancelled)
        }
    }

    private func start(_ job: Job, now: Date) throws {
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
            return
        }
        // A daemon killed right after spawning a worker, before recording it, left that worker running: adopt it
        // rather than start a second one on the same folder.
        if let orphan = f.readWorkerPID(), f.readExit() == nil, executor.isAlive(orphan) {
            try store.transition(job: job.id, to: .running, reason: "adopted worker \(orphan) started before a daemon restart", now: now) {
                $0.externalId = String(orphan)
            }
            return
        }
        try? FileManager.default.removeItem(at: f.exitURL)   // a retry starts without the last attempt's exit
        try? FileManager.default.removeItem(at: f.workerPIDURL)
        do {
            let pid = try executor.start(f)
            try store.transition(job: job.id, to: .running, reason: "worker \(pid) started (attempt \(job.attempts + 1))", now: now) {
                $0.externalId = String(pid)
            }
        } catch let e as StoreError { throw e }
        catch {
            try store.transition(job: job.id, to: .failed, reason: "could not start the worker: \(error)", now: now)
        }
    }

    /// Tails events into metrics and artifacts (exactly once: the read offset is stored with them); finalises
    /// the job if its worker has finished or vanished.
    private func poll(_ job: Job, now: Date, restarting: Bool) throws {
        let f = folder(job.id)
        let (events, next, _) = try JobEventReader.read(f, from: UInt64(job.eventsOffset))
        if next != UInt64(job.eventsOffset) {
            var points: [(step: Int, name: String, value: Double)] = []
            var artifacts: [ArtifactInfo] = []
            for e in events {
                switch e.kind {
                case .metric, .progress:
                    for (k, v) in (e.values ?? [:]).sorted(by: { $0.key < $1.key }) { points.append((e.step ?? 0, k, v)) }
                case .artifact:
                    guard let rel = e.path, let url = Self.inside(f.url, rel) else { continue }
                    guard let (hash, size) = try? SHA256.file(url) else { continue }
                    artifacts.append(ArtifactInfo(kind: e.text ?? url.pathExtension, path: rel, hash: hash, size: size))
                default: break
                }
            }
            try store.recordEvents(job: job.id, metrics: points, artifacts: artifacts, offset: Int64(next), now: now)
        }
        // The worker writes its PID to worker.pid as it starts: a daemon killed between starting a worker and
        // recording its PID still finds it.
        let pid = job.externalId.flatMap(Int32.init) ?? f.readWorkerPID()
        if job.state == .retrying { return }
        if let exit = f.readExit() {
            pid.map(executor.release)
            switch exit.status {
            case .succeeded: try store.transition(job: job.id, to: .succeeded, reason: exit.reason, now: now)
            case .cancelled: try store.transition(job: job.id, to: .cancelled, reason: exit.reason, now: now)
            case .failed:
                if exit.retryable == false { try store.transition(job: job.id, to: .failed, reason: exit.reason, now: now) }
                else { try retryOrFail(job, reason: exit.reason, now: now) }
            }
            cancelRequested[job.id] = nil
            return
        }
        if let pid, executor.isAlive(pid) {
            if let asked = cancelRequested[job.id], now.timeIntervalSince(asked) > cancelGrace { executor.signal(pid, force: true) }
            return
        }
        // The worker is gone without saying how.
        pid.map(executor.release)
        if cancelRequested.removeValue(forKey: job.id) != nil {
            try store.transition(job: job.id, to: .cancelled, reason: "cancelled; the worker was stopped", now: now)
            return
        }
        let why = restarting ? "worker \(pid.map(String.init) ?? "?") was not running when the daemon restarted"
                             : "worker \(pid.map(String.init) ?? "?") exited without writing exit.json (crash or kill)"
        try retryOrFail(job, reason: why, now: now)
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
        if job.attempts < job.maxAttempts {
            try store.transition(job: job.id, to: .retrying, reason: reason, now: now)
        } else {
            try store.transition(job: job.id, to: .failed, reason: reason, now: now)
        }
    }
}
