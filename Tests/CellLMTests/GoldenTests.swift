import Foundation
import Testing
import Tensor
@testable import CellLM

/// The assembled model against golden tensors from the PyPI `cellplm` package (Fixtures/README.md): the same
/// weights, input, mask and noise; dropout off; every intermediate tensor, the losses and every gradient must
/// agree within 1e-4 relative error (max |ours − theirs| / max |theirs|).
@Suite struct GoldenTests {
    nonisolated(unsafe) static let fixture: TensorFile = {
        let url = Bundle.module.url(forResource: "Fixtures/cellplm_tiny_golden", withExtension: "tsr")!
        return try! TensorFile.read(url)
    }()

    static func tensor(_ name: String) -> [Float] {
        guard let e = fixture.entry(name), let v = e.floats else { fatalError("fixture lacks \(name)") }
        return v
    }

    static func csr(_ dense: [Float], rows: Int, cols: Int) -> CSRMatrix {
        var ip = [0], ix: [Int32] = [], vs: [Float] = []
        for r in 0..<rows {
            for c in 0..<cols where dense[r * cols + c] != 0 { ix.append(Int32(c)); vs.append(dense[r * cols + c]) }
            ip.append(vs.count)
        }
        return CSRMatrix(rows: rows, cols: cols, indptr: ip, indices: ix, values: vs)
    }

    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count, "sizes \(a.count) vs \(b.count)")
        var diff = 0.0, scale = 0.0
        for i in 0..<a.count { diff = max(diff, Double(abs(a[i] - b[i]))); scale = max(scale, Double(abs(b[i]))) }
        return diff / max(scale, 1e-12)
    }

    /// Builds the model from the fixture's config and `prefix`param/* tensors.
    static func model(prefix: String, latent: LatentKind) throws -> CellLM {
        var cfg = try JSONDecoder().decode(CellLMConfig.self, from: fixture.config!)
        cfg.latent = latent
        cfg.attentionDropout = 0          // the fixture patched the reference's hard-coded 0.01 to 0
        if latent == .vae { cfg.freeBits = 0.1; cfg.klWarmupSteps = 0 }   // meta.vae: kl_weight 1, lamda 0.1
        let m = try CellLM(config: cfg, seed: 1)
        for info in m.params.infos where !GeneEmbedder.tesseraOnly.contains(info.name) {
            m.params.set(info.name, tensor(prefix + "param/" + info.name))
        }
        return m
    }

    struct Check { var name: String; var error: Double }

    /// Every parameter's gradient against the fixture's `prefix`grad/ tensors.
    static func gradientChecks(_ m: CellLM, prefix: String) -> [Check] {
        m.params.infos.filter { !GeneEmbedder.tesseraOnly.contains($0.name) }.map { info in
            Check(name: prefix + "grad/" + info.name,
                  error: relativeError(m.params.gradArray(info.name), tensor(prefix + "grad/" + info.name)))
        }
    }

    static func replay(prefix: String) -> (CellSequence, Replay) {
        let n = 48, g = 40
        let counts = csr(tensor("input/counts"), rows: n, cols: g)
        let masked = csr(tensor("input/masked_counts"), rows: n, cols: g)
        let mask = tensor("input/input_mask").map { UInt8($0) }
        let maskedCells = (0..<n).filter { i in (0..<g).contains { mask[i * g + $0] != 0 } }.count
        guard case .i32(let batch)? = fixture.entry("input/batch")?.values else { fatalError("no batch") }
        let seq = CellSequence(counts: counts, batch: batch)
        let ms = MaskedSequence(kept: Array(0..<n), counts: counts, masked: masked, inputMask: mask, maskedCells: maskedCells)
        return (seq, Replay(masked: ms, gumbelU: prefix.isEmpty ? tensor("noise/gumbel_u") : nil,
                            zNoise: tensor(prefix + "noise/z_eps")))
    }

    @Test func gmvaeTrainingForwardLossAndGradients() throws {
        let m = try Self.model(prefix: "", latent: .gmvae)
        let (seq, replay) = Self.replay(prefix: "")
        m.params.zeroGrads()
        let loss = try m.trainStep(seq, replay: replay)
        let n = 48
        func arr(_ b: Buffer, _ count: Int) -> [Float] { Array(UnsafeBufferPointer(start: b.pointer, count: count)) }
        var checks: [Check] = [
            Check(name: "train/embedder", error: Self.relativeError(arr(m.hidden[0], n * 32), Self.tensor("train/embedder"))),
            Check(name: "train/layer0", error: Self.relativeError(arr(m.hidden[1], n * 32), Self.tensor("train/layer0"))),
            Check(name: "train/layer1", error: Self.relativeError(arr(m.hidden[2], n * 32), Self.tensor("train/layer1"))),
            Check(name: "train/prelatent", error: Self.relativeError(arr(m.hn, n * 32), Self.tensor("train/prelatent"))),
            Check(name: "train/latent_logits", error: Self.relativeError(arr(m.gmvaeCache.logits, n * 4), Self.tensor("train/latent_logits"))),
            Check(name: "train/latent_mean", error: Self.relativeError(arr(m.gmvaeCache.mu, n * 16), Self.tensor("train/latent_mean"))),
            Check(name: "train/latent_var", error: Self.relativeError(arr(m.gmvaeCache.v, n * 16), Self.tensor("train/latent_var"))),
            Check(name: "train/latent_z", error: Self.relativeError(arr(m.gmvaeCache.z, n * 16), Self.tensor("train/latent_z"))),
            Check(name: "train/y_mu", error: Self.relativeError(arr(m.gmvaeCache.yMu, n * 16), Self.tensor("train/y_mu"))),
            Check(name: "train/y_var", error: Self.relativeError(arr(m.gmvaeCache.yV, n * 16), Self.tensor("train/y_var"))),
            Check(name: "train/decoder_mean", error: Self.relativeError(arr(m.decoderCache.mean, n * 40), Self.tensor("train/decoder_mean"))),
            Check(name: "train/decoder_disp", error: Self.relativeError(arr(m.decoderCache.theta, 40), Array(Self.tensor("train/decoder_disp").prefix(40)))),
            Check(name: "train/loss_latent", error: Self.relativeError([loss.latent], Self.tensor("train/loss_latent"))),
            Check(name: "train/loss_recon", error: Self.relativeError([loss.reconstruction], Self.tensor("train/loss_recon"))),
            Check(name: "train/loss", error: Self.relativeError([loss.total], Self.tensor("train/loss"))),
        ]
        checks += Self.gradientChecks(m, prefix: "")
        for c in checks { #expect(c.error < 1e-4, "\(c.name): relative error \(c.error)") }
    }

    @Test func gmvaeInference() throws {
        let m = try Self.model(prefix: "", latent: .gmvae)
        let (seq, _) = Self.replay(prefix: "")
        // The reference's eval pass gets no batch labels: the decoder uses its summed (mean) batch embedding.
        var noBatch = seq; noBatch.batch = nil
        let emb = try m.embed(noBatch)
        #expect(Self.relativeError(emb.data, Self.tensor("eval/latent_mean")) < 1e-4)
        let layer1 = Array(UnsafeBufferPointer(start: m.hidden[0].pointer, count: 48 * 32))   // ping-pong: layer 1 ends in buffer 0
        #expect(Self.relativeError(layer1, Self.tensor("eval/layer1")) < 1e-4)
        let mean = try m.reconstruct(noBatch)
        let e = Self.relativeError(mean.data, Self.tensor("eval/decoder_mean"))
        #expect(e < 1e-4, "eval/decoder_mean relative error \(e)")
    }

    @Test func vaeTrainingLossAndGradients() throws {
        let m = try Self.model(prefix: "vae/", latent: .vae)
        let (seq, replay) = Self.replay(prefix: "vae/")
        m.params.zeroGrads()
        let loss = try m.trainStep(seq, replay: replay)
        var checks: [Check] = [
            Check(name: "vae/train/latent_mean", error: Self.relativeError(Array(UnsafeBufferPointer(start: m.vaeCache.mu.pointer, count: 48 * 16)), Self.tensor("vae/train/latent_mean"))),
            Check(name: "vae/train/latent_z", error: Self.relativeError(Array(UnsafeBufferPointer(start: m.vaeCache.z.pointer, count: 48 * 16)), Self.tensor("vae/train/latent_z"))),
            Check(name: "vae/train/loss_latent", error: Self.relativeError([loss.latent], Self.tensor("vae/train/loss_latent"))),
            Check(name: "vae/train/loss_recon", error: Self.relativeError([loss.reconstruction], Self.tensor("vae/train/loss_recon"))),
        ]
        checks += Self.gradientChecks(m, prefix: "vae/")
        for c in checks { #expect(c.error < 1e-4, "\(c.name): relative error \(c.error)") }
    }
}
