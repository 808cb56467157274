import CellLM
import Foundation
import SpatialData
import Tensor

/// Settings of imputation fine-tuning. Defaults are the values `workflows/impute.json` declares.
public struct ImputationSettings: Sendable, Equatable {
    /// Model shapes when training from scratch (`CellLMConfig.preset`).
    public var preset = "tiny"
    public var steps = 1_000
    public var learningRate: Float = 1e-3
    public var warmupSteps = 100
    public var weightDecay: Float = 1e-6
    public var dropout: Float = 0.2
    /// The spatial position embedding. Off by default: the reference has no coordinates, so it would enter
    /// the encoder with the missing-position vector while the query does not, which separates the two in
    /// the latent space that imputation needs to share.
    public var positionEmbedding = false
    /// Zero the genes the query lacks in the reference's input on every step (they stay in its loss).
    public var hideMissingFromReference = true
    /// Decode query cells with the reference's dataset embedding (predict what the reference platform would
    /// measure for the cell), instead of the query's own. Only for models trained from scratch here.
    public var decodeAsReference = true
    /// Cells per sequence above which a query without FOVs is cut into spatial tiles.
    public var maxCellsPerSequence = 4_000
    /// Rescale each query cell's predicted means to its own observed panel library (CellPLM), or with one
    /// factor for all cells (for values that are already normalised per cell, where totals carry no depth).
    public var perCellRescaling = true
    /// Library-size normalise the model's input (each cell's panel counts scaled to a total of 1e4, the
    /// loss still on raw counts): query and reference of very different depth (osmFISH ~190 counts on 33
    /// genes, Smart-seq ~5,000) then enter the encoder alike. CellPLM feeds raw counts (false).
    public var normalizeInput = false
    /// Harmonise the model's input across platforms: each query panel gene is scaled by the ratio of its mean
    /// expression in the reference to that in the query (of library-normalised values with `normalizeInput`,
    /// else of counts), so both datasets enter the encoder with the same per-gene means (a platform's
    /// per-gene capture differs; SpaGE z-scores each dataset's genes for the same reason). The loss keeps the
    /// raw counts. Off by default: it lowered Pearson on the development pair.
    public var harmonizeInput = false
    /// How predictions are read from the fine-tuned model.
    public enum Transfer: String, Sendable, CaseIterable {
        /// The NB decoder's means for the target genes (CellPLM).
        case decoder
        /// The mean library-normalised target values of the `transferNeighbours` reference cells nearest to the
        /// query cell in the model's latent space (reference cells embedded from the query's panel genes only).
        case neighbours
    }
    public var transfer: Transfer = .decoder
    public var transferNeighbours = 50
    /// Zero the NB decoder's output weights of a model from scratch, so it starts at the mean profile.
    public var zeroDecoderOutput = true
    public var seed: UInt64 = 0
    /// Models fine-tuned independently (member m from `memberSeed(m)`), whose predictions are averaged. Each
    /// model from scratch on a ~1,000-cell reference carries seed-to-seed noise that averaging removes. Chosen
    /// with `steps` on four development pairs (mean Pearson over them): one model of 3,000 steps 0.182, three
    /// of 1,000 0.188, five of 1,000 0.191, three of 3,000 0.195; five of 1,000 is the cheapest within 0.005
    /// of the best, at 1.7 times one model's compute.
    public var ensemble = 5
    /// Fraction of cells per step whose measured genes are partly masked in the input (a Beta-drawn rate),
    /// as augmentation, for a model from scratch; the loss covers every kept cell either way. CellPLM's
    /// imputation uses 0.95. On the development suite (`tessera-bench quality-impute --pairs suite`, at the
    /// defaults otherwise) 0 scored a mean of 0.200 against 0.191 with 0.95 (A / N / B / C: 0.264 / 0.100 /
    /// 0.259 / 0.176 against 0.233 / 0.094 / 0.263 / 0.173): with the genes the query lacks already hidden
    /// from the reference's input, masking more of the panel only removes evidence.
    public var maskCellRate: Float = 0
    /// The fine-tuning loss. CellPLM's is the NB NLL of the counts (`.nb`); ours squares errors on the
    /// log-normalised scale the imputation is scored on (`.logMSE`), which weighs a sparse marker like an
    /// abundant gene and is robust to the heavy tails of real scRNA counts. Chosen on two real references, each
    /// split in two with held-out genes (`tessera-bench quality-impute --pairs reference-split` and
    /// `tasic-split`; single models, seeds 0–3, query at 10 % and 100 % depth): log_mse 0.420 and 0.365 against
    /// nb 0.350 and 0.334 (kNN 0.429 / 0.419, SpaGE-style 0.388 / 0.404). The simulated development suite
    /// prefers nb (A / N / B: 0.153 / 0.074 / 0.199 against 0.264 / 0.100 / 0.259), but its counts are drawn
    /// from an NB, the very model the nb loss fits; the real references' counts are far more dispersed (median
    /// per-gene CV 6.6 in the Allen reference against 1.1–3.4 in the suite's).
    public var loss: ReconstructionLoss = .logMSE
    /// Start from these weights (their gene vocabulary and shapes) instead of from scratch.
    public var checkpoint: URL?
    public init() {}

