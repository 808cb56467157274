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

    /// Runs a program with SLURM_CONF set; stdout and stderr together. Spawned with an empty signal mask and
    /// default handlers: a test runs on a thread that blocks most signals, and daemons started from it (the
    /// script's slurmctld and slurmd, and the jobs slurmd starts) would inherit that and never see SIGTERM.
    @discardableResult
    static func shell(_ exe: String, _ args: [String]) -> (status: Int32, output: String) {
        var env = ProcessInfo.processInfo.environment
        env["SLURM_CONF"] = conf
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return (127, "pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none); sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([exe] + args).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, &attr, argv, envp)
        close(fds[1])
        guard rc == 0 else { close(fds[0]); return (127, "cannot start \(exe): \(String(cString: strerror(rc)))") }
        let data = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, String(decoding: data, as: UTF8.self))
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
