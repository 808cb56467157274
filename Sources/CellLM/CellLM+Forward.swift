import Foundation
import Tensor

/// Draws to replay instead of sampling (golden tests against PyTorch): the mask, Gumbel uniforms, z noise.
public struct Replay {
    public var masked: MaskedSequence?
    public var gumbelU: [Float]?
    public var zNoise: [Float]?
    public init(masked: MaskedSequence? = nil, gumbelU: [Float]? = nil, zNoise: [Float]? = nil) {
        self.masked = masked; self.gumbelU = gumbelU; self.zNoise = zNoise
    }
}

/// What one training step computed.
public struct StepLoss: Sendable {
    public var total: Float
    public var reconstruction: Float
    public var latent: Float
    /// Cells fed to the model after dropping, and cells in the loss.
    public var cells: Int
    public var maskedCells: Int
}

extension CellLM {
    /// Embedder, encoder and pre-latent norm. Returns Hn (N×d). Training keeps every layer's activations.
    func encode(input: CSRMatrix, coordinates: [Float]?, train: Bool) -> UnsafeMutablePointer<Float> {
        let n = input.rows, d = config.hidden, nd = n * d
        var pos: UnsafePointer<Float>? = nil
        if config.positionEmbedding {
            let raw = positionRaw.resize(nd), p = position.resize(nd)
            missingRows = PositionEmbedding.compute(out: raw, coords: coordinates, n: n, d: d,
                                                    missing: params.value("embedder.pe_enc.missing_pe"))
            let scale = params.value("embedder.pe_enc.scale")[0]
            for r in 0..<n {
                let f: Float = missingRows[r] ? 1 : scale
                for j in 0..<d { p[r * d + j] = raw[r * d + j] * f }
            }
            pos = UnsafePointer(p)
        }
        Profile.measure("embedder fwd") {
            embedder.forward(h0: hidden[0].resize(nd), x: input, position: pos, params: params, cache: embedCache,
                             dropout: config.dropout, train: train, rng: &rng)
        }
        var cur = 0
        for l in 0..<config.layers {
            // Training keeps H_0…H_L; inference ping-pongs between two buffers and one cache.
            let next = train ? l + 1 : (cur == 0 ? 1 : 0)
            Profile.measure("layer fwd") {
                layers[l].forward(y: hidden[next].resize(nd), x: hidden[cur].pointer, n: n, params: params,
                                  cache: train ? layerCaches[l] : layerCaches[0], dropout: config.dropout,
                                  attentionDropout: config.attentionDropout, train: train, rng: &rng)
            }
            cur = next
        }
        let hn = self.hn.resize(nd)
        LayerNorm.forward(y: hn, mean: preMean.resize(n), rstd: preRstd.resize(n), x: hidden[cur].pointer,
                          gamma: params.value("pre_latent_norm.norm.weight"), beta: params.value("pre_latent_norm.norm.bias"),
                          n: n, c: d)
        return hn
    }

    /// Zero-shot cell embeddings (the latent mean, N×latentDim): inference mode, no masking or dropout, and
    /// for the GMVAE the deterministic branch choice (argmax of q(y|x), no Gumbel noise).
    public func embed(_ seq: CellSequence) throws(CellLMError) -> Matrix {
        try seq.validate(genes: config.genes, batchCount: config.batchCount, datasetCount: config.datasetCount)
        let n = seq.cells
        if n == 0 { return Matrix(rows: 0, cols: config.latentDim) }
        let hn = encode(input: seq.counts, coordinates: seq.coordinates, train: false)
        let out: UnsafeMutablePointer<Float>
        if let gmvae {
            out = gmvae.forward(hn: hn, n: n, params: params, cache: gmvaeCache, train: false, freeBits: config.freeBits,
                                gaussianWeight: config.gaussianWeight, categoricalWeight: config.categoricalWeight, rng: &rng).out
        } else {
            out = vae!.forward(hn: hn, n: n, params: params, cache: vaeCache, train: false, freeBits: config.freeBits,
                               klWeight: 0, rng: &rng).out
        }
        return Matrix(rows: n, cols: config.latentDim, data: Array(UnsafeBufferPointer(start: out, count: n * config.latentDim)))
    }

