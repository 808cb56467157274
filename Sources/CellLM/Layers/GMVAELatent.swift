import Foundation
import Tensor

/// The Gaussian-mixture VAE latent (cellplm.md §3.4a), d → latentDim with K components:
///   logits = Hn·Wyᵀ + by                      q(y|x), π = softmax(logits)
///   y = softmax(logits + Gumbel)              training (soft); inference: one-hot argmax(logits), no noise
///   a = ReLU([Hn; y]·W1ᵀ + b1)                (d+K) → gmvaeHidden
///   μ = a·Wμᵀ + bμ,  v = softplus(a·Wvᵀ + bv),  z = μ + ε·√(v + 1e-10)
///   μ_y = y·Wpμᵀ + b,  v_y = softplus(y·Wpvᵀ + b)                          p(z|y)
///   loss = w_g·max(λ, mean_i Σ_j [log N(z; μ, v) − log N(z; μ_y, v_y)]) + w_c·max(λ, mean_i Σ_k π log π + log K)
/// (a max that picks λ passes no gradient, as in PyTorch).
public struct GMVAELatent {
    public let d: Int, k: Int, hidden: Int, dz: Int
    static let p = "latent.layers.1.inference."

    public final class Cache {
        let logits = Buffer(), prob = Buffer(), y = Buffer(), concat = Buffer(), a = Buffer()
        let mu = Buffer(), vRaw = Buffer(), v = Buffer(), eps = Buffer(), z = Buffer()
        let yMu = Buffer(), yVRaw = Buffer(), yV = Buffer()
        let dmu = Buffer(), dvRaw = Buffer(), da = Buffer(), dconcat = Buffer(), dy = Buffer(), dlogits = Buffer()
        public internal(set) var gaussianTerm: Float = 0, categoricalTerm: Float = 0
        var gaussianActive = false, categoricalActive = false
        public init() {}
    }

    public init(config c: CellLMConfig) { d = c.hidden; k = c.mixtureComponents; hidden = c.gmvaeHidden; dz = c.latentDim }

    public static func layout(_ c: CellLMConfig) -> [(String, [Int], Int)] {
        let d = c.hidden, k = c.mixtureComponents, h = c.gmvaeHidden, z = c.latentDim
        return [(p + "inference_qyx.0.logits.weight", [k, d], 0), (p + "inference_qyx.0.logits.bias", [k], 0),
                (p + "inference_qzyx.0.weight", [h, d + k], 0), (p + "inference_qzyx.0.bias", [h], 0),
                (p + "inference_qzyx.2.mu.weight", [z, h], 0), (p + "inference_qzyx.2.mu.bias", [z], 0),
                (p + "inference_qzyx.2.var.weight", [z, h], 0), (p + "inference_qzyx.2.var.bias", [z], 0),
                (p + "y_mu.weight", [z, k], 0), (p + "y_mu.bias", [z], 0),
                (p + "y_var.weight", [z, k], 0), (p + "y_var.bias", [z], 0)]
    }

