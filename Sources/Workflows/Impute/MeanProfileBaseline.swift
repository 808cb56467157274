import Foundation
import SpatialData
import Tensor

/// The floor an imputation method has to clear: every query cell gets the reference's average expression
/// profile, scaled to the cell's depth. For target gene t and query cell i,
///   prediction_it = L_i · Σ_r x_rt / Σ_r Σ_{g ∈ S} x_rg,
/// with S the visible panel genes the reference also measures and L_i = Σ_{g ∈ S} x_ig. It knows each cell's
/// depth but nothing of its type, so its per-gene Pearson correlation only reflects depth.
public enum MeanProfileBaseline {
    /// query: the visible panel; targets: reference columns. Returns N_query × targets.count counts.
    public static func predict(query: Dataset, reference: Dataset, targetReferenceColumns targets: [Int]) -> Matrix {
        let refByKey = ImputePlan.refColumnByKey(reference)
        var sharedQuery: [Int] = [], sharedRef: [Int] = []
        for j in 0..<query.geneCount where query.measured[j] {
            if let c = HeldOutGenes.keys(query, j).compactMap({ refByKey[$0] }).first { sharedQuery.append(j); sharedRef.append(c) }
        }
        let refTotals = columnSums(reference)
        let denominator = max(sharedRef.reduce(0.0) { $0 + refTotals[$1] }, 1e-12)
        let fractions = targets.map { refTotals[$0] / denominator }
        let sharedSet = Set(sharedQuery)
        var out = Matrix(rows: query.cellCount, cols: targets.count)
        for i in 0..<query.cellCount {
            var lib = 0.0
            for z in query.counts.indptr[i]..<query.counts.indptr[i + 1] where sharedSet.contains(Int(query.counts.indices[z])) {
                lib += Double(query.counts.values[z])
            }
            for (t, f) in fractions.enumerated() { out.data[i * targets.count + t] = Float(lib * f) }
        }
        return out
    }

    static func columnSums(_ ds: Dataset) -> [Double] {
        var s = [Double](repeating: 0, count: ds.geneCount)
        for (z, j) in ds.counts.indices.enumerated() { s[Int(j)] += Double(ds.counts.values[z]) }
        return s
    }
}
