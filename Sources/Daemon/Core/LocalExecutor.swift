import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Workflows

/// Runs each job as a separate worker process on this machine (`tesserad work JOBDIR` by default), so a crash
/// in numeric code never takes the daemon down. Workers started by an earlier daemon are tracked by PID.
public final class LocalExecutor: Executor, @unchecked Sendable {
    /// The worker command for a job folder.
    public let command: @Sendable (JobFolder) -> (executable: URL, arguments: [String])
    private var children: [Int32: Process] = [:]
    private let lock = NSLock()

    public init(command: @escaping @Sendable (JobFolder) -> (executable: URL, arguments: [String])) {
        self.command = command
    }

    /// Starts the worker; its stdout and stderr go to `worker.log` in the folder. Returns the process with
    /// its start time.
    public func start(_ folder: JobFolder) throws -> WorkerProcess {
        let (exe, args) = command(folder)
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        p.currentDirectoryURL = folder.url
        let logURL = folder.url.appendingPathComponent("worker.log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        defer { try? log.close() }   // the child has its own copy
        try log.seekToEnd()
        p.standardOutput = log; p.standardError = log
        p.standardInput = FileHandle.nullDevice
        try p.run()
        lock.lock(); children[p.processIdentifier] = p; lock.unlock()
        return WorkerProcess.current(p.processIdentifier)
    }

    /// Whether the worker is still running. Our own children are reaped through `Process`; a worker inherited
    /// from an earlier daemon is probed in /proc: it must exist, not be a zombie, and have the recorded start
    /// time (a PID reused by another program is not our worker).
    public func isAlive(_ w: WorkerProcess) -> Bool {
        lock.lock(); let p = children[w.pid]; lock.unlock()
        if let p { return p.isRunning }
        guard kill(w.pid, 0) == 0 || errno == EPERM else { return false }
        guard let state = WorkerProcess.state(of: w.pid), state != "Z", state != "X" else { return false }
        if let recorded = w.startTime { return WorkerProcess.startTime(of: w.pid) == recorded }
        return true
    }

    /// Asks the worker to stop (SIGTERM: it checkpoints and writes a cancelled exit), or forces it (SIGKILL);
    /// only when it is still the recorded process.
    public func signal(_ w: WorkerProcess, force: Bool) {
        guard isAlive(w) else { return }
        _ = kill(w.pid, force ? SIGKILL : SIGTERM)
    }

    /// Forgets a finished child.
    public func release(_ w: WorkerProcess) {
        lock.lock(); children[w.pid] = nil; lock.unlock()
    }

    // MARK: Executor

    public var name: String { "local" }
    /// The queue's concurrency limit applies to local jobs; the executor itself sets none.
    public var capacity: Int { .max }
    public var reportsFinalStates: Bool { false }

    public func submit(_ job: ExecutorJob, resources: ExecutorResources) throws -> String {
        try start(job.folder).description
    }

    /// The recorded process (or the one the worker wrote to worker.pid) is alive: running; otherwise gone.
    public func observe(_ jobs: [ExecutorJob]) throws -> [String: ExecutorObservation] {
        var out: [String: ExecutorObservation] = [:]
        for j in jobs {
            let w = j.externalId.flatMap(WorkerProcess.init) ?? j.folder.readWorker()
            out[j.jobID] = (w.map(isAlive) ?? false) ? .running(state: "RUNNING") : .gone
        }
        return out
    }

    /// A worker an earlier daemon spawned just before it was killed, before recording it: alive, no exit yet.
    public func find(_ job: ExecutorJob) throws -> String? {
        guard let orphan = job.folder.readWorker(), job.folder.readExit() == nil, isAlive(orphan) else { return nil }
        return orphan.description
    }

    public func cancel(_ job: ExecutorJob, force: Bool) {
        if let w = job.externalId.flatMap(WorkerProcess.init) ?? job.folder.readWorker() { signal(w, force: force) }
    }

    public func release(_ job: ExecutorJob) {
        if let w = job.externalId.flatMap(WorkerProcess.init) ?? job.folder.readWorker() { release(w) }
    }

    public func logURL(_ folder: JobFolder) -> URL { folder.url.appendingPathComponent("worker.log") }
}
