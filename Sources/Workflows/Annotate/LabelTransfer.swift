import Analysis
import Foundation
import Tensor

/// The classifier step of `annotate`: predicts each query cell's class from an embedding of labelled cells,
/// choosing the classifier by macro-F1 on validation cells that the embedding never trained on.
///
/// Candidates (`CellFeatures`): kNN (`k` neighbours) and a linear head (`LinearClassifier`, class-balanced
/// softmax), each on the fine-tuned latent (`obsm['X_tessera']`) and on the SupCon projection
/// (`obsm['X_tessera_supcon']`); the linear head on the cell's log-normalised expression alone, on the latent
/// joined with it, and, for spatial data, on that plus the cell's niche (the mean of both over its 10 nearest
/// spatial neighbours). Each is fit on the training cells and scored on the validation cells; then the two
/// best are averaged (the mean of their class probabilities) and scored the same way, as one more candidate.
/// The best `Selection` (ties → a single method, then the earlier in `Method.allCases`) is refit on training +
/// validation cells and predicts the query. A cell whose confidence (the selection's probability of its class)
/// is below `minConfidence` is reported as unknown (−1).
///
/// Why the pair: on osmFISH the expression head and the embedding heads err on different cells (the SupCon
/// latent of training cells is fit to their labels, so a head on it trusts it more than held-out cells bear
/// out); averaging the two best validated heads was ahead of either on development splits (docs/annotate.md).
public enum LabelTransfer {
    public enum Method: String, CaseIterable, Sendable {
        case knnLatent = "knn_latent", knnProjection = "knn_supcon", linearLatent = "linear_latent", linearProjection = "linear_supcon"
        case linearExpression = "linear_expression"
        case linearLatentExpression = "linear_latent_expression", linearLatentExpressionNiche = "linear_latent_expression_niche"
        public var isKNN: Bool { self == .knnLatent || self == .knnProjection }

        /// Whether a set of cells has this method's features (the niche needs coordinates), without building them.
        func available(in f: CellFeatures) -> Bool { self != .linearLatentExpressionNiche || f.niche != nil }

        /// The features this method reads; nil when a set of cells lacks them (no coordinates: no niche).
        func features(_ f: CellFeatures) -> Matrix? {
            switch self {
            case .knnLatent, .linearLatent: return f.latent
            case .knnProjection, .linearProjection: return f.projection
            case .linearExpression: return f.expression
            case .linearLatentExpression: return CellFeatures.concat([f.latent, f.expression])
            case .linearLatentExpressionNiche: return f.niche.map { CellFeatures.concat([f.latent, f.expression, $0]) }
            }
        }
    }

    /// What predicts: one method, or two whose class probabilities are averaged.
    public struct Selection: Hashable, Sendable {
        public var methods: [Method]
        public init(_ methods: [Method]) { self.methods = methods }
        /// `linear_expression`, or `linear_expression+linear_latent_expression` for a pair.
        public var name: String { methods.map(\.rawValue).joined(separator: "+") }
        /// The key of its validation score: the method's name, or `top2_mean` for the pair (whose members vary
        /// from run to run, so metrics keep one name).
        public var key: String { methods.count > 1 ? "top2_mean" : name }
        func usable(_ f: CellFeatures) -> Bool { methods.allSatisfy { $0.available(in: f) } }
    }

    /// Which classifiers may be chosen (the workflow's `classifier` parameter).
    public enum Choice: String, CaseIterable, Sendable {
        case auto, knn, linear
        public var methods: [Method] {
            switch self {
            case .auto: return Method.allCases
            case .knn: return [.knnLatent, .knnProjection]
            case .linear: return Method.allCases.filter { !$0.isKNN }
            }
        }
    }

    public struct Outcome: Sendable {
        /// Per query cell: class index, or −1 when the confidence is below the threshold.
        public var labels: [Int]
        /// Per query cell: the class the classifier ranks first (never −1) and its probability.
        public var argmax: [Int]
        public var confidence: [Double]
        public var selection: Selection
        /// Validation macro-F1 of every candidate tried, by `Selection.key` (empty without validation cells).
        public var validationMacroF1: [String: Double]
        /// The candidates tried, best-validated first (for a query that cannot use the chosen one).
        public var ranked: [Selection]
    }

