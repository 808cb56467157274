import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import SpatialData
import Testing
import Store
import Workflows

/// The real `tesserad` binary and real `tesserad work` workers (pretraining a tiny model), killed with
/// SIGKILL at seeded random moments: the daemon in some rounds, a worker in others. After every restart the
/// daemon reconciles; at the end the database passes `PRAGMA integrity_check`, every job is terminal with a
/// consistent state history, and jobs whose worker was killed resumed from their checkpoints.
@Suite(.serialized) struct CrashRecoveryTests {
    /// The built `tesserad` next to this test binary (same build folder).
    static func binary() throws -> String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir.appendingPathComponent("tesserad").path, dir.deletingLastPathComponent().appendingPathComponent("tesserad").path, ".build/debug/tesserad"]
        where FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        throw CrashTestError("tesserad is not built next to the tests (\(dir.path)); run `swift build --build-tests` first")
    }

    /// Seeded, so a failing sequence of kills can be replayed.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9; z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct CrashTestError: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    final class Daemon {
        let exe: String, root: String, port: Int
        var process: Process?
        init(exe: String, root: String, port: Int) { self.exe = exe; self.root = root; self.port = port }

        func start() throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["serve", "--root", root, "--port", "\(port)", "--concurrency", "2", "--workflows", FileManager.default.currentDirectoryPath + "/workflows"]
            let log = FileHandle(forWritingAtPath: root + "/daemon.log") ?? FileHandle.nullDevice
            log.seekToEndOfFile()
            p.standardOutput = log; p.standardError = log
            try p.run()
            process = p
            let end = Date().addingTimeInterval(20)
            while Date() < end {
                if (try? request("GET", "/api/health")) != nil { return }
                Thread.sleep(forTimeInterval: 0.05)
            }
            throw CrashTestError("tesserad did not answer within 20 s; see \(root)/daemon.log")
        }

        func kill9() {
            guard let p = process else { return }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            process = nil
        }

        func stop() {
            guard let p = process else { return }
            p.terminate(); p.waitUntilExit(); process = nil
        }

        @discardableResult
        func request(_ method: String, _ path: String, body: String? = nil) throws -> [String: Any] {
            var req = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!, timeoutInterval: 10)
            req.httpMethod = method
            req.httpBody = body.map { Data($0.utf8) }
            if body != nil { req.setValue("application/json", forHTTPHeaderField: "Content-Type") }
            let sem = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var result: (Data?, Int, Error?) = (nil, 0, nil)
            URLSession.shared.dataTask(with: req) { d, r, e in result = (d, (r as? HTTPURLResponse)?.statusCode ?? 0, e); sem.signal() }.resume()
            sem.wait()
            if let e = result.2 { throw e }
            guard (200..<300).contains(result.1), let d = result.0 else {
                throw CrashTestError("\(method) \(path) → \(result.1): \(String(decoding: result.0 ?? Data(), as: UTF8.self))")
            }
            return (try JSONSerialization.jsonObject(with: d) as? [String: Any]) ?? [:]
        }
    }

    @Test func killNineRounds() throws {
        let exe = try Self.binary()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-crash-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/daemon.log", contents: nil)
        var c = SimulationConfig.tiny
        c.cells = 800; c.referenceCells = 100
        try H5ADWriter.write(TissueSimulator.simulate(c).spatial, to: root + "/tissue.h5ad")

        let daemon = Daemon(exe: exe, root: root, port: RealDaemon.freePort())   // a free port: suites run in parallel
        try daemon.start()
        defer { daemon.stop() }
        try daemon.request("POST", "/api/projects", body: #"{"name": "crash"}"#)
        try daemon.request("POST", "/api/projects/crash/datasets", body: #"{"path": "\#(root)/tissue.h5ad", "name": "tissue"}"#)

        var rng = SplitMix(state: 20261122)
        var submitted: [String] = [], daemonKills = 0, workerKills = 0
        for round in 0..<20 {
            if daemon.process == nil { try daemon.start() }
            // A tiny model trains at roughly 4 ms a step here, so 1,000–1,500 steps keep a worker alive for seconds:
            // long enough for the kill rounds to find one running, short enough to drain in about a minute.
            let steps = 1_000 + Int(rng.next() % 500)
            let sub = try daemon.request("POST", "/api/jobs", body: #"{"project": "crash", "workflow": "pretrain", "inputs": {"spatial": "tissue"}, "parameters": {"preset": "tiny", "steps": \#(steps), "checkpoint_every": 100}}"#)
            submitted.append(try #require((sub["job"] as? [String: Any])?["id"] as? String))
            Thread.sleep(forTimeInterval: 0.3 + Double(rng.next() % 1200) / 1000)
            if round % 2 == 0 {
                daemon.kill9(); daemonKills += 1
            } else {
                // Wait (up to 20 s) for a running job whose worker has written its PID and is alive: on a
                // loaded machine a worker can take seconds to start after the daemon's restart.
                var victim: Int32?
                let deadline = Date().addingTimeInterval(20)
                while victim == nil && Date() < deadline {
                    let running = (try daemon.request("GET", "/api/jobs?state=running")["jobs"] as? [[String: Any]]) ?? []
                    let pids = running.compactMap { $0["id"] as? String }.compactMap { id in
                        (try? String(contentsOfFile: "\(root)/jobs/\(id)/worker.pid", encoding: .utf8))
                            .flatMap { WorkerProcess($0.trimmingCharacters(in: .whitespacesAndNewlines))?.pid }
                    }.filter { kill($0, 0) == 0 }
                    victim = pids.randomElement(using: &rng)
                    if victim == nil { Thread.sleep(forTimeInterval: 0.1) }
                }
                if let p = victim, kill(p, SIGKILL) == 0 { workerKills += 1 }
            }
        }
        if daemon.process == nil { try daemon.start() }
        // Drain: every job reaches a terminal state.
        let end = Date().addingTimeInterval(240)
        while Date() < end {
            let page = try daemon.request("GET", "/api/jobs?limit=1000")
            let jobs = page["jobs"] as? [[String: Any]] ?? []
            if jobs.allSatisfy({ ["succeeded", "failed", "cancelled"].contains($0["state"] as? String ?? "") }) { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        daemon.stop()

        let store = try ProjectStore(path: root + "/tessera.sqlite")
        #expect(try store.integrityCheck() == "ok")
        let (jobs, total) = try store.jobs(JobQuery(limit: 1000))
        #expect(total == submitted.count && Set(jobs.map(\.id)) == Set(submitted), "no job lost or duplicated")
        #expect(daemonKills == 10 && workerKills >= 5, "the rounds killed what they meant to (\(workerKills) workers)")
        var resumed = 0
        for j in jobs {
            #expect(j.state.isTerminal, "job \(j.id) ended \(j.state)")
            let t = try store.transitions(job: j.id)
            #expect(t.first?.toState == .queued && t.first?.fromState == nil)
            #expect(zip(t.dropLast(), t.dropFirst()).allSatisfy { $0.toState == $1.fromState }, "history of \(j.id) is a chain")
            #expect(t.last?.toState == j.state)
            if j.state == .succeeded {
                #expect(FileManager.default.fileExists(atPath: "\(root)/jobs/\(j.id)/artifacts/model.tsr"))
                if j.attempts > 1 { resumed += 1 }
            } else {
                #expect(!(j.exitReason ?? "").isEmpty, "a failed job says why")
            }
        }
        #expect(resumed >= 1, "at least one killed job was retried and finished from its checkpoint")
        let events = try jobs.filter { $0.attempts > 1 && $0.state == .succeeded }.map {
            try String(contentsOfFile: "\(root)/jobs/\($0.id)/events.jsonl", encoding: .utf8)
        }
        #expect(events.contains { $0.contains("resum") }, "a retried job reports resuming from a checkpoint")
    }
}
