/// Floating-point operations of the model's matrix products (multiply-add = 2), for throughput reports.
/// Element-wise work is not counted, so the reported rate is the useful GEMM-equivalent rate.
public enum FlopCount {
    /// Embedder, encoder and pre-latent path plus the latent mean: one forward over `cells` with `nnz` counts.
    public static func encoder(_ c: CellLMConfig, cells n: Int, nnz: Int) -> Double {
        let d = Double(c.hidden), N = Double(n), dh = Double(c.headDim)
        let embed = 2 * Double(nnz) * d + 2 * N * d * d
        let layer = 2 * N * d * 3 * d + 4 * N * d * dh + 2 * N * d * d + 2 * 2 * N * d * 2 * d
        return embed + Double(c.layers) * layer
    }

    public static func latent(_ c: CellLMConfig, cells n: Int, train: Bool) -> Double {
        let N = Double(n), d = Double(c.hidden), z = Double(c.latentDim)
        switch c.latent {
        case .vae: return 2 * N * d * z * (train ? 2 : 1)
        case .gmvae:
            let k = Double(c.mixtureComponents), h = Double(c.gmvaeHidden)
            return 2 * N * d * k + 2 * N * (d + k) * h + 2 * N * h * z * (train ? 2 : 1) + (train ? 4 * N * k * z : 0)
        }
    }

    public static func decoder(_ c: CellLMConfig, cells n: Int) -> Double {
        let N = Double(n)
        return 2 * N * Double(c.latentDim * c.decoderHidden + c.decoderHidden * c.decoderBottleneck + c.decoderBottleneck * c.genes)
    }

    /// Inference embedding of one sequence.
    public static func embed(_ c: CellLMConfig, cells: Int, nnz: Int) -> Double {
        encoder(c, cells: cells, nnz: nnz) + latent(c, cells: cells, train: false)
    }

    /// A training step: forward plus a backward of about twice the forward (input and weight gradients).
    public static func trainStep(_ c: CellLMConfig, cells: Int, nnz: Int) -> Double {
        3 * (encoder(c, cells: cells, nnz: nnz) + latent(c, cells: cells, train: true) + decoder(c, cells: cells))
    }
}