    /// Fits on `reference` rows `train` (labels `codes`, classes 0..<classes), selects on rows `validation`, and
    /// predicts every row of `query`.
    public static func run(reference: CellFeatures, codes: [Int32], train: [Int], validation: [Int], query: CellFeatures,
                           classes: Int, choice: Choice = .auto, k: Int = 15, minConfidence: Double = 0.5) throws -> Outcome {
        // Methods whose features both sides have (the niche needs coordinates on both).
        let candidates = choice.methods.filter { $0.available(in: reference) && $0.available(in: query) }
        guard !candidates.isEmpty else {
            throw WorkflowError.invalidParameter(name: "classifier", message: "none of \(choice.methods.map(\.rawValue).joined(separator: ", ")) can run on these cells (the niche needs coordinates on both sides); use classifier=auto")
        }
        var scores: [String: Double] = [:]
        var ranked = candidates.map { Selection([$0]) }
        if !validation.isEmpty && !train.isEmpty && candidates.count > 1 {
            let truth = validation.map { Int(codes[$0]) }
            var predictions: [Method: Matrix] = [:]
            for m in candidates {
                let f = m.features(reference)!
                let p = try fitPredict(m, features: f, codes: codes, rows: train, query: f.selecting(rows: validation), k: k, classes: classes)
                scores[m.rawValue] = try Metrics.macroF1(truth: truth, predicted: p.labels)
                predictions[m] = p.probabilities
            }
            // Stable: equal scores keep Method.allCases order.
            let singles = candidates.enumerated().sorted { (scores[$0.element.rawValue]!, -$0.offset) > (scores[$1.element.rawValue]!, -$1.offset) }.map(\.element)
            let pair = Selection(Array(singles.prefix(2)))
            scores[pair.key] = try Metrics.macroF1(truth: truth, predicted: ClassPrediction(probabilities: mean(pair.methods.map { predictions[$0]! })).labels)
            ranked = (singles.map { Selection([$0]) } + [pair]).enumerated()
                .sorted { (scores[$0.element.key]!, -$0.offset) > (scores[$1.element.key]!, -$1.offset) }.map(\.element)
        }
        return try predict(ranked[0], reference: reference, codes: codes, rows: train + validation, query: query, classes: classes,
                           k: k, minConfidence: minConfidence, scores: scores, ranked: ranked)
    }

    /// Fits `selection` on `reference` rows `rows` and predicts every row of `query` (no selection step).
    public static func predict(_ selection: Selection, reference: CellFeatures, codes: [Int32], rows fit: [Int], query: CellFeatures,
                               classes: Int, k: Int = 15, minConfidence: Double = 0.5,
                               scores: [String: Double] = [:], ranked: [Selection] = []) throws -> Outcome {
        guard !fit.isEmpty else {
            throw WorkflowError.invalidParameter(name: "validation_fraction", message: "no labelled cell is left to fit the classifier on; label more cells or lower heldout_fraction/validation_fraction")
        }
        guard selection.usable(reference) && selection.usable(query) else {
            throw WorkflowError.invalidParameter(name: "classifier", message: "\(selection.name) cannot run on these cells (the niche needs coordinates on both sides); use classifier=auto")
        }
        let parts = try selection.methods.map { m in
            try fitPredict(m, features: m.features(reference)!, codes: codes, rows: fit, query: m.features(query)!, k: k, classes: classes).probabilities
        }
        let p = ClassPrediction(probabilities: mean(parts))
        let labels = zip(p.labels, p.confidence).map { $1 >= minConfidence ? $0 : -1 }
        return Outcome(labels: labels, argmax: p.labels, confidence: p.confidence, selection: selection, validationMacroF1: scores,
                       ranked: ranked.isEmpty ? [selection] : ranked)
    }

    /// Method `m` fit on `rows` of the reference's `features` (its features for `m`), predicting `x` (the
    /// query's features for `m`).
    static func fitPredict(_ m: Method, features: Matrix, codes: [Int32], rows: [Int], query x: Matrix, k: Int, classes: Int) throws -> ClassPrediction {
        precondition(!rows.isEmpty, "training rows")
        let y = rows.map { Int(codes[$0]) }
        let z = features.selecting(rows: rows)
        if m.isKNN { return try KNNClassifier(k: min(k, rows.count)).predict(train: z, labels: y, classes: classes, query: x) }
        return try LinearClassifier().fit(z, labels: y, classes: classes).predict(x)
    }

    /// The element-wise mean of equally shaped probability matrices.
    static func mean(_ parts: [Matrix]) -> Matrix {
        var out = parts[0]
        guard parts.count > 1 else { return out }
        for p in parts.dropFirst() { for t in 0..<out.data.count { out.data[t] += p.data[t] } }
        let f = 1 / Float(parts.count)
        for t in 0..<out.data.count { out.data[t] *= f }
        return out
    }

    /// Accuracy, macro-F1 (scikit-learn's, over the true and predicted classes) and ARI of `predicted` (argmax,
    /// never unknown) against `truth`; plus the share below the confidence threshold and the accuracy of the
    /// rest. Keys are prefixed with `prefix`.
    public static func scores(truth: [Int], predicted: [Int], thresholded: [Int], prefix: String = "") throws -> [String: Double] {
        guard !truth.isEmpty else { return [:] }
        let correct = zip(truth, predicted).filter { $0 == $1 }.count
        let confident = zip(truth, thresholded).filter { $1 >= 0 }
        return [
            prefix + "accuracy": Double(correct) / Double(truth.count),
            prefix + "macro_f1": try Metrics.macroF1(truth: truth, predicted: predicted),
            prefix + "ari": try Metrics.adjustedRandIndex(truth, predicted),
            prefix + "unknown_fraction": 1 - Double(confident.count) / Double(truth.count),
            prefix + "accuracy_confident": confident.isEmpty ? .nan : Double(confident.filter { $0 == $1 }.count) / Double(confident.count),
            prefix + "cells": Double(truth.count),
        ]
    }
}
