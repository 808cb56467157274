import Analysis
import Foundation
import Tensor

/// The classifier step of `annotate`: predicts each query cell's class from an embedding of labelled cells,
/// choosing the classifier by macro-F1 on validation cells that the embedding never trained on.
///
/// Candidates: kNN (`k` neighbours) and a linear head (`LinearClassifier`, class-balanced softmax), each on the
/// fine-tuned latent (`obsm['X_tessera']`) and on the SupCon projection (`obsm['X_tessera_supcon']`). Each is fit
/// on the training cells and scored on the validation cells; the best (ties → the earlier in `Method.allCases`)
/// is refit on training + validation cells and predicts the query. A cell whose confidence (the chosen
/// classifier's probability of its class) is below `minConfidence` is reported as unknown (−1).
public enum LabelTransfer {
    public enum Method: String, CaseIterable, Sendable {
        case knnLatent = "knn_latent", knnProjection = "knn_supcon", linearLatent = "linear_latent", linearProjection = "linear_supcon"
        public var isKNN: Bool { self == .knnLatent || self == .knnProjection }
        public var onLatent: Bool { self == .knnLatent || self == .linearLatent }
    }

    /// Which classifiers may be chosen (the workflow's `classifier` parameter).
    public enum Choice: String, CaseIterable, Sendable {
        case auto, knn, linear
        public var methods: [Method] {
            switch self {
            case .auto: return Method.allCases
            case .knn: return [.knnLatent, .knnProjection]
            case .linear: return [.linearLatent, .linearProjection]
            }
        }
    }

    /// Embeddings of a set of cells: the latent and the SupCon projection, row for row.
    public struct Embeddings: Sendable {
        public var latent: Matrix, projection: Matrix
        public init(latent: Matrix, projection: Matrix) { self.latent = latent; self.projection = projection }
        func of(_ m: Method) -> Matrix { m.onLatent ? latent : projection }
        func rows(_ m: Method, _ r: [Int]) -> Matrix {
            let x = of(m), d = x.cols
            var out = Matrix(rows: r.count, cols: d)
            for (i, row) in r.enumerated() { for j in 0..<d { out.data[i * d + j] = x.data[row * d + j] } }
            return out
        }
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
    public static func run(reference: Embeddings, codes: [Int32], train: [Int], validation: [Int], query: Embeddings,
                           classes: Int, choice: Choice = .auto, k: Int = 15, minConfidence: Double = 0.5) throws -> Outcome {
        try run(reference: reference, codes: codes, train: train, validation: validation, query: query, classes: classes,
                methods: choice.methods, k: k, minConfidence: minConfidence)
    }

    /// As above with the candidate methods listed (one method: no selection).
    public static func run(reference: Embeddings, codes: [Int32], train: [Int], validation: [Int], query: Embeddings,
                           classes: Int, methods candidates: [Method], k: Int = 15, minConfidence: Double = 0.5) throws -> Outcome {
        precondition(!candidates.isEmpty, "at least one method")
        func fitPredict(_ m: Method, _ rows: [Int], _ x: Matrix) throws -> ClassPrediction {
            let y = rows.map { Int(codes[$0]) }
            let z = reference.rows(m, rows)
            if m.isKNN { return try KNNClassifier(k: min(k, rows.count)).predict(train: z, labels: y, classes: classes, query: x) }
            return try LinearClassifier().fit(z, labels: y, classes: classes).predict(x)
        }
        var scores: [Method: Double] = [:]
        var chosen = candidates[0]
        if !validation.isEmpty && candidates.count > 1 {
            let truth = validation.map { Int(codes[$0]) }
            for m in candidates {
                let p = try fitPredict(m, train, reference.rows(m, validation))
                scores[m] = try Metrics.macroF1(truth: truth, predicted: p.labels)
            }
            chosen = candidates.max { (scores[$0] ?? -1, -Double(candidates.firstIndex(of: $0)!)) < (scores[$1] ?? -1, -Double(candidates.firstIndex(of: $1)!)) }!
        }
        let p = try fitPredict(chosen, train + validation, query.of(chosen))
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
