import Foundation

/// Which latent head sits between the encoder and the decoder (cellplm.md §3.4).
public enum LatentKind: String, Codable, Sendable {
    /// Gaussian-mixture VAE (checkpoint 20230926_85M).
    case gmvae
    /// Diagonal-Gaussian VAE with KL warm-up and free bits (checkpoint 20231027_85M).
    case vae
}

/// Shapes and training hyper-parameters of a CellPLM-architecture model. Key names are what our checkpoint
/// files store in their header (`scripts/cellplm_import.py` writes the same keys from a CellPLM config).
public struct CellLMConfig: Codable, Sendable, Equatable {
    /// Gene vocabulary size: rows of the gene-embedding table and width of the NB decoder.
    public var genes: Int
    /// Token (cell) width d.
    public var hidden: Int
    public var layers: Int
    public var heads: Int
    public var latent: LatentKind
    /// Width of the cell embedding (the latent mean).
    public var latentDim: Int
    /// Mixture components K of the GMVAE.
    public var mixtureComponents: Int
    /// Hidden width of q(z|x,y); CellPLM hard-codes 512.
    public var gmvaeHidden: Int
    public var decoderHidden: Int
    /// Width of the NB block's hidden layer; CellPLM hard-codes 128.
    public var decoderBottleneck: Int
    /// Rows of the decoder's batch and dataset embedding tables (0 = no such covariate).
    public var batchCount: Int
    public var datasetCount: Int
    /// Dropout everywhere except inside attention.
    public var dropout: Float
    /// The attention block's own output dropout (hard-coded 0.01 in CellPLM).
    public var attentionDropout: Float
    public var maskCellRate: Float
    public var maskGeneRate: Float
    public var maskBeta: Bool
    public var dropCellRate: Float
    public var maxCells: Int
    /// Free-bits floor λ of the latent loss terms.
    public var freeBits: Float
    public var gaussianWeight: Float
    public var categoricalWeight: Float
    /// Optimizer steps over which the diagonal VAE's KL weight ramps from 0 to 1.
    public var klWarmupSteps: Int
    /// Adds the 2-D sinusoidal embedding of per-FOV coordinates (switched off in CellPLM's release).
    public var positionEmbedding: Bool
    /// Adds the masked-entries term (B) to the NB reconstruction loss.
    public var dae: Bool

    public init(genes: Int, hidden: Int, layers: Int, heads: Int, latent: LatentKind = .gmvae, latentDim: Int,
                mixtureComponents: Int = 16, gmvaeHidden: Int = 512, decoderHidden: Int, decoderBottleneck: Int = 128,
                batchCount: Int = 0, datasetCount: Int = 0, dropout: Float = 0.2, attentionDropout: Float = 0.01,
                maskCellRate: Float = 0.75, maskGeneRate: Float = 0.25, maskBeta: Bool = true,
                dropCellRate: Float = 0.3, maxCells: Int = 4000, freeBits: Float = 5, gaussianWeight: Float = 5,
                categoricalWeight: Float = 5, klWarmupSteps: Int = 10_000, positionEmbedding: Bool = true,
                dae: Bool = true) {
        self.genes = genes; self.hidden = hidden; self.layers = layers; self.heads = heads
        self.latent = latent; self.latentDim = latentDim; self.mixtureComponents = mixtureComponents
        self.gmvaeHidden = gmvaeHidden; self.decoderHidden = decoderHidden; self.decoderBottleneck = decoderBottleneck
        self.batchCount = batchCount; self.datasetCount = datasetCount; self.dropout = dropout
        self.attentionDropout = attentionDropout; self.maskCellRate = maskCellRate; self.maskGeneRate = maskGeneRate
        self.maskBeta = maskBeta; self.dropCellRate = dropCellRate; self.maxCells = maxCells
        self.freeBits = freeBits; self.gaussianWeight = gaussianWeight; self.categoricalWeight = categoricalWeight
        self.klWarmupSteps = klWarmupSteps; self.positionEmbedding = positionEmbedding; self.dae = dae
    }

    /// For tests: a few thousand parameters.
    public static func tiny(genes: Int, batchCount: Int = 0) -> CellLMConfig {
        CellLMConfig(genes: genes, hidden: 32, layers: 2, heads: 4, latentDim: 16, mixtureComponents: 4,
                     gmvaeHidden: 512, decoderHidden: 32, batchCount: batchCount)
    }

