import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CellLM
import Testing
@testable import Daemon
import Store
import Workflows

/// The outside attack on the queue (issue 14): reused PIDs, the race between a worker's last events and its
/// exit.json, finished jobs with unread events after a restart, and a truncated newest checkpoint.
@Suite(.serialized) struct AttackQueueTests {
    /// A recorded worker whose PID now belongs to another program (another start time) is neither adopted nor
    /// signalled.
    @Test func reusedPIDIsNotTheWorker() throws {
        let (q, s, _, root) = try JobQueueTests.setUp()
        let stranger = Process()
        stranger.executableURL = URL(fileURLWithPath: "/bin/sleep"); stranger.arguments = ["30"]
        try stranger.run()
        defer { stranger.terminate() }
        let real = WorkerProcess.current(stranger.processIdentifier)
        #expect(real.startTime != nil)
        #expect(q.executor.isAlive(real), "the process with its own start time is alive")
        let impostor = WorkerProcess(pid: stranger.processIdentifier, startTime: real.startTime! &+ 12_345)
        #expect(!q.executor.isAlive(impostor), "same PID, another start time: not our worker")

        // A job the store believes running under that PID (an earlier daemon's worker that died long ago).
        let id = try JobQueueTests.submit(s, "slow")
        try s.transition(job: id, to: .running, reason: "worker started") { $0.externalId = impostor.description }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("jobs/\(id)"), withIntermediateDirectories: true)
        try q.cancel(id)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(stranger.isRunning, "cancel must not signal an unrelated process")
        try q.reconcile()
        let after = try s.job(id)
        #expect(after.state != .running, "a reused PID is not adopted: \(after.state)")
        #expect(stranger.isRunning)
    }

    /// Workers that write their last events and exit.json back to back, 40 times: every final metric and
    /// artifact is recorded; a finished job whose events file grew afterwards is repaired by a restart.
    @Test func lastEventsBeforeExitAreNeverLost() throws {
        let (q, s, dbPath, root) = try JobQueueTests.setUp(concurrency: 8)
        var ids: [String] = []
        for _ in 0..<40 { ids.append(try JobQueueTests.submit(s, "burst")) }
        let burst = LocalExecutor { folder in
            // 300 metric events in bursts (so the daemon reads while they arrive), then the artifact and exit.json at
            // once: the window the race lived in.
            (URL(fileURLWithPath: "/bin/sh"), ["-c", #"""
                mkdir -p artifacts; echo done > artifacts/metrics.json
                i=0; while [ $i -lt 300 ]; do
                  echo "{\"kind\":\"metric\",\"at\":\"2026-01-01T00:00:00Z\",\"step\":$i,\"values\":{\"loss\":$i}}" >> events.jsonl
                  i=$((i+1)); [ $((i % 20)) -eq 0 ] && sleep 0.01
                done
                echo '{"kind":"artifact","at":"2026-01-01T00:00:00Z","path":"artifacts/metrics.json","text":"metrics"}' >> events.jsonl
                printf '{"status":"succeeded","reason":"done","at":"2026-01-01T00:00:00Z"}' > exit.json
                """#])
        }
        let queue = JobQueue(store: s, root: root, executor: burst, concurrency: 8)
        _ = q
        let end = Date().addingTimeInterval(60)
        while Date() < end {
            try queue.tick()
            if try s.count(state: .queued) + s.count(state: .running) + s.count(state: .retrying) == 0 { break }
            Thread.sleep(forTimeInterval: 0.001)
        }
        for id in ids {
            #expect(try s.job(id).state == .succeeded)
            #expect(try s.metrics(job: id, name: "loss").count == 300, "job \(id) lost final metrics")
            #expect(try s.artifacts(job: id).map(\.kind) == ["metrics"], "job \(id) lost its metrics.json artifact")
        }
        // Bytes appended after the job was finalised (what a daemon before the fix left unread).
        let late = ids[0]
        let h = try FileHandle(forWritingTo: root.appendingPathComponent("jobs/\(late)/events.jsonl"))
        try h.seekToEnd()
        try h.write(contentsOf: Data(#"{"kind":"metric","at":"2026-01-01T00:00:00Z","step":300,"values":{"final_ari":0.5}}"#.utf8 + [0x0A]))
        try h.close()
        let restarted = JobQueue(store: try ProjectStore(path: dbPath), root: root, executor: burst)
        try restarted.reconcile()
        #expect(try s.metrics(job: late, name: "final_ari").map(\.value) == [0.5], "a restart repairs a job finalised with unread events")
        try restarted.reconcile()
        #expect(try s.metrics(job: late, name: "final_ari").count == 1, "and never records them twice")
    }

    /// A truncated newest checkpoint is set aside and the one before it is used.
    @Test func truncatedNewestCheckpointFallsBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-ckpt-\(UUID().uuidString)")
        let folder = JobFolder(dir)
        try folder.create(spec: .init(jobID: "j", workflow: "w", version: "1", parameters: [:], inputs: [:], seed: 1))
        let store = TrainingCheckpoints(folder)
        let file = TensorFile(kind: "test", config: nil, meta: [:], entries: [.init(name: "w", shape: [64], values: .f32(Array(repeating: 1, count: 64)))])
        try file.write(to: store.url(step: 10))
        try file.write(to: store.url(step: 20))
        let newest = try Data(contentsOf: store.url(step: 20))
        try newest.prefix(newest.count - 100).write(to: store.url(step: 20))
        let latest = try #require(store.latest())
        #expect(latest.step == 10)
        #expect(FileManager.default.fileExists(atPath: store.url(step: 20).path + ".damaged"))
    }
}
