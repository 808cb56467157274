import ArgumentParser
import Daemon
import Foundation
import SpatialData
import Store
import Workflows

/// `embed` of a many-FOV section through the real queue and the real `tesserad` worker: the local executor
/// (one process) beside the Slurm executor running it as a job array over the test cluster's two nodes plus a
/// gather. Both use the same checkpoint (a tiny model pretrained here first, locally). On the test cluster
/// both "nodes" share this machine's cores, so the array measures the fan-out's overhead, not a speed-up.
struct SlurmEmbedBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "slurm-embed", abstract: "embed of FOVs x cells: local executor beside a Slurm job array over two nodes.")

    @Option(help: "SLURM_CONF of the cluster.") var slurmConf = "/tmp/tessera-slurm/etc/slurm.conf"
    @Option(help: "FOVs in the simulated section.") var fovs = 20
    @Option(help: "Cells per FOV.") var cellsPerFOV = 1000
    @Option(help: "Array tasks.") var tasks = 4
    @Option(help: "Pretraining steps for the checkpoint.") var steps = 20

    func run() throws {
        let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let exe = binDir.appendingPathComponent("tesserad")
        guard FileManager.default.isExecutableFile(atPath: exe.path) else { throw ValidationError("\(exe.path) is missing; build tesserad in the same configuration") }
        let workflows = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("workflows").path
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-slurmembed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }

        var sim = SimulationConfig.tiny
        sim.fovs = fovs; sim.cells = fovs * cellsPerFOV; sim.referenceCells = 100
        let tissue = root.appendingPathComponent("tissue.h5ad").path
        let ds = TissueSimulator.simulate(sim).spatial
        try H5ADWriter.write(ds, to: tissue)
        let store = try ProjectStore(path: root.appendingPathComponent("tessera.sqlite").path)
        try store.createProject(name: "bench")
        let data = try store.registerDataset(project: "bench", name: "tissue", path: tissue, contentHash: "bench", cells: ds.cellCount,
                                             genes: ds.geneCount, summary: "{}")

        let worker: @Sendable (JobFolder) -> (executable: URL, arguments: [String]) = { (exe, ["work", $0.url.path, "--workflows", workflows]) }
        var options = SlurmOptions()
        options.slurmConf = slurmConf
        let slurm = SlurmExecutor(options: options, command: worker) { folder, role, n in
            (exe, ["embed-\(role)", folder.url.path, "--tasks", "\(n)", "--workflows", workflows])
        }
        try slurm.checkInstalled()
        let q = JobQueue(store: store, root: root, executor: LocalExecutor(command: worker), others: [slurm], concurrency: 1)

        func run(_ workflow: String, _ params: String, inputs: [String: String], executor: String, resources: ExecutorResources? = nil) throws -> (String, Double) {
            let id = try store.submitJob(project: "bench", workflow: workflow, version: "1", parameters: params, inputs: inputs,
                                         executor: executor, cacheKey: UUID().uuidString).id
            if let resources { try store.setResources(job: id, json: String(decoding: try JSONEncoder().encode(resources), as: UTF8.self)) }
            let t0 = Date()
            while try !store.job(id).state.isTerminal {
                try q.tick()
                Thread.sleep(forTimeInterval: 0.1)
                if Date().timeIntervalSince(t0) > 1200 { throw ValidationError("\(workflow) on \(executor) did not finish in 20 min") }
            }
            let j = try store.job(id)
            guard j.state == .succeeded else { throw ValidationError("\(workflow) on \(executor) \(j.state): \(j.exitReason ?? "")") }
            return (id, Date().timeIntervalSince(t0))
        }
        print("tessera-bench slurm-embed: \(fovs) FOVs x \(cellsPerFOV) cells (\(ds.cellCount) cells, \(ds.geneCount) genes), tiny model pretrained \(steps) steps; array of \(tasks) tasks over the test cluster's two nodes (one machine)")
        let (pre, _) = try run("pretrain", #"{"preset":"tiny","steps":\#(steps)}"#, inputs: ["spatial": data.id], executor: "local")
        let ckpt = q.folder(pre).url.appendingPathComponent("artifacts/model.tsr").path
        let params = #"{"checkpoint":"\#(ckpt)"}"#
        let (localID, local) = try run("embed", params, inputs: ["data": data.id], executor: "local")
        let (arrayID, array) = try run("embed", params, inputs: ["data": data.id], executor: "slurm", resources: ExecutorResources(arrayTasks: tasks))
        func x(_ id: String) throws -> [UInt32] {
            try H5File.open(q.folder(id).url.appendingPathComponent("artifacts/result.h5ad").path, probe: false).root.group("obsm").dataset("X_tessera").readFloats().map(\.bitPattern)
        }
        let same = try x(localID) == x(arrayID)
        print("embed, submission → recorded       local | slurm array | ratio")
        print(String(format: "  %-32@ %6.2f s | %6.2f s | %5.2fx", "wall" as NSString, local, array, array / local))
        print("  X_tessera identical bit for bit: \(same)")
    }
}
