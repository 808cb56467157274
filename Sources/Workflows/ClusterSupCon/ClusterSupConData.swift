import CellLM
import Foundation
import SpatialData
import Tensor

/// Settings of a cluster-supcon run (the workflow's parameters, typed). `validate` refuses out-of-range values
/// with the parameter's name and the allowed range, before any compute.
public struct ClusterSupConSettings: Sendable, Equatable {
    public var labelColumn: String
    /// Fraction of each class's labelled cells held out of fine-tuning (and of the brief pretraining).
    public var heldOutFraction = 0.2
    /// SupCon fine-tuning steps (one sequence, at most `cellsPerStep` of its training cells, per step).
    public var steps = 1000
    public var learningRate: Float = 5e-4
    public var temperature: Float = 0.07
    public var positionEmbedding = true
    public var resolutions = ClusterEvaluation.grid(min: 0.1, max: 1.4, step: 0.1)
    /// scanpy's n_neighbors (the cell itself counts).
    public var neighbors = 15
    public var cellsPerStep = 1024
    /// Steps of masked-reconstruction pretraining when no checkpoint is given.
    public var pretrainSteps = 400
    /// Model preset for pretraining from scratch ("tiny" or "small").
    public var preset = "small"
    /// Sections without FOVs are cut into tileGrid × tileGrid tiles by position (1 = not cut).
    public var tileGrid = 5
    public var seed: UInt64 = 0

    public init(labelColumn: String) { self.labelColumn = labelColumn }

    public func validate() throws(WorkflowError) {
        func bad(_ name: String, _ v: Any, _ allowed: String) -> WorkflowError {
            .invalidParameter(name: name, message: "is \(v); allowed: \(allowed)")
        }
        if labelColumn.isEmpty { throw bad("label_column", "empty", "the name of an obs column holding cell types or domains") }
        if !(heldOutFraction >= 0 && heldOutFraction <= 0.9) { throw bad("heldout_fraction", heldOutFraction, "0 to 0.9") }
        if !(0...100_000).contains(steps) { throw bad("steps", steps, "0 to 100000") }
        if !(learningRate > 0 && learningRate <= 0.1) { throw bad("lr", learningRate, "above 0, at most 0.1 (CellPLM's SupCon: 5e-4)") }
        if !(temperature >= 0.01 && temperature <= 10) { throw bad("temperature", temperature, "0.01 to 10 (CellPLM's SupCon: 0.07)") }
        if resolutions.isEmpty || resolutions.contains(where: { !($0 > 0 && $0 <= 10) }) {
            throw bad("resolution_min/resolution_max/resolution_step", resolutions, "a non-empty grid of resolutions in (0, 10], e.g. 0.1 to 1.4 by 0.1")
        }
        if !(2...200).contains(neighbors) { throw bad("n_neighbors", neighbors, "2 to 200 (scanpy: 15)") }
        if !(16...200_000).contains(cellsPerStep) { throw bad("cells_per_step", cellsPerStep, "16 to 200000") }
        if !(0...100_000).contains(pretrainSteps) { throw bad("pretrain_steps", pretrainSteps, "0 to 100000") }
        if !["tiny", "small"].contains(preset) { throw bad("preset", preset, "tiny, small") }
        if !(1...64).contains(tileGrid) { throw bad("tile_grid", tileGrid, "1 to 64") }
    }
}

/// A dataset prepared for cluster-supcon: labels and split, the sequences of all cells (for embedding) and the
/// sequences of the training cells only (held-out cells removed), in the model's vocabulary.
public struct ClusterSupConData: Sendable {
    public var labels: SupervisedLabels
    public var vocabulary: [String]
    /// All cells, one sequence per FOV/sample/tile; `all.rows` maps back to dataset rows.
    public var all: SequenceSet
    /// Per sequence of `all`: its training cells (positions within the sequence) and their training codes.
    public var trainingRows: [[Int]]
    public var hasCoordinates: Bool

