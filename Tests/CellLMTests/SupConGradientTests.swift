import Foundation
import Testing
import Tensor
@testable import CellLM

/// SupCon fine-tuning against finite differences: the projection head alone (input and every parameter), then
/// one whole step of the `tiny` model (both latents, dropout on, unlabelled cells in the sequence) one parameter
/// tensor at a time, so the head, the deterministic latent mean, the encoder and the embedder are all checked
/// in place. The generators are rewound before every evaluation so each sees the same dropout masks.
@Suite struct SupConGradientTests {
    static let labels: [Int32] = (0..<40).map { $0 % 9 == 4 ? -1 : Int32($0 % 3) }

    /// The gradient tests' sequence without decoder batch labels (SupCon does not use the decoder).
    static func sequence(cells: Int) -> CellSequence {
        var s = ModelGradientTests.sequence(cells: cells, genes: 30, seed: 5, batches: 1)
        s.batch = nil
        return s
    }

    @Test func projectionHead() throws {
        let n = 12, inDim = 6
        let head = try SupConHead(inDim: inDim, hidden: 10, outDim: 5, dropout: 0.2, seed: 3)
        var rng = SeededRNG(seed: 4)
        let z = Buffer.random(n * inDim, &rng)
        let labels: [Int32] = [0, 1, 2, 0, 1, 2, -1, 0, 1, 1, -1, 2]
        let start = head.rng
        let dz = Buffer.zeros(n * inDim)
        func loss() -> Double {
            head.rng = start
            let f = head.forward(z: z.p, n: n, train: true)
            let df = head.df.resize(n * 5)
            let l = SupervisedLoss.supCon(features: f, labels: labels, dim: 5, dfeatures: df)
            head.params.zeroGrads()
            head.backward(df: df, dz: dz.p, n: n)
            return Double(l)
        }
        _ = loss()
        let gz = dz.array, gp = head.params.grads.array
        #expect(head.mask0.array.contains(0), "dropout drew no zero; the check would not cover the masks")
        let rz = GradientCheck.directional(z.p, count: z.count, grad: gz, h: 1e-3, f: loss)
        #expect(rz.rel < 1e-2, "dL/dz: fd \(rz.fd) vs analytic \(rz.analytic)")
        for info in head.params.infos {
            let g = Array(gp[info.offset..<(info.offset + info.count)])
            let r = GradientCheck.directional(head.params.values.pointer + info.offset, count: info.count, grad: g, h: 1e-3, f: loss)
            #expect(r.rel < 1e-2, "\(info.name): fd \(r.fd) vs analytic \(r.analytic)")
        }
    }