    /// hn: N×d → returns the latent passed on (z when training, μ otherwise) and the latent loss (training only).
    /// `gumbelU` (N×K uniforms) and `noise` (N×dz normals) replay given draws; otherwise they come from `rng`.
    public func forward(hn: UnsafePointer<Float>, n: Int, params ps: ParameterStore, cache c: Cache, train: Bool,
                        freeBits: Float, gaussianWeight: Float, categoricalWeight: Float,
                        gumbelU: [Float]? = nil, noise: [Float]? = nil, rng: inout SeededRNG)
    -> (out: UnsafeMutablePointer<Float>, loss: Float) {
        let P = Self.p
        let logits = c.logits.resize(n * k), prob = c.prob.resize(n * k), y = c.y.resize(n * k)
        Linear.forward(y: logits, x: hn, w: ps.value(P + "inference_qyx.0.logits.weight"),
                       b: ps.value(P + "inference_qyx.0.logits.bias"), n: n, inDim: d, outDim: k)
        for i in 0..<n {
            softmax(prob + i * k, logits + i * k, k)
            if train {
                for j in 0..<k {
                    let u = gumbelU?[i * k + j] ?? Float(rng.uniform())
                    y[i * k + j] = logits[i * k + j] - logf(-logf(u + 1e-20) + 1e-20)
                }
                softmax(y + i * k, y + i * k, k)
            } else {
                var best = 0
                for j in 1..<k where logits[i * k + j] > logits[i * k + best] { best = j }
                for j in 0..<k { y[i * k + j] = j == best ? 1 : 0 }
            }
        }
        let w = d + k
        let concat = c.concat.resize(n * w)
        for i in 0..<n {
            (concat + i * w).update(from: hn + i * d, count: d)
            (concat + i * w + d).update(from: y + i * k, count: k)
        }
        let a = c.a.resize(n * hidden)
        Linear.forward(y: a, x: concat, w: ps.value(P + "inference_qzyx.0.weight"), b: ps.value(P + "inference_qzyx.0.bias"),
                       n: n, inDim: w, outDim: hidden)
        Activation.reluForward(a, a, n * hidden)
        let mu = c.mu.resize(n * dz), vRaw = c.vRaw.resize(n * dz), v = c.v.resize(n * dz)
        Linear.forward(y: mu, x: a, w: ps.value(P + "inference_qzyx.2.mu.weight"), b: ps.value(P + "inference_qzyx.2.mu.bias"),
                       n: n, inDim: hidden, outDim: dz)
        if !train { return (mu, 0) }   // inference needs only the mean
        Linear.forward(y: vRaw, x: a, w: ps.value(P + "inference_qzyx.2.var.weight"), b: ps.value(P + "inference_qzyx.2.var.bias"),
                       n: n, inDim: hidden, outDim: dz)
        for i in 0..<(n * dz) { v[i] = Activation.softplus(vRaw[i]) }

        let eps = c.eps.resize(n * dz), z = c.z.resize(n * dz)
        if let noise { for i in 0..<(n * dz) { eps[i] = noise[i] } } else { rng.fillNormal(eps, count: n * dz) }
        for i in 0..<(n * dz) { z[i] = mu[i] + eps[i] * (v[i] + 1e-10).squareRoot() }
        let yMu = c.yMu.resize(n * dz), yVRaw = c.yVRaw.resize(n * dz), yV = c.yV.resize(n * dz)
        Linear.forward(y: yMu, x: y, w: ps.value(P + "y_mu.weight"), b: ps.value(P + "y_mu.bias"), n: n, inDim: k, outDim: dz)
        Linear.forward(y: yVRaw, x: y, w: ps.value(P + "y_var.weight"), b: ps.value(P + "y_var.bias"), n: n, inDim: k, outDim: dz)
        var gSum = 0.0
        for i in 0..<(n * dz) { yV[i] = Activation.softplus(yVRaw[i]) }
        // Σ −½(log v₁ + e₁²/v₁) + ½(log v₂ + e₂²/v₂), 8 lanes at a time, each row's partial sum in double.
        for r in 0..<n {
            var acc = FastMath.V(repeating: 0)
            var j = 0
            let o = r * dz
            while j + 8 <= dz {
                func ld(_ p: UnsafeMutablePointer<Float>) -> FastMath.V { UnsafeRawPointer(p + o + j).loadUnaligned(as: FastMath.V.self) }
                let v1 = ld(v) + 1e-8, v2 = ld(yV) + 1e-8, zz = ld(z)
                let e1 = zz - ld(mu), e2 = zz - ld(yMu)
                let logs: FastMath.V = FastMath.log(v2) - FastMath.log(v1)
                let q2: FastMath.V = e2 * e2 / v2
                let q1: FastMath.V = e1 * e1 / v1
                acc += 0.5 * (logs + q2 - q1)
                j += 8
            }
            var s = Double(acc.sum())
            while j < dz {
                let i = o + j
                let v1 = Double(v[i]) + 1e-8, v2 = Double(yV[i]) + 1e-8
                let e1 = Double(z[i] - mu[i]), e2 = Double(z[i] - yMu[i])
                s += -0.5 * (log(v1) + e1 * e1 / v1) + 0.5 * (log(v2) + e2 * e2 / v2)
                j += 1
            }
            gSum += s
        }
        var cSum = 0.0
        for i in 0..<n {
            var s = 0.0
            let lse = logSumExp(logits + i * k, k)
            for j in 0..<k { s += Double(prob[i * k + j]) * Double(logits[i * k + j] - lse) }
            cSum += s
        }
        c.gaussianTerm = Float(gSum / Double(n))
        c.categoricalTerm = Float(cSum / Double(n) + log(Double(k)))
        c.gaussianActive = c.gaussianTerm > freeBits
        c.categoricalActive = c.categoricalTerm > freeBits
        let loss = gaussianWeight * max(freeBits, c.gaussianTerm) + categoricalWeight * max(freeBits, c.categoricalTerm)
        return (z, loss)
    }

