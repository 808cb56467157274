import Foundation

/// Runs Slurm's client programs (`sbatch`, `squeue`, `scancel`, `scontrol`) with the cluster's environment
/// (`SLURM_CONF`), a time limit, and both outputs captured. One place that knows how to call them, so the
/// executor reads as Slurm calls rather than process plumbing.
public struct SlurmCommands: Sendable {
    /// Folder holding the client programs (nil: found on PATH).
    public var binDirectory: String?
    /// Extra environment for every call (`SLURM_CONF` of a test cluster).
    public var environment: [String: String]
    /// Seconds before a call is killed (`sbatch` waits ~9 s for a controller that is down).
    public var timeoutSeconds: Double

    public init(binDirectory: String? = nil, environment: [String: String] = [:], timeoutSeconds: Double = 30) {
        self.binDirectory = binDirectory; self.environment = environment; self.timeoutSeconds = timeoutSeconds
    }

    /// What one call gave.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// stderr, else stdout, trimmed: the message to show.
        public var message: String {
            let e = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            return e.isEmpty ? stdout.trimmingCharacters(in: .whitespacesAndNewlines) : e
        }
    }

    /// The full path of a client program, or nil when it is not installed.
    public func path(of program: String) -> String? {
        let dirs = binDirectory.map { [$0] }
            ?? (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        for d in dirs {
            let p = URL(fileURLWithPath: d).appendingPathComponent(program).path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// Runs `program arguments`; throws only when it cannot be started or outlives the time limit.
    public func run(_ program: String, _ arguments: [String]) throws -> Result {
        guard let exe = path(of: program) else {
            throw ExecutorError.unavailable("\(program) is not installed on this machine (PATH: \(binDirectory ?? ProcessInfo.processInfo.environment["PATH"] ?? "")); install Slurm's client: apt-get install --no-install-recommends slurm-client munge")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = FileHandle.nullDevice
        try p.run()
        // Both pipes are read while the program runs: a long squeue listing would otherwise fill one and block.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter(); DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter(); DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if group.wait(timeout: .now() + timeoutSeconds) == .timedOut {
            p.terminate()
            _ = group.wait(timeout: .now() + 2)
            p.waitUntilExit()
            throw ExecutorError.unavailable("\(program) \(arguments.joined(separator: " ").prefix(120)) did not answer within \(Int(timeoutSeconds)) s (is slurmctld reachable?)")
        }
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Messages of a client that could not reach the controller (the job is kept and submitted later),
    /// as opposed to a refusal of the job itself.
    public static func isUnreachable(_ message: String) -> Bool {
        let m = message.lowercased()
        return ["unable to contact slurm controller", "connection refused", "socket timed out", "zero bytes were transmitted",
                "communication connection failure", "slurm_persist_conn", "could not establish a configuration source",
                "munge", "slurmctld is not responding", "unable to establish a connection"].contains { m.contains($0) }
    }
}
