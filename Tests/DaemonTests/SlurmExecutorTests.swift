import Foundation
import Testing
@testable import Daemon
import Store
import Workflows

/// The queue on the Slurm executor against the real test cluster (slurmctld + two slurmd): the workers are
/// the shell programs of `JobQueueTests` (they follow the job-folder protocol, SIGTERM → cancelled exit),
/// run by Slurm through the batch script that `exec`s them. Nothing here is mocked: ids, states and reasons
/// come from sbatch, squeue and scontrol.
@Suite(.serialized, .enabled(if: SlurmTestCluster.available, Comment(rawValue: SlurmTestCluster.unavailableReason ?? "")))
struct SlurmExecutorTests {
    static let scripts = JobQueueTests.scripts.merging([
        "sleep5": "sleep 5; " + JobQueueTests.exitOK,
        "sleep20": "sleep 20; " + JobQueueTests.exitOK,
    ]) { $1 }

    static func slurm(defaults: ExecutorResources = .init()) -> SlurmExecutor {
        SlurmExecutor(options: SlurmTestCluster.options(defaults: defaults)) { folder in
            let wf = (try? folder.readSpec().workflow) ?? "ok"
            return (URL(fileURLWithPath: "/bin/sh"), ["-c", scripts[wf] ?? "exit 3"])
        }
    }

    static func setUp(defaults: ExecutorResources = .init()) throws -> (JobQueue, ProjectStore, String, URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-slurm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let db = root.appendingPathComponent("tessera.sqlite").path
        let store = try ProjectStore(path: db)
        try store.createProject(name: "p")
        let q = JobQueue(store: store, root: root, executor: JobQueueTests.executor(), others: [slurm(defaults: defaults)])
        q.cancelGrace = 30
        return (q, store, db, root)
    }

    @discardableResult
    static func submit(_ s: ProjectStore, _ wf: String, attempts: Int = 1, resources: ExecutorResources? = nil) throws -> String {
        let id = try s.submitJob(project: "p", workflow: wf, version: "1", parameters: "{}", inputs: [:], maxAttempts: attempts,
                                 executor: "slurm", cacheKey: wf).id
        if let resources { try s.setResources(job: id, json: String(decoding: try JSONEncoder().encode(resources), as: UTF8.self)) }
        return id
    }

