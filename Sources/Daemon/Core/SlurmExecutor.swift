import Foundation
import Workflows

/// How the daemon uses a Slurm cluster (`"slurm"` in `tesserad.json`). Job folders must be on a file system
/// the nodes share.
public struct SlurmOptions: Codable, Sendable, Equatable {
    /// Defaults for every job (a submission's resources override them).
    public var defaults: ExecutorResources = .init()
    /// Extra `sbatch` flags for every job, e.g. `["--qos=normal", "--constraint=avx2"]`.
    public var extraFlags: [String] = []
    /// Slurm jobs the daemon keeps submitted at once (pending or running).
    public var maxJobs: Int = 1000
    /// Folder of `sbatch`, `squeue`, `scancel`, `scontrol` (nil: PATH).
    public var binDirectory: String?
    /// `SLURM_CONF` for the clients (nil: Slurm's own default).
    public var slurmConf: String?
    /// Prefix of job names; the job id follows (`tessera-<id>`).
    public var namePrefix: String = "tessera-"

    public init() {}

    enum CodingKeys: String, CodingKey { case defaults, extraFlags, maxJobs, binDirectory, slurmConf, namePrefix }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        defaults = try c.decodeIfPresent(ExecutorResources.self, forKey: .defaults) ?? defaults
        extraFlags = try c.decodeIfPresent([String].self, forKey: .extraFlags) ?? extraFlags
        maxJobs = try c.decodeIfPresent(Int.self, forKey: .maxJobs) ?? maxJobs
        binDirectory = try c.decodeIfPresent(String.self, forKey: .binDirectory)
        slurmConf = try c.decodeIfPresent(String.self, forKey: .slurmConf)
        namePrefix = try c.decodeIfPresent(String.self, forKey: .namePrefix) ?? namePrefix
    }
}

/// Runs each job as a Slurm batch job whose script `exec`s the worker (`tesserad work JOBDIR`), so Slurm's
/// SIGTERM on `scancel` or at the time limit reaches the worker itself and it checkpoints. The job's name
/// and comment carry our job id: after a daemon or controller restart a job is found by name as well as by
/// id (a slurmctld killed with SIGKILL has been seen to lose an acknowledged job and reuse its id).
public final class SlurmExecutor: Executor, @unchecked Sendable {
    public let options: SlurmOptions
    public let commands: SlurmCommands
    /// The worker command for a job folder (the same as the local executor's).
    public let command: @Sendable (JobFolder) -> (executable: URL, arguments: [String])

    /// The worker commands of an embed job array: role "part" (one task; its index comes from
    /// SLURM_ARRAY_TASK_ID) and "gather", for `tasks` tasks. nil: arrays are not offered.
    public let fanOut: (@Sendable (_ folder: JobFolder, _ role: String, _ tasks: Int) -> (executable: URL, arguments: [String]))?

    public init(options: SlurmOptions, command: @escaping @Sendable (JobFolder) -> (executable: URL, arguments: [String]),
                fanOut: (@Sendable (JobFolder, String, Int) -> (executable: URL, arguments: [String]))? = nil) {
        self.options = options
        self.command = command
        self.fanOut = fanOut
        var env: [String: String] = [:]
        if let conf = options.slurmConf { env["SLURM_CONF"] = conf }
        commands = SlurmCommands(binDirectory: options.binDirectory, environment: env)
    }

    /// Refuses to start a daemon configured for Slurm on a machine without Slurm's client programs.
    public func checkInstalled() throws {
        let missing = ["sbatch", "squeue", "scancel", "scontrol"].filter { commands.path(of: $0) == nil }
        guard missing.isEmpty else {
            throw DaemonError.config("""
                the daemon is configured to run jobs on Slurm, but \(missing.joined(separator: ", ")) \(missing.count == 1 ? "is" : "are") not installed \
                (looked in \(options.binDirectory ?? "PATH")). Install Slurm's client and munge (Debian: apt-get install --no-install-recommends slurm-client munge), \
                set "slurm": {"binDirectory": …} in tesserad.json, or set "executor": "local"
                """)
        }
    }

    public var name: String { "slurm" }
    public var capacity: Int { options.maxJobs }
    public var reportsFinalStates: Bool { true }

    public func jobName(_ jobID: String) -> String { options.namePrefix + jobID }

