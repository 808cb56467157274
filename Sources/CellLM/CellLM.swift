import Foundation
import Tensor

/// A CellPLM-architecture cell language model: embedder → pre-LN Flowformer encoder → pre-latent LayerNorm →
/// latent (GMVAE or VAE) → batch-aware NB decoder. One sequence is all cells of one FOV or sample.
/// Buffers are allocated per sequence length and reused; the model is not thread-safe.
public final class CellLM {
    public let config: CellLMConfig
    public let params: ParameterStore
    /// Draws dropout masks, Gumbel and Gaussian noise; part of the checkpoint so training resumes exactly.
    public var rng: SeededRNG
    /// Training steps taken (drives the VAE's KL warm-up).
    public var step = 0

    let embedder: GeneEmbedder
    let layers: [EncoderLayer]
    let gmvae: GMVAELatent?
    let vae: VAELatent?
    let decoder: NBDecoder

    // Activations.
    let embedCache = GeneEmbedder.Cache()
    var layerCaches: [EncoderLayer.Cache]
    var hidden: [Buffer]
    let position = Buffer(), positionRaw = Buffer(), preMean = Buffer(), preRstd = Buffer(), hn = Buffer()
    let gmvaeCache = GMVAELatent.Cache(), vaeCache = VAELatent.Cache(), decoderCache = NBDecoder.Cache()
    let truth = Buffer(), dmean = Buffer(), dtheta = Buffer(), dhn = Buffer(), dh1 = Buffer(), dh2 = Buffer()
    var missingRows: [Bool] = []
    /// Inference workers sharing `params` (created on first `embedMany`).
    var workers: [CellLM] = []

    public convenience init(config: CellLMConfig, seed: UInt64) throws(CellLMError) {
        try config.validate()
        var layout = GeneEmbedder.layout(genes: config.genes, d: config.hidden)
        for l in 0..<config.layers { layout += EncoderLayer.layout(index: l, d: config.hidden) }
        layout += [("pre_latent_norm.norm.weight", [config.hidden], 0), ("pre_latent_norm.norm.bias", [config.hidden], 0)]
        layout += config.latent == .gmvae ? GMVAELatent.layout(config) : VAELatent.layout(config)
        layout += NBDecoder.layout(config)
        self.init(config: config, params: ParameterStore(layout: layout), seed: seed)
        var initRNG = SeededRNG(seed: seed ^ 0x5EED_CE11)
        initializeParameters(&initRNG)
    }

    /// A model over existing parameters (shared, not copied) with its own activation buffers: a second
    /// worker for inference on another thread.
    public init(config: CellLMConfig, params: ParameterStore, seed: UInt64) {
        self.config = config
        self.params = params
        embedder = GeneEmbedder(d: config.hidden, genes: config.genes)
        layers = (0..<config.layers).map { EncoderLayer(index: $0, d: config.hidden, heads: config.heads) }
        gmvae = config.latent == .gmvae ? GMVAELatent(config: config) : nil
        vae = config.latent == .vae ? VAELatent(config: config) : nil
        decoder = NBDecoder(config: config)
        layerCaches = (0..<config.layers).map { _ in EncoderLayer.Cache() }
        hidden = (0...config.layers).map { _ in Buffer() }
        rng = SeededRNG(seed: seed)
    }

    /// PyTorch's default initialisations, as CellPLM builds its modules: Linear U(±1/√fan_in) for weight and
    /// bias, norms (1, 0), PReLU 0.25, gene embeddings N(0, 0.005²), the missing-position vector N(0, 0.01²),
    /// covariate embeddings and NB dispersion logits N(0, 1).
    func initializeParameters(_ r: inout SeededRNG) {
        let names = params.infos.map(\.name)
        for info in params.infos {
            let p = params.values.pointer + info.offset
            let name = info.name
            func uniform(_ bound: Float) { for i in 0..<info.count { p[i] = Float(r.uniform() * 2 - 1) * bound } }
            func normal(_ sd: Float) { for i in 0..<info.count { p[i] = Float(r.normal()) * sd } }
            if name == "embedder.feat_enc.emb" { normal(0.005) }
            else if name == "embedder.pe_enc.missing_pe" { normal(0.01) }
            else if name == "embedder.pe_enc.scale" { p[0] = PositionEmbedding.initialScale }
            else if name == "decoder.out_layer.dec_disp" { normal(1) }
            else if name.hasSuffix(".0.weight") && name.contains("covariate_layers") { normal(1) }
            else if name.hasSuffix("1.weight") && info.shape == [1] { p[0] = 0.25 }
            else if name.contains("norm") || (info.shape.count == 1 && isNormParameter(name)) {
                p.update(repeating: name.hasSuffix("weight") ? 1 : 0, count: info.count)
            } else if info.shape.count == 2 {
                uniform(1 / Float(info.shape[1]).squareRoot())
            } else if name.hasSuffix("bias") {
                let w = name.dropLast(4) + "weight"
                let fanIn = names.contains(String(w)) ? params.info(String(w)).shape.last ?? 1 : info.count
                uniform(1 / Float(fanIn).squareRoot())
            }
        }
    }

    /// GroupNorm affine parameters have no "norm" in their CellPLM names (`embedder.extra_linear.3`,
    /// `decoder.layers.0.3`, `decoder.covariate_layers.0.*.2`).
    func isNormParameter(_ name: String) -> Bool {
        name.hasPrefix("embedder.extra_linear.3.") || name.hasPrefix("decoder.layers.0.3.")
            || (name.contains("covariate_layers") && (name.hasSuffix(".2.weight") || name.hasSuffix(".2.bias")))
    }
}
