import Analysis
import CellLM
import Foundation
import SpatialData
import Tensor

/// `cluster-supcon`: SupCon fine-tuning with labels from an obs column (cellplm.md §6), then a kNN graph with
/// our Leiden over a resolution grid and k-means with k = the class count, scored three ways
/// (`ClusterEvaluation`: held-out cells, label-free resolution, best resolution).
///
/// With `checkpoint` the pretrained model is fine-tuned; without it the model is first pretrained on the
/// data's training cells for `pretrain_steps` (see `ClusterSupCon`). Steps are numbered across both phases
/// (pretraining 0..<P, fine-tuning P..<P+steps); `checkpoints/step-N.tsr` holds a plain model checkpoint while
/// N ≤ P and the model + head + both optimizers after, so a rerun of the job folder resumes either phase.
///
/// Writes `artifacts/result.h5ad` (the input plus `obsm['X_tessera']` = the fine-tuned model's latent,
/// `obsm['X_tessera_supcon']` = the SupCon head's projection, which the clusters are computed on,
/// `obs['leiden']` at the label-free resolution (stability across seeds, `ClusterEvaluation`),
/// `obs['leiden_best_incl_training']` (the resolution with the best ARI over all labelled cells, training cells
/// included), `obs['kmeans']`, `obs['supcon_heldout']`,
/// `uns['tessera']` with the parameters and `uns['cluster_supcon']` with the grid and scores),
/// `artifacts/model.tsr` (the fine-tuned model and head) and `artifacts/metrics.json`.
public enum ClusterSupConWorkflow: WorkflowImplementation {
    public static let name = "cluster-supcon"
    static let role = "data"

    /// The job's parameters as typed settings (the runner has checked ranges; `validate` checks the grid).
    static func settings(_ context: WorkflowContext) throws -> ClusterSupConSettings {
        var s = ClusterSupConSettings(labelColumn: try context.string("label_column"))
        s.heldOutFraction = try context.double("heldout_fraction")
        s.steps = try context.int("steps")
        s.learningRate = try context.float("lr")
        s.temperature = try context.float("temperature")
        s.positionEmbedding = try context.bool("position_embedding")
        let lo = try context.double("resolution_min"), hi = try context.double("resolution_max")
        if hi < lo { throw WorkflowError.invalidParameter(name: "resolution_max", message: "is \(hi), below resolution_min \(lo); give resolution_max >= resolution_min") }
        s.resolutions = ClusterEvaluation.grid(min: lo, max: hi, step: try context.double("resolution_step"))
        s.neighbors = try context.int("n_neighbors")
        s.cellsPerStep = try context.int("cells_per_step")
        s.pretrainSteps = try context.int("pretrain_steps")
        s.preset = try context.string("preset")
        s.tileGrid = try context.int("tile_grid")
        s.seed = context.seed
        try s.validate()
        return s
    }

    /// The pretrained checkpoint, when the job names one; unreadable or gene-less files are refused.
    static func checkpoint(_ context: WorkflowContext) throws -> Checkpoint? {
        guard context.has("checkpoint") else { return nil }
        return try context.checkpoint("checkpoint")
    }

    static func prepare(_ context: WorkflowContext) throws -> (ClusterSupConSettings, Dataset, Checkpoint?, ClusterSupConData) {
        let s = try settings(context)
        let ds = try context.dataset(role)
        let ck = try checkpoint(context)
        let data = try ClusterSupConData.prepare(ds, settings: s, vocabulary: ck?.genes, role: role, file: context.spec.inputs[role])
        if s.steps > 0 && !data.canFineTune {
            throw WorkflowError.badInput(role: role, file: context.spec.inputs[role] ?? ds.name,
                message: "no FOV/sample/tile holds two labelled training cells of column '\(s.labelColumn)'; label more cells or lower heldout_fraction")
        }
        return (s, ds, ck, data)
    }

    public static func check(_ context: WorkflowContext) throws { _ = try prepare(context) }

