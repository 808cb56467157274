import Foundation
import Testing
import Tensor
@testable import CellLM

/// One whole training step of the `tiny` model against finite differences, one parameter tensor at a time,
/// so every layer's backward (embedder, position embedding, encoder, latent, decoder, NB loss) is checked in
/// place. Dropout is on; the generator is rewound before every evaluation so each sees the same masks.
@Suite struct ModelGradientTests {
    static func sequence(cells n: Int, genes g: Int, seed: UInt64, batches: Int) -> CellSequence {
        var rng = SeededRNG(seed: seed)
        var ip = [0], ix: [Int32] = [], vs: [Float] = []
        for _ in 0..<n {
            for j in 0..<g where rng.uniform() < 0.45 {
                ix.append(Int32(j)); vs.append(Float(1 + rng.negativeBinomial(mean: 3, theta: 2)))
            }
            ip.append(vs.count)
        }
        let coords = (0..<(2 * n)).map { _ in Float(rng.uniform() * 500) }
        return CellSequence(counts: CSRMatrix(rows: n, cols: g, indptr: ip, indices: ix, values: vs),
                            coordinates: coords, batch: (0..<n).map { Int32($0 % batches) },
                            measured: (0..<Int32(g)).filter { $0 % 7 != 3 })
    }

    @Test(arguments: [LatentKind.gmvae, .vae]) func trainingStep(latent: LatentKind) throws {
        var cfg = CellLMConfig.tiny(genes: 30, batchCount: 3)
        cfg.latent = latent
        cfg.dropout = 0.1
        cfg.freeBits = 0            // keep the latent terms active (a clamped max passes no gradient)
        cfg.klWarmupSteps = 0
        cfg.dropCellRate = 0.2
        let model = try CellLM(config: cfg, seed: 11)
        let seq = Self.sequence(cells: 40, genes: 30, seed: 5, batches: 3)
        var maskRNG = SeededRNG(seed: 9)
        let masked = MaskedSequence.make(counts: seq.counts, measured: seq.measured, config: cfg, rng: &maskRNG)
        let replay = Replay(masked: masked)
        let start = model.rng
        func loss() -> Double {
            model.rng = start; model.step = 0
            return Double(try! model.trainStep(seq, replay: replay).total)
        }
        model.params.zeroGrads()
        let base = loss()
        #expect(base.isFinite)
        let grads = model.params.grads.array
        var checked = 0
        for info in model.params.infos {
            let g = Array(grads[info.offset..<(info.offset + info.count)])
            if g.allSatisfy({ $0 == 0 }) {
                // Only parameters that cannot reach the loss may have an all-zero gradient.
                let unused = info.name.contains("dataset") || info.name.contains("missing_pe")
                #expect(unused, "\(info.name) got no gradient")
                continue
            }
            // Step: about 0.1% of the tensor's typical entry along a unit-ish direction. The loss is float32, so a
            // ReLU/PReLU kinks need the small step. The difference quotient carries noise of about |L|·1e-6/h; the tolerance adds that floor.
            let vals = model.params.array(info.name)
            let rms = (vals.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(info.count)).squareRoot()
            let h = Float(1e-3 * max(rms, 1e-2) * (Double(info.count) / 2).squareRoot())
            let r = GradientCheck.directional(model.params.values.pointer + info.offset, count: info.count, grad: g,
                                              h: h, f: loss)
            let floor = abs(base) * 1e-6 / Double(h)
            checked += 1
            #expect(abs(r.fd - r.analytic) <= 2e-2 * abs(r.analytic) + floor,
                    "\(latent) \(info.name): fd \(r.fd) vs analytic \(r.analytic) (noise floor \(floor))")
        }
        #expect(checked >= model.params.infos.count - 2)
    }
}

/// A decoder with only a dataset table (no batch table): labels reach the right table, and its gradient checks.
@Suite struct DatasetCovariateTests {
    @Test func datasetOnlyCovariate() throws {
        var cfg = CellLMConfig.tiny(genes: 30)
        cfg.datasetCount = 2
        cfg.dropout = 0; cfg.freeBits = 0
        let model = try CellLM(config: cfg, seed: 4)
        var seq = ModelGradientTests.sequence(cells: 24, genes: 30, seed: 6, batches: 1)
        seq.batch = nil
        seq.dataset = (0..<24).map { Int32($0 % 2) }
        var r = SeededRNG(seed: 1)
        let replay = Replay(masked: MaskedSequence.make(counts: seq.counts, measured: seq.measured, config: cfg, rng: &r))
        let start = model.rng
        func loss() -> Double { model.rng = start; model.step = 0; return Double(try! model.trainStep(seq, replay: replay).total) }
        model.params.zeroGrads()
        _ = loss()
        let name = "decoder.covariate_layers.0.dataset.0.weight"
        let g = model.params.gradArray(name)
        #expect(g.contains { $0 != 0 })
        let info = model.params.info(name)
        let res = GradientCheck.directional(model.params.values.pointer + info.offset, count: info.count, grad: g, h: 1e-2, f: loss)
        #expect(res.rel < 2e-2, "fd \(res.fd) vs \(res.analytic)")
    }
}
