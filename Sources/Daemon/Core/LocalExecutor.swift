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

    /// Starts the worker; its stdout and stderr go to `worker.log` in the folder. Returns the PID.
    public func start(_ folder: JobFolder) throws -> Int32 {
        let (exe, args) = command(folder)
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        p.currentDirectoryURL = folder.url
        let logURL = folder.url.appendingPathComponent("worker.log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        try log.seekToEnd()
        p.standardOutput = log; p.standardError = log
        p.standardInput = FileHandle.nullDevice
        try p.run()
        lock.lock(); children[p.processIdentifier] = p; lock.unlock()
        return p.processIdentifier
    }

    /// Whether the worker is still running. Our own children are reaped through `Process`; a worker inherited
    /// from an earlier daemon is probed with signal 0.
    public func isAlive(_ pid: Int32) -> Bool {
        lock.lock(); let p = children[pid]; lock.unlock()
        if let p { return p.isRunning }
        guard kill(pid, 0) == 0 else { return false }
        // An orphan that died but was not reaped yet (a zombie) still answers signal 0: read its state.
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")"), let state = stat[stat.index(after: close)...].split(separator: " ").first {
            return state != "Z" && state != "X"
        }
        return true
    }

    /// Asks the worker to stop (SIGTERM: it checkpoints and writes a cancelled exit), or forces it (SIGKILL).
    public func signal(_ pid: Int32, force: Bool) {
        _ = kill(pid, force ? SIGKILL : SIGTERM)
    }

    /// Forgets a finished child.
    public func release(_ pid: Int32) {
        lock.lock(); children[pid] = nil; lock.unlock()
    }
}
