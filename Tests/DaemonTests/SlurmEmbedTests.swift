import Foundation
import SpatialData
import Store
import Testing
import Workflows

/// The real `tesserad` with a "slurm" section in its tesserad.json, on the real test cluster: an embed job
/// submitted with `"executor": "slurm"` runs `tesserad work` under Slurm and gives the same embedding as the
/// same job on the local executor, bit for bit; the job records its Slurm id and the states Slurm reported.
/// The daemon is killed with SIGKILL right after the submissions and restarted: both jobs are reconciled
/// and finish, and Slurm ran the embed job once.
/// In the same serialized suite as the other cluster tests: one of them stops slurmctld for a while.
extension SlurmExecutorTests {
    static func waitTerminal(_ d: CrashRecoveryTests.Daemon, _ id: String, seconds: Double) throws -> [String: Any] {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            let j = try d.request("GET", "/api/jobs/\(id)")
            if ["succeeded", "failed", "cancelled"].contains(j["state"] as? String ?? "") { return j }
            Thread.sleep(forTimeInterval: 0.3)
        }
        return try d.request("GET", "/api/jobs/\(id)")
    }

    static func embedding(_ path: String) throws -> [Float] {
        try H5File.open(path, probe: false).root.group("obsm").dataset("X_tessera").readFloats()
    }

    /// A real tesserad configured for the test cluster, a simulated tissue registered as `tissue` in project
    /// `s`, and a finished 20-step tiny pretrain job whose checkpoint the embeds use.
    static func daemonWithPretrainedModel(tag: String, fovs: Int?) throws -> (root: String, daemon: CrashRecoveryTests.Daemon, pretrain: String) {
        let exe = try CrashRecoveryTests.binary()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-slurm-\(tag)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/daemon.log", contents: nil)
        try Data(#"{"slurm": {"slurmConf": "\#(SlurmTestCluster.conf)"}}"#.utf8).write(to: URL(fileURLWithPath: root + "/tesserad.json"))
        var c = SimulationConfig.tiny
        c.cells = 600; c.referenceCells = 100
        if let fovs { c.fovs = fovs }
        try H5ADWriter.write(TissueSimulator.simulate(c).spatial, to: root + "/tissue.h5ad")
        let daemon = CrashRecoveryTests.Daemon(exe: exe, root: root, port: RealDaemon.freePort())
        try daemon.start()
        try daemon.request("POST", "/api/projects", body: #"{"name": "s"}"#)
        try daemon.request("POST", "/api/projects/s/datasets", body: #"{"path": "\#(root)/tissue.h5ad", "name": "tissue"}"#)
        let pre = try daemon.request("POST", "/api/jobs", body: #"{"project": "s", "workflow": "pretrain", "inputs": {"spatial": "tissue"}, "parameters": {"preset": "tiny", "steps": 20}}"#)
        let preID = try #require((pre["job"] as? [String: Any])?["id"] as? String)
        #expect(try waitTerminal(daemon, preID, seconds: 120)["state"] as? String == "succeeded")
        return (root, daemon, preID)
    }

    @Test func embedOnSlurmEqualsLocalBitForBit() throws {
        let (root, daemon, preID) = try Self.daemonWithPretrainedModel(tag: "embed", fovs: nil)
        defer { daemon.stop() }

        var ids: [String: String] = [:]
        for executor in ["local", "slurm"] {
            let sub = try daemon.request("POST", "/api/jobs", body: #"{"project": "s", "workflow": "embed", "executor": "\#(executor)", "inputs": {"data": "tissue"}, "parameters": {"checkpoint": "job:\#(preID)"}}"#)
            ids[executor] = try #require((sub["job"] as? [String: Any])?["id"] as? String)
        }
        // Wait until Slurm has the job, then kill the daemon and start it again.
        let end = Date().addingTimeInterval(30)
        while SlurmTestCluster.jobs(named: "tessera-\(ids["slurm"]!)").isEmpty && Date() < end { Thread.sleep(forTimeInterval: 0.1) }
        daemon.kill9()
        try daemon.start()
        for (executor, id) in ids {
            let j = try Self.waitTerminal(daemon, id, seconds: 180)
            #expect(j["state"] as? String == "succeeded", "\(executor) embed: \(j["exitReason"] ?? "")")
        }
        let api = try daemon.request("GET", "/api/jobs/\(ids["slurm"]!)")
        #expect(api["executor"] as? String == "slurm" && Int(api["externalId"] as? String ?? "") != nil)
        // What Slurm reported (RUNNING, or only COMPLETED when the job ended while the daemon was down).
        #expect(!((api["executorStates"] as? [[String: Any]]) ?? []).isEmpty)
        let listed = (try daemon.request("GET", "/api/jobs?limit=10")["jobs"] as? [[String: Any]]) ?? []
        #expect(listed.first { $0["id"] as? String == ids["slurm"] }?["executor"] as? String == "slurm")
        daemon.stop()
        let local = try Self.embedding("\(root)/jobs/\(ids["local"]!)/artifacts/result.h5ad")
        let slurm = try Self.embedding("\(root)/jobs/\(ids["slurm"]!)/artifacts/result.h5ad")
        #expect(local.count == 600 * (local.count / 600) && !local.isEmpty)
        #expect(local.map(\.bitPattern) == slurm.map(\.bitPattern), "the Slurm embedding equals the local one bit for bit")

        let store = try ProjectStore(path: root + "/tessera.sqlite")
        let job = try store.job(ids["slurm"]!)
        #expect(job.executor == "slurm" && Int(job.externalId ?? "") != nil)
        #expect(try !store.executorStates(job: job.id).isEmpty)
        #expect(try store.job(ids["local"]!).executor == "local")
        #expect(SlurmTestCluster.jobs(named: "tessera-\(job.id)").map(\.id) == [job.externalId!])
    }

    /// A 3-FOV embed as a Slurm job array of 3 tasks (3 cpus each, so one task fits a 4-cpu node and the tasks
    /// spread over both nodes) plus a gather under afterok: the same embedding as the local run, bit for bit.
    @Test func embedArrayOverTwoNodesEqualsLocal() throws {
        let (root, daemon, preID) = try Self.daemonWithPretrainedModel(tag: "array", fovs: 3)
        defer { daemon.stop() }
        var ids: [String: String] = [:]
        // The 5-task job runs after the others, so that the 3-cpu tasks find both nodes free.
        for batch in [[("local", #""executor": "local""#), ("array", #""executor": "slurm", "resources": {"arrayTasks": 3, "cpus": 3}"#)],
                      [("more tasks than FOVs", #""executor": "slurm", "resources": {"arrayTasks": 5}"#)]] {
            for (key, extra) in batch {
                let sub = try daemon.request("POST", "/api/jobs", body: #"{"project": "s", "workflow": "embed", \#(extra), "inputs": {"data": "tissue"}, "parameters": {"checkpoint": "job:\#(preID)"}}"#)
                ids[key] = try #require((sub["job"] as? [String: Any])?["id"] as? String)
            }
            for (key, _) in batch {
                let j = try Self.waitTerminal(daemon, ids[key]!, seconds: 240)
                #expect(j["state"] as? String == "succeeded", "\(key) embed: \(j["exitReason"] ?? "")")
            }
        }
        daemon.stop()
        let local = try Self.embedding("\(root)/jobs/\(ids["local"]!)/artifacts/result.h5ad")
        let array = try Self.embedding("\(root)/jobs/\(ids["array"]!)/artifacts/result.h5ad")
        #expect(!local.isEmpty && local.map(\.bitPattern) == array.map(\.bitPattern), "the gathered embedding equals the local one bit for bit")
        let five = try Self.embedding("\(root)/jobs/\(ids["more tasks than FOVs"]!)/artifacts/result.h5ad")
        #expect(local.map(\.bitPattern) == five.map(\.bitPattern), "5 tasks over 3 FOVs (two empty tasks) give the same embedding")
        let name = "tessera-\(ids["array"]!)"
        let tasks = SlurmTestCluster.shell("/usr/bin/squeue", ["-h", "-a", "-r", "-t", "all", "-n", name + "-part", "-o", "%K|%T|%N"]).output
            .split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
        #expect(Set(tasks.map { $0[0] }) == ["0", "1", "2"] && tasks.allSatisfy { $0[1] == "COMPLETED" }, "\(tasks)")
        #expect(Set(tasks.map { $0[2] }) == ["c1", "c2"], "the array spread over both nodes: \(tasks)")
        #expect(SlurmTestCluster.jobs(named: name).count == 1, "one gather job")
    }
}
