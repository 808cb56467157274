import Foundation
import Tensor

/// Fine-tuning for spatial imputation (cellplm.md §5.2): the NB loss over each sequence's measured genes for
/// every kept cell (`NBLoss.Objective.allCells`, masking only as augmentation), plus one addition of ours:
/// genes listed in `hiddenInput` are zeroed in the input on every step while staying in the loss. For the
/// scRNA reference these are the genes the spatial panel lacks, so the model is trained on exactly the task it
/// is asked at inference (predict those genes from the panel genes) and query and reference cells enter the
/// encoder with the same genes.
extension CellLM {
    /// One forward and backward; gradients are added to `params.grads` (zero them first).
    /// seq: N×G counts in the vocabulary; hiddenInput: vocabulary indices never shown to the embedder;
    /// inputScale: optional per-cell factors (N) applied to the embedder's input only (the loss keeps the raw
    /// counts), e.g. library-size normalisation so that two platforms of different depth look alike.
    public func imputationStep(_ seq: CellSequence, hiddenInput: [Int32], inputScale: [Float]? = nil) throws(CellLMError) -> StepLoss {
        try seq.validate(genes: config.genes, batchCount: config.batchCount, datasetCount: config.datasetCount)
        if let g = hiddenInput.first(where: { $0 < 0 || Int($0) >= config.genes }) {
            throw .invalidInput(field: "hiddenInput", problem: "gene index \(g) is outside the vocabulary of \(config.genes)",
                                fix: "Hidden genes are vocabulary indices.")
        }
        // Masking (drop cells, mask a Beta rate of measured genes in 95 % of cells): augmentation only.
        var m = MaskedSequence.make(counts: seq.counts, measured: seq.measured, config: config, rng: &rng)
        if !hiddenInput.isEmpty {
            var hidden = [Bool](repeating: false, count: config.genes)
            for g in hiddenInput { hidden[Int(g)] = true }
            for z in 0..<m.masked.nnz where hidden[Int(m.masked.indices[z])] { m.masked.values[z] = 0 }
        }
        if let inputScale {
            guard inputScale.count == seq.cells else {
                throw .invalidInput(field: "inputScale", problem: "has \(inputScale.count) factors for \(seq.cells) cells", fix: "Give one factor per cell.")
            }
            for (i, row) in m.kept.enumerated() {
                for z in m.masked.indptr[i]..<m.masked.indptr[i + 1] { m.masked.values[z] *= inputScale[row] }
            }
        }
        let sub = m.kept.count == seq.cells ? seq : seq.selecting(m.kept)
        let n = m.counts.rows, g = config.genes, d = config.hidden
        let hn = encode(input: m.masked, coordinates: sub.coordinates, train: true)     // N×d
        let (z, latentLoss) = latentForward(hn: hn, n: n, train: true, replay: nil)      // N×latentDim
        decoder.forward(z: z, n: n, labels: [sub.batch, sub.dataset], params: params, cache: decoderCache,
                        dropout: config.dropout, train: true, rng: &rng)                  // means N×G, θ G
        let truth = self.truth.resize(n * g)
        m.counts.densify(into: truth)
        let dmean = self.dmean.resize(n * g), dtheta = self.dtheta.resize(g)
        let recon = NBLoss.compute(truth: truth, mean: decoderCache.mean.pointer, theta: decoderCache.theta.pointer, n: n,
                                   genes: g, measured: seq.measured, inputMask: nil, objective: .allCells,
                                   dmean: dmean, dtheta: dtheta)
        let total = recon + latentLoss
        if !total.isFinite {
            let origin = firstNonFiniteActivation(n: n) ?? (recon.isFinite ? "the latent loss" : "the NB reconstruction loss")
            throw .nonFinite(step: step, where: "the loss (reconstruction \(recon), latent \(latentLoss)); first non-finite output: \(origin)")
        }
        let dz = decoder.backward(dmean: dmean, dtheta: dtheta, z: z, n: n, params: params, cache: decoderCache)
        let dhn = self.dhn.resize(n * d)
        if let gmvae {
            gmvae.backward(dhn: dhn, dz: dz, hn: hn, n: n, params: params, cache: gmvaeCache,
                           gaussianWeight: config.gaussianWeight, categoricalWeight: config.categoricalWeight)
        } else {
            vae!.backward(dhn: dhn, dz: dz, hn: hn, n: n, params: params, cache: vaeCache)
        }
        try backwardEncoder(dhn: dhn, input: m.masked, n: n)
        step += 1
        return StepLoss(total: total, reconstruction: recon, latent: latentLoss, cells: n, maskedCells: m.maskedCells)
    }
}

extension Trainer {
    /// One optimizer step of imputation fine-tuning (`CellLM.imputationStep`), with the same NaN checks,
    /// global-norm clipping, AdamW and schedule as `step`.
    @discardableResult
    public func imputationStep(_ seq: CellSequence, hiddenInput: [Int32], inputScale: [Float]? = nil) throws(CellLMError) -> StepLoss {
        model.params.zeroGrads()
        let loss = try model.imputationStep(seq, hiddenInput: hiddenInput, inputScale: inputScale)
        let norm = AdamW.gradientNorm(model.params)
        if !norm.isFinite {
            throw .nonFinite(step: model.step - 1, where: "the gradient of \(firstNonFiniteGradient() ?? "a parameter")")
        }
        if norm > options.clipNorm {
            let scale = options.clipNorm / (norm + 1e-6), g = model.params.grads.pointer
            Parallel.forEach(model.params.count, grain: 1 << 16) { r in for i in r { g[i] *= scale } }
        }
        optimizer.step(model.params, lr: schedule.rate(step: optimizer.t))
        return loss
    }
}
