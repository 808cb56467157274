import Foundation
import Tensor

/// Per-gene scores of imputed expression against the truth, as CellPLM's imputation evaluation computes them
/// (cellplm.md §5.2): for every gene (column), over cells, the Pearson correlation, the cosine similarity
/// (prediction clipped at 0), RMSE and MAE, all on log-transformed values, then means and medians over genes.
///
/// Transform: `log1p(target · v / L_i)` with a per-cell library `L_i` when libraries are given (scanpy's
/// normalize_total + log1p), else `log1p(v)`. Truth and prediction may use different libraries: the truth's
/// may include counts the prediction must not see. A gene whose truth or prediction is constant has no
/// Pearson correlation: it is reported as nil, counted as 0 in the mean and the median (as the peer script
/// `imputation_baselines.py` does), and counted in `undefinedPearson`.
public enum ImputationMetrics {
    public struct GeneScore: Codable, Sendable, Equatable {
        public var gene: String
        public var pearson: Double?
        public var cosine: Double
        public var rmse: Double
        public var mae: Double
        public init(gene: String, pearson: Double?, cosine: Double, rmse: Double, mae: Double) {
            self.gene = gene; self.pearson = pearson; self.cosine = cosine; self.rmse = rmse; self.mae = mae
        }
    }

    public struct Summary: Codable, Sendable, Equatable {
        public var genes: [GeneScore]
        public var pearsonMean: Double, pearsonMedian: Double
        public var cosineMean: Double, cosineMedian: Double
        public var rmseMean: Double, rmseMedian: Double
        public var maeMean: Double, maeMedian: Double
        public var undefinedPearson: Int

        /// The summary as flat metric names with a prefix ("" for ours, "baseline_" for a reference method).
        public func metrics(prefix: String = "") -> [String: Double] {
            [prefix + "pearson_mean": pearsonMean, prefix + "pearson_median": pearsonMedian,
             prefix + "cosine_mean": cosineMean, prefix + "cosine_median": cosineMedian,
             prefix + "rmse_mean": rmseMean, prefix + "rmse_median": rmseMedian,
             prefix + "mae_mean": maeMean, prefix + "mae_median": maeMedian,
             prefix + "genes_scored": Double(genes.count), prefix + "pearson_undefined": Double(undefinedPearson)]
        }
    }

    /// truth, prediction: N×T (cells × genes), same gene order as `genes`, on the scale of counts.
    public static func score(genes: [String], truth: Matrix, prediction: Matrix, truthLibrary: [Double]? = nil,
                             predictionLibrary: [Double]? = nil, target: Double = 1e4) -> Summary {
        precondition(truth.rows == prediction.rows && truth.cols == prediction.cols && truth.cols == genes.count,
                     "truth \(truth.rows)×\(truth.cols), prediction \(prediction.rows)×\(prediction.cols), \(genes.count) genes")
        let n = truth.rows
        func transform(_ m: Matrix, _ lib: [Double]?, _ i: Int, _ j: Int) -> Double {
            let v = max(Double(m[i, j]), 0)
            guard let lib, lib[i] > 0 else { return log1p(v) }
            return log1p(v * target / lib[i])
        }
        var scores: [GeneScore] = []
        for j in 0..<genes.count {
            let t = (0..<n).map { transform(truth, truthLibrary, $0, j) }
            let p = (0..<n).map { transform(prediction, predictionLibrary, $0, j) }
            scores.append(GeneScore(gene: genes[j], pearson: pearson(t, p), cosine: cosine(t, p),
                                    rmse: (zip(t, p).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(max(n, 1))).squareRoot(),
                                    mae: zip(t, p).map { abs($0 - $1) }.reduce(0, +) / Double(max(n, 1))))
        }
        return summarize(scores)
    }

    /// Means and medians of per-gene scores (an undefined Pearson counts as 0).
    public static func summarize(_ scores: [GeneScore]) -> Summary {
        let r = scores.map { $0.pearson ?? 0 }
        return Summary(genes: scores, pearsonMean: mean(r), pearsonMedian: median(r),
                       cosineMean: mean(scores.map(\.cosine)), cosineMedian: median(scores.map(\.cosine)),
                       rmseMean: mean(scores.map(\.rmse)), rmseMedian: median(scores.map(\.rmse)),
                       maeMean: mean(scores.map(\.mae)), maeMedian: median(scores.map(\.mae)),
                       undefinedPearson: scores.filter { $0.pearson == nil }.count)
    }

    /// Pearson's r, nil when either side is constant.
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        let n = Double(x.count)
        guard x.count > 1 else { return nil }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices { let a = x[i] - mx, b = y[i] - my; sxy += a * b; sxx += a * a; syy += b * b }
        guard sxx > 0, syy > 0 else { return nil }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Cosine similarity of the truth with the prediction clipped at 0 (CellPLM passes it through ReLU);
    /// 0 when either is the zero vector.
    public static func cosine(_ x: [Double], _ y: [Double]) -> Double {
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices { let b = max(y[i], 0); sxy += x[i] * b; sxx += x[i] * x[i]; syy += b * b }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : 0
    }

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        if s.isEmpty { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
