import Foundation
import Tensor

/// k-nearest-neighbour classification on an embedding (scikit-learn's `KNeighborsClassifier` with uniform
/// weights and the Euclidean metric): each query row takes the majority class of its `k` nearest training rows;
/// a class's probability is its share of those `k` votes (ties → the lower class index).
///
///     let p = try KNNClassifier(k: 15).predict(train: z, labels: y, classes: 8, query: q)
///     p.labels[0], p.confidence[0]
///
/// Exact search: squared distances ‖q‖² − 2 q·t + ‖t‖² with one GEMM per block of query rows, so 10,000 ×
/// 10,000 cells of 128 dimensions take well under a second.
public struct KNNClassifier: Sendable {
    public var k: Int
    public init(k: Int = 15) { self.k = k }

    public func predict(train: Matrix, labels: [Int], classes: Int, query: Matrix) throws(AnalysisError) -> ClassPrediction {
        try ClassifierInput.check(train, labels: labels, classes: classes)
        try ClassifierInput.checkQuery(query, dims: train.cols)
        try Check.range(k, "k", 1, train.rows)
        let n = query.rows, m = train.rows, d = train.cols
        var probs = Matrix(rows: n, cols: classes)
        if n == 0 { return ClassPrediction(probabilities: probs) }
        var tNorm = [Float](repeating: 0, count: m)
        for j in 0..<m { var s: Float = 0; for t in 0..<d { s += train.data[j * d + t] * train.data[j * d + t] }; tNorm[j] = s }
        let block = 512
        var dots = [Float](repeating: 0, count: block * m)
        for lo in stride(from: 0, to: n, by: block) {
            let rows = min(block, n - lo)
            query.data.withUnsafeBufferPointer { q in
                train.data.withUnsafeBufferPointer { tr in
                    dots.withUnsafeMutableBufferPointer { c in
                        BLAS.gemm(transB: true, m: rows, n: m, k: d, a: q.baseAddress! + lo * d, lda: d, b: tr.baseAddress!, ldb: d,
                                  c: c.baseAddress!, ldc: m)
                    }
                }
            }
            for r in 0..<rows {
                // The k smallest of ‖t‖² − 2 q·t (‖q‖² is the same for every t), kept sorted by insertion.
                var best = [(Float, Int)](), worst = Float.infinity
                best.reserveCapacity(k + 1)
                for j in 0..<m {
                    let dist = tNorm[j] - 2 * dots[r * m + j]
                    if best.count < k || dist < worst {
                        let at = best.firstIndex { $0.0 > dist } ?? best.count
                        best.insert((dist, j), at: at)
                        if best.count > k { best.removeLast() }
                        worst = best.count == k ? best[k - 1].0 : .infinity
                    }
                }
                let i = lo + r
                for (_, j) in best { probs.data[i * classes + labels[j]] += 1 / Float(k) }
            }
        }
        return ClassPrediction(probabilities: probs)
    }
}