    /// The `small` config of ../shared/bench/cellplm_train_bench.py: width 256, 4 layers, 8 heads, latent 128.
    public static func small(genes: Int, batchCount: Int = 0) -> CellLMConfig {
        CellLMConfig(genes: genes, hidden: 256, layers: 4, heads: 8, latentDim: 128, decoderHidden: 256,
                     batchCount: batchCount)
    }

    /// The released 20230926_85M shapes (19,374 genes and 12,596 batches in the release).
    public static func base(genes: Int = 19_374, batchCount: Int = 12_596, datasetCount: Int = 484) -> CellLMConfig {
        CellLMConfig(genes: genes, hidden: 1024, layers: 4, heads: 8, latentDim: 512, decoderHidden: 1024,
                     batchCount: batchCount, datasetCount: datasetCount)
    }

    public static func preset(_ name: String, genes: Int, batchCount: Int = 0) -> CellLMConfig? {
        switch name {
        case "tiny": return .tiny(genes: genes, batchCount: batchCount)
        case "small": return .small(genes: genes, batchCount: batchCount)
        case "base": return .base(genes: genes, batchCount: batchCount, datasetCount: 0)
        default: return nil
        }
    }

    public var headDim: Int { hidden / heads }

    /// The first out-of-range field, as an error that names it and the allowed values.
    public func validate() throws(CellLMError) {
        func bad(_ field: String, _ value: Any, _ allowed: String) -> CellLMError {
            .invalidConfig(field: field, value: "\(value)", allowed: allowed)
        }
        // Upper bounds keep a damaged or hostile config from asking for an impossible allocation.
        let widths = [("genes", genes, 1_000_000), ("hidden", hidden, 16_384), ("latentDim", latentDim, 16_384),
                      ("mixtureComponents", mixtureComponents, 4_096), ("gmvaeHidden", gmvaeHidden, 16_384),
                      ("decoderHidden", decoderHidden, 16_384), ("decoderBottleneck", decoderBottleneck, 16_384),
                      ("batchCount", batchCount, 10_000_000), ("datasetCount", datasetCount, 1_000_000)]
        for (name, v, most) in widths where v > most { throw bad(name, v, "at most \(most)") }
        if genes < 1 { throw bad("genes", genes, "at least 1") }
        if hidden < 4 || hidden % 4 != 0 { throw bad("hidden", hidden, "a positive multiple of 4 (GroupNorm uses 4 groups; the position embedding needs it)") }
        if heads < 1 || hidden % heads != 0 { throw bad("heads", heads, "a divisor of hidden (\(hidden))") }
        if layers < 1 || layers > 64 { throw bad("layers", layers, "1...64") }
        if latentDim < 1 { throw bad("latentDim", latentDim, "at least 1") }
        if latent == .gmvae && mixtureComponents < 2 { throw bad("mixtureComponents", mixtureComponents, "at least 2") }
        if gmvaeHidden < 1 { throw bad("gmvaeHidden", gmvaeHidden, "at least 1") }
        if decoderHidden < 4 || decoderHidden % 4 != 0 { throw bad("decoderHidden", decoderHidden, "a positive multiple of 4") }
        if decoderBottleneck < 1 { throw bad("decoderBottleneck", decoderBottleneck, "at least 1") }
        if batchCount < 0 { throw bad("batchCount", batchCount, "0 or more") }
        if datasetCount < 0 { throw bad("datasetCount", datasetCount, "0 or more") }
        for (name, v) in [("dropout", dropout), ("attentionDropout", attentionDropout), ("dropCellRate", dropCellRate)]
        where !(v >= 0 && v < 1) { throw bad(name, v, "0 <= value < 1") }
        for (name, v) in [("maskCellRate", maskCellRate), ("maskGeneRate", maskGeneRate)]
        where !(v >= 0 && v < 1) { throw bad(name, v, "0 <= value < 1") }
        if maxCells < 1 { throw bad("maxCells", maxCells, "at least 1") }
        if !(freeBits >= 0) || !freeBits.isFinite { throw bad("freeBits", freeBits, "a finite value >= 0") }
        if !(gaussianWeight >= 0) || !(categoricalWeight >= 0) { throw bad("gaussianWeight/categoricalWeight", "\(gaussianWeight)/\(categoricalWeight)", ">= 0") }
        if klWarmupSteps < 0 { throw bad("klWarmupSteps", klWarmupSteps, "0 or more") }
    }
}