    /// Seed of ensemble member `m` (member 0 is the job's seed, so an ensemble of one is the single model).
    public func memberSeed(_ m: Int) -> UInt64 { seed &+ UInt64(m) &* 0x9E37_79B9 }
}

/// Imputation of a spatial query's missing genes from an scRNA reference with a cell language model
/// (cellplm.md §5.2): fine-tune on query + reference with per-dataset measured-gene masks (the query's loss
/// only on its panel, the reference's on all its genes; `settings.loss`; vocabulary = the gene union, or the
/// checkpoint's), then decode the query's cells and read the genes it lacks.
///
/// Prediction (documented rescaling): in inference mode, each query cell's decoder means μ_ig come from its panel
/// counts; its size factor is s_i = Σ_{g ∈ panel} x_ig / Σ_{g ∈ panel} μ_ig (observed over predicted totals
/// of the panel genes the query shows the model), and the imputed value of gene t is s_i·μ_it, on the
/// query's count scale. This is CellPLM's "rescale so predicted totals over the input genes match the
/// observed library". With `perCellRescaling` off, one factor Σ_i Σ_panel x / Σ_i Σ_panel μ serves every cell
/// (for inputs already normalised per cell, whose totals are not a depth).
///
/// Training order is a pure function of (seed, step): even steps take a query sequence, odd steps a
/// reference sequence, each chosen with a generator seeded by the step, so a resumed run makes the same
/// choices.
public final class Imputer {
    public let settings: ImputationSettings
    /// Model vocabulary (gene names).
    public let vocabulary: [String]
    public let model: CellLM
    public let trainer: Trainer
    public let query: SequenceSet
    public let reference: SequenceSet
    /// Vocabulary indices of the query's panel genes that the model sees.
    public let panel: [Int32]
    /// `panel` as a vocabulary-length mask.
    let inPanel: [Bool]
    /// Vocabulary indices hidden from the reference's input (genes the query lacks), when enabled.
    public let hiddenFromReference: [Int32]
    /// The dataset label the reference was given (nil: no dataset embedding, e.g. a pretrained checkpoint's).
    let referenceLabel: Int32?
    let queryCells: Int
    /// Per-vocabulary-gene input factors of the query (`harmonizeInput`), nil when off.
    let queryGeneScale: [Float]?

    /// query: the spatial panel as the model may see it (held-out genes already removed); reference: scRNA.
    /// `resume`: a checkpoint of an earlier attempt of this same run (its vocabulary must match).
    public init(query q: Dataset, reference r: Dataset, settings: ImputationSettings, resume: Checkpoint? = nil) throws {
        self.settings = settings
        var q = q
        if q.fov == nil, q.cellCount > settings.maxCellsPerSequence {
            let tiles = (q.cellCount + settings.maxCellsPerSequence - 1) / settings.maxCellsPerSequence
            q = DatasetSequences.tiled(q, grid: max(2, tiles.squareRootCeiling))
        }
        let base: Checkpoint? = try resume ?? settings.checkpoint.map { try Checkpoint.read($0) }
        let fromScratch = settings.checkpoint == nil
        if let base, !base.genes.isEmpty {
            vocabulary = base.genes
        } else if let base {
            throw WorkflowError.badInput(role: "checkpoint", file: settings.checkpoint?.path ?? "?",
                message: "stores no gene names (\(base.model.config.genes) genes), so the query's genes cannot be placed in its vocabulary; use a checkpoint written by tessera pretrain or converted with its gene list")
        } else {
            vocabulary = GeneVocabulary.union([q, r])
        }
        let labels: (Int32?, Int32?) = fromScratch ? (0, 1) : (nil, nil)
        query = try DatasetSequences.make(q, vocabulary: vocabulary, datasetLabel: labels.0)
        reference = try DatasetSequences.make(r, vocabulary: vocabulary, datasetLabel: labels.1)
        referenceLabel = labels.1
        queryCells = q.cellCount
        panel = query.sequences.first?.measured ?? []
        var mask = [Bool](repeating: false, count: vocabulary.count)
        for g in panel { mask[Int(g)] = true }
        inPanel = mask
        hiddenFromReference = settings.hideMissingFromReference
            ? (reference.sequences.first?.measured ?? []).filter { !mask[Int($0)] } : []
        queryGeneScale = settings.harmonizeInput
            ? Imputer.harmonizingScale(query: query, reference: reference, inPanel: mask, libraryNormalized: settings.normalizeInput) : nil

        var options = TrainingOptions()
        options.learningRate = settings.learningRate
        options.warmupSteps = settings.warmupSteps
        options.weightDecay = settings.weightDecay
        options.embedderLRScale = 1
        if let resume {
            model = resume.model
            trainer = try Trainer(model: model, options: options, optimizer: resume.optimizer, schedule: resume.schedule)
        } else if let base {
            model = base.model
            model.rng = SeededRNG(seed: settings.seed)
            trainer = try Trainer(model: model, options: options)
        } else {
            guard var c = CellLMConfig.preset(settings.preset, genes: vocabulary.count) else {
                throw WorkflowError.invalidParameter(name: "preset", message: "'\(settings.preset)' is not a preset; allowed: tiny, small, base")
            }
            c.datasetCount = 2
            c.latent = .vae
            c.positionEmbedding = settings.positionEmbedding
            c.dropout = settings.dropout
            // CellPLM's imputation masks 95 % of cells (augmentation); ours `maskCellRate`. Cells capped high.
            c.maskCellRate = settings.maskCellRate
            c.maxCells = 70_000
            model = try CellLM(config: c, seed: settings.seed)
            model.initializeDecoderBias(from: query.sequences + reference.sequences)
            if settings.zeroDecoderOutput {
                // Start from the mean profile exactly: with random output weights the first steps only learn
                // to silence the decoder's cell-to-cell noise, which collapses the encoder on low-contrast
                // panels (seqFISH: all cells decoded to one profile within 30 steps).
                let w = "decoder.out_layer.dec_mean.0.weight"
                model.params.set(w, [Float](repeating: 0, count: model.params.info(w).count))
            }
            trainer = try Trainer(model: model, options: options)
        }
    }

