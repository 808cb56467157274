import Foundation
import Testing
import Tensor
@testable import CellLM

@Suite struct TrainingTests {
    static func tinyModel(latent: LatentKind = .gmvae, seed: UInt64 = 3) throws -> CellLM {
        var cfg = CellLMConfig.tiny(genes: 30, batchCount: 3)
        cfg.latent = latent
        cfg.dropout = 0.1
        return try CellLM(config: cfg, seed: seed)
    }

    static let data = (0..<4).map { ModelGradientTests.sequence(cells: 30 + 5 * $0, genes: 30, seed: UInt64(20 + $0), batches: 3) }

    /// Training 3 steps, checkpointing, training 2 more must equal loading the checkpoint and training the
    /// same 2 steps: parameters, optimizer moments and RNG resume bit for bit.
    @Test(arguments: [LatentKind.gmvae, .vae]) func checkpointResumesExactly(latent: LatentKind) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var opts = TrainingOptions(); opts.learningRate = 1e-3; opts.warmupSteps = 3
        let a = try Trainer(model: try Self.tinyModel(latent: latent), options: opts)
        for s in 0..<3 { try a.step(Self.data[s % 4]) }
        let url = dir.appendingPathComponent("step3.tsr")
        try Checkpoint(model: a.model, genes: (0..<30).map { "G\($0)" }, optimizer: a.optimizer, schedule: a.schedule).write(to: url)
        var lossesA: [Float] = []
        for s in 3..<5 { lossesA.append(try a.step(Self.data[s % 4]).total) }

        let ck = try Checkpoint.read(url)
        #expect(ck.genes.count == 30)
        let b = try Trainer(model: ck.model, options: opts, optimizer: ck.optimizer, schedule: ck.schedule)
        var lossesB: [Float] = []
        for s in 3..<5 { lossesB.append(try b.step(Self.data[s % 4]).total) }
        #expect(lossesA == lossesB)
        #expect(a.model.params.values.array == b.model.params.values.array)
        #expect(a.optimizer.m.array == b.optimizer.m.array && a.optimizer.v.array == b.optimizer.v.array)
        #expect(a.model.rng.state == b.model.rng.state && a.model.step == b.model.step)
    }

    /// Same seed, same data: identical runs; another seed: a different run.
    @Test func trainingIsSeeded() throws {
        func run(_ seed: UInt64) throws -> [Float] {
            let t = try Trainer(model: try Self.tinyModel(seed: seed), options: TrainingOptions())
            return try (0..<3).map { try t.step(Self.data[$0]).total }
        }
        #expect(try run(5) == run(5))
        #expect(try run(5) != run(6))
    }

    /// AdamW against a hand computation of torch.optim.AdamW on two steps, with the embedder group at 0.1×.
    @Test func adamWMatchesTheDefinition() {
        let ps = ParameterStore(layout: [("w", [2], 0), ("embedder.e", [1], 1)])
        ps.set("w", [1, -2]); ps.set("embedder.e", [0.5])
        let opt = AdamW(count: 3, groups: [.init(lrScale: 1, weightDecay: 0.01), .init(lrScale: 0.1, weightDecay: 0)])
        let grads: [[Float]] = [[0.3, -0.1, 2], [0.2, 0.4, -1]]
        var ref: [Double] = [1, -2, 0.5], m = [Double](repeating: 0, count: 3), v = m
        for (t, g) in grads.enumerated() {
            for i in 0..<3 { ps.grads[i] = g[i] }
            opt.step(ps, lr: 0.1)
            for i in 0..<3 {
                let lr = i < 2 ? 0.1 : 0.01, wd = i < 2 ? 0.01 : 0
                ref[i] *= 1 - lr * wd
                m[i] = 0.9 * m[i] + 0.1 * Double(g[i]); v[i] = 0.999 * v[i] + 0.001 * Double(g[i]) * Double(g[i])
                let mh = m[i] / (1 - pow(0.9, Double(t + 1))), vh = v[i] / (1 - pow(0.999, Double(t + 1)))
                ref[i] -= lr * mh / (vh.squareRoot() + 1e-8)
            }
        }
        for i in 0..<3 { #expect(abs(Double(ps.values[i]) - ref[i]) < 1e-6, "parameter \(i): \(ps.values[i]) vs \(ref[i])") }
        // Clipping: the global norm comes down to the limit.
        for i in 0..<3 { ps.grads[i] = Float(i + 1) }
        let before = AdamW.clip(ps, maxNorm: 2)
        #expect(abs(before - Float(14).squareRoot()) < 1e-5)
        #expect(abs(AdamW.gradientNorm(ps) - 2) < 1e-3)
    }

    @Test func scheduleWarmsUpThenReducesOnPlateau() {
        var s = LRSchedule(baseLR: 1, warmupSteps: 4, factor: 0.5, patience: 1)
        #expect(s.rate(step: 0) == 0.25 && s.rate(step: 3) == 1 && s.rate(step: 10) == 1)
        s.observe(10); s.observe(9); s.observe(9.5)
        #expect(s.rate(step: 10) == 1)
        s.observe(9.2)            // second epoch without improvement: patience 1 exceeded
        #expect(s.rate(step: 10) == 0.5)
    }
}

@Suite struct InferenceTests {
    /// Embedding FOVs side by side on worker models gives exactly what embedding them one by one gives.
    @Test func embedManyMatchesEmbed() throws {
        let model = try TrainingTests.tinyModel()
        let seqs = (0..<5).map { ModelGradientTests.sequence(cells: 20 + 7 * $0, genes: 30, seed: UInt64(40 + $0), batches: 3) }
        let many = try model.embedMany(seqs)
        for (s, m) in zip(seqs, many) { #expect(try model.embed(s) == m) }
    }
}
