import Foundation
#if canImport(Glibc)
import Glibc
#endif
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
        for job in try store.jobs(state: .running, limit: .max) + store.jobs(state: .retrying, limit: .max) {
            try poll(job, now: now, restarting: true)
            touched.append(job.id)
        }
        try repairFinishedJobs(now: now)
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
            if let w = job.externalId.flatMap(WorkerProcess.init) { executor.signal(w, force: false) }
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
        if let orphan = f.readWorker(), f.readExit() == nil, executor.isAlive(orphan) {
            try store.transition(job: job.id, to: .running, reason: "adopted worker \(orphan.pid) started before a daemon restart", now: now) {
                $0.externalId = orphan.description
            }
            return
        }
        try? FileManager.default.removeItem(at: f.exitURL)   // a retry starts without the last attempt's exit
        try? FileManager.default.removeItem(at: f.workerPIDURL)
        do {
            let w = try executor.start(f)
            try store.transition(job: job.id, to: .running, reason: "worker \(w.pid) started (attempt \(job.attempts + 1))", now: now) {
                $0.externalId = w.description
            }
        } catch let e as StoreError { throw e }
        catch {
            try store.transition(job: job.id, to: .failed, reason: "could not start the worker: \(error)", now: now)
        }
    }

    /// Tails events into metrics and artifacts (exactly once: the read offset is stored with them); finalises
    /// the job if its worker has finished or vanished. After `exit.json` is seen the events are drained once
    /// more: a worker writes its last events just before `exit.json`, and they may have landed between the
    /// first read and that one.
    private func poll(_ job: Job, now: Date, restarting: Bool) throws {
        let f = folder(job.id)
        let offset = try drain(job.id, folder: f, from: UInt64(job.eventsOffset), now: now)
        // The worker writes its PID to worker.pid as it starts: a daemon killed between starting a worker and
        // recording its PID still finds it.
        let pid = job.externalId.flatMap(WorkerProcess.init) ?? f.readWorker()
        if job.state == .retrying { return }
        if let exit = f.readExit() {
            _ = try drain(job.id, folder: f, from: offset, now: now)
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
        let why = restarting ? "worker \(pid.map { String($0.pid) } ?? "?") was not running when the daemon restarted"
                             : "worker \(pid.map { String($0.pid) } ?? "?") exited without writing exit.json (crash or kill)"
        try retryOrFail(job, reason: why, now: now)
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
