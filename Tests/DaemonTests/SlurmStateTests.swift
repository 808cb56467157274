import Foundation
import Testing
@testable import Daemon
import Workflows

/// Slurm's words mapped to ours, and the commands the executor builds (no cluster needed; the cluster tests
/// are in SlurmExecutorTests).
struct SlurmStateTests {
    @Test func parsesSqueueLinesKeepingReasonsWithSeparators() {
        let text = """
        12|tessera-a|tessera:a|PENDING|PartitionConfig
        13|tessera-b|tessera:b|RUNNING|None
        14|other|x|CANCELLED by 0|None
        garbage line
        15|tessera-c|tessera:c|FAILED|NonZeroExitCode|extra
        """
        let e = SlurmQueueEntry.parse(text)
        #expect(e.map(\.id) == ["12", "13", "14", "15"])
        #expect(e[3].reason == "NonZeroExitCode|extra")
        #expect(e[0].observation() == .waiting(state: "PENDING", reason: SlurmState.explain(pendingReason: "PartitionConfig")))
        #expect(e[1].observation() == .running(state: "RUNNING"))
        if case .ended(let s, _, let retry) = e[2].observation() { #expect(s == "CANCELLED" && !retry) } else { Issue.record("CANCELLED by 0 is final") }
    }

    @Test func everyStateMapped() {
        for s in ["CONFIGURING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING", "SOMETHING_NEW"] {
            #expect(SlurmState.observation(state: s, reason: "None") == .running(state: s), "\(s) is transient: running")
        }
        for s in ["PENDING", "REQUEUED", "SUSPENDED"] {
            if case .waiting = SlurmState.observation(state: s, reason: "Resources") {} else { Issue.record("\(s) waits") }
        }
        let ends: [String: Bool] = ["COMPLETED": false, "TIMEOUT": false, "OUT_OF_MEMORY": false, "NODE_FAIL": true, "PREEMPTED": true,
                                    "BOOT_FAIL": true, "DEADLINE": false, "FAILED": true, "CANCELLED": false]
        for (s, retry) in ends {
            guard case .ended(let st, let reason, let r) = SlurmState.observation(state: s, reason: "None") else { Issue.record("\(s) is final"); continue }
            #expect(st == s && r == retry && reason.hasPrefix(s), "\(s): \(reason)")
        }
        let timeout = SlurmState.observation(state: "TIMEOUT", reason: "TimeLimit")
        if case .ended(_, let reason, _) = timeout { #expect(reason.contains("time limit") && reason.contains("TimeLimit")) }
    }

    @Test func exitCodesAndPendingReasonsReadable() {
        #expect(SlurmState.describe(exitCode: "0:9") == "killed by signal 9 (SIGKILL)")
        #expect(SlurmState.describe(exitCode: "3:0") == "exit code 3")
        #expect(SlurmState.describe(exitCode: "0:0") == nil)
        #expect(SlurmState.explain(pendingReason: "PartitionConfig").contains("cancel it"))
        #expect(SlurmState.explain(pendingReason: "SomeNewReason") == "SomeNewReason")
        #expect(SlurmState.explain(pendingReason: "") == "")
    }

    @Test func sbatchArgumentsCarryIdResourcesAndFlags() {
        var o = SlurmOptions()
        o.defaults = ExecutorResources(cpus: 2, memoryMB: 4000, partition: "gpu")
        o.extraFlags = ["--qos=low"]
        let ex = SlurmExecutor(options: o) { f in (URL(fileURLWithPath: "/opt/t d/tesserad"), ["work", f.url.path]) }
        let folder = JobFolder(URL(fileURLWithPath: "/data/jobs/it's"))
        let args = ex.sbatchArguments(ExecutorJob(jobID: "abc", folder: folder, externalId: nil),
                                      resources: ExecutorResources(cpus: 8, timeLimitMinutes: 30).over(o.defaults))
        #expect(args.contains("--parsable") && args.contains("--job-name=tessera-abc") && args.contains("--comment=tessera:abc"))
        #expect(args.contains("--cpus-per-task=8") && args.contains("--mem=4000M") && args.contains("--time=30") && args.contains("--partition=gpu"))
        #expect(args.contains("--no-requeue") && args.last == "--qos=low" && !args.contains { $0.hasPrefix("--account") })
        let script = ex.batchScript(folder)
        #expect(script.contains("exec '/opt/t d/tesserad' 'work' '/data/jobs/it'\\''s'"), "\(script)")
    }

    @Test func missingClientIsRefusedWithInstallHint() {
        var o = SlurmOptions()
        o.binDirectory = "/nonexistent-slurm-bin"
        let ex = SlurmExecutor(options: o) { f in (URL(fileURLWithPath: "/bin/true"), []) }
        #expect {
            try ex.checkInstalled()
        } throws: { error in
            let m = "\(error)"
            return m.contains("sbatch") && m.contains("apt-get install --no-install-recommends slurm-client") && m.contains("\"executor\": \"local\"")
        }
    }

    @Test func unreachableMessagesAreToldFromRefusals() {
        #expect(SlurmCommands.isUnreachable("sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)"))
        #expect(!SlurmCommands.isUnreachable("sbatch: error: Batch job submission failed: Invalid partition name specified"))
    }
}

/// The real `tesserad serve` configured for Slurm where Slurm's client is missing: refused at start, exit 2,
/// with the install hint (no cluster needed).
struct SlurmMissingClientTests {
    @Test func daemonRefusesToStartWithTheInstallHint() throws {
        let exe = try CrashRecoveryTests.binary()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-noslurm-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Data(#"{"executor": "slurm", "slurm": {"binDirectory": "/nonexistent-slurm-bin"}}"#.utf8).write(to: URL(fileURLWithPath: root + "/tesserad.json"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["serve", "--root", root, "--port", "\(RealDaemon.freePort())", "--workflows", FileManager.default.currentDirectoryPath + "/workflows"]
        let err = Pipe()
        p.standardError = err; p.standardOutput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 2, "\(text)")
        #expect(text.contains("sbatch") && text.contains("apt-get install --no-install-recommends slurm-client munge") && text.contains("\"executor\": \"local\""), "\(text)")
    }
}