    public static func run(_ context: WorkflowContext) throws {
        context.emit(JobEvent(kind: .progress, phase: "load", step: 0, total: 1))
        let (s, ds, ck, data) = try prepare(context)
        context.emit(JobEvent(kind: .progress, phase: "load", step: 1, total: 1))
        let (trainer, pre, total) = try train(context, s, data, ck)

        try context.checkCancelled()
        let cells = data.labels.cellCount
        context.emit(JobEvent(kind: .progress, phase: "embed", step: 0, total: cells))
        let (latent, x) = try ClusterSupCon.embedFineTuned(trainer, data) { done in
            try context.checkCancelled()
            context.emit(JobEvent(kind: .progress, phase: "embed", step: done, total: cells))
        }

        try context.checkCancelled()
        let parts = s.resolutions.count + 2
        context.emit(JobEvent(kind: .progress, phase: "cluster", step: 0, total: parts))
        let ev = try ClusterEvaluation.run(embedding: x, truth: data.labels.codes, heldOut: data.labels.heldOut,
                                           classCount: data.labels.classes.count, resolutions: s.resolutions,
                                           neighbors: s.neighbors, seed: s.seed) { done in
            try context.checkCancelled()
            context.emit(JobEvent(kind: .progress, phase: "cluster", step: done + 1, total: parts))
        }
        context.emit(JobEvent(kind: .progress, phase: "cluster", step: parts, total: parts))

        context.emit(JobEvent(kind: .progress, phase: "write", step: 0, total: 1))
        try writeResult(context, ds, latent: latent, projection: x, ev, data, s)
        let modelURL = try context.artifactURL("model.tsr")
        try trainer.write(to: modelURL, genes: data.vocabulary, progress: ["step": Double(total), "phase": 2])
        context.emitArtifact("model.tsr", kind: "checkpoint")
        var metrics = ev.scores
        metrics["cells"] = Double(ds.cellCount)
        metrics["pretrain_steps"] = Double(pre); metrics["finetune_steps"] = Double(s.steps)
        metrics["position_embedding"] = s.positionEmbedding && data.hasCoordinates ? 1 : 0
        let details: [String: JSONValue] = [
            "classes": .array(data.labels.classes.map { .string($0) }),
            "resolutions": .array(ev.resolutions.map { .number($0) }),
            "clusters_per_resolution": .array(ev.partitions.map { .number(Double(Set($0).count)) }),
            "stability_per_resolution": .array((ev.stability ?? []).map { .number($0) }),
            "checkpoint": ck == nil ? .string("none: pretrained on the data's training cells") : .string(try context.string("checkpoint")),
        ]
        try context.writeMetrics(metrics, details: details)
        context.emit(JobEvent(kind: .progress, phase: "write", step: 1, total: 1))
    }

    /// Pretraining (without a checkpoint) and SupCon fine-tuning as job steps with progress, cancellation,
    /// checkpoints and resume; returns the fine-tuned trainer, the pretraining step count and the total. Shared
    /// with `annotate`.
    static func train(_ context: WorkflowContext, _ s: ClusterSupConSettings, _ data: ClusterSupConData,
                      _ ck: Checkpoint?) throws -> (trainer: SupConTrainer, pretrainSteps: Int, totalSteps: Int) {
        let pre = ck == nil ? s.pretrainSteps : 0, total = pre + s.steps
        let store = TrainingCheckpoints(context.folder)

        // The state to start from: a checkpoint of this job (either phase), else the given or a fresh model.
        var model: CellLM, pretrainer: Trainer?, tuner: SupConTrainer?
        var start = 0
        if let last = store.latest(), last.step <= total {
            let f = try TensorFile.read(last.url)
            start = last.step
            if f.entry("head.shape") != nil {
                var cfg = try Checkpoint.read(last.url).model.config
                cfg.positionEmbedding = s.positionEmbedding
                let t = try SupConTrainer.read(last.url, options: ClusterSupCon.fineTuneOptions(s), temperature: s.temperature, config: cfg).trainer
                tuner = t; model = t.model
            } else {
                let c = try Checkpoint.read(last.url)
                var cfg = c.model.config
                cfg.positionEmbedding = s.positionEmbedding
                model = CellLM(config: cfg, params: c.model.params, seed: 0)
                model.rng = c.model.rng; model.step = c.model.step
                if start < pre { pretrainer = try ClusterSupCon.pretrainer(model, optimizer: c.optimizer, schedule: c.schedule) }
            }
        } else if let ck {
            model = ClusterSupCon.model(from: ck, settings: s)
        } else {
            model = try ClusterSupCon.freshModel(data, settings: s)
        }
        if start < pre && pretrainer == nil { pretrainer = try ClusterSupCon.pretrainer(model) }

        func save(_ n: Int) throws {
            let url = store.url(step: n)
            try FileManager.default.createDirectory(at: store.directory, withIntermediateDirectories: true)
            if let tuner, n > pre {
                try tuner.write(to: url, genes: data.vocabulary, progress: ["step": Double(n), "phase": 2])
            } else {
                try Checkpoint(model: model, genes: data.vocabulary, optimizer: pretrainer?.optimizer, schedule: pretrainer?.schedule,
                               progress: ["step": Double(n), "phase": 1]).write(to: url)
            }
            context.emit(JobEvent(kind: .checkpoint, step: n, path: "checkpoints/\(url.lastPathComponent)"))
            for old in store.all().dropLast(store.keep) { try? FileManager.default.removeItem(at: old.url) }
        }
        let every = max(1, min(100, total / 5))
        try TrainingLoop(context, phase: "train", total: total, checkpointEvery: every).run(from: start, step: { st in
            if st < pre {
                let l = try pretrainer!.step(data.pretrainBatch(step: st, seed: s.seed, limit: s.cellsPerStep))
                return ["loss": Double(l.total), "stage": 1]
            }
            if tuner == nil { tuner = try ClusterSupCon.fineTuner(model, settings: s) }
            let (seq, codes) = data.fineTuneBatch(step: st - pre, seed: s.seed, limit: s.cellsPerStep)
            let l = try tuner!.step(seq, labels: codes)
            return ["loss": Double(l.loss), "stage": 2, "anchors": Double(l.anchors)]
        }, save: save)
        if tuner == nil { tuner = try ClusterSupCon.fineTuner(model, settings: s) }   // steps = 0: the untrained head
        return (tuner!, pre, total)

    }

