import Foundation

/// How `tesserad serve` runs: where its data lives, where it listens, who may talk to it. Read from
/// `ROOT/tesserad.json` when present; command-line flags override it.
public struct DaemonConfig: Codable, Sendable, Equatable {
    /// The data root: `tessera.sqlite` and `jobs/<id>/` live here.
    public var root: String
    public var host: String = "127.0.0.1"
    public var port: Int = 7878
    /// Bearer token clients must send (`Authorization: Bearer …`). Required for any non-loopback bind.
    public var token: String?
    /// Host names (besides loopback and `host`) the `Host` header may carry, e.g. a DNS name of this machine.
    public var allowedHosts: [String] = []
    /// Open connections at most; beyond it new ones wait in the kernel's queue (0: derived from the file limit).
    public var maxConnections: Int = 0
    /// Seconds a connection may stay idle (or spend sending its request head) before it is closed.
    public var idleTimeoutSeconds: Double = 15
    /// Dataset registration runs in a child process with these limits (seconds, MB of address space).
    public var registerTimeoutSeconds: Double = 600
    public var registerMemoryMB: Int = 8192
    /// Jobs running at once.
    public var concurrency: Int = 1
    /// Ready workflow specs (`workflows/`).
    public var workflows: String = "workflows"
    /// The viewer's static files (`web-static/`).
    public var webStatic: String = "web-static"
    /// Largest request body accepted, in bytes.
    public var maxBodyBytes: Int = 1 << 20
    /// Seconds between scheduling rounds.
    public var tickSeconds: Double = 0.25
    /// false: accept submissions but start no job (the API benchmark measures the API alone).
    public var startsJobs: Bool = true
    /// Where jobs run unless a submission says otherwise: "local" (processes on this machine) or "slurm".
    public var executor: String = "local"
    /// The Slurm cluster (its section in tesserad.json); required for "executor": "slurm", and makes
    /// `--executor slurm` available per submission when present.
    public var slurm: SlurmOptions?

    public init(root: String) { self.root = root }

    enum CodingKeys: String, CodingKey { case root, host, port, token, allowedHosts, maxConnections, idleTimeoutSeconds, registerTimeoutSeconds, registerMemoryMB, concurrency, workflows, webStatic, maxBodyBytes, tickSeconds, startsJobs, executor, slurm }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        root = try c.decodeIfPresent(String.self, forKey: .root) ?? "storage"
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
        token = try c.decodeIfPresent(String.self, forKey: .token)
        allowedHosts = try c.decodeIfPresent([String].self, forKey: .allowedHosts) ?? allowedHosts
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? maxConnections
        idleTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .idleTimeoutSeconds) ?? idleTimeoutSeconds
        registerTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .registerTimeoutSeconds) ?? registerTimeoutSeconds
        registerMemoryMB = try c.decodeIfPresent(Int.self, forKey: .registerMemoryMB) ?? registerMemoryMB
        concurrency = try c.decodeIfPresent(Int.self, forKey: .concurrency) ?? concurrency
        workflows = try c.decodeIfPresent(String.self, forKey: .workflows) ?? workflows
        webStatic = try c.decodeIfPresent(String.self, forKey: .webStatic) ?? webStatic
        maxBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? maxBodyBytes
        tickSeconds = try c.decodeIfPresent(Double.self, forKey: .tickSeconds) ?? tickSeconds
        startsJobs = try c.decodeIfPresent(Bool.self, forKey: .startsJobs) ?? startsJobs
        executor = try c.decodeIfPresent(String.self, forKey: .executor) ?? executor
        slurm = try c.decodeIfPresent(SlurmOptions.self, forKey: .slurm)
    }

    /// Reads `ROOT/tesserad.json` if it exists (defaults otherwise).
    public static func load(root: String) throws -> DaemonConfig {
        let url = URL(fileURLWithPath: root).appendingPathComponent("tesserad.json")
        guard let data = try? Data(contentsOf: url) else { return DaemonConfig(root: root) }
        do {
            var c = try JSONDecoder().decode(DaemonConfig.self, from: data)
            c.root = root
            return c
        } catch {
            throw DaemonError.config("\(url.path) is not valid: \(error). Fix or remove the file (every field is optional).")
        }
    }

    public var isLoopback: Bool { ["127.0.0.1", "::1", "localhost"].contains(host) }

    /// Refuses settings the daemon must not start with.
    public func validate() throws {
        if !isLoopback && (token ?? "").count < 16 {
            throw DaemonError.config("""
                refusing to listen on \(host): binding beyond loopback requires a bearer token of at least 16 characters. \
                Set "token" in \(root)/tesserad.json, pass --token-file or set TESSERAD_TOKEN (clients then send it with --token or TESSERA_TOKEN), \
                or listen on 127.0.0.1.
                """)
        }
        guard (1...65535).contains(port) else { throw DaemonError.config("port \(port) is out of range 1-65535") }
        guard (1...64).contains(concurrency) else { throw DaemonError.config("concurrency \(concurrency) is out of range 1-64") }
        guard ["local", "slurm"].contains(executor) else {
            throw DaemonError.config("executor \"\(executor)\" is unknown: use \"local\" (processes on this machine) or \"slurm\"")
        }
        guard maxBodyBytes >= 1024 else { throw DaemonError.config("maxBodyBytes \(maxBodyBytes) is below 1024") }
    }

    public var rootURL: URL { URL(fileURLWithPath: root, isDirectory: true).standardizedFileURL }
    public var databasePath: String { rootURL.appendingPathComponent("tessera.sqlite").path }
}

/// Errors of the daemon itself (configuration, start-up).
public enum DaemonError: Error, CustomStringConvertible, Sendable {
    case config(String)
    public var description: String {
        switch self { case .config(let m): return m }
    }
}