    /// dz: N×dz gradient reaching z from the decoder → dhn: N×d (overwritten). Adds the latent loss's gradient.
    public func backward(dhn: UnsafeMutablePointer<Float>, dz dzIn: UnsafePointer<Float>, hn: UnsafePointer<Float>, n: Int,
                         params ps: ParameterStore, cache c: Cache, gaussianWeight: Float, categoricalWeight: Float) {
        let P = Self.p
        let gl = c.gaussianActive ? gaussianWeight / Float(n) : 0
        let cl = c.categoricalActive ? categoricalWeight / Float(n) : 0
        let nz = n * dz
        let dmu = c.dmu.resize(nz), dvRaw = c.dvRaw.resize(nz)
        let dyMu = c.dconcat.resize(max(nz, n * (d + k))), dyVRaw = c.da.resize(max(nz, n * hidden))
        let mu = c.mu.pointer, v = c.v.pointer, z = c.z.pointer, eps = c.eps.pointer
        let yMu = c.yMu.pointer, yV = c.yV.pointer
        for i in 0..<nz {
            let v1 = v[i] + 1e-8, v2 = yV[i] + 1e-8
            let e1 = z[i] - mu[i], e2 = z[i] - yMu[i]
            let dzTot = dzIn[i] + gl * (-e1 / v1 + e2 / v2)
            dmu[i] = dzTot + gl * e1 / v1
            let s = (v[i] + 1e-10).squareRoot()
            let dv = dzTot * eps[i] * 0.5 / s + gl * (-0.5 / v1 + 0.5 * e1 * e1 / (v1 * v1))
            dvRaw[i] = dv * Activation.softplusGrad(c.vRaw.pointer[i])
            dyMu[i] = gl * (-e2 / v2)
            dyVRaw[i] = gl * (0.5 / v2 - 0.5 * e2 * e2 / (v2 * v2)) * Activation.softplusGrad(c.yVRaw.pointer[i])
        }
        // p(z|y) layers → dy
        let dy = c.dy.resize(n * k)
        Linear.backward(dx: dy, dw: ps.grad(P + "y_mu.weight"), db: ps.grad(P + "y_mu.bias"), dy: dyMu, x: c.y.pointer,
                        w: ps.value(P + "y_mu.weight"), n: n, inDim: k, outDim: dz)
        Linear.backward(dx: dy, dw: ps.grad(P + "y_var.weight"), db: ps.grad(P + "y_var.bias"), dy: dyVRaw, x: c.y.pointer,
                        w: ps.value(P + "y_var.weight"), n: n, inDim: k, outDim: dz, accumulate: true)
        // q(z|x,y) heads → da → ReLU → concat
        let da = c.da.resize(max(nz, n * hidden))
        Linear.backward(dx: da, dw: ps.grad(P + "inference_qzyx.2.mu.weight"), db: ps.grad(P + "inference_qzyx.2.mu.bias"),
                        dy: dmu, x: c.a.pointer, w: ps.value(P + "inference_qzyx.2.mu.weight"), n: n, inDim: hidden, outDim: dz)
        Linear.backward(dx: da, dw: ps.grad(P + "inference_qzyx.2.var.weight"), db: ps.grad(P + "inference_qzyx.2.var.bias"),
                        dy: dvRaw, x: c.a.pointer, w: ps.value(P + "inference_qzyx.2.var.weight"), n: n, inDim: hidden,
                        outDim: dz, accumulate: true)
        Activation.reluBackward(da, output: c.a.pointer, n * hidden)
        let w = d + k
        let dconcat = c.dconcat.resize(n * w)
        Linear.backward(dx: dconcat, dw: ps.grad(P + "inference_qzyx.0.weight"), db: ps.grad(P + "inference_qzyx.0.bias"),
                        dy: da, x: c.concat.pointer, w: ps.value(P + "inference_qzyx.0.weight"), n: n, inDim: w, outDim: hidden)
        // y = softmax(logits + g): dlogits = y∘(dy − ⟨y, dy⟩); plus the categorical term π∘(log π − Σ π log π).
        let dlogits = c.dlogits.resize(n * k)
        let y = c.y.pointer, prob = c.prob.pointer, logits = c.logits.pointer
        for i in 0..<n {
            var dot: Float = 0
            for j in 0..<k { dy[i * k + j] += dconcat[i * w + d + j]; dot += y[i * k + j] * dy[i * k + j] }
            let lse = logSumExp(logits + i * k, k)
            var ent: Float = 0
            for j in 0..<k { ent += prob[i * k + j] * (logits[i * k + j] - lse) }
            for j in 0..<k {
                let pj = prob[i * k + j], lp = logits[i * k + j] - lse
                dlogits[i * k + j] = y[i * k + j] * (dy[i * k + j] - dot) + cl * pj * (lp - ent)
            }
        }
        Linear.backward(dx: dhn, dw: ps.grad(P + "inference_qyx.0.logits.weight"), db: ps.grad(P + "inference_qyx.0.logits.bias"),
                        dy: dlogits, x: hn, w: ps.value(P + "inference_qyx.0.logits.weight"), n: n, inDim: d, outDim: k)
        for i in 0..<n {
            let dst = dhn + i * d, src = dconcat + i * w
            for j in 0..<d { dst[j] += src[j] }
        }
    }
}

@inline(__always) func softmax(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ k: Int) {
    var m = -Float.infinity
    for j in 0..<k { m = max(m, x[j]) }
    var s: Float = 0
    for j in 0..<k { let e = expf(x[j] - m); y[j] = e; s += e }
    for j in 0..<k { y[j] /= s }
}

@inline(__always) func logSumExp(_ x: UnsafePointer<Float>, _ k: Int) -> Float {
    var m = -Float.infinity
    for j in 0..<k { m = max(m, x[j]) }
    var s: Float = 0
    for j in 0..<k { s += expf(x[j] - m) }
    return m + logf(s)
}
