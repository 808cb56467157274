import Foundation
import SpatialData
import Tensor

/// Puts imputed genes on the query's own scale. The model's prediction, rescaled per cell to the cell's panel
/// library, keeps each gene's level relative to the panel as the reference has it; platforms differ per gene
/// in capture (osmFISH's Gad2 reads ~16× lower than the model predicts from the Allen reference). The panel
/// genes, measured on the query, show how the query platform relates to the model's prediction: for each visible
/// panel gene the ratio of its measured to its predicted total over the query's cells (`panelTotals`). They use
/// panel genes only, so in evaluation the held-out genes' counts never enter. How the ratios become each imputed
/// gene's factor is `ScaleCalibration` (the workflow uses `level`); `factor` is the one global factor, their
/// median, used before and reported beside it; the scale errors measure how far levels end up from measured ones.
public enum QueryScale {
    /// exp(median over genes of log(observed / predicted)), over genes with both totals above 0; 1 without any
    /// (in log space, so one gene's extreme capture does not dominate).
    public static func factor(observed: [Double], predicted: [Double]) -> Double {
        let logs = zip(observed, predicted).compactMap { o, p -> Double? in o > 0 && p > 0 ? Foundation.log(o / p) : nil }
        return logs.isEmpty ? 1 : Foundation.exp(ImputationMetrics.median(logs))
    }

    /// The visible panel genes' measured totals over the query's cells and the model's predicted totals for them
    /// (the same per-cell rescaling as the imputed genes), in `imputer.panel` order: what `factor` compares.
    public static func panelTotals(_ imputer: Imputer, query: Dataset) throws -> (observed: [Double], predicted: [Double]) {
        let predicted = columnSums(try imputer.predict(vocabulary: imputer.panel.map(Int.init)).values)
        let columns = DatasetSequences.align(query, to: imputer.vocabulary)
        let measured = query.counts.columnSums()
        return (imputer.panel.map { g in columns[Int(g)].map { measured[$0] } ?? 0 }, predicted)
    }

    /// Column sums of a cells × genes matrix.
    public static func columnSums(_ m: Matrix) -> [Double] {
        var s = [Double](repeating: 0, count: m.cols)
        for i in 0..<m.rows { for j in 0..<m.cols { s[j] += Double(m.data[i * m.cols + j]) } }
        return s
    }

    /// The median of |log r| over the finite positive ratios r (NaN without any).
    public static func medianAbsLog(_ ratios: [Double]) -> Double {
        ImputationMetrics.median(ratios.compactMap { $0 > 0 && $0.isFinite ? abs(Foundation.log($0)) : nil })
    }

    /// How far predicted gene levels are from measured ones: the median over genes (with both means above 0) of
    /// |log(mean predicted / mean measured)|. 0 = every gene on the query's scale; log(16) ≈ 2.8 = 16× off.
    public static func medianAbsLogRatio(prediction: Matrix, truth: Matrix) -> Double {
        let p = columnSums(prediction), t = columnSums(truth)
        return medianAbsLog(zip(p, t).map { a, b in a > 0 && b > 0 ? a / b : .nan })
    }
}
