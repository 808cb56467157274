import Foundation
import Testing
import Tensor
@testable import Analysis

@Suite struct KNNGraphTests {
    struct Ref: Decodable {
        var k: Int, indices: [Int32], distances: [Float], scanpyNeighbors: Int
        var indptr: [Int], colIndices: [Int32], values: [Float]
    }

    @Test func exactMatchesScikitLearn() throws {
        let ref: Ref = try Fixture.load("knn")
        let nb = try KNNGraph.exact(try Fixture.blobs.matrix, k: ref.k)
        var same = 0, worstDist: Float = 0
        for i in 0..<nb.count * nb.k {
            if nb.indices[i] == ref.indices[i] { same += 1 }
            worstDist = max(worstDist, abs(nb.distances[i] - ref.distances[i]) / ref.distances[i])
        }
        #expect(same == nb.indices.count)
        #expect(worstDist < 1e-4)
    }

    @Test func connectivitiesMatchScanpy() throws {
        let ref: Ref = try Fixture.load("knn")
        let nb = try KNNGraph.exact(try Fixture.blobs.matrix, k: ref.scanpyNeighbors - 1)
        let c = try KNNGraph.connectivities(nb)
        let expected = try Fixture.scanpyGraph()
        #expect(c.indptr == expected.indptr)
        #expect(c.indices == expected.indices)
        var worst: Float = 0
        for (a, b) in zip(c.values, expected.values) { worst = max(worst, abs(a - b)) }
        #expect(worst < 1e-3)
        #expect(c.nnz == expected.nnz)
    }

    @Test func approximateRecall() throws {
        // 3,000 points: 10 Gaussian blobs in 30-D plus background noise.
        var rng = SeededRNG(seed: 5)
        let n = 3000, d = 30
        let centres = (0..<(10 * d)).map { _ in Float(rng.normal() * 3) }
        var data = [Float](repeating: 0, count: n * d)
        for i in 0..<n { let c = i % 10; for j in 0..<d { data[i * d + j] = centres[c * d + j] + Float(rng.normal()) } }
        let x = Matrix(rows: n, cols: d, data: data)
        let exact = try KNNGraph.exact(x, k: 15)
        let approx = try KNNGraph.approximate(x, k: 15, seed: 3)
        let recall = approx.recall(against: exact)
        #expect(recall >= 0.95)
        #expect(try KNNGraph.approximate(x, k: 15, seed: 3) == approx, "seeded runs repeat")
    }
}