    static func writeResult(_ context: WorkflowContext, _ ds: Dataset, latent: Matrix, projection: Matrix, _ ev: ClusterEvaluation,
                            _ data: ClusterSupConData, _ s: ClusterSupConSettings) throws {
        func categorical(_ labels: [Int]) -> ObsValues {
            let k = (labels.max() ?? -1) + 1
            return .categorical(Categorical(codes: labels.map { Int32($0) }, categories: (0..<k).map(String.init)))
        }
        let best = ev.resolutions.firstIndex { $0 == ev.scores["resolution_best_ari_incl_training"] } ?? ev.labelFreeIndex
        var extras = H5ADExtras()
        extras.obsm = [("X_tessera", latent), ("X_tessera_supcon", projection)]
        extras.obs["leiden"] = categorical(ev.partitions[ev.labelFreeIndex])
        extras.obs["leiden_best_incl_training"] = categorical(ev.partitions[best])
        extras.obs["kmeans"] = categorical(ev.kmeans)
        extras.obs["supcon_heldout"] = .bool(data.labels.heldOut)
        extras.tessera = [("workflow", .string(name)), ("version", .string(context.spec.version)),
                          ("parameters", .string(context.parametersJSON()))]
        let finite = ev.scores.filter { $0.value.isFinite }.sorted { $0.key < $1.key }
        extras.uns = [
            ("leiden", .dict([("params", .dict([("resolution", .number(ev.resolutions[ev.labelFreeIndex])),
                                                ("n_neighbors", .number(Double(s.neighbors)))]))])),
            ("cluster_supcon", .dict([("label_column", .string(s.labelColumn)), ("classes", .strings(data.labels.classes)),
                                      ("clustered_on", .string("X_tessera_supcon")),
                                      ("label_free_rule", .string("the most stable resolution across \(ClusterEvaluation.stabilitySeeds) Leiden seeds (mean pairwise ARI; within 0.01 of the best, the finest)")),
                                      ("resolutions", .numbers(ev.resolutions)),
                                      ("stability", .numbers(ev.stability ?? [])),
                                      ("clusters_per_resolution", .numbers(ev.partitions.map { Double(Set($0).count) })),
                                      ("scores", .dict(finite.map { ($0.key, .number($0.value)) }))])),
        ]
        try RenderStep.run(context, dataset: ds, extras: &extras, embedding: projection, colour: "leiden")  // X_umap from the space Leiden clustered + the map
        let out = try context.artifactURL("result.h5ad")
        try H5ADWriter.write(ds, to: out.path, extras: extras)
        context.emitArtifact("result.h5ad", kind: "h5ad")
    }
}
