import Foundation
import Testing
@testable import Analysis

@Suite struct MetricsTests {
    struct Ref: Decodable {
        var a: [Int], b: [Int], ari: Double, nmi: Double, x: [Double], y: [Double], pearson: Double, cosine: Double
        var t: [Int], p: [Int], macroF1: Double, alignedMacroF1: Double
    }

    @Test func matchScikitLearn() throws {
        let r: Ref = try Fixture.load("metrics")
        let values: [(String, Double, Double)] = [
            ("ARI", try Metrics.adjustedRandIndex(r.a, r.b), r.ari),
            ("NMI", try Metrics.normalizedMutualInformation(r.a, r.b), r.nmi),
            ("Pearson", try Metrics.pearson(r.x, r.y), r.pearson),
            ("cosine", try Metrics.cosine(r.x, r.y), r.cosine),
            ("macro-F1", try Metrics.macroF1(truth: r.t, predicted: r.p), r.macroF1),
            ("aligned macro-F1", try Metrics.alignedMacroF1(truth: r.a, clusters: r.b), r.alignedMacroF1),
        ]
        for (name, ours, theirs) in values {
            #expect(abs(ours - theirs) < 1e-6, "\(name)")
        }
    }

    @Test func edgeCases() throws {
        #expect(try Metrics.adjustedRandIndex([0, 0, 1, 1], [5, 5, 3, 3]) == 1)
        #expect(try Metrics.normalizedMutualInformation(["a", "a", "b"], ["x", "x", "y"]) == 1)
        #expect(try Metrics.adjustedRandIndex([1, 1, 1], [2, 2, 2]) == 1)
        #expect(abs(try Metrics.pearson([Float(1), 2, 3], [2, 4, 6]) - 1) < 1e-12)
        #expect(try Metrics.macroF1(truth: ["T", "B"], predicted: ["T", "B"]) == 1)
        #expect(try Metrics.alignment(truth: [0, 0, 1, 1, 2], clusters: [7, 7, 9, 9, 9]) == [7: 0, 9: 1])
    }
}
