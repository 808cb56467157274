import CellLM
import Foundation
import SpatialData
import Tensor

/// The compute of cluster-supcon without a job folder: the model (a checkpoint's, or a brief pretraining on the
/// data), SupCon fine-tuning (cellplm.md §6.2), and the embeddings. The workflow drives the same pieces step by
/// step with checkpoints, progress and cancellation; tests and `tessera-bench quality` call `run`.
///
/// Without a checkpoint the model is pretrained from scratch on the training cells only (held-out cells are
/// never seen, not even unsupervised), with the recipe of `tessera-bench learn` / LearningTests: the `small`
/// preset, the diagonal VAE latent, data-dependent decoder bias, the embedder at the full rate, lr 1e-3 with
/// 100 warm-up steps, masked NB reconstruction; `pretrainSteps` steps of one sequence each.
public enum ClusterSupCon {
    /// The model to fine-tune: a pretrained checkpoint's (its vocabulary; the position embedding as asked).
    public static func model(from checkpoint: Checkpoint, settings: ClusterSupConSettings) -> CellLM {
        var cfg = checkpoint.model.config
        cfg.positionEmbedding = settings.positionEmbedding
        let m = CellLM(config: cfg, params: checkpoint.model.params, seed: settings.seed ^ 0x5C)
        m.step = checkpoint.model.step
        return m
    }

    /// A fresh model for pretraining from scratch over the data's vocabulary.
    public static func freshModel(_ data: ClusterSupConData, settings: ClusterSupConSettings) throws -> CellLM {
        guard var cfg = CellLMConfig.preset(settings.preset, genes: data.vocabulary.count) else {
            throw WorkflowError.invalidParameter(name: "preset", message: "is '\(settings.preset)'; allowed: tiny, small")
        }
        cfg.latent = .vae
        cfg.positionEmbedding = settings.positionEmbedding
        let model = try CellLM(config: cfg, seed: settings.seed ^ 0xCE11)
        model.initializeDecoderBias(from: data.trainingSequences)
        return model
    }

    /// The pretraining trainer (the from-scratch recipe above).
    public static func pretrainer(_ model: CellLM, optimizer: AdamW? = nil, schedule: LRSchedule? = nil) throws -> Trainer {
        var o = TrainingOptions()
        o.learningRate = 1e-3; o.warmupSteps = 100; o.embedderLRScale = 1
        return try Trainer(model: model, options: o, optimizer: optimizer, schedule: schedule)
    }

    /// The SupCon trainer: CellPLM's head shape and optimiser groups, warm-up over the first tenth (≤ 30 steps,
    /// the thesis's 30 warm-up epochs).
    public static func fineTuner(_ model: CellLM, settings: ClusterSupConSettings) throws -> SupConTrainer {
        let head = try SupConHead.cellPLMShape(model.config, seed: settings.seed ^ 0x4EAD)
        return try SupConTrainer(model: model, head: head, options: fineTuneOptions(settings), temperature: settings.temperature)
    }

    public static func fineTuneOptions(_ s: ClusterSupConSettings) -> TrainingOptions {
        SupConTrainer.options(learningRate: s.learningRate, warmupSteps: min(30, max(0, s.steps / 10)))
    }

    /// Zero-shot embeddings of every cell (the latent mean), in dataset row order.
    public static func embedLatent(_ model: CellLM, _ data: ClusterSupConData) throws -> Matrix {
        data.datasetOrder(try model.embedMany(data.all.sequences))
    }

    /// Fine-tuned embeddings of every cell (the head's L2-normalised projection), in dataset row order. The
    /// sequences go a few at a time (one per core); `between` gets the cells done after each batch (a workflow
    /// checks cancellation and reports progress there).
    public static func embedProjected(_ trainer: SupConTrainer, _ data: ClusterSupConData,
                                      between: (Int) throws -> Void = { _ in }) throws -> Matrix {
        try embedFineTuned(trainer, data, between: between).projection
    }

    /// Both fine-tuned embeddings of every cell in one pass, dataset row order: `latent`, the fine-tuned model's
    /// latent mean (what users cluster and classify on, `obsm['X_tessera']`), and `projection`, the SupCon
    /// head's L2-normalised output that the contrastive loss sees (`obsm['X_tessera_supcon']`).
    public static func embedFineTuned(_ trainer: SupConTrainer, _ data: ClusterSupConData,
                                      between: (Int) throws -> Void = { _ in }) throws -> (latent: Matrix, projection: Matrix) {
        let seqs = data.all.sequences, chunk = max(1, Parallel.cores)
        var latent: [Matrix] = [], projection: [Matrix] = [], done = 0
        for lo in stride(from: 0, to: seqs.count, by: chunk) {
            let batch = Array(seqs[lo..<min(lo + chunk, seqs.count)])
            for z in try trainer.model.embedMany(batch) { latent.append(z); projection.append(try trainer.head.project(z)) }
            done += batch.reduce(0) { $0 + $1.cells }
            try between(done)
        }
        return (data.datasetOrder(latent), data.datasetOrder(projection))
    }

    /// What `run` produced.
    public struct Outcome: Sendable {
        public var data: ClusterSupConData
        /// Latent means before fine-tuning (dataset order).
        public var zeroShot: Matrix
        /// SupCon head projections after fine-tuning (dataset order).
        public var fineTuned: Matrix
        /// The fine-tuned model's latent means (dataset order).
        public var fineTunedLatent: Matrix
        public var pretrainLoss: [Float]
        public var fineTuneLoss: [Float]
    }

    /// Everything in memory: prepare, (pretrain,) embed zero-shot, fine-tune, embed. `checkpoint` nil pretrains
    /// for `settings.pretrainSteps` first.
    public static func run(_ dataset: Dataset, settings: ClusterSupConSettings, checkpoint: Checkpoint? = nil) throws -> Outcome {
        let data = try ClusterSupConData.prepare(dataset, settings: settings, vocabulary: checkpoint?.genes)
        let model: CellLM
        var pretrainLoss: [Float] = []
        if let checkpoint { model = self.model(from: checkpoint, settings: settings) } else {
            model = try freshModel(data, settings: settings)
            let trainer = try pretrainer(model)
            for s in 0..<settings.pretrainSteps {
                pretrainLoss.append(try trainer.step(data.pretrainBatch(step: s, seed: settings.seed, limit: settings.cellsPerStep)).total)
            }
        }
        let zeroShot = try embedLatent(model, data)
        let tuner = try fineTuner(model, settings: settings)
        var fineTuneLoss: [Float] = []
        if data.canFineTune {
            for s in 0..<settings.steps {
                let (seq, codes) = data.fineTuneBatch(step: s, seed: settings.seed, limit: settings.cellsPerStep)
                fineTuneLoss.append(try tuner.step(seq, labels: codes).loss)
            }
        }
        let tuned = try embedFineTuned(tuner, data)
        return Outcome(data: data, zeroShot: zeroShot, fineTuned: tuned.projection, fineTunedLatent: tuned.latent,
                       pretrainLoss: pretrainLoss, fineTuneLoss: fineTuneLoss)
    }
}
