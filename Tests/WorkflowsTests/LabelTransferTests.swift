import Foundation
import Testing
import Tensor
@testable import Workflows

/// The classifier choice of `annotate` (`LabelTransfer`): candidates scored on validation cells only, and the
/// mean of the two best validated heads as one more candidate.
@Suite struct LabelTransferTests {
    /// Four classes; each view tells only half of the class: view A the class's parity ({0,2} vs {1,3}), view B
    /// its half ({0,1} vs {2,3}). Rows 0..<n.
    static func views(n: Int, seed: UInt64) -> (codes: [Int32], a: Matrix, b: Matrix) {
        var rng = SeededRNG(seed: seed)
        var codes = [Int32](repeating: 0, count: n), a = Matrix(rows: n, cols: 3), b = Matrix(rows: n, cols: 3)
        for i in 0..<n {
            let c = i % 4
            codes[i] = Int32(c)
            for j in 0..<3 {
                a.data[i * 3 + j] = Float(rng.normal() * 0.3) + (j == 0 ? Float(c % 2) * 3 : 0)
                b.data[i * 3 + j] = Float(rng.normal() * 0.3) + (j == 0 ? Float(c / 2) * 3 : 0)
            }
        }
        return (codes, a, b)
    }

    static func features(latent: Matrix, projection: Matrix) -> CellFeatures {
        CellFeatures(latent: latent, projection: projection, expression: Matrix(rows: latent.rows, cols: 2), niche: nil)
    }

    @Test func theMeanOfTwoHeadsIsChosenWhenEachSeesHalfOfTheClass() throws {
        let ref = Self.views(n: 600, seed: 1), query = Self.views(n: 200, seed: 2)
        let f = Self.features(latent: ref.a, projection: ref.b), q = Self.features(latent: query.a, projection: query.b)
        let train = Array(0..<400), validation = Array(400..<600)
        let o = try LabelTransfer.run(reference: f, codes: ref.codes, train: train, validation: validation, query: q, classes: 4, choice: .knn)
        #expect(o.selection.methods == [.knnLatent, .knnProjection] || o.selection.methods == [.knnProjection, .knnLatent], "\(o.selection.name)")
        // Each head alone is at chance within its blind half (about 0.5 macro-F1); their mean tells the classes apart
        // (0.92 here: where both heads are unsure the intersection class can still lose).
        for m in [LabelTransfer.Method.knnLatent, .knnProjection] { #expect(o.validationMacroF1[m.rawValue]! < 0.7, "\(o.validationMacroF1)") }
        #expect(o.validationMacroF1["top2_mean"]! > 0.85, "\(o.validationMacroF1)")
        let accuracy = Double(zip(o.argmax, query.codes).filter { $0 == Int($1) }.count) / Double(query.codes.count)
        #expect(accuracy > 0.85, "query accuracy \(accuracy)")
        #expect(o.ranked.first == o.selection && o.ranked.count == 3)
    }

    /// Where one view tells the whole class, the single head on it is chosen (a pair with a blind head does
    /// not validate better), and the choice reads the validation cells: swapping which view is informative on
    /// the training rows only leaves the choice to validation.
    @Test func aSingleHeadThatSeesEverythingIsChosenAlone() throws {
        let ref = Self.views(n: 600, seed: 3), query = Self.views(n: 200, seed: 4)
        // Latent = both halves (class fully determined); projection = noise.
        func full(_ v: (codes: [Int32], a: Matrix, b: Matrix)) -> Matrix {
            CellFeatures.concat([v.a, v.b])
        }
        var noise = SeededRNG(seed: 5)
        let blind = Matrix(rows: 600, cols: 6, data: (0..<3600).map { _ in Float(noise.normal()) })
        let qBlind = Matrix(rows: 200, cols: 6, data: (0..<1200).map { _ in Float(noise.normal()) })
        let f = Self.features(latent: full(ref), projection: blind), q = Self.features(latent: full(query), projection: qBlind)
        let o = try LabelTransfer.run(reference: f, codes: ref.codes, train: Array(0..<400), validation: Array(400..<600), query: q,
                                      classes: 4, choice: .knn)
        #expect(o.selection.methods == [.knnLatent], "\(o.selection.name) \(o.validationMacroF1)")
        #expect(o.validationMacroF1[LabelTransfer.Method.knnProjection.rawValue]! < 0.45)
    }

    /// Without validation cells nothing is chosen: the first candidate predicts, and no scores are reported.
    @Test func withoutValidationTheFirstCandidatePredicts() throws {
        let ref = Self.views(n: 200, seed: 6)
        let f = Self.features(latent: ref.a, projection: ref.b)
        let o = try LabelTransfer.run(reference: f, codes: ref.codes, train: Array(0..<200), validation: [], query: f, classes: 4, choice: .knn)
        #expect(o.selection.methods == [.knnLatent] && o.validationMacroF1.isEmpty)
    }

    /// No labelled cell left to fit on is an error naming the parameter to change, not a crash.
    @Test func noTrainingCellsIsAnErrorNotACrash() throws {
        let ref = Self.views(n: 40, seed: 7)
        let f = Self.features(latent: ref.a, projection: ref.b)
        #expect(throws: WorkflowError.self) {
            try LabelTransfer.run(reference: f, codes: ref.codes, train: [], validation: [], query: f, classes: 4)
        }
    }
}
