import Analysis
import CellLM
import Foundation
import SpatialData
import Tensor

/// `embed`: zero-shot cell embeddings from a pretrained checkpoint (`checkpoint`), with the spatial position
/// embedding on or off (`position_embedding`; it only acts on cells with coordinates), then a quick summary:
/// scanpy's neighbourhood graph (`neighbors`, 15 as in scanpy) and our Leiden at `resolution` (1.0).
/// Writes `artifacts/result.h5ad`: the input's obs/var/X/coordinates plus `obsm['X_tessera']` (float32 N×d),
/// `obs['leiden']` (categorical) and `uns['tessera']` (workflow, version, parameters as JSON), and
/// `artifacts/metrics.json`.
public enum EmbedWorkflow: WorkflowImplementation {
    public static let name = "embed"
    static let role = "data"

    public static func check(_ context: WorkflowContext) throws {
        let (ds, ckpt) = try inputs(context)
        _ = try sequences(context, ds, ckpt)
        if let column = try context.optionalString("label_column") {   // a bad label column is refused before compute
            _ = try SupervisedLabels.make(ds, column: column, heldOutFraction: 0, seed: 0, role: role)
        }
    }

    /// The dataset and the checkpoint, checked: readable, enough cells, genes shared with the vocabulary.
    static func inputs(_ context: WorkflowContext) throws -> (Dataset, Checkpoint) {
        let ds = try context.dataset(role)
        let file = context.spec.inputs[role] ?? ds.name
        if ds.cellCount < 3 { throw WorkflowError.badInput(role: role, file: file, message: "holds \(ds.cellCount) cell(s); a neighbourhood graph needs at least 3") }
        let ckpt = try context.checkpoint("checkpoint")
        let shared = GeneVocabulary.coverage(ds, of: ckpt.genes)
        if shared == 0 {
            throw WorkflowError.badInput(role: role, file: file,
                message: "shares no measured gene with the checkpoint's \(ckpt.genes.count)-gene vocabulary (e.g. \(ckpt.genes.prefix(3).joined(separator: ", "))); use a checkpoint pretrained on this panel, or check the gene naming (symbols vs Ensembl ids, species)")
        }
        return (ds, ckpt)
    }

    static func sequences(_ context: WorkflowContext, _ ds: Dataset, _ ckpt: Checkpoint) throws -> SequenceSet {
        let cut = ds.fov == nil ? DatasetSequences.tiled(ds, grid: try context.int("tile_grid")) : ds
        do { return try DatasetSequences.make(cut, vocabulary: ckpt.genes) } catch {
            throw WorkflowError.badInput(role: role, file: context.spec.inputs[role] ?? ds.name, message: error.description)
        }
    }

    /// Latents of every cell of `set` ([cells, latentDim], rows as `set.rows` say), a few sequences at a time so
    /// progress and cancellation stay responsive. The batches are `Parallel.cores` sequences: Slurm array parts
    /// (`tesserad embed-part`) call this too, so a gathered result equals the local one bit for bit.
    public static func embedAll(_ model: CellLM, _ set: SequenceSet, cells: Int, _ context: WorkflowContext) throws -> Matrix {
        let d = model.config.latentDim
        var x = Matrix(rows: cells, cols: d)
        let progress = ProgressReporter(context, phase: "embed", total: set.cellCount)
        let chunk = max(1, Parallel.cores)
        var done = 0
        for lo in stride(from: 0, to: set.sequences.count, by: chunk) {
            try context.checkCancelled()
            let hi = min(lo + chunk, set.sequences.count)
            let out = try model.embedMany(Array(set.sequences[lo..<hi]))
            for (k, e) in out.enumerated() {
                for (r, row) in set.rows[lo + k].enumerated() {
                    for j in 0..<d { x.data[row * d + j] = e.data[r * d + j] }
                }
                done += set.rows[lo + k].count
            }
            progress.report(step: done)
        }
        return x
    }

    public static func run(_ context: WorkflowContext) throws {
        var seconds: [String: Double] = [:]
        var clock = Date()
        func lap(_ phase: String) { seconds["seconds_\(phase)"] = Date().timeIntervalSince(clock); clock = Date() }

        context.emit(JobEvent(kind: .progress, phase: "load", step: 0, total: 1))
        let (ds, ckpt) = try inputs(context)
        let set = try sequences(context, ds, ckpt)
        var cfg = ckpt.model.config
        cfg.positionEmbedding = try context.bool("position_embedding")
        let model = CellLM(config: cfg, params: ckpt.model.params, seed: context.seed)
        context.emit(JobEvent(kind: .progress, phase: "load", step: 1, total: 1))
        lap("load")

        let x = try embedAll(model, set, cells: ds.cellCount, context)
        lap("embed")
        try finish(context, ds, ckpt, embedding: x, sequences: set.sequences.count, positionEmbedding: cfg.positionEmbedding, seconds: seconds)
    }

