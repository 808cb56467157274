import Foundation
import Testing
import Tensor
@testable import Analysis

/// kNN and the linear head against a plain reference and on separable data.
@Suite struct ClassifierTests {
    /// Seeded Gaussian blobs: `classes` centres 4 apart in `dims` dimensions, unit noise.
    static func blobs(_ n: Int, classes: Int, dims: Int, seed: UInt64) -> (Matrix, [Int]) {
        var rng = SeededRNG(seed: seed)
        var x = Matrix(rows: n, cols: dims), y = [Int](repeating: 0, count: n)
        for i in 0..<n {
            y[i] = i % classes
            for j in 0..<dims { x.data[i * dims + j] = Float(rng.normal()) + (j % classes == y[i] ? 4 : 0) }
        }
        return (x, y)
    }

    /// The GEMM-based search picks the same neighbours as a naive double loop, so the vote shares agree.
    @Test func knnMatchesANaiveSearch() throws {
        let (train, y) = Self.blobs(300, classes: 3, dims: 6, seed: 1)
        var (query, _) = Self.blobs(40, classes: 3, dims: 6, seed: 2)
        query.data = query.data.map { $0 * 0.5 }   // ambiguous points, so votes are split
        let k = 7
        let p = try KNNClassifier(k: k).predict(train: train, labels: y, classes: 3, query: query)
        for i in 0..<query.rows {
            let d = (0..<train.rows).map { j in (0..<6).reduce(Float(0)) { s, t in
                let v = query.data[i * 6 + t] - train.data[j * 6 + t]; return s + v * v } }
            let nearest = d.indices.sorted { d[$0] < d[$1] }.prefix(k)
            var votes = [Float](repeating: 0, count: 3)
            for j in nearest { votes[y[j]] += 1 / Float(k) }
            for c in 0..<3 { #expect(abs(p.probabilities[i, c] - votes[c]) < 1e-5, "row \(i) class \(c)") }
            #expect(abs(p.confidence[i] - Double(votes.max()!)) < 1e-5)
        }
    }

    @Test func linearHeadSeparatesBlobsAndGivesProbabilities() throws {
        let (train, y) = Self.blobs(400, classes: 4, dims: 8, seed: 3)
        let (query, truth) = Self.blobs(200, classes: 4, dims: 8, seed: 4)
        let p = try LinearClassifier().fit(train, labels: y, classes: 4).predict(query)
        let acc = Double(zip(p.labels, truth).filter { $0 == $1 }.count) / 200
        #expect(acc > 0.97, "accuracy \(acc)")
        for i in 0..<p.probabilities.rows {
            let row = (0..<4).map { p.probabilities[i, $0] }
            #expect(abs(row.reduce(0, +) - 1) < 1e-4)
        }
        let knn = try KNNClassifier(k: 15).predict(train: train, labels: y, classes: 4, query: query)
        #expect(Double(zip(knn.labels, truth).filter { $0 == $1 }.count) / 200 > 0.97)
    }

    @Test func badInputNamesTheProblem() {
        let x = Matrix(rows: 3, cols: 2, data: [0, 0, 1, 1, 2, 2])
        #expect(throws: AnalysisError.self) { try KNNClassifier(k: 2).predict(train: x, labels: [0, 1, 2], classes: 2, query: x) }
        #expect(throws: AnalysisError.self) { try KNNClassifier(k: 5).predict(train: x, labels: [0, 1, 1], classes: 2, query: x) }
        #expect(throws: AnalysisError.self) { try LinearClassifier().fit(x, labels: [0, 1], classes: 2) }
        #expect(throws: AnalysisError.self) {
            try KNNClassifier(k: 1).predict(train: x, labels: [0, 1, 1], classes: 2, query: Matrix(rows: 1, cols: 3))
        }
    }
}
