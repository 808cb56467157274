import ArgumentParser
import Foundation

func jobTable(_ jobs: [JobInfo]) -> String {
    // Where some job ran elsewhere than locally, a column says where (Slurm job id).
    if jobs.contains(where: { ($0.executor ?? "local") != "local" }) {
        return table(["ID", "WORKFLOW", "STATE", "EXECUTOR", "ATTEMPTS", "CREATED", "FINISHED", "REASON"], jobs.map {
            [$0.shortID, $0.workflow, $0.state, executorLabel($0), "\($0.attempts)/\($0.maxAttempts)", shortDate($0.createdAt), shortDate($0.finishedAt),
             String(($0.exitReason ?? executorReason($0)).prefix(60))]
        })
    }
    return table(["ID", "WORKFLOW", "STATE", "ATTEMPTS", "CREATED", "FINISHED", "REASON"], jobs.map {
        [$0.shortID, $0.workflow, $0.state, "\($0.attempts)/\($0.maxAttempts)", shortDate($0.createdAt), shortDate($0.finishedAt),
         String(($0.exitReason ?? "").prefix(60))]
    })
}

/// While a job has not finished: the executor's latest state and reason ("PENDING: Resources").
func executorReason(_ j: JobInfo) -> String {
    guard let last = j.executorStates?.last, !["succeeded", "failed", "cancelled"].contains(j.state) else { return "" }
    return last.state + (last.reason.isEmpty ? "" : ": \(last.reason)")
}

/// "slurm 1234", or "local" (a PID means nothing to a reader).
func executorLabel(_ j: JobInfo) -> String {
    let e = j.executor ?? "local"
    return e == "local" ? e : e + (j.externalId.map { " \($0)" } ?? "")
}

/// Follows a job's events until it finishes; returns the final job. Shared by `logs --follow` and `submit --follow`.
func follow(_ c: DaemonClient, job: String, from offset: UInt64 = 0, json: Bool) async throws -> JobInfo {
    var display = ProgressDisplay(), next = offset
    while true {
        let data = try await c.send("GET", "/api/jobs/\(job)/events?after=\(next)&wait=20", timeout: 60)
        let page = try DaemonClient.decoder.decode(EventPage.self, from: data)
        if json {
            if let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let es = o["events"] as? [Any] {
                for e in es { print(String(decoding: try JSONSerialization.data(withJSONObject: e, options: [.sortedKeys]), as: UTF8.self)) }
            }
        } else {
            for e in page.events { display.show(e) }
        }
        // Piped stdout is block-buffered (4 KB): flushing after each page makes events appear as they arrive.
        fflush(nil)
        next = page.next
        if page.terminal {
            // The worker may have written its last events just before exiting: one more read.
            let last = try await c.get("/api/jobs/\(job)/events?after=\(next)", as: EventPage.self)
            if !json { for e in last.events { display.show(e) } }
            display.endBar()
            return try await c.get("/api/jobs/\(job)", as: JobInfo.self)
        }
    }
}

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "submit", abstract: "Submit a workflow (a spec from workflows/) to the daemon.")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "A workflow name (pretrain, embed, impute, cluster-supcon, annotate: the daemon's spec) or a spec file (workflows/embed.json…); its parameter defaults are sent, --set overrides them.") var workflow: String
    @Option(help: "Project name or id.") var project: String
    @Option(name: .customLong("dataset"), help: "An input: ROLE=DATASET (id or name). Repeat for several.") var datasets: [String] = []
    @Option(name: .customLong("set"), help: "A parameter: KEY=VALUE. Repeat for several.") var sets: [String] = []
    @Option(help: "Higher runs first.") var priority = 0
    @Flag(help: "Answer from a finished job with the same inputs and parameters, if one exists.") var reuse = false
    @Option(help: "Where to run it: local or slurm (default: the daemon's executor).") var executor: String?
    @Option(help: "Slurm: cpus per task.") var cpus: Int?
    @Option(name: .customLong("memory-mb"), help: "Slurm: memory in MB.") var memoryMB: Int?
    @Option(name: .customLong("time-limit"), help: "Slurm: wall-clock limit in minutes.") var timeLimit: Int?
    @Option(help: "Slurm: partition.") var partition: String?
    @Option(help: "Slurm: account.") var account: String?
    @Option(name: .customLong("array-tasks"), help: "Slurm, embed: run as a job array of N tasks over the FOVs, then a gather job.") var arrayTasks: Int?
    @Flag(help: "Follow the job to its end (progress bar on a terminal).") var follow = false
    @Flag(help: "Print JSON.") var json = false
    @Flag(name: .shortAndLong, help: "Print only the job id (for scripts).") var quiet = false

    func run() async throws {
        try await runClient {
            let spec = SpecFile.isWorkflowName(workflow) ? try await SpecFile.fetch(workflow, from: daemon.client) : try SpecFile.read(workflow)
            var inputs: [String: String] = [:]
            for d in datasets {
                guard let eq = d.firstIndex(of: "="), eq != d.startIndex else { throw ClientError(description: "--dataset '\(d)': write ROLE=DATASET, e.g. spatial=demo-spatial") }
                inputs[String(d[..<eq])] = String(d[d.index(after: eq)...])
            }
            var params = spec.defaults
            for s in sets {
                guard let eq = s.firstIndex(of: "="), eq != s.startIndex else { throw ClientError(description: "--set '\(s)': write KEY=VALUE, e.g. steps=200") }
                let key = String(s[..<eq]), raw = String(s[s.index(after: eq)...])
                params[key] = try spec.value(for: key, raw: raw)
            }
            var body: [String: Any] = ["project": project, "workflow": spec.name, "version": spec.version, "parameters": params,
                                       "inputs": inputs, "priority": priority, "reuse": reuse]
            if let executor { body["executor"] = executor }
            var resources: [String: Any] = [:]
            for (k, v) in [("cpus", cpus), ("memoryMB", memoryMB), ("timeLimitMinutes", timeLimit), ("arrayTasks", arrayTasks)] { if let v { resources[k] = v } }
            for (k, v) in [("partition", partition), ("account", account)] { if let v { resources[k] = v } }
            if !resources.isEmpty { body["resources"] = resources }
            let c = daemon.client
            let data = try await c.send("POST", "/api/jobs", body: body)
            let sub = try DaemonClient.decoder.decode(Submitted.self, from: data)
            if quiet { print(sub.job.id) }
            else if json && !follow { printJSON(data); return }
            else if sub.reused { print("reused job \(sub.job.id) (\(sub.job.workflow), finished \(shortDate(sub.job.finishedAt))): same inputs and parameters") }
            else { print("submitted \(sub.job.workflow) job \(sub.job.id) (\(sub.job.state))") }
            guard follow, !sub.reused else { return }
            let end = try await JobFollower.run(c, job: sub.job.id, json: json)
            print("job \(end.id) \(end.state)\(end.exitReason.map { ": \($0)" } ?? "")")
            if end.state != "succeeded" { throw ExitCode(1) }
        }
    }
}

