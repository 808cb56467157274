import Analysis
import Foundation
import SpatialData
import Tensor

/// The per-cell features `LabelTransfer` classifies on, for one set of cells (a dataset): the fine-tuned latent,
/// the SupCon projection, the cell's own expression (log1p of library-normalised values over the model's genes,
/// the input a plain classifier reads) and its niche (the mean of latent ⊕ expression over its nearest spatial
/// neighbours in the same sample, for data with coordinates). Classifiers may combine them (`LabelTransfer.Method`).
public struct CellFeatures: Sendable {
    public var latent: Matrix
    public var projection: Matrix
    public var expression: Matrix
    /// nil without coordinates.
    public var niche: Matrix?
    /// Spatial neighbours averaged into the niche.
    public static let nicheNeighbours = 10

    public init(latent: Matrix, projection: Matrix, expression: Matrix, niche: Matrix?) {
        self.latent = latent; self.projection = projection; self.expression = expression; self.niche = niche
    }

    /// Builds the features of `dataset` (rows in dataset order) from its embeddings, reading expression over
    /// `vocabulary` (genes the dataset lacks read as 0).
    public static func make(_ dataset: Dataset, vocabulary: [String], latent: Matrix, projection: Matrix) throws -> CellFeatures {
        let expression = logNormalised(dataset, vocabulary: vocabulary)
        var niche: Matrix?
        if let c = dataset.coordinates, (0..<dataset.cellCount).allSatisfy({ c.x[$0].isFinite && c.y[$0].isFinite }), dataset.cellCount > nicheNeighbours {
            niche = try neighbourhoodMean(concat([latent, expression]), dataset: dataset, k: nicheNeighbours)
        }
        return CellFeatures(latent: latent, projection: projection, expression: expression, niche: niche)
    }

    /// log1p(1e4 · x / library) over `vocabulary`, library = the cell's total over the dataset's measured genes.
    public static func logNormalised(_ d: Dataset, vocabulary: [String]) -> Matrix {
        let cols = DatasetSequences.align(d, to: vocabulary)
        var at = [Int: Int]()
        for (v, c) in cols.enumerated() { if let c, d.measured[c] { at[c] = v } }
        let n = d.cellCount, g = vocabulary.count, m = d.counts
        var x = Matrix(rows: n, cols: g)
        for i in 0..<n {
            var total: Float = 0
            for z in m.indptr[i]..<m.indptr[i + 1] where d.measured[Int(m.indices[z])] { total += m.values[z] }
            let f: Float = total > 0 ? 1e4 / total : 0
            for z in m.indptr[i]..<m.indptr[i + 1] { if let v = at[Int(m.indices[z])] { x.data[i * g + v] = log1pf(m.values[z] * f) } }
        }
        return x
    }

    /// Row-wise concatenation of matrices with the same rows.
    public static func concat(_ parts: [Matrix]) -> Matrix {
        let n = parts[0].rows, d = parts.reduce(0) { $0 + $1.cols }
        var out = Matrix(rows: n, cols: d)
        for i in 0..<n {
            var o = 0
            for p in parts { for j in 0..<p.cols { out.data[i * d + o + j] = p.data[i * p.cols + j] }; o += p.cols }
        }
        return out
    }

    /// Each cell's mean of `x` over its `k` nearest cells by position within its own sample (itself excluded).
    static func neighbourhoodMean(_ x: Matrix, dataset d: Dataset, k: Int) throws -> Matrix {
        let c = d.coordinates!
        var out = Matrix(rows: x.rows, cols: x.cols)
        var bySample = [Int32: [Int]]()
        for i in 0..<d.cellCount { bySample[d.sample.codes[i], default: []].append(i) }
        for rows in bySample.values {
            if rows.count < 2 { for i in rows { for j in 0..<x.cols { out.data[i * x.cols + j] = x.data[i * x.cols + j] } }; continue }
            let xy = Matrix(rows: rows.count, cols: 2, data: rows.flatMap { [Float(c.x[$0]), Float(c.y[$0])] })
            let nb = try KNNGraph.exact(xy, k: min(k, rows.count - 1))
            for (a, i) in rows.enumerated() {
                for t in 0..<nb.k {
                    let r = rows[Int(nb.indices[a * nb.k + t])]
                    for j in 0..<x.cols { out.data[i * x.cols + j] += x.data[r * x.cols + j] / Float(nb.k) }
                }
            }
        }
        return out
    }
}
