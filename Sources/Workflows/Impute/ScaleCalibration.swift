import Foundation

/// Ways to carry the query platform's capture, seen on the visible panel genes, to imputed genes: each gives
/// every imputed gene a factor from the panel genes' measured and predicted totals (never from the imputed
/// genes' own counts). The quality bench measures each one's scale error on real pairs (docs/impute.md).
/// - `none`: the reference's relative levels (factor 1);
/// - `global`: `QueryScale.factor`, the median ratio of measured to predicted panel totals, one factor for all;
/// - `global_half`: its square root, shrunk halfway toward 1;
/// - `level`: log(measured / predicted) of the panel genes fitted against their log predicted mean level by
///   Theil–Sen (the median of pairwise slopes, robust to a few odd genes), read off at each imputed gene's
///   predicted level (clamped to the panel's range): capture that depends on how highly a gene is expressed;
/// - `level_above`: the same line, clamped at the panel's lowest level only (it extends above the highest).
public struct ScaleCalibration: Sendable {
    public enum Rule: Sendable { case none, global, globalHalf, level, levelAbove }
    public let name: String
    public let rule: Rule

    public static let none = ScaleCalibration(name: "none", rule: .none), global = ScaleCalibration(name: "global", rule: .global)
    public static let globalHalf = ScaleCalibration(name: "global_half", rule: .globalHalf), level = ScaleCalibration(name: "level", rule: .level)
    public static let levelAbove = ScaleCalibration(name: "level_above", rule: .levelAbove)
    public static let all: [ScaleCalibration] = [none, global, globalHalf, level, levelAbove]

    /// One factor per target: `observed`/`predicted` are the panel genes' totals over `cells` cells,
    /// `targetMeans` the targets' predicted mean per cell (reference scale).
    public func factors(observed: [Double], predicted: [Double], cells: Int, targetMeans: [Double]) -> [Double] {
        let global = QueryScale.factor(observed: observed, predicted: predicted)
        switch rule {
        case .none: return targetMeans.map { _ in 1 }
        case .global: return targetMeans.map { _ in global }
        case .globalHalf: return targetMeans.map { _ in global.squareRoot() }
        case .level, .levelAbove:
            guard let fit = Self.levelFit(observed: observed, predicted: predicted, cells: cells) else { return targetMeans.map { _ in global } }
            return targetMeans.map { m in m > 0 ? fit.factor(mean: m, above: rule == .levelAbove) : global }
        }
    }

    /// The `level` rule's line: log(measured / predicted) = intercept + slope · log(predicted mean), over the
    /// panel genes with both totals above 0, and the range of log predicted means it was fitted on.
    public struct LevelFit: Sendable {
        public var intercept: Double, slope: Double, lowest: Double, highest: Double, genes: Int
        /// The factor at a predicted mean level, clamped to the panel's range (no extrapolation), or with `above`
        /// clamped at the lowest level only (the line extends above the panel's highest level).
        public func factor(mean: Double, above: Bool = false) -> Double {
            let x = max(log(mean), lowest)
            return exp(intercept + slope * (above ? x : min(x, highest)))
        }
    }

    /// The most genes whose pairwise slopes enter the Theil–Sen fit (≈ 500k slopes).
    static let maxSlopeGenes = 1_000

    /// Theil–Sen fit of the panel genes' log ratios against their log predicted mean; nil with fewer than 3
    /// genes or all at one level.
    public static func levelFit(observed: [Double], predicted: [Double], cells: Int) -> LevelFit? {
        let genes = observed.indices.filter { observed[$0] > 0 && predicted[$0] > 0 }
        let x = genes.map { log(predicted[$0] / Double(max(1, cells))) }, y = genes.map { log(observed[$0] / predicted[$0]) }
        guard genes.count >= 3, let lo = x.min(), let hi = x.max(), hi > lo else { return nil }
        // Pairwise slopes are O(genes²): a whole-transcriptome panel (Visium, ~15k genes) would need ~10⁸ of them,
        // so above `maxSlopeGenes` the slopes come from that many genes evenly spaced by level (the intercept
        // still reads every gene).
        let byLevel = x.indices.sorted { x[$0] < x[$1] }
        let use = byLevel.count <= maxSlopeGenes ? byLevel
            : (0..<maxSlopeGenes).map { byLevel[$0 * (byLevel.count - 1) / (maxSlopeGenes - 1)] }
        var slopes: [Double] = []
        slopes.reserveCapacity(use.count * (use.count - 1) / 2)
        for (a, i) in use.enumerated() { for j in use[(a + 1)...] where x[j] != x[i] { slopes.append((y[j] - y[i]) / (x[j] - x[i])) } }
        let b = ImputationMetrics.median(slopes)
        return LevelFit(intercept: ImputationMetrics.median(x.indices.map { y[$0] - b * x[$0] }), slope: b, lowest: lo, highest: hi, genes: genes.count)
    }
}