    /// Reads labels, splits, tiles and aligns. `vocabulary` nil = the dataset's own measured genes. Errors name
    /// the role and file (no shared gene, bad label column) or the parameter.
    public static func prepare(_ dataset: Dataset, settings: ClusterSupConSettings, vocabulary: [String]?,
                               role: String = "data", file: String? = nil) throws(WorkflowError) -> ClusterSupConData {
        try settings.validate()
        let file = file ?? dataset.name
        if dataset.cellCount < 3 { throw .badInput(role: role, file: file, message: "holds \(dataset.cellCount) cell(s); clustering needs at least 3") }
        if !dataset.measured.contains(true) { throw .badInput(role: role, file: file, message: "has no measured gene") }
        let labels = try SupervisedLabels.make(dataset, column: settings.labelColumn, heldOutFraction: settings.heldOutFraction,
                                               seed: settings.seed, role: role)
        let vocab = vocabulary ?? GeneVocabulary.union([dataset])
        if let vocabulary, GeneVocabulary.coverage(dataset, of: vocabulary) == 0 {
            throw .badInput(role: role, file: file, message: "shares no measured gene with the checkpoint's \(vocabulary.count)-gene vocabulary (e.g. \(vocabulary.prefix(3).joined(separator: ", "))); use a checkpoint pretrained on this panel, or leave checkpoint unset to pretrain on the data")
        }
        let cut = dataset.fov == nil ? DatasetSequences.tiled(dataset, grid: settings.tileGrid) : dataset
        let set: SequenceSet
        do { set = try DatasetSequences.make(cut, vocabulary: vocab) } catch {
            throw .badInput(role: role, file: file, message: error.description)
        }
        let training = set.rows.map { rows in rows.indices.filter { !labels.heldOut[rows[$0]] } }
        return ClusterSupConData(labels: labels, vocabulary: vocab, all: set, trainingRows: training,
                                 hasCoordinates: dataset.coordinates != nil)
    }

    /// A seeded choice of at most `limit` of `rows` (order kept).
    static func subsample(_ rows: [Int], limit: Int, rng: inout SeededRNG) -> [Int] {
        guard rows.count > limit else { return rows }
        var order = rows
        SeededShuffle.shuffle(&order, &rng)
        return order.prefix(limit).sorted()
    }

    /// The generator for step `step` of a phase: a function of (seed, phase, step) only, so a resumed run draws
    /// the same batches as an uninterrupted one.
    static func stepRNG(seed: UInt64, phase: UInt64, step: Int) -> SeededRNG {
        SeededRNG(seed: seed ^ (phase &* 0xD6E8_FEB8_6659_FD93) ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15))
    }

    /// Pretraining batch for `step`: one sequence (uniform over those with training cells), its training cells
    /// only, at most `limit` of them.
    public func pretrainBatch(step: Int, seed: UInt64, limit: Int) -> CellSequence {
        let usable = trainingRows.indices.filter { trainingRows[$0].count >= 2 }
        var rng = Self.stepRNG(seed: seed, phase: 1, step: step)
        let k = usable[rng.int(below: usable.count)]
        return all.sequences[k].selecting(Self.subsample(trainingRows[k], limit: limit, rng: &rng))
    }

    /// Fine-tuning batch for `step`: one sequence (uniform over those with at least two labelled training cells),
    /// its training cells (unlabelled ones included, as −1), at most `limit` of them, and their codes.
    public func fineTuneBatch(step: Int, seed: UInt64, limit: Int) -> (CellSequence, [Int32]) {
        let usable = trainingRows.indices.filter { k in
            trainingRows[k].filter { labels.codes[all.rows[k][$0]] >= 0 }.count >= 2
        }
        var rng = Self.stepRNG(seed: seed, phase: 2, step: step)
        let k = usable[rng.int(below: usable.count)]
        let rows = Self.subsample(trainingRows[k], limit: limit, rng: &rng)
        return (all.sequences[k].selecting(rows), rows.map { labels.codes[all.rows[k][$0]] })
    }

    /// Whether any sequence can feed a fine-tuning step.
    public var canFineTune: Bool {
        trainingRows.indices.contains { k in trainingRows[k].filter { labels.codes[all.rows[k][$0]] >= 0 }.count >= 2 }
    }

    /// Sequences of the training cells only (pretraining statistics such as the decoder's starting bias).
    public var trainingSequences: [CellSequence] {
        trainingRows.indices.filter { !trainingRows[$0].isEmpty }.map { all.sequences[$0].selecting(trainingRows[$0]) }
    }

    /// Per-sequence embeddings (sequence order) laid out in dataset row order.
    public func datasetOrder(_ parts: [Matrix]) -> Matrix { all.datasetOrder(parts, cells: labels.cellCount) }
}
