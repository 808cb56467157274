import Foundation
import Tensor

/// AdamW (Loshchilov & Hutter; torch.optim.AdamW defaults β = (0.9, 0.999), ε = 1e-8) over a flat parameter
/// store, with per-group learning-rate multipliers and weight decay (CellPLM trains the embedder at 0.1× the
/// rate), plus global-norm gradient clipping.
public final class AdamW {
    public struct Group: Codable, Sendable, Equatable {
        public var lrScale: Float
        public var weightDecay: Float
        public init(lrScale: Float, weightDecay: Float) { self.lrScale = lrScale; self.weightDecay = weightDecay }
    }

    public var beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8
    /// Group 0: encoder, latent, decoder, heads; group 1: embedder.
    public var groups: [Group]
    public let m: Buffer, v: Buffer
    /// Steps taken (bias correction).
    public var t = 0
    /// Parameters excluded from updates (frozen), by index into the store's infos.
    public var frozen: Set<Int> = []

    public init(count: Int, groups: [Group]) {
        self.groups = groups
        m = Buffer(count: count); v = Buffer(count: count)
    }

    /// L2 norm of all gradients (NaN or ±inf if any gradient is), 8-lane partial sums on every core.
    public static func gradientNorm(_ ps: ParameterStore) -> Float {
        let g = ps.grads.pointer, n = ps.count
        let parts = Parallel.cores
        var sums = [Double](repeating: 0, count: parts)
        sums.withUnsafeMutableBufferPointer { sp in
            let out = sp.baseAddress!
            Parallel.run(parts) { p in
                let lo = n * p / parts / 8 * 8, hi = p == parts - 1 ? n : n * (p + 1) / parts / 8 * 8
                var acc = FastMath.V(repeating: 0)
                var i = lo
                while i + 8 <= hi { let v = UnsafeRawPointer(g + i).loadUnaligned(as: FastMath.V.self); acc += v * v; i += 8 }
                var s = Double(acc.sum())
                while i < hi { s += Double(g[i] * g[i]); i += 1 }
                out[p] = s
            }
        }
        return Float(sums.reduce(0, +).squareRoot())
    }

    /// Scales gradients so their global norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_); returns the
    /// norm before clipping.
    @discardableResult
    public static func clip(_ ps: ParameterStore, maxNorm: Float) -> Float {
        let norm = gradientNorm(ps)
        let scale = maxNorm / (norm + 1e-6)
        if scale < 1 {
            let g = ps.grads.pointer
            Parallel.forEach(ps.count, grain: 1 << 16) { r in for i in r { g[i] *= scale } }
        }
        return norm
    }

    /// One update with base learning rate `lr`.
    public func step(_ ps: ParameterStore, lr: Float) {
        t += 1
        let bc1 = 1 - powf(beta1, Float(t)), bc2 = 1 - powf(beta2, Float(t))
        let (b1, b2, e) = (beta1, beta2, eps)
        for (idx, info) in ps.infos.enumerated() where !frozen.contains(idx) {
            let gset = groups[min(info.group, groups.count - 1)]
            let rate = lr * gset.lrScale, decay = 1 - rate * gset.weightDecay
            let p = ps.values.pointer + info.offset, g = ps.grads.pointer + info.offset
            let mm = m.pointer + info.offset, vv = v.pointer + info.offset
            let stepSize = rate / bc1, sq = 1 / bc2.squareRoot()
            Parallel.forEach(info.count, grain: 1 << 15) { r in
                for i in r {
                    p[i] *= decay
                    mm[i] = b1 * mm[i] + (1 - b1) * g[i]
                    vv[i] = b2 * vv[i] + (1 - b2) * g[i] * g[i]
                    p[i] -= stepSize * mm[i] / ((vv[i]).squareRoot() * sq + e)
                }
            }
        }
    }
}

/// Learning-rate schedule: linear warm-up then ReduceLROnPlateau (torch defaults: mode min, relative
/// threshold 1e-4, no cooldown), as CellPLM's fine-tuning pipelines.
public struct LRSchedule: Codable, Sendable, Equatable {
    public var baseLR: Float
    public var warmupSteps: Int
    public var factor: Float
    public var patience: Int
    public var minLR: Float
    /// Plateau state.
    public var scale: Float = 1
    public var best: Float? = nil
    public var badEpochs = 0

    public init(baseLR: Float, warmupSteps: Int = 0, factor: Float = 0.9, patience: Int = 5, minLR: Float = 0) {
        self.baseLR = baseLR; self.warmupSteps = warmupSteps; self.factor = factor; self.patience = patience; self.minLR = minLR
    }

    /// Rate for an optimizer step (0-based).
    public func rate(step: Int) -> Float {
        let warm: Float = warmupSteps > 0 ? min(1, Float(step + 1) / Float(warmupSteps)) : 1
        return max(minLR, baseLR * scale * warm)
    }

    /// Feeds one epoch's monitored loss; lowers the rate after `patience` epochs without improvement.
    public mutating func observe(_ loss: Float) {
        if best == nil || loss < best! * (1 - 1e-4) { best = loss; badEpochs = 0 }
        else {
            badEpochs += 1
            if badEpochs > patience { scale *= factor; badEpochs = 0 }
        }
    }
}