    @Test(arguments: [LatentKind.gmvae, .vae]) func wholeStep(latent: LatentKind) throws {
        var cfg = CellLMConfig.tiny(genes: 30)
        cfg.latent = latent
        cfg.dropout = 0.1
        let model = try CellLM(config: cfg, seed: 12)
        let head = try SupConHead.cellPLMShape(cfg, seed: 13)
        let seq = Self.sequence(cells: 40)
        let m0 = model.rng, h0 = head.rng
        func loss() -> Double {
            model.rng = m0; head.rng = h0
            return Double(try! model.supConStep(seq, labels: Self.labels, head: head).loss)
        }
        model.params.zeroGrads(); head.params.zeroGrads()
        let base = loss()
        #expect(base.isFinite && base > 0)
        let grads = model.params.grads.array, headGrads = head.params.grads.array
        var checked = 0
        for (store, all) in [(model.params, grads), (head.params, headGrads)] {
            for info in store.infos {
                let g = Array(all[info.offset..<(info.offset + info.count)])
                if g.allSatisfy({ $0 == 0 }) {
                    // Only what the SupCon path cannot reach: the decoder, the latent's variance and p(z|y) parts,
                    // the GMVAE's branch logits (argmax), and the missing-position vector (all cells have positions).
                    let unreachable = info.name.hasPrefix("decoder.") || info.name.contains("missing_pe")
                        || info.name.contains("hid_2sigma") || info.name.contains(".var.") || info.name.contains("y_mu")
                        || info.name.contains("y_var") || info.name.contains("logits")
                    #expect(unreachable, "\(info.name) got no gradient")
                    continue
                }
                let vals = store.array(info.name)
                let rms = (vals.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(info.count)).squareRoot()
                let h = Float(1e-3 * max(rms, 1e-2) * (Double(info.count) / 2).squareRoot())
                let r = GradientCheck.directional(store.values.pointer + info.offset, count: info.count, grad: g, h: h, f: loss)
                let floor = abs(base) * 1e-6 / Double(h)
                checked += 1
                #expect(abs(r.fd - r.analytic) <= 2e-2 * abs(r.analytic) + floor,
                        "\(latent) \(info.name): fd \(r.fd) vs analytic \(r.analytic) (noise floor \(floor))")
            }
        }
        #expect(checked >= 20)
    }

    /// A trainer step lowers the loss on the same sequence, and the saved file restores model, head and both
    /// optimizers so the next step is the same bit for bit.
    @Test func trainerStepAndResume() throws {
        var cfg = CellLMConfig.tiny(genes: 30)
        cfg.latent = .vae
        let seq = Self.sequence(cells: 40)
        let model = try CellLM(config: cfg, seed: 1)
        let trainer = try SupConTrainer(model: model, head: try .cellPLMShape(cfg, seed: 2),
                                        options: SupConTrainer.options(learningRate: 1e-3, warmupSteps: 0))
        let first = try trainer.step(seq, labels: Self.labels).loss
        for _ in 0..<15 { try trainer.step(seq, labels: Self.labels) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("supcon-\(UUID().uuidString).tsr")
        defer { try? FileManager.default.removeItem(at: url) }
        try trainer.write(to: url, genes: (0..<30).map { "g\($0)" }, progress: ["step": 16])
        let (restored, genes, progress) = try SupConTrainer.read(url, options: trainer.options, temperature: 0.07)
        #expect(genes.count == 30 && progress["step"] == 16)
        // The same file opens as a plain model checkpoint.
        #expect(try Checkpoint.read(url).model.params.values.array == trainer.model.params.values.array)
        let a = try trainer.step(seq, labels: Self.labels).loss
        let b = try restored.step(seq, labels: Self.labels).loss
        #expect(a < first, "loss did not fall: \(first) → \(a)")
        #expect(a == b, "resumed step differs: \(a) vs \(b)")
        #expect(trainer.head.params.values.array == restored.head.params.values.array)
        #expect(trainer.model.params.values.array == restored.model.params.values.array)
    }

    @Test func badInput() throws {
        let cfg = CellLMConfig.tiny(genes: 30)
        let model = try CellLM(config: cfg, seed: 1)
        let head = try SupConHead.cellPLMShape(cfg, seed: 2)
        let seq = Self.sequence(cells: 10)
        #expect(throws: CellLMError.self) { try model.supConStep(seq, labels: [0, 1], head: head) }
        #expect(throws: CellLMError.self) { try model.supConStep(seq, labels: Array(Self.labels.prefix(10)), head: head, temperature: 0) }
        let wrong = try SupConHead(inDim: 7, hidden: 4, outDim: 3, dropout: 0, seed: 1)
        #expect(throws: CellLMError.self) { try model.supConStep(seq, labels: Array(Self.labels.prefix(10)), head: wrong) }
        #expect(throws: CellLMError.self) { try SupConHead(inDim: 4, hidden: 4, outDim: 4, dropout: 1, seed: 0) }
        // No labelled cell: no anchors, no change.
        let none = try model.supConStep(seq, labels: [Int32](repeating: -1, count: 10), head: head)
        #expect(none.anchors == 0 && none.loss == 0)
    }
}