    /// How embed ends, for a local run and for the gather of a Slurm array alike: the neighbourhood graph and
    /// Leiden, the map (`RenderStep`: X_umap and the tissue coloured by cluster), `result.h5ad`, and metrics
    /// (with ARI/NMI against `label_column` when one is named). `seconds` holds the phases timed before.
    public static func finish(_ context: WorkflowContext, _ ds: Dataset, _ ckpt: Checkpoint, embedding x: Matrix, sequences: Int,
                              positionEmbedding: Bool, seconds: [String: Double], extraMetrics: [String: Double] = [:]) throws {
        var seconds = seconds
        var clock = Date()
        func lap(_ phase: String) { seconds["seconds_\(phase)"] = Date().timeIntervalSince(clock); clock = Date() }
        try context.checkCancelled()
        let resolution = try context.double("resolution"), neighbors = try context.int("neighbors")
        context.emit(JobEvent(kind: .progress, phase: "cluster", step: 0, total: 2))
        let graph = try EmbeddingGraph(x, neighbors: neighbors, seed: context.seed)
        context.emit(JobEvent(kind: .progress, phase: "cluster", step: 1, total: 2))
        try context.checkCancelled()
        let leiden = try graph.leiden(resolution: resolution, seed: context.seed)
        context.emit(JobEvent(kind: .progress, phase: "cluster", step: 2, total: 2))
        lap("cluster")

        context.emit(JobEvent(kind: .progress, phase: "write", step: 0, total: 1))
        var extras = H5ADExtras()
        extras.obsm = [("X_tessera", x)]
        extras.obs["leiden"] = .categorical(Categorical(codes: leiden.labels.map { Int32($0) },
                                                        categories: (0..<leiden.communityCount).map(String.init)))
        extras.tessera = [("workflow", .string(name)), ("version", .string(context.spec.version)),
                          ("parameters", .string(context.parametersJSON()))]
        extras.uns = [("leiden", .dict([("params", .dict([("resolution", .number(resolution)), ("n_neighbors", .number(Double(neighbors)))]))]))]
        try RenderStep.run(context, dataset: ds, extras: &extras, embedding: x, graph: graph, colour: "leiden")  // issue 13: X_umap + map
        let out = try context.artifactURL("result.h5ad")
        try H5ADWriter.write(ds, to: out.path, extras: extras)
        context.emitArtifact("result.h5ad", kind: "h5ad")
        context.emit(JobEvent(kind: .progress, phase: "write", step: 1, total: 1))
        lap("write")

        var metrics: [String: Double] = [
            "cells": Double(ds.cellCount), "sequences": Double(sequences), "embedding_dim": Double(x.cols),
            "genes_shared": Double(GeneVocabulary.coverage(ds, of: ckpt.genes)), "vocabulary": Double(ckpt.genes.count),
            "leiden_clusters": Double(leiden.communityCount), "leiden_quality": leiden.quality,
            "position_embedding": positionEmbedding && ds.coordinates != nil ? 1 : 0,
        ]
        if let column = try context.optionalString("label_column") {
            // Leiden clusters against a label column: ARI/NMI over the cells with a usable label (every cell is
            // in the clusters; nothing was trained on the labels, so no held-out split is needed).
            let labels = try SupervisedLabels.make(ds, column: column, heldOutFraction: 0, seed: 0, role: role)
            let rows = labels.codes.indices.filter { labels.codes[$0] >= 0 }
            let truth = rows.map { Int(labels.codes[$0]) }, found = rows.map { leiden.labels[$0] }
            metrics["ari"] = try Metrics.adjustedRandIndex(truth, found)
            metrics["nmi"] = try Metrics.normalizedMutualInformation(truth, found)
            metrics["labelled_cells"] = Double(rows.count); metrics["classes"] = Double(labels.classes.count)
        }
        metrics.merge(seconds) { $1 }
        metrics.merge(extraMetrics) { $1 }
        try context.writeMetrics(metrics)
    }
}
