import Foundation
import Testing
import Tensor
@testable import Analysis

@Suite struct PCATests {
    struct Ref: Decodable { var k: Int, scale: Bool, scores: [Float], loadings: [Float], ratio: [Float] }
    struct File: Decodable { var blobs: Ref, counts: Ref }

    /// Largest per-component relative error ‖ours − ref‖ / ‖ref‖ over the score columns.
    static func worstRelative(_ ours: Matrix, _ ref: [Float]) -> Double {
        var worst = 0.0
        for c in 0..<ours.cols {
            var num = 0.0, den = 0.0
            for i in 0..<ours.rows {
                let a = Double(ours[i, c]), b = Double(ref[i * ours.cols + c])
                num += (a - b) * (a - b); den += b * b
            }
            worst = max(worst, (num / den).squareRoot())
        }
        return worst
    }

    @Test(arguments: [PCA.Solver.covariance, .randomized(oversamples: 20, powerIterations: 8, seed: 1)])
    func matchesScikitLearn(solver: PCA.Solver) throws {
        let f: File = try Fixture.load("pca")
        let blobs = try Fixture.blobs
        for (name, x, ref) in [("blobs", blobs.matrix, f.blobs), ("counts", blobs.logCounts, f.counts)] {
            let r = try PCA(components: ref.k, scale: ref.scale, solver: solver).fit(x)
            let scoreErr = Self.worstRelative(r.scores, ref.scores)
            let ratioErr = zip(r.explainedVarianceRatio, ref.ratio).map { abs(Double($0) - Double($1)) / Double($1) }.max()!
            #expect(scoreErr < 1e-3, "\(name) scores")
            #expect(ratioErr < 1e-3, "\(name) explained variance ratio")
            #expect(r.loadings.rows == ref.k && r.loadings.cols == x.cols)
        }
    }
}
