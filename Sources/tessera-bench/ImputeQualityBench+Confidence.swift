import Foundation
import SpatialData
import Tensor
import Workflows

/// Two questions asked of the same fits as the quality tables (issue 15):
/// - does the production-mode confidence (the ensemble members' agreement, `EnsembleAgreement.perGene`, as the
///   workflow computes it) rank the test genes as their Pearson does? Spearman over genes, with a bootstrap CI
///   and a one-sided permutation p-value, and the mean Pearson of the more and less confident halves;
/// - how far are the imputed genes' levels from their measured ones under each query-scale calibration
///   (`ScaleCalibration`, fitted on the visible panel genes only)? The median over test genes of
///   |log(mean predicted / mean measured)|, the workflow's `scale_error`.
extension ImputeQuality {
    /// One fine-tune's predictions: every ensemble member's, their mean, the cells' panel library, the members'
    /// per-gene agreement over the targets, and the panel genes' measured and predicted totals (members' mean).
    struct Fit {
        var members: [Matrix]
        var mean: Matrix
        var library: [Double]
        var confidence: [Double]
        var panelObserved: [Double], panelPredicted: [Double]
    }

    /// One test gene's outcome: its score (an undefined Pearson counts as 0, the peers' convention), its
    /// confidence, and its mean level predicted (reference scale) and measured, with the factor each
    /// calibration of `ScaleCalibration.all` gives it.
    struct GeneOutcome {
        var gene: String
        var pearson: Double
        var confidence: Double
        var predictedMean: Double, measuredMean: Double
        var factors: [Double]
    }

    /// Fine-tunes `settings.ensemble` models (member seeds as the workflow draws them with an ensemble, the
    /// seed itself with one model) and predicts the targets and the visible panel genes.
    static func fit(query: Dataset, reference: Dataset, targets: [Int], settings: ImputationSettings) throws -> Fit {
        var members: [Matrix] = [], library: [Double] = [], observed: [Double] = [], predicted: [Double] = []
        for e in 0..<max(1, settings.ensemble) {
            var s = settings
            if settings.ensemble > 1 { s.seed = settings.memberSeed(e) }
            s.ensemble = 1
            let imputer = try Imputer(query: query, reference: reference, settings: s)
            for step in 0..<s.steps { try imputer.train(step: step) }
            let p = try imputer.predict(vocabulary: imputer.vocabularyIndex(columns: targets, of: reference).map { $0! })
            members.append(p.values); library = p.panelLibrary
            let panel = try QueryScale.panelTotals(imputer, query: query)
            observed = panel.observed
            predicted = predicted.isEmpty ? panel.predicted : zip(predicted, panel.predicted).map { $0 + $1 }
        }
        var mean = members[0]
        for m in members.dropFirst() { for j in 0..<m.data.count { mean.data[j] += m.data[j] } }
        for j in 0..<mean.data.count { mean.data[j] /= Float(members.count) }
        return Fit(members: members, mean: mean, library: library,
                   confidence: EnsembleAgreement.perGene(members: members, library: query.counts.rowSums()),
                   panelObserved: observed, panelPredicted: predicted.map { $0 / Double(members.count) })
    }

    /// The outcomes of a fit's targets: `scores` and `truth` in the targets' order, `cells` the query's.
    static func outcomes(_ f: Fit, genes: [String], scores: [ImputationMetrics.GeneScore], truth: Matrix) -> [GeneOutcome] {
        let n = Double(f.mean.rows)
        let predicted = QueryScale.columnSums(f.mean).map { $0 / n }, measured = QueryScale.columnSums(truth).map { $0 / n }
        let factors = ScaleCalibration.all.map { $0.factors(observed: f.panelObserved, predicted: f.panelPredicted, cells: f.mean.rows,
                                                             targetMeans: predicted) }
        return genes.indices.map { t in
            GeneOutcome(gene: genes[t], pearson: scores[t].pearson ?? 0, confidence: f.confidence[t],
                        predictedMean: predicted[t], measuredMean: measured[t], factors: factors.map { $0[t] })
        }
    }

    /// The report on `g`: confidence against Pearson, and the scale error of each calibration.
    static func confidenceAndScaleReport(_ label: String, _ g: [GeneOutcome], seed: UInt64) -> String {
        var s = "\n\(label): confidence (ensemble agreement) and query scale over \(g.count) test genes\n"
        let conf = g.map(\.confidence), pearson = g.map(\.pearson)
        let rho = EnsembleAgreement.spearman(conf, pearson)
        if rho.isFinite {
            var rng = SeededRNG(seed: seed ^ 0xC0F1)
            var boot: [Double] = [], above = 0
            let n = g.count, draws = 10_000
            for _ in 0..<2_000 {
                let pick = (0..<n).map { _ in Int(rng.uniform() * Double(n)) }
                let r = EnsembleAgreement.spearman(pick.map { conf[$0] }, pick.map { pearson[$0] })
                if r.isFinite { boot.append(r) }
            }
            for _ in 0..<draws {
                var shuffled = pearson
                shuffled.shuffle(using: &rng)
                if EnsembleAgreement.spearman(conf, shuffled) >= rho { above += 1 }
            }
            boot.sort()
            let lo = boot.isEmpty ? .nan : boot[Int(0.025 * Double(boot.count))], hi = boot.isEmpty ? .nan : boot[min(boot.count - 1, Int(0.975 * Double(boot.count)))]
            s += String(format: "  Spearman(confidence, Pearson) %.3f, 95%% bootstrap CI [%.3f, %.3f] (2,000 resamples of genes), one-sided permutation p %.4f (%d permutations)\n",
                        rho, lo, hi, Double(above + 1) / Double(draws + 1), draws)
            let order = g.indices.sorted { conf[$0] > conf[$1] }
            let top = order.prefix(n / 2), bottom = order.suffix(n / 2)
            func mean(_ ix: ArraySlice<Int>, _ v: [Double]) -> Double { ix.reduce(0) { $0 + v[$1] } / Double(max(1, ix.count)) }
            s += String(format: "  more confident half (%d genes): mean Pearson %.4f, confidence %.3f; less confident half: %.4f, confidence %.3f\n",
                        top.count, mean(top, pearson), mean(top, conf), mean(bottom, pearson), mean(bottom, conf))
        } else {
            s += "  Spearman undefined (one model per fit: --ensemble 1, or fewer than 3 genes)\n"
        }
        s += "  scale error, median |log(mean predicted / mean measured)|:"
        for (k, c) in ScaleCalibration.all.enumerated() {
            s += String(format: " %@ %.3f%@", c.name, QueryScale.medianAbsLog(g.map { $0.factors[k] * $0.predictedMean / $0.measuredMean }),
                        k + 1 < ScaleCalibration.all.count ? "," : "\n")
        }
        s += "  gene confidence pearson predicted_mean measured_mean " + ScaleCalibration.all.map { "factor_" + $0.name }.joined(separator: " ") + "\n"
        for o in g {
            s += String(format: "  %@ %.4f %.4f %.4g %.4g", o.gene, o.confidence, o.pearson, o.predictedMean, o.measuredMean)
                + o.factors.map { String(format: " %.4g", $0) }.joined() + "\n"
        }
        return s
    }
}