    /// Embeddings of many sequences (FOVs): one sequence per core at a time, each on a worker model that
    /// shares these parameters, every kernel of a sequence on its worker's thread. Same results as `embed`
    /// one by one.
    public func embedMany(_ seqs: [CellSequence]) throws(CellLMError) -> [Matrix] {
        let cores = Parallel.cores
        if cores == 1 || seqs.count < 2 { return try seqs.map { (s) throws(CellLMError) -> Matrix in try embed(s) } }
        while workers.count < cores - 1 { workers.append(CellLM(config: config, params: params, seed: 0)) }
        let models = [self] + workers
        var results = [Matrix?](repeating: nil, count: seqs.count)
        var failure: CellLMError?
        let lock = NSLock()
        var next = 0
        results.withUnsafeMutableBufferPointer { out in
            let outp = UncheckedSendable(out.baseAddress!)
            Parallel.run(cores) { w in
                Parallel.serially {
                    while true {
                        lock.lock(); let i = next; next += 1; lock.unlock()
                        if i >= seqs.count { return }
                        do { outp.value[i] = try models[w].embed(seqs[i]) }
                        catch { lock.lock(); failure = failure ?? (error as? CellLMError); lock.unlock(); return }
                    }
                }
            }
        }
        if let failure { throw failure }
        return results.map { $0! }
    }

    /// NB means (N×G, before size-factor rescaling) in inference mode, for imputation. Unknown covariates use
    /// the mean embedding.
    public func reconstruct(_ seq: CellSequence) throws(CellLMError) -> Matrix {
        try seq.validate(genes: config.genes, batchCount: config.batchCount, datasetCount: config.datasetCount)
        let n = seq.cells
        let hn = encode(input: seq.counts, coordinates: seq.coordinates, train: false)
        let z = latentForward(hn: hn, n: n, train: false, replay: nil).out
        decoder.forward(z: z, n: n, labels: [seq.batch, seq.dataset], params: params, cache: decoderCache,
                        dropout: config.dropout, train: false, rng: &rng)
        return Matrix(rows: n, cols: config.genes, data: Array(UnsafeBufferPointer(start: decoderCache.mean.pointer, count: n * config.genes)))
    }

    func latentForward(hn: UnsafePointer<Float>, n: Int, train: Bool, replay: Replay?) -> (out: UnsafeMutablePointer<Float>, loss: Float) {
        if let gmvae {
            return gmvae.forward(hn: hn, n: n, params: params, cache: gmvaeCache, train: train, freeBits: config.freeBits,
                                 gaussianWeight: config.gaussianWeight, categoricalWeight: config.categoricalWeight,
                                 gumbelU: replay?.gumbelU, noise: replay?.zNoise, rng: &rng)
        }
        return vae!.forward(hn: hn, n: n, params: params, cache: vaeCache, train: train, freeBits: config.freeBits,
                            klWeight: VAELatent.klWeight(step: step, warmup: config.klWarmupSteps),
                            noise: replay?.zNoise, rng: &rng)
    }

    /// One pretraining forward and backward (masked NB reconstruction + latent loss): gradients are added to
    /// `params.grads` (zero them first). Returns the losses; the optimizer step is the caller's.
    /// `adjustInput` may change the masked input after masking (imputation hides genes and rescales cells);
    /// the loss keeps the true counts. `reconstruction` `.logMSE` scores every kept cell (the objective is then
    /// not used).
    public func trainStep(_ seq: CellSequence, replay: Replay? = nil, objective: NBLoss.Objective? = nil,
                          reconstruction: ReconstructionLoss = .nb, adjustInput: ((inout MaskedSequence) -> Void)? = nil) throws(CellLMError) -> StepLoss {
        try seq.validate(genes: config.genes, batchCount: config.batchCount, datasetCount: config.datasetCount)
        var m = Profile.measure("masking") { () -> MaskedSequence in
            replay?.masked ?? MaskedSequence.make(counts: seq.counts, measured: seq.measured, config: config, rng: &rng)
        }
        adjustInput?(&m)
        let sub = m.kept.count == seq.cells && m.kept == Array(0..<seq.cells) ? seq : seq.selecting(m.kept)
        let n = m.counts.rows, g = config.genes, d = config.hidden
        let hn = encode(input: m.masked, coordinates: sub.coordinates, train: true)
        let (z, latentLoss) = Profile.measure("latent fwd") { latentForward(hn: hn, n: n, train: true, replay: replay) }
        Profile.measure("decoder fwd") {
            decoder.forward(z: z, n: n, labels: [sub.batch, sub.dataset], params: params, cache: decoderCache,
                            dropout: config.dropout, train: true, rng: &rng)
        }
        // Loss on the kept cells' true counts.
        let truth = self.truth.resize(n * g)
        m.counts.densify(into: truth)
        let dmean = self.dmean.resize(n * g), dtheta = self.dtheta.resize(g)
        let obj = objective ?? .masked(dae: config.dae)
        let recon: Float
        switch reconstruction {
        case .nb:
            recon = Profile.measure("NB loss") { m.inputMask.withUnsafeBufferPointer { mk in
                NBLoss.compute(truth: truth, mean: decoderCache.mean.pointer, theta: decoderCache.theta.pointer, n: n, genes: g,
                               measured: seq.measured, inputMask: mk.baseAddress, objective: obj, dmean: dmean, dtheta: dtheta)
            } }
        case .logMSE:
            // Every kept cell on its measured genes; θ is not used.
            recon = LogMSELoss.compute(truth: truth, mean: decoderCache.mean.pointer, n: n, genes: g, measured: seq.measured, dmean: dmean)
            dtheta.update(repeating: 0, count: g)
        }
        let total = recon + latentLoss
        if !total.isFinite {
            let origin = firstNonFiniteActivation(n: n) ?? (recon.isFinite ? "the latent loss" : "the reconstruction loss")
            throw .nonFinite(step: step, where: "the loss (reconstruction \(recon), latent \(latentLoss)); first non-finite output: \(origin)")
        }
        // Backward.
        let dz = Profile.measure("decoder bwd") { decoder.backward(dmean: dmean, dtheta: dtheta, z: z, n: n, params: params, cache: decoderCache) }
        let dhn = self.dhn.resize(n * d)
        Profile.measure("latent bwd") {
            if let gmvae {
                gmvae.backward(dhn: dhn, dz: dz, hn: hn, n: n, params: params, cache: gmvaeCache,
                               gaussianWeight: config.gaussianWeight, categoricalWeight: config.categoricalWeight)
            } else {
                vae!.backward(dhn: dhn, dz: dz, hn: hn, n: n, params: params, cache: vaeCache)
            }
        }
        try backwardEncoder(dhn: dhn, input: m.masked, n: n)
        step += 1
        return StepLoss(total: total, reconstruction: recon, latent: latentLoss, cells: n, maskedCells: m.maskedCells)
    }