    /// Steps taken so far (a resumed model continues its count).
    public var stepsTaken: Int { trainer.optimizer.t }

    /// The sequence trained at `step`: alternately query and reference, seeded by the step.
    public func sequence(step: Int) -> (seq: CellSequence, isReference: Bool) {
        var rng = SeededRNG(seed: settings.seed &+ 0x1A9E_0000 &+ UInt64(step))
        let useReference = step % 2 == 1 && !reference.sequences.isEmpty
        let set = useReference ? reference : query
        return (set.sequences[rng.int(below: set.sequences.count)], useReference)
    }

    /// One optimizer step (`step` = the index of this step, 0-based).
    @discardableResult
    public func train(step: Int) throws -> StepLoss {
        let (seq, isRef) = sequence(step: step)
        return try trainer.imputationStep(seq, hiddenInput: isRef ? hiddenFromReference : [],
                                          inputScale: settings.normalizeInput ? inputScale(seq) : nil,
                                          geneScale: isRef ? nil : queryGeneScale, reconstruction: settings.loss)
    }

    /// Per-gene query input factors: the reference's mean of x_g (of 1e4·x_g / panel total when
    /// `libraryNormalized`) divided by the same mean over query cells, for each panel gene both express (1
    /// elsewhere).
    static func harmonizingScale(query: SequenceSet, reference: SequenceSet, inPanel: [Bool], libraryNormalized: Bool) -> [Float] {
        let genes = inPanel.count
        func means(_ set: SequenceSet) -> [Double] {
            var sum = [Double](repeating: 0, count: genes)
            var cells = 0
            for seq in set.sequences {
                for (i, total) in panelTotals(seq, inPanel).enumerated() where total > 0 {
                    cells += 1
                    let f = libraryNormalized ? 1e4 / Double(total) : 1
                    for z in seq.counts.indptr[i]..<seq.counts.indptr[i + 1] where inPanel[Int(seq.counts.indices[z])] {
                        sum[Int(seq.counts.indices[z])] += f * Double(seq.counts.values[z])
                    }
                }
            }
            return sum.map { cells > 0 ? $0 / Double(cells) : 0 }
        }
        let q = means(query), r = means(reference)
        return (0..<genes).map { g in inPanel[g] && q[g] > 0 && r[g] > 0 ? Float(r[g] / q[g]) : 1 }
    }

    /// Each cell's total over the genes `inPanel` marks.
    static func panelTotals(_ seq: CellSequence, _ inPanel: [Bool]) -> [Float] {
        (0..<seq.cells).map { i in
            var total: Float = 0
            for z in seq.counts.indptr[i]..<seq.counts.indptr[i + 1] where inPanel[Int(seq.counts.indices[z])] { total += seq.counts.values[z] }
            return total
        }
    }