    /// Ticks until `done` holds (or the deadline); returns whether it did.
    @discardableResult
    static func tick(_ q: JobQueue, seconds: Double, until done: () throws -> Bool) throws -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            try q.tick()
            if try done() { return true }
            Thread.sleep(forTimeInterval: 0.3)
        }
        return false
    }

    @Test func runsOnSlurmWithIdNameAndStatesRecorded() throws {
        let (q, s, _, root) = try Self.setUp()
        let ok = try Self.submit(s, "ok")
        try Self.tick(q, seconds: 60) { try s.job(ok).state.isTerminal }
        let job = try s.job(ok)
        #expect(job.state == .succeeded)
        #expect(try s.metrics(job: ok, name: "loss").map(\.value) == [2.5])
        let slurmID = try #require(job.externalId)
        #expect(Int(slurmID) != nil, "the Slurm job id is stored: \(slurmID)")
        #expect(try s.transitions(job: ok).contains { $0.reason.contains("submitted to slurm as job \(slurmID)") })
        // The name and comment carry our id: squeue finds the job by name.
        let named = SlurmTestCluster.jobs(named: "tessera-\(ok)")
        #expect(named.map(\.id) == [slurmID] && named.first?.comment == "tessera:\(ok)")
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("jobs/\(ok)/slurm.sh").path))
    }

    @Test func cancelReachesTheWorkerWhichCheckpointsAndEndsCancelled() throws {
        let (q, s, _, _) = try Self.setUp()
        let slow = try Self.submit(s, "slow")
        #expect(try Self.tick(q, seconds: 60) { try s.executorStates(job: slow).contains { $0.state == "RUNNING" } })
        try q.cancel(slow)
        try Self.tick(q, seconds: 60) { try s.job(slow).state.isTerminal }
        let job = try s.job(slow)
        #expect(job.state == .cancelled)
        #expect(job.exitReason == "stopped at step 7", "the worker's own exit (it got SIGTERM through scancel): \(job.exitReason ?? "")")
    }

    @Test func workerKilledBySignalFailsWithTheSignal() throws {
        let (q, s, _, _) = try Self.setUp()
        let crash = try Self.submit(s, "crash")
        try Self.tick(q, seconds: 60) { try s.job(crash).state.isTerminal }
        let job = try s.job(crash)
        #expect(job.state == .failed)
        #expect((job.exitReason ?? "").contains("signal 9"), "\(job.exitReason ?? "")")
        #expect(try s.executorStates(job: crash).last?.state == "FAILED")
    }

    @Test func impossibleRequestStaysPendingWithItsReasonAndCanBeCancelled() throws {
        let (q, s, _, _) = try Self.setUp()
        let big = try Self.submit(s, "ok", resources: ExecutorResources(cpus: 64))
        #expect(try Self.tick(q, seconds: 30) { try s.executorStates(job: big).contains { $0.state == "PENDING" && !$0.reason.isEmpty } })
        let pending = try #require(try s.executorStates(job: big).last)
        #expect(pending.reason.hasPrefix("PartitionConfig"), "\(pending.reason)")
        #expect(try s.job(big).state == .running)
        // The job list (what `tessera jobs` prints) carries the pending reason too.
        let page = JobListJSON.page([try s.job(big)], total: 1, limit: 1, offset: 0, executorStates: try s.lastExecutorStates(jobs: [big]))
        #expect(page.contains(#""executorStates":[{"#) && page.contains("PartitionConfig"), "\(page.prefix(400))")
        try q.cancel(big)
        try Self.tick(q, seconds: 30) { try s.job(big).state.isTerminal }
        #expect(try s.job(big).state == .cancelled)
    }

    @Test func unknownPartitionFailsWithSlurmsMessage() throws {
        let (q, s, _, _) = try Self.setUp()
        let bad = try Self.submit(s, "ok", resources: ExecutorResources(partition: "nosuchpartition"))
        try q.tick()
        let job = try s.job(bad)
        #expect(job.state == .failed)
        #expect((job.exitReason ?? "").contains("invalid partition"), "\(job.exitReason ?? "")")
    }

    /// A daemon killed while one job is pending (an impossible request) and one running: a new queue over the
    /// same database finds both by id and name, submits nothing again, and sees them to the end.
    @Test func daemonRestartReconcilesWithoutRunningTwice() throws {
        let (q, s, db, root) = try Self.setUp()
        let running = try Self.submit(s, "sleep5"), pending = try Self.submit(s, "ok", resources: ExecutorResources(cpus: 64))
        #expect(try Self.tick(q, seconds: 30) {
            try s.executorStates(job: running).contains { $0.state == "RUNNING" } && s.executorStates(job: pending).contains { $0.state == "PENDING" }
        })
        let ids = (try s.job(running).externalId, try s.job(pending).externalId)
        // A job submitted just before the kill, not yet recorded by the daemon (still queued in the store).
        let unrecorded = try Self.submit(s, "ok")
        let slurm = Self.slurm()
        let f = JobFolder(root.appendingPathComponent("jobs/\(unrecorded)"))
        try f.create(spec: .init(jobID: unrecorded, workflow: "ok", version: "1", parameters: [:], inputs: [:], seed: 1))
        _ = try slurm.submit(ExecutorJob(jobID: unrecorded, folder: f, externalId: nil), resources: .init())

        let store2 = try ProjectStore(path: db)
        let q2 = JobQueue(store: store2, root: root, executor: JobQueueTests.executor(), others: [Self.slurm()])
        try q2.reconcile()
        try Self.tick(q2, seconds: 60) { try store2.job(running).state.isTerminal && store2.job(unrecorded).state.isTerminal }
        #expect(try store2.job(running).state == .succeeded && store2.job(running).externalId == ids.0)
        #expect(try store2.job(unrecorded).state == .succeeded)
        #expect(try store2.transitions(job: unrecorded).contains { $0.reason.contains("adopted slurm job") })
        #expect(try store2.job(pending).state == .running && store2.job(pending).externalId == ids.1)
        for id in [running, pending, unrecorded] {
            #expect(SlurmTestCluster.jobs(named: "tessera-\(id)").count == 1, "job \(id) was submitted to Slurm exactly once")
        }
        try q2.cancel(pending)
        try Self.tick(q2, seconds: 30) { try store2.job(pending).state.isTerminal }
        #expect(try store2.job(pending).state == .cancelled)
    }

    /// Jobs the store believes running under Slurm ids the controller no longer knows (forgotten after
    /// MinJobAge, or lost): after a restart the one whose folder holds exit.json is finalised from it, the other
    /// fails with the reason; neither is submitted again.
    @Test func forgottenJobsAreFinalisedFromTheirFolder() throws {
        let (_, s, db, root) = try Self.setUp()
        let done = try Self.submit(s, "ok"), lost = try Self.submit(s, "ok")
        for (id, slurmID) in [(done, "999001"), (lost, "999002")] {
            try s.transition(job: id, to: .running, reason: "submitted to slurm as job \(slurmID) (attempt 1)") { $0.externalId = slurmID }
            let f = JobFolder(root.appendingPathComponent("jobs/\(id)"))
            try f.create(spec: .init(jobID: id, workflow: "ok", version: "1", parameters: [:], inputs: [:], seed: 1))
        }
        try JobFolder(root.appendingPathComponent("jobs/\(done)")).writeExit(.init(status: .succeeded, reason: "done", at: Date()))
        let q2 = JobQueue(store: try ProjectStore(path: db), root: root, executor: JobQueueTests.executor(), others: [Self.slurm()])
        try q2.reconcile()
        #expect(try s.job(done).state == .succeeded)
        let l = try s.job(lost)
        #expect(l.state == .failed && (l.exitReason ?? "").contains("no longer known to slurm"), "\(l.exitReason ?? "")")
        #expect(SlurmTestCluster.jobs(named: "tessera-\(done)").isEmpty && SlurmTestCluster.jobs(named: "tessera-\(lost)").isEmpty)
    }

    /// slurmctld stopped: a submission stays queued with the reason and is submitted once it is back; a job
    /// running meanwhile keeps its id and is recorded when it finishes.
    @Test func controllerDownThenBack() throws {
        let (q, s, _, _) = try Self.setUp()
        let running = try Self.submit(s, "sleep20")
        #expect(try Self.tick(q, seconds: 30) { try s.executorStates(job: running).contains { $0.state == "RUNNING" } })
        let runningID = try s.job(running).externalId
        SlurmTestCluster.stopController()
        defer { if !SlurmTestCluster.sinfoIdle() { SlurmTestCluster.startController() } }
        let later = try Self.submit(s, "ok")
        try q.tick()   // sbatch fails after its retries: the job stays queued, with the reason recorded
        #expect(try s.job(later).state == .queued)
        let why = try #require(try s.executorStates(job: later).last)
        #expect(why.state == "UNAVAILABLE" && why.reason.contains("unreachable"), "\(why.reason)")
        #expect(try s.job(running).state == .running, "nothing is concluded while squeue cannot answer")
        SlurmTestCluster.startController()
        try Self.tick(q, seconds: 90) { try s.job(running).state.isTerminal && s.job(later).state.isTerminal }
        #expect(try s.job(running).state == .succeeded && s.job(running).externalId == runningID)
        #expect(try s.job(later).state == .succeeded)
        #expect(SlurmTestCluster.jobs(named: "tessera-\(later)").count == 1)
    }

    /// An array whose task 1 fails once: Slurm cancels the gather (afterok never satisfied), the job is retried
    /// and only task 1 runs again, then the gather. The part and gather workers are shell programs that follow
    /// the part protocol (`parts/K/exit.json`) and log every run.
    @Test func failedArrayTaskIsRetriedAlone() throws {
        let part = #"k=$SLURM_ARRAY_TASK_ID; mkdir -p parts/$k; echo $k >> parts/runs.txt; if [ "$k" = 1 ] && [ ! -f parts/failed-once ]; then touch parts/failed-once; exit 3; fi; printf '{"status":"succeeded","reason":"part","at":"2026-01-01T00:00:00Z"}' > parts/$k/exit.json"#
        let gather = "echo gather >> parts/runs.txt; " + JobQueueTests.exitOK
        let slurm = SlurmExecutor(options: SlurmTestCluster.options(), command: { _ in (URL(fileURLWithPath: "/bin/sh"), ["-c", "exit 3"]) },
                                  fanOut: { _, role, _ in (URL(fileURLWithPath: "/bin/sh"), ["-c", role == "part" ? part : gather]) })
        let (_, s, _, root) = try Self.setUp()
        let q = JobQueue(store: s, root: root, executor: JobQueueTests.executor(), others: [slurm])
        let id = try s.submitJob(project: "p", workflow: "embed", version: "1", parameters: "{}", inputs: [:], maxAttempts: 2,
                                 executor: "slurm", cacheKey: "embed").id
        try s.setResources(job: id, json: #"{"arrayTasks":3}"#)
        try Self.tick(q, seconds: 90) { try s.job(id).state.isTerminal }
        let job = try s.job(id)
        #expect(job.state == .succeeded && job.attempts == 2, "\(job.state) after \(job.attempts) attempts: \(job.exitReason ?? "")")
        let retried = try s.transitions(job: id).first { $0.toState == .retrying }
        #expect((retried?.reason ?? "").contains("ARRAY_FAILED") || (retried?.reason ?? "").contains("task 1"), "\(retried?.reason ?? "no retry")")
        let runs = try String(contentsOf: root.appendingPathComponent("jobs/\(id)/parts/runs.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(runs.filter { $0 == "1" }.count == 2 && runs.filter { $0 == "0" }.count == 1 && runs.filter { $0 == "2" }.count == 1, "\(runs)")
        #expect(runs.filter { $0 == "gather" }.count == 1, "\(runs)")
        let tasks = SlurmTestCluster.shell("/usr/bin/squeue", ["-h", "-a", "-r", "-t", "all", "-n", "tessera-\(id)-part", "-o", "%K|%T"]).output
        #expect(tasks.split(separator: "\n").sorted() == ["0|COMPLETED", "1|COMPLETED", "1|FAILED", "2|COMPLETED"], "\(tasks)")
    }

    /// A time limit: Slurm sends SIGTERM (the worker checkpoints and says "cancelled"), but the daemon did not
    /// ask, so the job fails with TIMEOUT. Slurm enforces limits 15-38 s late.
    @Test func timeLimitFailsWithTimeout() throws {
        let (q, s, _, _) = try Self.setUp()
        let slow = try Self.submit(s, "slow", resources: ExecutorResources(timeLimitMinutes: 1))
        try Self.tick(q, seconds: 150) { try s.job(slow).state.isTerminal }
        let job = try s.job(slow)
        #expect(job.state == .failed)
        #expect((job.exitReason ?? "").contains("TIMEOUT"), "\(job.exitReason ?? "")")
    }
}
