import CellLM
import Foundation
import SpatialData
import Tensor

/// `pretrain`: trains a cell language model from scratch on any number of spatial and scRNA datasets
/// (`PretrainCorpus`: gene-union vocabulary, per-dataset measured-gene masks, one FOV or sample per step in a
/// seeded order, the spatial position embedding on when some input has coordinates and the parameter allows).
/// The from-scratch recipe of LearningTests/`tessera-bench learn`: data-dependent decoder bias, the embedder at
/// the full rate, linear warm-up. Checkpoints every `checkpoint_every` steps in `checkpoints/` (a rerun resumes
/// from the last) and writes `artifacts/model.tsr` (kind "checkpoint") and `artifacts/metrics.json`.
public enum PretrainWorkflow: WorkflowImplementation {
    public static let name = "pretrain"

    public static func check(_ context: WorkflowContext) throws {
        let corpus = try PretrainCorpus.load(context)
        _ = try config(context, corpus: corpus)
    }

    /// The model config for the corpus: the preset's shapes over the vocabulary, one decoder batch embedding
    /// per sequence and one dataset embedding per input, and the job's training knobs.
    static func config(_ context: WorkflowContext, corpus: PretrainCorpus) throws -> CellLMConfig {
        let preset = try context.string("preset")
        guard var c = CellLMConfig.preset(preset, genes: corpus.vocabulary.count, batchCount: corpus.batchCount) else {
            throw WorkflowError.invalidParameter(name: "preset", message: "'\(preset)' is not a preset; allowed: tiny, small, base")
        }
        c.datasetCount = corpus.datasetCount
        c.latent = try context.string("latent") == "gmvae" ? .gmvae : .vae
        c.positionEmbedding = try context.bool("position_embedding") && corpus.hasCoordinates
        c.dropout = try context.float("dropout")
        c.maskCellRate = try context.float("mask_cell_rate")
        c.maskGeneRate = try context.float("mask_gene_rate")
        c.maxCells = try context.int("max_cells")
        do { try c.validate() } catch { throw WorkflowError.invalidParameter(name: "preset", message: error.description) }
        return c
    }

    static func options(_ context: WorkflowContext) throws -> TrainingOptions {
        var o = TrainingOptions()
        o.learningRate = try context.float("lr")
        o.warmupSteps = try context.int("warmup_steps")
        o.weightDecay = try context.float("weight_decay")
        o.embedderLRScale = try context.float("embedder_lr_scale")
        return o
    }

    public static func run(_ context: WorkflowContext) throws {
        let loadStart = Date()
        context.emit(JobEvent(kind: .progress, phase: "load", step: 0, total: 1))
        let corpus = try PretrainCorpus.load(context)
        let cfg = try config(context, corpus: corpus)
        context.emit(JobEvent(kind: .progress, phase: "load", step: 1, total: 1,
                              values: ["seconds": Date().timeIntervalSince(loadStart), "cells": Double(corpus.cells),
                                       "genes": Double(corpus.vocabulary.count), "sequences": Double(corpus.train.count + corpus.heldOut.count)]))
        let steps = try context.int("steps")
        let store = TrainingCheckpoints(context.folder)
        let curve = LossCurve(context.folder)

        let model: CellLM, trainer: Trainer, start: Int
        var progress: [String: Double] = [:]
        if let last = store.latest() {
            let ckpt = try Checkpoint.read(last.url, expect: cfg)
            guard ckpt.genes == corpus.vocabulary else {
                throw WorkflowError.badInput(role: "spatial", file: last.url.path,
                    message: "was saved for another gene vocabulary (\(ckpt.genes.count) genes, now \(corpus.vocabulary.count)); the inputs changed since it was written; delete checkpoints/ to start over")
            }
            model = ckpt.model
            trainer = try Trainer(model: model, options: try options(context), optimizer: ckpt.optimizer, schedule: ckpt.schedule)
            start = min(last.step, steps)
            progress = ckpt.progress
            context.emit(JobEvent(kind: .message, step: start, text: "resuming from \(last.url.lastPathComponent) at step \(start)"))
        } else {
            model = try CellLM(config: cfg, seed: context.seed)
            model.initializeDecoderBias(from: corpus.train)
            trainer = try Trainer(model: model, options: try options(context))
            start = 0
        }
        curve.truncate(to: start)

        // Held-out masked-gene NB loss against a per-gene mean profile (scored before the first step and at the end).
        let stats = MaskedEvaluation.geneStatistics(corpus.train)
        let evalSeqs = corpus.heldOut.map { capped($0, cells: 2000, seed: context.seed) }
        if !evalSeqs.isEmpty && start == 0 {
            progress["heldout_nll_start"] = try MaskedEvaluation.evaluate(model: model, sequences: evalSeqs, profile: stats.mean,
                                                                           baselineTheta: stats.theta, seed: context.seed).model
        }

        func checkpoint() -> Checkpoint {
            Checkpoint(model: model, genes: corpus.vocabulary, optimizer: trainer.optimizer, schedule: trainer.schedule, progress: progress)
        }
        let every = try context.int("checkpoint_every")
        try TrainingLoop(context, phase: "train", total: steps, checkpointEvery: every, epochLength: corpus.train.count)
            .run(from: start, step: { s in
                let loss = try trainer.step(corpus.sequence(step: s, seed: context.seed))
                curve.append(Double(loss.total), reconstruction: Double(loss.reconstruction))
                return ["loss": Double(loss.total), "reconstruction": Double(loss.reconstruction), "lr": Double(trainer.schedule.rate(step: trainer.optimizer.t))]
            }, save: { s in
                try curve.write()
                try store.save(checkpoint(), step: s, context: context)
            })

        // The model artifact: weights and vocabulary, no optimizer state.
        let out = try context.artifactURL("model.tsr")
        try Checkpoint(model: model, genes: corpus.vocabulary, progress: ["step": Double(steps)]).write(to: out)
        context.emitArtifact("model.tsr", kind: "checkpoint")

        var metrics: [String: Double] = [
            "steps": Double(steps), "cells": Double(corpus.cells), "genes": Double(corpus.vocabulary.count),
            "train_sequences": Double(corpus.train.count), "heldout_sequences": Double(corpus.heldOut.count),
            "parameters": Double(model.params.count), "position_embedding": cfg.positionEmbedding ? 1 : 0,
        ]
        let summary = curve.summary()
        metrics.merge(summary.metrics) { $1 }
        if !evalSeqs.isEmpty {
            let e = try MaskedEvaluation.evaluate(model: model, sequences: evalSeqs, profile: stats.mean, baselineTheta: stats.theta, seed: context.seed)
            metrics["heldout_nll_end"] = e.model
            metrics["heldout_nll_mean_profile"] = e.baseline
            if let s = progress["heldout_nll_start"] { metrics["heldout_nll_start"] = s }
        }
        try context.writeMetrics(metrics, details: ["loss_curve": .array(summary.curve.map { .number($0) }),
                                                    "vocabulary_size": .number(Double(corpus.vocabulary.count))])
    }

    /// At most `cells` cells of a sequence (seeded choice, order kept): bounds the dense N×G evaluation.
    static func capped(_ s: CellSequence, cells: Int, seed: UInt64) -> CellSequence {
        guard s.cells > cells else { return s }
        return s.selecting(SeededShuffle.permutation(s.cells, seed: seed ^ 0xCA99).prefix(cells).sorted())
    }
}
