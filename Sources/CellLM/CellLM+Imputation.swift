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
    /// seq: N×G counts in the vocabulary; hiddenInput: vocabulary indices never shown to the embedder.
    public func imputationStep(_ seq: CellSequence, hiddenInput: [Int32]) throws(CellLMError) -> StepLoss {
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

    /// Inference-mode NB reconstruction loss (term A over the measured genes of every cell, no masking, no
    /// dropout) with `hiddenInput` genes zeroed in the input: the validation loss of imputation fine-tuning.
    public func imputationLoss(_ seq: CellSequence, hiddenInput: [Int32]) throws(CellLMError) -> Float {
        var input = seq
        input.counts = Self.zeroingGenes(seq.counts, hiddenInput)
        let means = try reconstruct(input)
        var truth = [Float](repeating: 0, count: seq.cells * config.genes)
        truth.withUnsafeMutableBufferPointer { seq.counts.densify(into: $0.baseAddress!) }
        var dm = [Float](repeating: 0, count: seq.cells * config.genes), dt = [Float](repeating: 0, count: config.genes)
        let theta = thetaArray()
        return truth.withUnsafeBufferPointer { t in means.data.withUnsafeBufferPointer { mp in theta.withUnsafeBufferPointer { tp in
            dm.withUnsafeMutableBufferPointer { dmp in dt.withUnsafeMutableBufferPointer { dtp in
                NBLoss.compute(truth: t.baseAddress!, mean: mp.baseAddress!, theta: tp.baseAddress!, n: seq.cells, genes: config.genes,
                               measured: seq.measured, inputMask: nil, objective: .allCells, dmean: dmp.baseAddress!, dtheta: dtp.baseAddress!)
            } } } } }
    }

    /// `counts` with the listed columns set to zero (structure kept).
    public static func zeroingGenes(_ counts: CSRMatrix, _ genes: [Int32]) -> CSRMatrix {
        if genes.isEmpty { return counts }
        let hidden = Set(genes)
        var out = counts
        for z in 0..<out.nnz where hidden.contains(out.indices[z]) { out.values[z] = 0 }
        return out
    }
}

extension Trainer {
    /// One optimizer step of imputation fine-tuning (`CellLM.imputationStep`), with the same NaN checks,
    /// global-norm clipping, AdamW and schedule as `step`.
    @discardableResult
    public func imputationStep(_ seq: CellSequence, hiddenInput: [Int32]) throws(CellLMError) -> StepLoss {
        model.params.zeroGrads()
        let loss = try model.imputationStep(seq, hiddenInput: hiddenInput)
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