    /// The batch script: `exec` of the worker, so signals reach it directly (a shell `trap …; wait` loop lost
    /// SIGTERM about 1 time in 7 when SIGCONT and SIGTERM arrive together).
    func batchScript(_ folder: JobFolder, command override: (executable: URL, arguments: [String])? = nil) -> String {
        let (exe, args) = override ?? command(folder)
        let quoted = ([exe.path] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let dir = "'" + folder.url.path.replacingOccurrences(of: "'", with: "'\\''") + "'"
        return "#!/bin/sh\n# Written by tesserad: one Tessera job, run by Slurm in its job folder.\ncd \(dir) || exit 1\nexec \(quoted.joined(separator: " "))\n"
    }

    /// The sbatch arguments for a job (without the script path).
    func sbatchArguments(_ job: ExecutorJob, resources r: ExecutorResources) -> [String] {
        var a = ["--parsable", "--job-name=\(jobName(job.jobID))", "--comment=tessera:\(job.jobID)",
                 "--chdir=\(job.folder.url.path)", "--output=\(logURL(job.folder).path)", "--open-mode=append",
                 "--no-requeue"]   // at most once: a node failure comes back to the daemon, which retries from the checkpoint
        if let c = r.cpus { a.append("--cpus-per-task=\(c)") }
        if let m = r.memoryMB { a.append("--mem=\(m)M") }
        if let t = r.timeLimitMinutes { a.append("--time=\(t)") }
        if let p = r.partition { a.append("--partition=\(p)") }
        if let acc = r.account { a.append("--account=\(acc)") }
        return a + options.extraFlags
    }

    public func submit(_ job: ExecutorJob, resources: ExecutorResources) throws -> String {
        let r = resources.over(options.defaults)
        if let tasks = r.arrayTasks, tasks >= 2 { return try submitArray(job, resources: r, tasks: tasks) }
        let script = job.folder.url.appendingPathComponent("slurm.sh")
        try Data(batchScript(job.folder).utf8).write(to: script, options: .atomic)
        return try sbatch(sbatchArguments(job, resources: r) + [script.path])
    }

    /// An embed job as an array of `tasks` parts (`<name>-part`, `JOBDIR/parts/K/`) and a gather job with the
    /// job's own name under `--dependency=afterok`, which writes the job's exit.json. Returns the gather's id:
    /// the job is followed, found and cancelled through it (cancelling also cancels the parts). On a retry only
    /// the parts without a succeeded exit.json run again (a failed task is retried alone); when every part
    /// succeeded, only the gather runs.
    func submitArray(_ job: ExecutorJob, resources r: ExecutorResources, tasks: Int) throws -> String {
        guard let fanOut else { throw ExecutorError.rejected("this daemon offers no job arrays (resources.arrayTasks); submit without it") }
        guard (try? job.folder.readSpec().workflow) == "embed" else {
            throw ExecutorError.rejected("resources.arrayTasks: only embed jobs run as arrays; submit without it")
        }
        let parts = job.folder.url.appendingPathComponent("parts", isDirectory: true)
        try FileManager.default.createDirectory(at: parts, withIntermediateDirectories: true)
        let todo = (0..<tasks).filter { JobFolder(parts.appendingPathComponent("\($0)", isDirectory: true)).readExit()?.status != .succeeded }
        var dependency: [String] = []
        if !todo.isEmpty {
            let partScript = job.folder.url.appendingPathComponent("slurm-part.sh")
            try Data(batchScript(job.folder, command: fanOut(job.folder, "part", tasks)).utf8).write(to: partScript, options: .atomic)
            var partArgs = sbatchArguments(job, resources: r).map { a -> String in
                if a.hasPrefix("--job-name=") { return a + "-part" }
                if a.hasPrefix("--output=") { return "--output=\(parts.path)/worker-%a.log" }
                return a
            }
            partArgs.insert("--array=\(todo.map(String.init).joined(separator: ","))", at: 1)
            let array = try sbatch(partArgs + [partScript.path])
            dependency = ["--dependency=afterok:\(array)", "--kill-on-invalid-dep=yes"]
        }
        let script = job.folder.url.appendingPathComponent("slurm.sh")
        try Data(batchScript(job.folder, command: fanOut(job.folder, "gather", tasks)).utf8).write(to: script, options: .atomic)
        do {
            return try sbatch(sbatchArguments(job, resources: r) + dependency + [script.path])
        } catch {
            if let array = dependency.first?.split(separator: ":").last { _ = try? commands.run("scancel", [String(array)]) }
            throw error
        }
    }

    /// Runs sbatch; returns the job id it printed.
    func sbatch(_ arguments: [String]) throws -> String {
        let r = try commands.run("sbatch", arguments)
        guard r.status == 0 else {
            if SlurmCommands.isUnreachable(r.message) { throw ExecutorError.unavailable("Slurm is unreachable: sbatch said: \(r.message)") }
            throw ExecutorError.rejected("Slurm refused the job: sbatch said: \(r.message)")
        }
        // --parsable prints "ID" or "ID;CLUSTER".
        guard let id = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init), !id.isEmpty,
              id.allSatisfy(\.isNumber) else {
            throw ExecutorError.rejected("sbatch printed no job id: \(r.stdout.prefix(200))")
        }
        return id
    }

