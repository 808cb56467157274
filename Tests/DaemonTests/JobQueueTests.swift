import Foundation
import Testing
@testable import Daemon
import Store
import Workflows

/// The queue against real worker processes: small shell programs that follow the job-folder contract the way
/// `tesserad work` does (events, exit.json, SIGTERM → cancelled exit), chosen by the job's workflow name.
@Suite(.serialized) struct JobQueueTests {
    static let exitOK = #"printf '{"status":"succeeded","reason":"done","at":"2026-01-01T00:00:00Z"}' > exit.json.tmp && mv exit.json.tmp exit.json"#
    static let scripts: [String: String] = [
        "ok": #"echo '{"kind":"metric","at":"2026-01-01T00:00:00Z","step":1,"values":{"loss":2.5}}' >> events.jsonl; "# + exitOK,
        "fail-once": #"if [ -f ../tried ]; then "# + exitOK + #"; else touch ../tried; printf '{"status":"failed","reason":"NaN at step 3","at":"2026-01-01T00:00:00Z"}' > exit.json; fi"#,
        "crash": "kill -9 $$",
        "slow": #"trap 'printf "{\"status\":\"cancelled\",\"reason\":\"stopped at step 7\",\"at\":\"2026-01-01T00:00:00Z\"}" > exit.json; exit 0' TERM; while true; do sleep 0.05; done"#,
        "sleep": "sleep 1; " + exitOK,
    ]

    static func setUp(concurrency: Int = 1) throws -> (JobQueue, ProjectStore, String, URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-queue-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let dbPath = root.appendingPathComponent("tessera.sqlite").path
        let store = try ProjectStore(path: dbPath)
        try store.createProject(name: "p")
        let q = JobQueue(store: store, root: root, executor: executor(), concurrency: concurrency)
        return (q, store, dbPath, root)
    }

    static func executor() -> LocalExecutor {
        LocalExecutor { folder in
            let wf = (try? folder.readSpec().workflow) ?? "ok"
            return (URL(fileURLWithPath: "/bin/sh"), ["-c", scripts[wf] ?? "exit 3"])
        }
    }

    @discardableResult
    static func submit(_ s: ProjectStore, _ wf: String, priority: Int = 0, attempts: Int = 1) throws -> String {
        try s.submitJob(project: "p", workflow: wf, version: "1", parameters: "{}", inputs: [:], priority: priority,
                        maxAttempts: attempts, cacheKey: wf).id
    }

    /// Ticks until nothing is queued, running or retrying (or the deadline).
    static func settle(_ q: JobQueue, seconds: Double = 20, each: (() throws -> Void)? = nil) throws {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            try q.tick()
            try each?()
            let busy = try [JobState.queued, .running, .retrying].reduce(0) { $0 + (try q.store.jobs(state: $1).count) }
            if busy == 0 { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    @Test func successFailureRetryAndCrash() throws {
        let (q, s, _, _) = try Self.setUp(concurrency: 2)
        let ok = try Self.submit(s, "ok"), flaky = try Self.submit(s, "fail-once", attempts: 2)
        let crash = try Self.submit(s, "crash"), failing = try Self.submit(s, "nonexistent")
        try Self.settle(q)
        #expect(try s.job(ok).state == .succeeded)
        #expect(try s.metrics(job: ok, name: "loss").map(\.value) == [2.5])
        let f = try s.job(flaky)
        #expect(f.state == .succeeded && f.attempts == 2)
        #expect(try s.transitions(job: flaky).map(\.toState) == [.queued, .running, .retrying, .queued, .running, .succeeded])
        let c = try s.job(crash)
        #expect(c.state == .failed && (c.exitReason ?? "").contains("without writing exit.json"))
        #expect(try s.job(failing).state == .failed)
    }

    @Test func concurrencyLimitAndPriority() throws {
        let (q, s, _, _) = try Self.setUp(concurrency: 2)
        let ids = try (0..<4).map { try Self.submit(s, "sleep", priority: $0) }
        var most = 0
        try Self.settle(q) { most = max(most, try s.jobs(state: .running).count) }
        #expect(most == 2)
        #expect(try ids.allSatisfy { try s.job($0).state == .succeeded })
        // Highest priority started first.
        let starts = try ids.map { try s.job($0).startedAt! }
        #expect(starts[3] <= starts[0])
    }

    @Test func cancellationReachesTheWorker() throws {
        let (q, s, _, _) = try Self.setUp()
        let slow = try Self.submit(s, "slow"), waiting = try Self.submit(s, "ok")
        try q.tick()
        #expect(try s.job(slow).state == .running)
        try q.cancel(waiting)
        try q.cancel(slow)
        try Self.settle(q, seconds: 10)
        let j = try s.job(slow)
        #expect(j.state == .cancelled && j.exitReason == "stopped at step 7")
        #expect(try s.job(waiting).state == .cancelled)
    }

    /// A daemon killed while its worker runs: a new queue over the same database finds the worker alive and
    /// sees it through; a job whose worker vanished is retried or failed with the reason.
    @Test func restartReconciles() throws {
        let (q, s, db, root) = try Self.setUp(concurrency: 2)
        let live = try Self.submit(s, "sleep"), lost = try Self.submit(s, "slow", attempts: 1)
        try q.tick()
        #expect(try s.job(live).state == .running && s.job(lost).state == .running)
        // The worker of `lost` dies together with the daemon.
        kill(WorkerProcess(try s.job(lost).externalId!)!.pid, SIGKILL)
        Thread.sleep(forTimeInterval: 0.2)
        let store2 = try ProjectStore(path: db)
        let q2 = JobQueue(store: store2, root: root, executor: Self.executor(), concurrency: 2)
        let touched = try q2.reconcile()
        #expect(Set(touched) == [live, lost])
        let l = try store2.job(lost)
        #expect(l.state == .failed && (l.exitReason ?? "").contains("was not running when the daemon restarted"))
        try Self.settle(q2)
        #expect(try store2.job(live).state == .succeeded)
        #expect(try store2.integrityCheck() == "ok")
    }
}
