import Foundation

/// The reconstruction loss of a training step.
public enum ReconstructionLoss: String, Sendable, CaseIterable {
    /// Negative-binomial NLL of the counts (CellPLM, `NBLoss`).
    case nb
    /// Squared error on scanpy's log-normalised scale (`LogMSELoss`), the scale imputation is scored on.
    case logMSE = "log_mse"
}

/// Mean squared error on scanpy's log-normalised scale (normalize_total to c = 1e4, then log1p), restricted
/// to a dataset's measured genes M. For cell i with observed total T_i = Σ_{g∈M} x_ig and predicted total
/// S_i = Σ_{g∈M} μ_ig:
///   y_ig = log1p(c · x_ig / T_i),  ŷ_ig = log1p(c · μ_ig / S_i),  loss = mean_i (1/|M|) Σ_{g∈M} (ŷ_ig − y_ig)²
/// over the cells with T_i > 0. Only the decoder's proportions over M enter, as in the NB loss's per-cell
/// size factor, so depth never has to be predicted.
///
/// Why: the NB NLL of a cell is a sum over genes dominated by its highly expressed ones, so a sparse marker
/// moves the model little; this loss weighs every measured gene alike, on the scale its Pearson is scored.
///
/// Gradient, with p_g = μ_g / S_i and a_g = ∂loss/∂ŷ_g · c / (1 + c·p_g):  ∂loss/∂μ_k = (a_k − Σ_g a_g p_g) / S_i.
public enum LogMSELoss {
    public static let target: Double = 1e4

    /// truth, mean: N×G dense counts and decoder means; measured: vocabulary indices of M. Writes dmean
    /// (N×G, zero outside M and for skipped cells) and returns the loss.
    public static func compute(truth: UnsafePointer<Float>, mean: UnsafePointer<Float>, n: Int, genes: Int,
                               measured: [Int32], dmean: UnsafeMutablePointer<Float>) -> Float {
        dmean.update(repeating: 0, count: n * genes)
        let m = measured.map(Int.init)
        // Observed and predicted totals over M, once per cell; cells without counts on M are left out.
        var observed = [Double](repeating: 0, count: n), predicted = observed
        for i in 0..<n {
            for g in m { observed[i] += Double(truth[i * genes + g]); predicted[i] += Double(mean[i * genes + g]) }
        }
        let cells = (0..<n).filter { observed[$0] > 0 && predicted[$0] > 0 }
        guard !cells.isEmpty, !m.isEmpty else { return 0 }
        let scale = 1 / (Double(cells.count) * Double(m.count))
        var total = 0.0
        var a = [Double](repeating: 0, count: m.count), p = a
        for i in cells {
            let t = observed[i], s = predicted[i]
            let x = truth + i * genes, mu = mean + i * genes, dm = dmean + i * genes
            var ap = 0.0
            for (k, g) in m.enumerated() {
                p[k] = Double(mu[g]) / s
                let e = Foundation.log1p(target * p[k]) - Foundation.log1p(target * Double(x[g]) / t)
                total += e * e * scale
                a[k] = 2 * e * scale * target / (1 + target * p[k])
                ap += a[k] * p[k]
            }
            for (k, g) in m.enumerated() { dm[g] = Float((a[k] - ap) / s) }
        }
        return Float(total)
    }
}
