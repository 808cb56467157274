import Analysis
import Foundation
import Tensor

/// The classifier step of `annotate`: predicts each query cell's class from an embedding of labelled cells,
/// choosing the classifier by macro-F1 on validation cells that the embedding never trained on.
///
/// Candidates (`CellFeatures`): kNN (`k` neighbours) and a linear head (`LinearClassifier`, class-balanced
/// softmax), each on the fine-tuned latent (`obsm['X_tessera']`) and on the SupCon projection
/// (`obsm['X_tessera_supcon']`); the linear head on the latent joined with the cell's log-normalised expression;
/// and, for spatial data, that plus the cell's niche (the mean of both over its 10 nearest spatial neighbours).
/// Each is fit on the training cells and scored on the validation cells; the best (ties → the earlier in
/// `Method.allCases`) is refit on training + validation cells and predicts the query. A cell whose confidence (the chosen
/// classifier's probability of its class) is below `minConfidence` is reported as unknown (−1).
public enum LabelTransfer {
    public enum Method: String, CaseIterable, Sendable {
        case knnLatent = "knn_latent", knnProjection = "knn_supcon", linearLatent = "linear_latent", linearProjection = "linear_supcon"
        case linearLatentExpression = "linear_latent_expression", linearLatentExpressionNiche = "linear_latent_expression_niche"
        public var isKNN: Bool { self == .knnLatent || self == .knnProjection }

        /// The features this method reads; nil when a set of cells lacks them (no coordinates: no niche).
        func features(_ f: CellFeatures) -> Matrix? {
            switch self {
            case .knnLatent, .linearLatent: return f.latent
            case .knnProjection, .linearProjection: return f.projection
            case .linearLatentExpression: return CellFeatures.concat([f.latent, f.expression])
            case .linearLatentExpressionNiche: return f.niche.map { CellFeatures.concat([f.latent, f.expression, $0]) }
            }
        }
    }

    /// Which classifiers may be chosen (the workflow's `classifier` parameter).
    public enum Choice: String, CaseIterable, Sendable {
        case auto, knn, linear
        public var methods: [Method] {
            switch self {
            case .auto: return Method.allCases
            case .knn: return [.knnLatent, .knnProjection]
            case .linear: return [.linearLatent, .linearProjection, .linearLatentExpression, .linearLatentExpressionNiche]
            }
        }
    }

    static func rows(_ x: Matrix, _ r: [Int]) -> Matrix {
        let d = x.cols
        var out = Matrix(rows: r.count, cols: d)
        for (i, row) in r.enumerated() { for j in 0..<d { out.data[i * d + j] = x.data[row * d + j] } }
        return out
    }

    public struct Outcome: Sendable {
        /// Per query cell: class index, or −1 when the confidence is below the threshold.
        public var labels: [Int]
        /// Per query cell: the class the classifier ranks first (never −1) and its probability.
        public var argmax: [Int]
        public var confidence: [Double]
        public var method: Method
        /// Validation macro-F1 of every candidate tried (NaN when there were no validation cells).
        public var validationMacroF1: [Method: Double]
    }

    /// Fits on `reference` rows `train` (labels `codes`, classes 0..<classes), selects on rows `validation`, and
    /// predicts every row of `query`.
    public static func run(reference: CellFeatures, codes: [Int32], train: [Int], validation: [Int], query: CellFeatures,
                           classes: Int, choice: Choice = .auto, k: Int = 15, minConfidence: Double = 0.5) throws -> Outcome {
        try run(reference: reference, codes: codes, train: train, validation: validation, query: query, classes: classes,
                methods: choice.methods, k: k, minConfidence: minConfidence)
    }

    /// As above with the candidate methods listed (one method: no selection).
    public static func run(reference: CellFeatures, codes: [Int32], train: [Int], validation: [Int], query: CellFeatures,
                           classes: Int, methods: [Method], k: Int = 15, minConfidence: Double = 0.5) throws -> Outcome {
        // Methods whose features both sides have (the niche needs coordinates on both).
        let candidates = methods.filter { $0.features(reference) != nil && $0.features(query) != nil }
        guard !candidates.isEmpty else {
            throw WorkflowError.invalidParameter(name: "classifier", message: "none of \(methods.map(\.rawValue).joined(separator: ", ")) can run on these cells (the niche needs coordinates on both sides); use classifier=auto")
        }
        func fitPredict(_ m: Method, _ rows: [Int], _ x: Matrix) throws -> ClassPrediction {
            precondition(!rows.isEmpty, "training rows")
            let y = rows.map { Int(codes[$0]) }
            let z = Self.rows(m.features(reference)!, rows)
            if m.isKNN { return try KNNClassifier(k: min(k, rows.count)).predict(train: z, labels: y, classes: classes, query: x) }
            return try LinearClassifier().fit(z, labels: y, classes: classes).predict(x)
        }
        var scores: [Method: Double] = [:]
        var chosen = candidates[0]
        if !validation.isEmpty && candidates.count > 1 {
            let truth = validation.map { Int(codes[$0]) }
            for m in candidates {
                let p = try fitPredict(m, train, Self.rows(m.features(reference)!, validation))
                scores[m] = try Metrics.macroF1(truth: truth, predicted: p.labels)
            }
            chosen = candidates.max { (scores[$0] ?? -1, -Double(candidates.firstIndex(of: $0)!)) < (scores[$1] ?? -1, -Double(candidates.firstIndex(of: $1)!)) }!
        }
        let p = try fitPredict(chosen, train + validation, chosen.features(query)!)
        let labels = zip(p.labels, p.confidence).map { $1 >= minConfidence ? $0 : -1 }
        return Outcome(labels: labels, argmax: p.labels, confidence: p.confidence, method: chosen, validationMacroF1: scores)
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
