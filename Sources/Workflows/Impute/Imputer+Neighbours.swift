import CellLM
import Foundation
import Tensor

/// `Transfer.neighbours`: imputation by the fine-tuned model's latent space instead of its decoder. Query cells
/// and reference cells are embedded from the same genes (the query's panel; the reference's other genes are
/// zeroed in its input), and each query cell takes the mean library-normalised target values of its nearest
/// reference cells, scaled to its own observed panel library (or, without per-cell rescaling, to the mean
/// one). The idea: values of measured reference cells keep each gene's cell-to-cell contrast, which an NB
/// decoder trained on few cells may smooth towards the mean profile. Measured, it did not beat the decoder
/// (README, imputation), so it is an option, not the default.
extension Imputer {
    func predictFromNeighbours(vocabulary cols: [Int], perCellRescaling: Bool?) throws -> (values: Matrix, panelLibrary: [Double]) {
        var targetIndex = [Int](repeating: -1, count: vocabulary.count)
        for (t, g) in cols.enumerated() { targetIndex[g] = t }

        // Reference: latent of the panel-only input, and each cell's target values over its panel total.
        var refLatent: [Float] = []
        var refTargets: [Float] = []
        var refCells = 0
        var dim = 0
        for seq in reference.sequences {
            var input = seq
            let scale = settings.normalizeInput ? inputScale(seq) : nil
            for r in 0..<seq.cells {
                for z in seq.counts.indptr[r]..<seq.counts.indptr[r + 1] {
                    if !inPanel[Int(seq.counts.indices[z])] { input.counts.values[z] = 0 }
                    else if let scale { input.counts.values[z] *= scale[r] }
                }
            }
            let e = try model.embed(input)
            dim = e.cols
            for (i, total) in Imputer.panelTotals(seq, inPanel).enumerated() {
                guard total > 0 else { continue }   // a cell without panel counts has no place in the panel's space
                var row = [Float](repeating: 0, count: cols.count)
                for z in seq.counts.indptr[i]..<seq.counts.indptr[i + 1] {
                    let t = targetIndex[Int(seq.counts.indices[z])]
                    if t >= 0 { row[t] = seq.counts.values[z] / total }
                }
                refLatent.append(contentsOf: e.data[(i * dim)..<((i + 1) * dim)])
                refTargets.append(contentsOf: row)
                refCells += 1
            }
        }
        guard refCells > 0 else {
            throw WorkflowError.badInput(role: "reference", file: "(the reference dataset)", message: "no reference cell has counts on the query's panel genes, so no cell can be matched; use a reference that measures the panel")
        }
        let k = min(max(1, settings.transferNeighbours), refCells)
        let T = cols.count
        var out = Matrix(rows: queryCells, cols: T)
        var library = [Double](repeating: 0, count: queryCells)
        var rowOfQuery: [Int] = []
        var queryLatent: [Float] = []
        for (s, seq) in query.sequences.enumerated() {
            let e = try model.embed(inferenceInput(seq))
            queryLatent.append(contentsOf: e.data)
            for (i, total) in seq.counts.rowSums().enumerated() {
                let row = query.rows[s][i]
                rowOfQuery.append(row)
                library[row] = total
            }
        }
        let nq = rowOfQuery.count
        let refNorms = (0..<refCells).map { r in (0..<dim).reduce(Float(0)) { $0 + refLatent[r * dim + $1] * refLatent[r * dim + $1] } }
        var dots = [Float](repeating: 0, count: nq * refCells)        // nq × refCells
        queryLatent.withUnsafeBufferPointer { q in refLatent.withUnsafeBufferPointer { r in dots.withUnsafeMutableBufferPointer { d in
            BLAS.gemm(transB: true, m: nq, n: refCells, k: dim, a: q.baseAddress!, lda: dim, b: r.baseAddress!, ldb: dim,
                      c: d.baseAddress!, ldc: refCells)
        } } }
        let meanLibrary = library.reduce(0, +) / Double(max(1, queryCells))
        let perCell = perCellRescaling ?? settings.perCellRescaling
        for q in 0..<nq {
            // Nearest by ‖r‖² − 2 q·r (the query's own norm does not change the order).
            var best: [(Float, Int)] = []
            best.reserveCapacity(k + 1)
            for r in 0..<refCells {
                let d = refNorms[r] - 2 * dots[q * refCells + r]
                if best.count < k || d < best[best.count - 1].0 {
                    let at = best.firstIndex { $0.0 > d } ?? best.count
                    best.insert((d, r), at: at)
                    if best.count > k { best.removeLast() }
                }
            }
            let row = rowOfQuery[q]
            let f = Float(perCell ? library[row] : meanLibrary) / Float(best.count)
            for (_, r) in best { for t in 0..<T { out.data[row * T + t] += f * refTargets[r * T + t] } }
        }
        return (out, library)
    }
}