/// `follow` under another name: `SubmitCommand` has a `follow` flag that shadows the function.
enum JobFollower {
    static func run(_ c: DaemonClient, job: String, json: Bool) async throws -> JobInfo { try await follow(c, job: job, json: json) }
}

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jobs", abstract: "List jobs, newest first.")
    @OptionGroup var daemon: DaemonOptions
    @Option(help: "Only this project (name or id).") var project: String?
    @Option(help: "Only this state: queued, running, retrying, succeeded, failed, cancelled.") var state: String?
    @Option(help: "Only this workflow.") var workflow: String?
    @Option(help: "How many.") var limit = 50
    @Flag(help: "Print JSON.") var json = false
    func run() async throws {
        try await runClient {
            var q = ["limit=\(limit)"]
            if let project { q.append("project=\(DaemonClient.escape(project))") }
            if let state { q.append("state=\(DaemonClient.escape(state))") }
            if let workflow { q.append("workflow=\(DaemonClient.escape(workflow))") }
            guard let page = try await daemon.client.fetch("GET", "/api/jobs?" + q.joined(separator: "&"), as: JobPage.self, json: json) else { return }
            print(page.jobs.isEmpty ? "no jobs" : jobTable(page.jobs))
            if page.total > page.jobs.count { print("(\(page.jobs.count) of \(page.total); --limit for more)") }
        }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a job: state, progress, history, metrics, artifacts.")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "Job id (or a unique prefix of 4+ characters).") var job: String
    @Flag(help: "Print JSON.") var json = false
    func run() async throws {
        try await runClient {
            let c = daemon.client, id = DaemonClient.escape(job)
            guard let j = try await c.fetch("GET", "/api/jobs/\(id)", as: JobInfo.self, json: json) else { return }
            print("job \(j.id): \(j.workflow) \(j.version), \(j.state) (attempt \(j.attempts) of \(j.maxAttempts))")
            print("inputs: " + j.inputs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.prefix(8))" }.joined(separator: " "))
            if let p = j.progress { print("progress: \(ProgressDisplay.progressLine(EventInfo(kind: "progress", at: p.at, phase: p.phase, step: p.step, total: p.total, epoch: p.epoch, values: p.values, path: nil, text: nil)))") }
            if let r = j.exitReason { print("reason: \(r)") }
            if (j.executor ?? "local") != "local" {
                let now = j.executorStates?.last.map { ": \($0.state)" + ($0.reason.isEmpty ? "" : " (\($0.reason))") } ?? ""
                print("executor: \(executorLabel(j))\(now)")
            }
            print("\nhistory:")
            for t in j.transitions ?? [] { print("  \(shortDate(t.at))  \(t.from.map { "\($0) → " } ?? "")\(t.to): \(t.reason)") }
            if let states = j.executorStates, !states.isEmpty {
                print("\n\(j.executor ?? "executor") states:")
                for s in states { print("  \(shortDate(s.at))  \(s.externalId.map { "job \($0) " } ?? "")\(s.state)\(s.reason.isEmpty ? "" : ": \(s.reason)")") }
            }
            let metrics = try await c.get("/api/jobs/\(id)/metrics", as: [MetricInfo].self)
            var last: [String: MetricInfo] = [:]
            for m in metrics { if (last[m.name]?.step ?? Int.min) <= m.step { last[m.name] = m } }
            if !last.isEmpty {
                print("\nmetrics (last value):")
                for (n, m) in last.sorted(by: { $0.key < $1.key }) { print(String(format: "  %@ = %.5g (step %d)", n, m.value, m.step)) }
            }
            let arts = try await c.get("/api/jobs/\(id)/artifacts", as: [ArtifactInfo].self)
            if !arts.isEmpty {
                print("\nartifacts:")
                for a in arts { print("  \(a.kind)  \(a.path)  \(ByteCountFormatter.string(fromByteCount: a.size, countStyle: .file))  \(c.base)\(a.url)") }
            }
        }
    }
}

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print a job's events; --follow waits for new ones until it ends.")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "Job id (or a unique prefix).") var job: String
    @Flag(name: .shortAndLong, help: "Keep printing until the job ends.") var follow = false
    @Flag(help: "The worker's own output (worker.log) instead of its events.") var worker = false
    @Flag(help: "One JSON event per line.") var json = false
    func run() async throws {
        try await runClient {
            let c = daemon.client, id = DaemonClient.escape(job)
            if worker { print(String(decoding: try await c.send("GET", "/api/jobs/\(id)/log"), as: UTF8.self), terminator: ""); return }
            if follow {
                let end = try await JobFollower.run(c, job: id, json: json)
                if !json { print("job \(end.id) \(end.state)\(end.exitReason.map { ": \($0)" } ?? "")") }
                return
            }
            guard let page = try await c.fetch("GET", "/api/jobs/\(id)/events", as: EventPage.self, json: json) else { return }
            for e in page.events { print(ProgressDisplay.plain(e)) }
            print("(job is \(page.state))")
        }
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a queued or running job (a running one checkpoints first).")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "Job id (or a unique prefix).") var job: String
    @Flag(help: "Print JSON.") var json = false
    func run() async throws {
        try await runClient {
            guard let j = try await daemon.client.fetch("POST", "/api/jobs/\(DaemonClient.escape(job))/cancel", as: JobInfo.self, json: json) else { return }
            print(j.state == "cancelled" ? "cancelled job \(j.id)" : "asked job \(j.id) to stop; it is \(j.state) until its worker exits (`tessera status \(j.shortID)`)")
        }
    }
}

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Everything that happened in a project, oldest first.")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "Project name or id.") var project: String
    @Option(help: "Only this workflow.") var workflow: String?
    @Option(help: "Only transitions into this state.") var state: String?
    @Option(help: "Only jobs that used this dataset (id or name).") var dataset: String?
    @Option(help: "From this date (2026-11-01 or an ISO 8601 time).") var since: String?
    @Option(help: "Until this date.") var until: String?
    @Flag(help: "Print JSON.") var json = false
    func run() async throws {
        try await runClient {
            var q: [String] = []
            for (k, v) in [("workflow", workflow), ("state", state), ("dataset", dataset), ("since", since), ("until", until)] {
                if let v { q.append("\(k)=\(DaemonClient.escape(v))") }
            }
            guard let es = try await daemon.client.fetch("GET", "/api/projects/\(DaemonClient.escape(project))/history" + (q.isEmpty ? "" : "?" + q.joined(separator: "&")), as: [HistoryInfo].self, json: json) else { return }
            if es.isEmpty { print("nothing matches"); return }
            for e in es { print("\(shortDate(e.at))  \(e.kind == "jobTransition" ? String(e.subject.prefix(8)) : e.kind)  \(e.text)") }
        }
    }
}
