import Foundation
import Testing
import Tensor
@testable import Analysis

/// Bad input gives typed errors that name the parameter.
@Suite struct ErrorTests {
    static let small = Matrix(rows: 4, cols: 2, data: [0, 1, 2, 3, 4, 5, 6, 7])
    static var withNaN: Matrix { var m = small; m[2, 1] = .nan; return m }
    static let empty = Matrix(rows: 0, cols: 3)

    @Test func kLargerThanN() {
        #expect(throws: AnalysisError.outOfRange(parameter: "k", value: 4, allowed: 1...3)) { try KNNGraph.exact(Self.small, k: 4) }
        #expect(throws: AnalysisError.outOfRange(parameter: "k", value: 9, allowed: 1...3)) { try KNNGraph.approximate(Self.small, k: 9) }
        #expect(throws: AnalysisError.outOfRange(parameter: "k", value: 5, allowed: 1...4)) { try KMeans(k: 5).fit(Self.small) }
        #expect(throws: AnalysisError.outOfRange(parameter: "components", value: 3, allowed: 1...2)) {
            try PCA(components: 3).fit(Self.small)
        }
    }

    @Test func emptyInput() {
        #expect(throws: AnalysisError.empty(parameter: "x")) { try PCA(components: 1).fit(Self.empty) }
        #expect(throws: AnalysisError.empty(parameter: "x")) { try KNNGraph.exact(Self.empty, k: 1) }
        #expect(throws: AnalysisError.empty(parameter: "x")) { try KMeans(k: 1).fit(Self.empty) }
        #expect(throws: AnalysisError.empty(parameter: "graph")) { try Leiden().fit(CSRMatrix.zeros(rows: 0, cols: 0)) }
        #expect(throws: AnalysisError.empty(parameter: "a")) { try Metrics.adjustedRandIndex([Int](), []) }
    }

    @Test func mismatchedLengths() {
        #expect(throws: AnalysisError.lengthMismatch(parameter: "b", expected: 3, actual: 2)) {
            try Metrics.adjustedRandIndex([0, 1, 1], [0, 1])
        }
        #expect(throws: AnalysisError.lengthMismatch(parameter: "b", expected: 2, actual: 3)) {
            try Metrics.normalizedMutualInformation([0, 1], [0, 1, 1])
        }
        #expect(throws: AnalysisError.lengthMismatch(parameter: "predicted", expected: 2, actual: 1)) {
            try Metrics.macroF1(truth: [0, 1], predicted: [0])
        }
        #expect(throws: AnalysisError.lengthMismatch(parameter: "y", expected: 2, actual: 3)) {
            try Metrics.pearson([1.0, 2], [1.0, 2, 3])
        }
        #expect(throws: AnalysisError.lengthMismatch(parameter: "labels", expected: 300, actual: 2)) {
            try Leiden.quality(try Fixture.scanpyGraph(), labels: [0, 1])
        }
    }

    @Test func nonFinite() {
        let nan = AnalysisError.nonFinite(parameter: "x", index: 5)
        #expect(throws: nan) { try PCA(components: 1).fit(Self.withNaN) }
        #expect(throws: nan) { try KNNGraph.exact(Self.withNaN, k: 1) }
        #expect(throws: nan) { try KMeans(k: 2).fit(Self.withNaN) }
        #expect(throws: AnalysisError.nonFinite(parameter: "y", index: 1)) { try Metrics.cosine([1.0, 2], [1.0, .nan]) }
        let g = CSRMatrix(rows: 2, cols: 2, indptr: [0, 1, 2], indices: [1, 0], values: [.nan, .nan])
        #expect(throws: AnalysisError.nonFinite(parameter: "graph.values", index: 0)) { try Leiden().fit(g) }
    }

    @Test func invalidParameters() {
        let g = CSRMatrix(rows: 2, cols: 2, indptr: [0, 1, 2], indices: [1, 0], values: [1, 1])
        #expect(throws: AnalysisError.self) { try Leiden(resolution: -1).fit(g) }
        #expect(throws: AnalysisError.self) { try Leiden(iterations: 0).fit(g) }
        #expect(throws: AnalysisError.self) { try Metrics.pearson([1.0, 1], [1.0, 2]) }
        let message = AnalysisError.outOfRange(parameter: "k", value: 4, allowed: 1...3).description
        #expect(message.contains("k") && message.contains("1...3"))
    }
}
