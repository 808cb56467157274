import Foundation
@testable import Daemon
import Store
import Workflows

/// The real Slurm test cluster of `scripts/slurm-test-cluster` (two slurmd nodes and a slurmctld on
/// 127.0.0.1). `make test` starts it before the tests and stops it after; a test run on its own starts it
/// here when it is not up. Where Slurm's packages cannot be installed, `available` is false and `why` says so.
enum SlurmTestCluster {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let base = ProcessInfo.processInfo.environment["TESSERA_SLURM_DIR"] ?? "/tmp/tessera-slurm"
    static let conf = base + "/etc/slurm.conf"

    /// nil when the cluster answers; otherwise why the Slurm tests are skipped.
    static let unavailableReason: String? = {
        if sinfoIdle() { return nil }
        let script = repo.appendingPathComponent("scripts/slurm-test-cluster").path
        let r = shell(script, ["start"])
        if r.status == 0, sinfoIdle() { return nil }
        return "Slurm tests skipped: scripts/slurm-test-cluster start exited \(r.status) (\(r.output.suffix(300))). They need Debian's slurmctld slurmd slurm-client munge (root, apt)."
    }()
    static var available: Bool { unavailableReason == nil }

    static func sinfoIdle() -> Bool {
        guard FileManager.default.fileExists(atPath: conf) else { return false }
        let r = shell("/usr/bin/sinfo", ["-h", "-N", "-o", "%t"])
        return r.status == 0 && r.output.split(separator: "\n").contains { ["idle", "mix", "alloc"].contains(String($0)) }
    }

    /// Runs a program with SLURM_CONF set; stdout and stderr together.
    @discardableResult
    static func shell(_ exe: String, _ args: [String]) -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["SLURM_CONF"] = conf
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        do { try p.run() } catch { return (127, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func options(defaults: ExecutorResources = .init()) -> SlurmOptions {
        var o = SlurmOptions()
        o.slurmConf = conf
        o.defaults = defaults
        return o
    }

    /// Slurm jobs (any state) carrying a name, as squeue lists them.
    /// Asked again (up to 10 times) while squeue fails: an empty answer must mean "no such job".
    static func jobs(named name: String) -> [SlurmQueueEntry] {
        for _ in 0..<10 {
            let r = shell("/usr/bin/squeue", ["-h", "-a", "-t", "all", "-n", name, "-o", SlurmQueueEntry.format])
            if r.status == 0 { return SlurmQueueEntry.parse(r.output) }
            Thread.sleep(forTimeInterval: 1)
        }
        return []
    }

    // MARK: the controller, for fault tests

    static var controllerPID: Int32? {
        (try? String(contentsOfFile: base + "/run/slurmctld.pid", encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Stops slurmctld (SIGTERM: it saves its state) and waits until it is gone.
    static func stopController() {
        guard let pid = controllerPID else { return }
        kill(pid, SIGTERM)
        for _ in 0..<100 where kill(pid, 0) == 0 && WorkerProcess.state(of: pid) != "Z" { Thread.sleep(forTimeInterval: 0.1) }
    }

    /// Starts slurmctld again (the same way the script does) and waits for the nodes.
    static func startController() {
        shell("/usr/sbin/slurmctld", ["-f", conf])
        for _ in 0..<150 where !sinfoIdle() { Thread.sleep(forTimeInterval: 0.2) }
    }
}
