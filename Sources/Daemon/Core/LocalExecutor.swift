import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Workflows

/// Runs each job as a separate worker process on this machine (`tesserad work JOBDIR` by default), so a crash
/// in numeric code never takes the daemon down. Workers started by an earlier daemon are tracked by PID.
public final class LocalExecutor: @unchecked Sendable {
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
}