    /// The query sequence as the model sees it at inference: per-cell and per-gene input factors applied,
    /// decoded with the reference's dataset label when `decodeAsReference`.
    func inferenceInput(_ seq: CellSequence) -> CellSequence {
        var input = seq
        if settings.decodeAsReference, let referenceLabel { input.dataset = [Int32](repeating: referenceLabel, count: seq.cells) }
        let f = settings.normalizeInput ? inputScale(seq) : nil
        guard f != nil || queryGeneScale != nil else { return input }
        for r in 0..<seq.cells {
            for z in seq.counts.indptr[r]..<seq.counts.indptr[r + 1] {
                input.counts.values[z] *= (f?[r] ?? 1) * (queryGeneScale?[Int(seq.counts.indices[z])] ?? 1)
            }
        }
        return input
    }

    /// Per-cell input factors 1e4 / (the cell's total over the query's panel genes), 1 for a cell without
    /// panel counts.
    func inputScale(_ seq: CellSequence) -> [Float] {
        Imputer.panelTotals(seq, inPanel).map { $0 > 0 ? 1e4 / $0 : 1 }
    }

    /// Vocabulary index of each gene name (GeneHarmonizer's key), nil when the model does not know it.
    public func vocabularyIndex(_ genes: [String]) -> [Int?] {
        var byKey: [String: Int] = [:]
        for (i, g) in vocabulary.enumerated() where byKey[GeneHarmonizer.normalizedKey(g)] == nil { byKey[GeneHarmonizer.normalizedKey(g)] = i }
        return genes.map { byKey[GeneHarmonizer.normalizedKey($0)] }
    }

    /// Vocabulary index of each column of `ds` (matched by id or symbol, as the sequences were built), nil
    /// for columns the vocabulary lacks.
    public func vocabularyIndex(columns: [Int], of ds: Dataset) -> [Int?] {
        var colToVocab: [Int: Int] = [:]
        for (v, col) in DatasetSequences.align(ds, to: vocabulary).enumerated() { if let col, colToVocab[col] == nil { colToVocab[col] = v } }
        return columns.map { colToVocab[$0] }
    }

    /// Imputed values of the given genes by name; see `predict(vocabulary:)`.
    public func predict(genes: [String]) throws -> (values: Matrix, panelLibrary: [Double]) {
        let idx = vocabularyIndex(genes)
        if let k = idx.firstIndex(where: { $0 == nil }) {
            throw WorkflowError.invalidParameter(name: "genes", message: "gene '\(genes[k])' is not in the model's vocabulary of \(vocabulary.count) genes")
        }
        return try predict(vocabulary: idx.map { $0! })
    }

    /// Imputed values (query cells in dataset order × the given vocabulary genes, count scale, rescaled per
    /// cell as described on the type; `perCellRescaling` overrides the setting) and each cell's observed panel
    /// library Σ_{g ∈ panel} x_ig.
    public func predict(vocabulary cols: [Int], perCellRescaling: Bool? = nil) throws -> (values: Matrix, panelLibrary: [Double]) {
        if settings.transfer == .neighbours { return try predictFromNeighbours(vocabulary: cols, perCellRescaling: perCellRescaling) }
        let T = cols.count
        var out = Matrix(rows: queryCells, cols: T)
        var library = [Double](repeating: 0, count: queryCells)
        let G = vocabulary.count
        var scales = [Double](repeating: 0, count: queryCells)
        var totalObserved = 0.0, totalPredicted = 0.0
        for (k, seq) in query.sequences.enumerated() {
            let mu = try model.reconstruct(inferenceInput(seq))                            // N×G NB means
            for i in 0..<seq.cells {
                var observed = 0.0, predicted = 0.0
                for z in seq.counts.indptr[i]..<seq.counts.indptr[i + 1] { observed += Double(seq.counts.values[z]) }
                for g in panel { predicted += Double(mu.data[i * G + Int(g)]) }
                let row = query.rows[k][i]
                library[row] = observed
                scales[row] = predicted > 0 ? observed / predicted : 0
                totalObserved += observed; totalPredicted += predicted
                for (t, g) in cols.enumerated() { out.data[row * T + t] = mu.data[i * G + g] }
            }
        }
        let global = totalPredicted > 0 ? totalObserved / totalPredicted : 0
        for row in 0..<queryCells {
            let f = Float(perCellRescaling ?? settings.perCellRescaling ? scales[row] : global)
            for t in 0..<T { out.data[row * T + t] *= f }
        }
        return (out, library)
    }

    /// A checkpoint of the whole training state (resumes bit for bit).
    public func checkpoint(progress: [String: Double] = [:]) -> Checkpoint {
        Checkpoint(model: model, genes: vocabulary, optimizer: trainer.optimizer, schedule: trainer.schedule, progress: progress)
    }
}

extension Int {
    /// ⌈√self⌉ for non-negative values.
    var squareRootCeiling: Int { Int(Double(self).squareRoot().rounded(.up)) }
}