    /// From dHn (N×d) back through the pre-latent norm, the layers and the embedder.
    func backwardEncoder(dhn: UnsafePointer<Float>, input: CSRMatrix, n: Int) throws(CellLMError) {
        let d = config.hidden, nd = n * d, L = config.layers
        var dcur = dh1.resize(nd), dnext = dh2.resize(nd)
        LayerNorm.backward(dx: dcur, dgamma: params.grad("pre_latent_norm.norm.weight"), dbeta: params.grad("pre_latent_norm.norm.bias"),
                           dy: dhn, x: hidden[L].pointer, mean: preMean.pointer, rstd: preRstd.pointer,
                           gamma: params.value("pre_latent_norm.norm.weight"), n: n, c: d, accumulate: false)
        for l in stride(from: L - 1, through: 0, by: -1) {
            Profile.measure("layer bwd") { layers[l].backward(dx: dnext, dy: dcur, x: hidden[l].pointer, n: n, params: params, cache: layerCaches[l]) }
            swap(&dcur, &dnext)
            if !dcur[0].isFinite || !dcur[nd - 1].isFinite { throw .nonFinite(step: step, where: "the gradient of encoder layer \(l)") }
        }
        let dt = Profile.measure("embedder bwd") { embedder.backward(dh0: dcur, x: input, transposed: input.transposed(), params: params, cache: embedCache) }
        if config.positionEmbedding {
            let dm = params.grad("embedder.pe_enc.missing_pe"), raw = positionRaw.pointer
            var dscale: Float = 0
            for r in 0..<n {
                if missingRows[r] { for j in 0..<d { dm[j] += dt[r * d + j] } }
                else { for j in 0..<d { dscale += dt[r * d + j] * raw[r * d + j] } }
            }
            params.grad("embedder.pe_enc.scale")[0] += dscale
        }
    }
}

extension CellLM {
    /// The first stage of the last training forward whose output holds NaN or ±inf, by name.
    func firstNonFiniteActivation(n: Int) -> String? {
        let d = config.hidden
        func bad(_ b: Buffer, _ count: Int) -> Bool { (0..<min(count, b.count)).contains { !b[$0].isFinite } }
        if bad(hidden[0], n * d) { return "the embedder" }
        for l in 0..<config.layers where bad(hidden[l + 1], n * d) { return "encoder layer \(l)" }
        if bad(hn, n * d) { return "the pre-latent norm" }
        if let _ = gmvae, bad(gmvaeCache.z, n * config.latentDim) { return "the GMVAE latent" }
        if let _ = vae, bad(vaeCache.z, n * config.latentDim) { return "the VAE latent" }
        if bad(decoderCache.mean, n * config.genes) { return "the NB decoder" }
        return nil
    }

}
