import Foundation
import Testing
import Tensor
@testable import Analysis

@Suite struct KMeansTests {
    struct Ref: Decodable { var k: Int, labels: [Int], inertia: Double, centroids: [Float] }
    struct File: Decodable { var blobs: Ref, counts: Ref }

    /// The log counts standardised like scikit-learn's StandardScaler (population standard deviation).
    static func standardised(_ m: Matrix) -> Matrix {
        var out = m
        for j in 0..<m.cols {
            let col = (0..<m.rows).map { Double(m[$0, j]) }
            let mean = col.reduce(0, +) / Double(m.rows)
            let sd = (col.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(m.rows)).squareRoot()
            for i in 0..<m.rows { out[i, j] = Float((col[i] - mean) / (sd > 0 ? sd : 1)) }
        }
        return out
    }

    @Test func matchesScikitLearn() throws {
        let f: File = try Fixture.load("kmeans")
        let blobs = try Fixture.blobs
        for (name, x, ref) in [("blobs", blobs.matrix, f.blobs), ("counts", Self.standardised(blobs.logCounts), f.counts)] {
            let r = try KMeans(k: ref.k, restarts: 10, seed: 0).fit(x)
            let ari = try Metrics.adjustedRandIndex(ref.labels, r.labels)
            let rel = (r.inertia - ref.inertia) / ref.inertia
            #expect(abs(rel) < 0.01, "\(name) inertia")
            #expect(ari >= 0.99, "\(name) labels")
            #expect(r.centroids.rows == ref.k && r.centroids.cols == x.cols)
        }
    }
}
