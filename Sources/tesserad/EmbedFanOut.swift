import ArgumentParser
import Analysis
import CellLM
import Foundation
import SpatialData
import Tensor
import Workflows

/// `embed` fanned out over a Slurm job array: task K of N embeds a contiguous chunk of the dataset's FOVs
/// (one model sequence each, so a FOV's embedding does not depend on the others) into `JOBDIR/parts/K/`, then
/// a gather job assembles the rows in the dataset's order and finishes exactly as `embed` does (kNN graph,
/// Leiden, `artifacts/result.h5ad`, metrics, `exit.json` in the job folder). Both run through the workflow
/// runner with the embed spec, so parameters are validated the same way.
enum EmbedFanOut {
    /// The groups (FOVs, tiles for a section without FOVs, samples) the embed workflow makes sequences of,
    /// as one index per cell (cells without a group share the last one), and their count.
    static func groups(_ cut: Dataset) -> (of: [Int], count: Int) {
        let g = cut.fov ?? cut.sample
        let n = g.categories.count
        let of = g.codes.map { $0 >= 0 ? Int($0) : n }
        return (of, n + (of.contains(n) ? 1 : 0))
    }

    /// The dataset as `embed` cuts it into sequences.
    static func cut(_ context: WorkflowContext) throws -> Dataset {
        let ds = try context.dataset("data")
        return ds.fov == nil ? DatasetSequences.tiled(ds, grid: try context.int("tile_grid")) : ds
    }

    /// Rows of part `k` of `n`, cut at the batch boundaries `embed` uses (`batch` sequences per `embedMany`
    /// call, `Parallel.cores` by default): a part's sequences are embedded in exactly the batches of a local
    /// run, so the result is the same bit for bit (the batch's composition changes the kernels' blocking and
    /// with it the last bits: cutting 20 FOVs anywhere else gave different bits).
    static func rows(_ cut: Dataset, part k: Int, of n: Int, batch: Int = max(1, Parallel.cores)) -> [Int] {
        let (of, count) = groups(cut)
        var size = [Int](repeating: 0, count: count)
        for g in of { size[g] += 1 }
        let sequences = (0..<count).filter { size[$0] > 0 }   // the order DatasetSequences.make emits them in
        let batches = max(1, (sequences.count + batch - 1) / batch)
        var partOf = [Int](repeating: -1, count: count)
        for (s, g) in sequences.enumerated() { partOf[g] = (s / batch) * n / batches }
        return of.indices.filter { partOf[of[$0]] == k }
    }

    /// `parts/K/artifacts/part.bin`: cells, dimensions, sequences (Int64 each), the cells' rows in the
    /// dataset (Int64), then the embedding (Float32, row-major).
    static func write(rows: [Int], embedding x: Matrix, sequences: Int, to url: URL) throws {
        var d = Data()
        func i64(_ v: Int) { withUnsafeBytes(of: Int64(v).littleEndian) { d.append(contentsOf: $0) } }
        i64(rows.count); i64(x.cols); i64(sequences)
        rows.forEach(i64)
        x.data.withUnsafeBytes { d.append(contentsOf: $0) }
        try d.write(to: url, options: .atomic)
    }

    static func read(_ url: URL) throws -> (rows: [Int], dim: Int, sequences: Int, values: [Float]) {
        let d = try Data(contentsOf: url)
        func i64(_ at: Int) -> Int { Int(Int64(littleEndian: d.subdata(in: at..<at + 8).withUnsafeBytes { $0.loadUnaligned(as: Int64.self) })) }
        guard d.count >= 24 else { throw WorkflowError.invalidSpec(file: url.path, message: "is truncated; rerun the job") }
        let n = i64(0), dim = i64(8), seqs = i64(16)
        guard d.count == 24 + n * 8 + n * dim * 4 else { throw WorkflowError.invalidSpec(file: url.path, message: "has \(d.count) bytes, not the \(24 + n * 8 + n * dim * 4) its header says; rerun the job") }
        let rows = (0..<n).map { i64(24 + $0 * 8) }
        let values = d.subdata(in: (24 + n * 8)..<d.count).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return (rows, dim, seqs, values)
    }
}

/// Task K of N: embeds its chunk of FOVs. Registered under the name "embed" for the part folders only.
enum EmbedPartWorkflow: WorkflowImplementation {
    static let name = "embed"
    nonisolated(unsafe) static var part = (k: 0, n: 1)

    static func check(_ context: WorkflowContext) throws {}

    static func run(_ context: WorkflowContext) throws {
        let cut = try EmbedFanOut.cut(context)
        let ckpt = try context.checkpoint("checkpoint")
        let rows = EmbedFanOut.rows(cut, part: part.k, of: part.n)
        guard !rows.isEmpty else {   // more tasks than FOVs: this one has none
            return try EmbedFanOut.write(rows: [], embedding: Matrix(rows: 0, cols: ckpt.model.config.latentDim), sequences: 0,
                                         to: try context.artifactURL("part.bin"))
        }
        let sub = cut.selectingCells(rows)
        let set: SequenceSet
        do { set = try DatasetSequences.make(sub, vocabulary: ckpt.genes) } catch {
            throw WorkflowError.badInput(role: "data", file: context.spec.inputs["data"] ?? cut.name, message: error.description)
        }
        var cfg = ckpt.model.config
        cfg.positionEmbedding = try context.bool("position_embedding")
        let model = CellLM(config: cfg, params: ckpt.model.params, seed: context.seed)
        let x = try EmbedWorkflow.embedAll(model, set, cells: rows.count, context)
        try EmbedFanOut.write(rows: rows, embedding: x, sequences: set.sequences.count, to: try context.artifactURL("part.bin"))
    }
}

