import Foundation
import Tensor

/// What one SupCon fine-tuning step computed.
public struct SupConStepLoss: Sendable {
    /// The SupCon loss (0 when the sequence holds no labelled cell).
    public var loss: Float
    /// Cells in the sequence, and how many of them were anchors (labelled).
    public var cells: Int
    public var anchors: Int
}

/// SupCon fine-tuning (cellplm.md §6): the sequence is encoded in training mode (dropout on, no masking),
/// mapped to its deterministic latent mean, projected by a `SupConHead` and scored by
/// `SupervisedLoss.supCon` over the labelled cells; the gradient flows back through the head, the latent mean,
/// the encoder and the embedder.
///
/// Differences from the thesis code, on purpose: the latent enters as its mean (VAE: μ; GMVAE: μ of the
/// argmax branch, which is what inference embeds) rather than a sample, and the latent loss (weight 0.1 there)
/// is not added, so the step optimises exactly the clustering geometry the embedding will have.
extension CellLM {
    /// Deterministic latent mean of Hn (N×d → N×latentDim), keeping what `latentMeanBackward` needs.
    func latentMean(hn: UnsafePointer<Float>, n: Int) -> UnsafeMutablePointer<Float> {
        latentForward(hn: hn, n: n, train: false, replay: nil).out
    }

    /// dz: N×latentDim → dhn: N×d (overwritten), adding the latent-mean parameters' gradients. For the GMVAE
    /// the branch choice is an argmax (no gradient), so only q(z|x,y)'s first layer and μ layer are reached.
    func latentMeanBackward(dz: UnsafePointer<Float>, hn: UnsafePointer<Float>, n: Int, dhn: UnsafeMutablePointer<Float>) {
        let d = config.hidden, dzw = config.latentDim
        if let gmvae {
            let P = GMVAELatent.p, h = gmvae.hidden, w = d + gmvae.k, c = gmvaeCache
            let da = c.da.resize(n * h), dconcat = c.dconcat.resize(n * w)
            Linear.backward(dx: da, dw: params.grad(P + "inference_qzyx.2.mu.weight"), db: params.grad(P + "inference_qzyx.2.mu.bias"),
                            dy: dz, x: c.a.pointer, w: params.value(P + "inference_qzyx.2.mu.weight"), n: n, inDim: h, outDim: dzw)
            Activation.reluBackward(da, output: c.a.pointer, n * h)
            Linear.backward(dx: dconcat, dw: params.grad(P + "inference_qzyx.0.weight"), db: params.grad(P + "inference_qzyx.0.bias"),
                            dy: da, x: c.concat.pointer, w: params.value(P + "inference_qzyx.0.weight"), n: n, inDim: w, outDim: h)
            for i in 0..<n { (dhn + i * d).update(from: dconcat + i * w, count: d) }
        } else {
            let P = VAELatent.p
            Linear.backward(dx: dhn, dw: params.grad(P + "hid_2mu.weight"), db: params.grad(P + "hid_2mu.bias"), dy: dz, x: hn,
                            w: params.value(P + "hid_2mu.weight"), n: n, inDim: d, outDim: dzw)
        }
    }

    /// One SupCon forward and backward on one sequence. `labels` has one entry per cell: a class index ≥ 0, or
    /// −1 for cells without a usable label (unlabelled, "Unknown"), which stay in the sequence (they shape the
    /// encoder's attention and are negatives) but are neither anchors nor positives. Gradients are added to
    /// `params.grads` and `head.params.grads` (zero both first); the optimizer step is the caller's.
    public func supConStep(_ seq: CellSequence, labels: [Int32], head: SupConHead, temperature: Float = 0.07) throws(CellLMError) -> SupConStepLoss {
        try seq.validate(genes: config.genes, batchCount: config.batchCount, datasetCount: config.datasetCount)
        let n = seq.cells, d = config.hidden
        if labels.count != n {
            throw .invalidInput(field: "labels", problem: "has \(labels.count) labels for \(n) cells", fix: "Give one label per cell (−1 = unlabelled).")
        }
        if head.inDim != config.latentDim {
            throw .invalidInput(field: "head", problem: "takes \(head.inDim) inputs but the latent has \(config.latentDim)", fix: "Build the head with SupConHead.cellPLMShape(config).")
        }
        if !(temperature > 0) || !temperature.isFinite {
            throw .invalidConfig(field: "temperature", value: "\(temperature)", allowed: "a positive number (CellPLM's SupCon uses 0.07)")
        }
        let anchors = labels.filter { $0 >= 0 }.count
        if n < 2 || anchors == 0 { return SupConStepLoss(loss: 0, cells: n, anchors: 0) }
        let hn = encode(input: seq.counts, coordinates: seq.coordinates, train: true)       // N×d
        let z = latentMean(hn: hn, n: n)                                                     // N×latentDim
        let f = head.forward(z: z, n: n, train: true)                                        // N×out
        let df = head.df.resize(n * head.outDim)
        let loss = SupervisedLoss.supCon(features: f, labels: labels, dim: head.outDim, temperature: temperature, dfeatures: df)
        if !loss.isFinite {
            throw .nonFinite(step: step, where: "the SupCon loss; first non-finite output: \(firstNonFiniteActivation(n: n) ?? "the projection head")")
        }
        let dz = head.dz.resize(n * config.latentDim)
        head.backward(df: df, dz: dz, n: n)                                                  // → N×latentDim
        let dhn = self.dhn.resize(n * d)
        latentMeanBackward(dz: dz, hn: hn, n: n, dhn: dhn)                                   // → N×d
        try backwardEncoder(dhn: dhn, input: seq.counts, n: n)
        step += 1
        return SupConStepLoss(loss: loss, cells: n, anchors: anchors)
    }

    /// The fine-tuned embedding of a sequence: the head's L2-normalised projection of the latent mean, in
    /// inference mode (N×head.outDim). CellPLM's SupCon pipeline clusters the head output; normalising it
    /// gives the cosine geometry the loss trained, so Euclidean kNN on it ranks neighbours by that similarity.
    public func embedProjected(_ seq: CellSequence, head: SupConHead) throws(CellLMError) -> Matrix {
        try head.project(embed(seq))
    }
}
