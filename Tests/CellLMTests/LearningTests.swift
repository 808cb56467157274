import Foundation
import Testing
import Tensor
import SpatialData
import Workflows
@testable import CellLM

/// Pretraining on real tissue learns: on osmFISH (../shared/data) cut into 5×5 spatial tiles, every fifth tile
/// held out, a short run of the `small` model (VAE latent, position embedding on) lowers the held-out
/// masked-gene NB loss below its own start and below a per-gene mean profile with moment-fitted dispersions.
/// `tessera-bench learn` runs the same recipe for minutes and prints the curve.
@Suite struct LearningTests {
    static let path = "../shared/data/osmfish/osmfish_valid_cells.h5ad"

    @Test(.enabled(if: FileManager.default.fileExists(atPath: path), "../shared/data/osmfish is absent: skipped"))
    func pretrainingOnOsmFISHBeatsTheMeanProfile() throws {
        let ds = DatasetSequences.tiled(try DatasetReader.read(path: Self.path), grid: 5)
        let set = try DatasetSequences.make(ds)
        let held = set.sequences.indices.filter { $0 % 5 == 2 }
        let train = set.sequences.indices.filter { $0 % 5 != 2 }.map { set.sequences[$0] }
        let test = held.map { set.sequences[$0] }
        var cfg = CellLMConfig.small(genes: ds.geneCount)
        cfg.latent = .vae
        let model = try CellLM(config: cfg, seed: 1)
        model.initializeDecoderBias(from: train)
        var opts = TrainingOptions(); opts.learningRate = 1e-3; opts.warmupSteps = 100; opts.embedderLRScale = 1
        let trainer = try Trainer(model: model, options: opts)
        let stats = MaskedEvaluation.geneStatistics(train)
        let before = try MaskedEvaluation.evaluate(model: model, sequences: test, profile: stats.mean, baselineTheta: stats.theta)
        var rng = SeededRNG(seed: 2)
        let steps = 800
        for _ in 0..<steps { try trainer.step(train[rng.int(below: train.count)]) }
        let after = try MaskedEvaluation.evaluate(model: model, sequences: test, profile: stats.mean, baselineTheta: stats.theta)
        #expect(after.model < before.model * 0.93, "untrained \(before.model) → trained \(after.model)")
        #expect(after.model < after.baseline * 0.985, "trained \(after.model) vs mean profile \(after.baseline)")
    }
}