/// The gather: the parts' rows assembled in the dataset's order, then embed's own summary and outputs.
enum EmbedGatherWorkflow: WorkflowImplementation {
    static let name = "embed"
    nonisolated(unsafe) static var parts = 1

    static func check(_ context: WorkflowContext) throws {}

    static func run(_ context: WorkflowContext) throws {
        let ds = try context.dataset("data")
        let ckpt = try context.checkpoint("checkpoint")
        let d = ckpt.model.config.latentDim
        var x = Matrix(rows: ds.cellCount, cols: d)
        var seen = [Bool](repeating: false, count: ds.cellCount), sequences = 0
        for k in 0..<parts {
            let url = context.folder.url.appendingPathComponent("parts/\(k)/artifacts/part.bin")
            let p = try EmbedFanOut.read(url)
            guard p.dim == d else { throw WorkflowError.invalidSpec(file: url.path, message: "has dimension \(p.dim), the checkpoint \(d); rerun the job") }
            for (i, row) in p.rows.enumerated() {
                guard row >= 0, row < ds.cellCount, !seen[row] else { throw WorkflowError.invalidSpec(file: url.path, message: "row \(row) is out of range or in two parts; rerun the job") }
                seen[row] = true
                for j in 0..<d { x.data[row * d + j] = p.values[i * d + j] }
            }
            sequences += p.sequences
        }
        if let missing = seen.firstIndex(of: false) {
            throw WorkflowError.invalidSpec(file: context.folder.url.appendingPathComponent("parts").path, message: "no part embedded cell \(missing); rerun the job")
        }
        // As `embed` ends: graph, Leiden, the map, result.h5ad, metrics.
        try EmbedWorkflow.finish(context, ds, ckpt, embedding: x, sequences: sequences,
                                 positionEmbedding: try context.bool("position_embedding"), seconds: [:],
                                 extraMetrics: ["array_tasks": Double(parts)])
    }
}

/// Set by SIGTERM in a part or gather worker.
nonisolated(unsafe) private var fanOutStop: sig_atomic_t = 0

/// `tesserad embed-part JOBDIR --tasks N`: one array task (K from SLURM_ARRAY_TASK_ID, or --task).
struct EmbedPart: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "embed-part", abstract: "Run one task of an embed job array (what a Slurm array task runs).")
    @Argument(help: "The job folder (holds job.json).") var jobDir: String
    @Option(help: "Tasks in the array.") var tasks: Int
    @Option(help: "This task (default: SLURM_ARRAY_TASK_ID).") var task: Int?
    @Option(help: "Folder of workflow specs.") var workflows: String?

    func run() throws {
        guard let k = task ?? ProcessInfo.processInfo.environment["SLURM_ARRAY_TASK_ID"].flatMap(Int.init), (0..<tasks).contains(k) else {
            throw ValidationError("no task index: pass --task or run as a Slurm array task (SLURM_ARRAY_TASK_ID) in 0..<\(tasks)")
        }
        let parent = JobFolder(URL(fileURLWithPath: jobDir, isDirectory: true))
        let folder = JobFolder(parent.url.appendingPathComponent("parts/\(k)", isDirectory: true))
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: folder.exitURL)
        try? FileManager.default.removeItem(at: folder.specURL)
        try FileManager.default.copyItem(at: parent.specURL, to: folder.specURL)
        try? folder.writeWorker(.current())
        signal(SIGTERM) { _ in fanOutStop = 1 }
        EmbedPartWorkflow.part = (k, tasks)
        let catalog = try WorkflowCatalog.load(directory: URL(fileURLWithPath: workflows ?? defaultWorkflowsFolder(), isDirectory: true))
        let exit = WorkflowRunner.run(folder: folder, catalog: catalog, implementations: [EmbedPartWorkflow.self], cancelled: { fanOutStop != 0 })
        print("tesserad embed-part \(k)/\(tasks): \(exit.status.rawValue): \(exit.reason)")
        if exit.status != .succeeded { throw ExitCode(exit.status == .cancelled ? 3 : 1) }
    }
}

/// `tesserad embed-gather JOBDIR --tasks N`: the job's own worker once every part has succeeded.
struct EmbedGather: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "embed-gather", abstract: "Assemble an embed job array's parts into the job's result (what the gather job runs).")
    @Argument(help: "The job folder (holds job.json).") var jobDir: String
    @Option(help: "Tasks in the array.") var tasks: Int
    @Option(help: "Folder of workflow specs.") var workflows: String?

    func run() throws {
        let folder = JobFolder(URL(fileURLWithPath: jobDir, isDirectory: true))
        try? folder.writeWorker(.current())
        signal(SIGTERM) { _ in fanOutStop = 1 }
        EmbedGatherWorkflow.parts = tasks
        let catalog = try WorkflowCatalog.load(directory: URL(fileURLWithPath: workflows ?? defaultWorkflowsFolder(), isDirectory: true))
        let exit = WorkflowRunner.run(folder: folder, catalog: catalog, implementations: [EmbedGatherWorkflow.self], cancelled: { fanOutStop != 0 })
        print("tesserad embed-gather: \(exit.status.rawValue): \(exit.reason)")
        if exit.status != .succeeded { throw ExitCode(exit.status == .cancelled ? 3 : 1) }
    }
}