    /// Every job the controller knows (one squeue call), or `unavailable` when it cannot be asked.
    func queue() throws -> [SlurmQueueEntry] {
        let r = try commands.run("squeue", ["-h", "-a", "-t", "all", "-o", SlurmQueueEntry.format])
        guard r.status == 0 else { throw ExecutorError.unavailable("Slurm is unreachable: squeue said: \(r.message)") }
        return SlurmQueueEntry.parse(r.stdout)
    }

    /// The entry for a job: by its recorded id when the name still matches (an id the controller reused for
    /// another job is not ours), else the newest entry with its name.
    func entry(for job: ExecutorJob, in entries: [SlurmQueueEntry]) -> SlurmQueueEntry? {
        let name = jobName(job.jobID)
        if let id = job.externalId, let e = entries.first(where: { $0.id == id }), e.name == name { return e }
        return entries.filter { $0.name == name }.max { (Int($0.id) ?? 0) < (Int($1.id) ?? 0) }
    }

    public func observe(_ jobs: [ExecutorJob]) throws -> [String: ExecutorObservation] {
        guard !jobs.isEmpty else { return [:] }
        let entries = try queue()
        var out: [String: ExecutorObservation] = [:]
        for j in jobs {
            guard let e = entry(for: j, in: entries) else { out[j.jobID] = .gone; continue }
            var o = e.observation()
            if case .ended = o, e.state != "COMPLETED" { o = e.observation(exitCode: exitCode(e.id)) }
            if case .ended(let state, _, _) = o, state.hasPrefix("CANCELLED"), e.reason.hasPrefix("Dependency") {
                o = .ended(state: "ARRAY_FAILED", reason: "a task of the job array failed, so Slurm cancelled the gather (\(e.reason)): \(Self.failedParts(j.folder))", retryable: true)
            }
            out[j.jobID] = o
        }
        return out
    }

    /// The failed parts of an embed array and why (their exit.json), or where to look.
    static func failedParts(_ folder: JobFolder) -> String {
        let parts = folder.url.appendingPathComponent("parts", isDirectory: true)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: parts.path)) ?? []).filter { Int($0) != nil }.sorted { Int($0)! < Int($1)! }
        let failed = names.compactMap { k -> String? in
            let f = JobFolder(parts.appendingPathComponent(k, isDirectory: true))
            guard let e = f.readExit() else { return "task \(k) wrote no exit.json (see parts/worker-\(k).log)" }
            return e.status == .succeeded ? nil : "task \(k) \(e.status.rawValue): \(e.reason)"
        }
        return failed.isEmpty ? "see \(parts.path)" : failed.joined(separator: "; ")
    }

    /// `ExitCode=` of `scontrol show job` (`3:0`, `0:9`), while the controller remembers the job.
    func exitCode(_ id: String) -> String? {
        guard let r = try? commands.run("scontrol", ["-o", "show", "job", id]), r.status == 0 else { return nil }
        for field in r.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }) where field.hasPrefix("ExitCode=") {
            return String(field.dropFirst("ExitCode=".count))
        }
        return nil
    }

    /// The id of a job Slurm holds for `job` and that has not ended (found by name).
    public func find(_ job: ExecutorJob) throws -> String? {
        guard let e = entry(for: job, in: try queue()) else { return nil }
        if case .ended = e.observation() { return nil }
        return e.id
    }

    /// `scancel ID`: Slurm sends SIGCONT and SIGTERM to the worker, which checkpoints, then SIGKILL after
    /// KillWait. Forcing adds `--signal=KILL`.
    public func cancel(_ job: ExecutorJob, force: Bool) {
        if FileManager.default.fileExists(atPath: job.folder.url.appendingPathComponent("slurm-part.sh").path) {
            _ = try? commands.run("scancel", ["--name=\(jobName(job.jobID))-part"])   // the array's tasks
        }
        guard let id = job.externalId else { return }
        _ = try? commands.run("scancel", force ? ["--signal=KILL", "--full", id] : [id])
    }

    public func release(_ job: ExecutorJob) {}

    public func logURL(_ folder: JobFolder) -> URL { folder.url.appendingPathComponent("worker.log") }
}
