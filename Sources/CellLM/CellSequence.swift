import Tensor

/// One sequence for the model: all cells of one FOV or sample, counts laid out in the model's gene vocabulary.
public struct CellSequence: Sendable {
    /// N×G raw counts; column g is vocabulary gene g (zero for genes the dataset did not measure).
    public var counts: CSRMatrix
    /// N×2 (x, y) coordinates in any unit, NaN where unknown; nil for scRNA-seq.
    public var coordinates: [Float]?
    /// Decoder covariates per cell: batch (FOV/sample) and dataset table rows, −1 = unknown (mean embedding).
    public var batch: [Int32]?
    public var dataset: [Int32]?
    /// Vocabulary indices of the genes this sequence's dataset measured (the loss is computed on these only).
    public var measured: [Int32]

    public init(counts: CSRMatrix, coordinates: [Float]? = nil, batch: [Int32]? = nil, dataset: [Int32]? = nil,
                measured: [Int32]? = nil) {
        self.counts = counts; self.coordinates = coordinates; self.batch = batch; self.dataset = dataset
        self.measured = measured ?? (0..<counts.cols).map(Int32.init)
    }

    public var cells: Int { counts.rows }

    /// The given rows (coordinates and labels follow).
    public func selecting(_ rows: [Int]) -> CellSequence {
        CellSequence(counts: counts.selectingRows(rows),
                     coordinates: coordinates.map { c in rows.flatMap { [c[2 * $0], c[2 * $0 + 1]] } },
                     batch: batch.map { b in rows.map { b[$0] } }, dataset: dataset.map { d in rows.map { d[$0] } },
                     measured: measured)
    }

    /// Checks the input the model will see: finite non-negative counts, matching shapes, labels in range.
    public func validate(genes: Int, batchCount: Int, datasetCount: Int) throws(CellLMError) {
        if counts.cols != genes {
            throw .invalidInput(field: "counts", problem: "has \(counts.cols) gene columns but the model's vocabulary has \(genes)",
                                fix: "Lay the counts out in the model's gene order (Vocabulary.align).")
        }
        if let bad = counts.values.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
            let row = counts.indptr.lastIndex(where: { $0 <= bad }) ?? 0
            throw .invalidInput(field: "counts", problem: "cell \(row) holds \(counts.values[bad]); counts must be finite and >= 0",
                                fix: "Remove or repair that cell; NaN usually means a normalised matrix was given instead of raw counts.")
        }
        if let c = coordinates {
            if c.count != 2 * cells { throw .invalidInput(field: "coordinates", problem: "has \(c.count) values for \(cells) cells", fix: "Give x and y per cell.") }
            if c.contains(where: { $0.isInfinite }) { throw .invalidInput(field: "coordinates", problem: "holds an infinite value", fix: "Use NaN for unknown positions.") }
        }
        for (name, labels, count) in [("batch", batch, batchCount), ("dataset", dataset, datasetCount)] {
            guard let labels else { continue }
            if labels.count != cells { throw .invalidInput(field: name, problem: "has \(labels.count) labels for \(cells) cells", fix: "Give one label per cell (−1 = unknown).") }
            if let l = labels.first(where: { $0 >= count || $0 < -1 }) {
                throw .invalidInput(field: name, problem: "label \(l) is outside the model's \(count) \(name) embeddings", fix: "Use −1 for a \(name) the model has not seen.")
            }
        }
        if let g = measured.first(where: { $0 < 0 || Int($0) >= genes }) {
            throw .invalidInput(field: "measured", problem: "gene index \(g) is outside the vocabulary of \(genes)", fix: "Measured genes are vocabulary indices.")
        }
    }
}
