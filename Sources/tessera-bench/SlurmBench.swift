import ArgumentParser
import Daemon
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Store
import Workflows

/// The Slurm executor's overhead against the local one, through the real job queue and a real cluster
/// (`scripts/slurm-test-cluster start`): per job, submission → the worker running and the worker's end →
/// the state the daemon records; then many short jobs on Slurm at once, with the daemon's CPU while it polls.
/// The worker is a tiny shell program that follows the job-folder protocol and writes its own timestamps,
/// so the numbers are the executors' and not a workflow's.
struct SlurmBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "slurm", abstract: "Per-job overhead of the Slurm executor beside the local one, and many short Slurm jobs at once.")

    @Option(help: "SLURM_CONF of the cluster.") var slurmConf = "/tmp/tessera-slurm/etc/slurm.conf"
    @Option(help: "Jobs run one after another per executor for the overhead.") var sequential = 10
    @Option(help: "Short jobs submitted to Slurm at once.") var many = 100
    @Option(help: "Seconds between scheduling rounds (the daemon's tickSeconds).") var tick = 0.25

    /// Writes `t_start`, one event, `t_end`, then exit.json: the timestamps bracket the worker's own life.
    static let worker = #"date +%s.%N > t_start; echo '{"kind":"metric","at":"2026-01-01T00:00:00Z","step":1,"values":{"x":1}}' >> events.jsonl; date +%s.%N > t_end; printf '{"status":"succeeded","reason":"done","at":"2026-01-01T00:00:00Z"}' > exit.json.tmp && mv exit.json.tmp exit.json"#

    func run() throws {
        guard FileManager.default.fileExists(atPath: slurmConf) else {
            throw ValidationError("\(slurmConf) is missing: start the test cluster with scripts/slurm-test-cluster start")
        }
        let command: @Sendable (JobFolder) -> (executable: URL, arguments: [String]) = { _ in (URL(fileURLWithPath: "/bin/sh"), ["-c", Self.worker]) }
        var options = SlurmOptions()
        options.slurmConf = slurmConf
        let slurm = SlurmExecutor(options: options, command: command)
        try slurm.checkInstalled()
        print("tessera-bench slurm: \(sequential) jobs one after another per executor, then \(many) jobs at once on Slurm; scheduling round every \(tick) s; load \(loadAverageText())")

        let (local, slurmSeq) = (try overhead(executor: "local", slurm: slurm, command: command),
                                 try overhead(executor: "slurm", slurm: slurm, command: command))
        print("per job (median of \(sequential))        local | slurm | ratio")
        for (name, a, b) in [("submission → worker running", local.start, slurmSeq.start), ("worker end → state recorded", local.end, slurmSeq.end),
                             ("submission → state recorded", local.total, slurmSeq.total)] {
            print(String(format: "  %-28@ %7.3f s | %7.3f s | %6.1fx", name as NSString, a, b, b / max(a, 1e-6)))
        }
        try burst(slurm: slurm, command: command)
        try array(command: command)
    }

    /// One job as an array of `many` short tasks plus a gather (the embed fan-out's path, with shell workers
    /// that follow the part protocol): wall time from submission to the job recorded, and the daemon's CPU.
    func array(command: @escaping @Sendable (JobFolder) -> (executable: URL, arguments: [String])) throws {
        let part = #"k=$SLURM_ARRAY_TASK_ID; mkdir -p parts/$k; printf '{"status":"succeeded","reason":"part","at":"2026-01-01T00:00:00Z"}' > parts/$k/exit.json"#
        var options = SlurmOptions()
        options.slurmConf = slurmConf
        let slurm = SlurmExecutor(options: options, command: command) { _, role, _ in
            (URL(fileURLWithPath: "/bin/sh"), ["-c", role == "part" ? part : Self.worker])
        }
        let (store, root) = try setUp()
        defer { try? FileManager.default.removeItem(at: root) }
        let q = JobQueue(store: store, root: root, executor: LocalExecutor(command: command), others: [slurm])
        let id = try store.submitJob(project: "bench", workflow: "embed", version: "1", parameters: "{}", inputs: [:], executor: "slurm", cacheKey: "a").id
        try store.setResources(job: id, json: #"{"arrayTasks":\#(many)}"#)
        let (self0, kids0) = (cpuSeconds(RUSAGE_SELF), cpuSeconds(RUSAGE_CHILDREN))
        let t0 = Date()
        var rounds = 0
        while try !store.job(id).state.isTerminal && Date().timeIntervalSince(t0) < 600 {
            try q.tick(); rounds += 1
            Thread.sleep(forTimeInterval: tick)
        }
        let wall = Date().timeIntervalSince(t0)
        let (selfCPU, kidsCPU) = (cpuSeconds(RUSAGE_SELF) - self0, cpuSeconds(RUSAGE_CHILDREN) - kids0)
        print("one job as a \(many)-task array + gather: \(try store.job(id).state.rawValue) in \(String(format: "%.1f", wall)) s wall, \(rounds) rounds; " +
              "daemon CPU \(String(format: "%.2f", selfCPU)) s (\(String(format: "%.1f", 100 * selfCPU / wall))% of one core), its sbatch/squeue/scontrol children \(String(format: "%.2f", kidsCPU)) s")
    }

    struct Overhead { var start: Double; var end: Double; var total: Double }

    func setUp() throws -> (ProjectStore, URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-slurmbench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let store = try ProjectStore(path: root.appendingPathComponent("tessera.sqlite").path)
        try store.createProject(name: "bench")
        return (store, root)
    }

    static func timestamp(_ url: URL) -> Double? {
        (try? String(contentsOf: url, encoding: .utf8)).flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    func overhead(executor name: String, slurm: SlurmExecutor, command: @escaping @Sendable (JobFolder) -> (executable: URL, arguments: [String])) throws -> Overhead {
        let (store, root) = try setUp()
        defer { try? FileManager.default.removeItem(at: root) }
        let q = JobQueue(store: store, root: root, executor: LocalExecutor(command: command), others: [slurm])
        var starts: [Double] = [], ends: [Double] = [], totals: [Double] = []
        for _ in 0..<sequential {
            let submitted = Date()
            let id = try store.submitJob(project: "bench", workflow: "w", version: "1", parameters: "{}", inputs: [:], executor: name, cacheKey: "w").id
            var seen: Date?
            let deadline = Date().addingTimeInterval(120)
            while seen == nil && Date() < deadline {
                try q.tick()
                if try store.job(id).state.isTerminal { seen = Date() } else { Thread.sleep(forTimeInterval: tick) }
            }
            let f = q.folder(id).url
            guard let seen, try store.job(id).state == .succeeded,
                  let s = Self.timestamp(f.appendingPathComponent("t_start")), let e = Self.timestamp(f.appendingPathComponent("t_end")) else {
                throw ValidationError("\(name) job \(id) did not succeed within 120 s: \(try store.job(id).exitReason ?? "")")
            }
            starts.append(s - submitted.timeIntervalSince1970)
            ends.append(seen.timeIntervalSince1970 - e)
            totals.append(seen.timeIntervalSince(submitted))
        }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
        return Overhead(start: median(starts), end: median(ends), total: median(totals))
    }

    /// `many` jobs submitted at once to Slurm; wall time to all recorded, and the daemon's own CPU (and its
    /// children's: sbatch, squeue, scontrol) over the rounds.
    func burst(slurm: SlurmExecutor, command: @escaping @Sendable (JobFolder) -> (executable: URL, arguments: [String])) throws {
        let (store, root) = try setUp()
        defer { try? FileManager.default.removeItem(at: root) }
        let q = JobQueue(store: store, root: root, executor: LocalExecutor(command: command), others: [slurm])
        let ids = try (0..<many).map { _ in
            try store.submitJob(project: "bench", workflow: "w", version: "1", parameters: "{}", inputs: [:], executor: "slurm", cacheKey: "w").id
        }
        let (self0, kids0) = (cpuSeconds(RUSAGE_SELF), cpuSeconds(RUSAGE_CHILDREN))
        let t0 = Date()
        var rounds = 0, firstRound = 0.0
        let deadline = Date().addingTimeInterval(600)
        while Date() < deadline {
            let r0 = Date()
            try q.tick()
            if rounds == 0 { firstRound = Date().timeIntervalSince(r0) }
            rounds += 1
            if try store.count(state: .queued) + store.count(state: .running) == 0 { break }
            Thread.sleep(forTimeInterval: tick)
        }
        let wall = Date().timeIntervalSince(t0)
        let (selfCPU, kidsCPU) = (cpuSeconds(RUSAGE_SELF) - self0, cpuSeconds(RUSAGE_CHILDREN) - kids0)
        let ok = try ids.filter { try store.job($0).state == .succeeded }.count
        print("\(many) short jobs at once on Slurm: \(ok) succeeded in \(String(format: "%.1f", wall)) s wall, \(rounds) rounds " +
              "(first round, \(many) sbatch calls: \(String(format: "%.2f", firstRound)) s); daemon CPU \(String(format: "%.2f", selfCPU)) s " +
              "(\(String(format: "%.1f", 100 * selfCPU / wall))% of one core), its sbatch/squeue/scontrol children \(String(format: "%.2f", kidsCPU)) s")
    }

    func cpuSeconds(_ who: __rusage_who) -> Double {
        let who = __rusage_who_t(who.rawValue)
        var u = rusage()
        getrusage(who, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }

    func loadAverageText() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)).map { $0.split(separator: " ").prefix(3).joined(separator: " ") } ?? "?"
    }
}
