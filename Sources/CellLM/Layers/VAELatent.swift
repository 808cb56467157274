import Foundation
import Tensor

/// The diagonal-Gaussian VAE latent (cellplm.md §3.4b), d → latentDim:
///   μ = Hn·Wμᵀ + b,  lv = clamp(Hn·Wsᵀ + b, −5, 5),  σ = √(exp(lv) + 1e-4),  z = μ + σ·ε
///   KL = w_t · mean_i Σ_j −½(1 + 2 log σ − μ² − σ²), set to 0 below the free-bits floor λ,
/// with w_t ramping linearly from 0 to 1 over `klWarmupSteps` training steps. Inference returns μ.
public struct VAELatent {
    public let d: Int, dz: Int
    static let p = "latent.layers.1."

    public final class Cache {
        let mu = Buffer(), sRaw = Buffer(), sigma = Buffer(), eps = Buffer(), z = Buffer(), dmu = Buffer(), ds = Buffer()
        public internal(set) var kl: Float = 0
        var active = false
        var weight: Float = 0
        public init() {}
    }

    public init(config c: CellLMConfig) { d = c.hidden; dz = c.latentDim }

    public static func layout(_ c: CellLMConfig) -> [(String, [Int], Int)] {
        [(p + "hid_2mu.weight", [c.latentDim, c.hidden], 0), (p + "hid_2mu.bias", [c.latentDim], 0),
         (p + "hid_2sigma.weight", [c.latentDim, c.hidden], 0), (p + "hid_2sigma.bias", [c.latentDim], 0)]
    }

    /// The KL weight at a training step (0-based count of earlier training steps), as CellPLM's schedule.
    public static func klWeight(step: Int, warmup: Int) -> Float {
        warmup <= 0 ? 1 : Float(min(step, warmup)) / Float(warmup)
    }

    public func forward(hn: UnsafePointer<Float>, n: Int, params ps: ParameterStore, cache c: Cache, train: Bool,
                        freeBits: Float, klWeight: Float, noise: [Float]? = nil, rng: inout SeededRNG)
    -> (out: UnsafeMutablePointer<Float>, loss: Float) {
        let P = Self.p, nz = n * dz
        let mu = c.mu.resize(nz), sRaw = c.sRaw.resize(nz)
        Linear.forward(y: mu, x: hn, w: ps.value(P + "hid_2mu.weight"), b: ps.value(P + "hid_2mu.bias"), n: n, inDim: d, outDim: dz)
        if !train { return (mu, 0) }
        Linear.forward(y: sRaw, x: hn, w: ps.value(P + "hid_2sigma.weight"), b: ps.value(P + "hid_2sigma.bias"), n: n, inDim: d, outDim: dz)
        let sigma = c.sigma.resize(nz), eps = c.eps.resize(nz), z = c.z.resize(nz)
        if let noise { for i in 0..<nz { eps[i] = noise[i] } } else { rng.fillNormal(eps, count: nz) }
        var kl = 0.0
        for i in 0..<nz {
            let lv = min(max(sRaw[i], -5), 5)
            let s = (expf(lv) + 1e-4).squareRoot()
            sigma[i] = s
            z[i] = mu[i] + s * eps[i]
            let logVar = 2 * log(Double(s))
            kl += -0.5 * (1 + logVar - Double(mu[i]) * Double(mu[i]) - exp(logVar))
        }
        c.kl = Float(kl / Double(n)) * klWeight
        c.weight = klWeight
        c.active = c.kl >= freeBits && klWeight > 0
        return (z, c.active ? c.kl : 0)
    }

    public func backward(dhn: UnsafeMutablePointer<Float>, dz dzIn: UnsafePointer<Float>, hn: UnsafePointer<Float>, n: Int,
                         params ps: ParameterStore, cache c: Cache) {
        let P = Self.p, nz = n * dz
        let w = c.active ? c.weight / Float(n) : 0
        let dmu = c.dmu.resize(nz), ds = c.ds.resize(nz)
        let mu = c.mu.pointer, sigma = c.sigma.pointer, eps = c.eps.pointer, sRaw = c.sRaw.pointer
        for i in 0..<nz {
            dmu[i] = dzIn[i] + w * mu[i]
            let s = sigma[i]
            let dsig = dzIn[i] * eps[i] + w * (s - 1 / s)
            let raw = sRaw[i]
            ds[i] = (raw < -5 || raw > 5) ? 0 : dsig * expf(raw) / (2 * s)
        }
        Linear.backward(dx: dhn, dw: ps.grad(P + "hid_2mu.weight"), db: ps.grad(P + "hid_2mu.bias"), dy: dmu, x: hn,
                        w: ps.value(P + "hid_2mu.weight"), n: n, inDim: d, outDim: dz)
        Linear.backward(dx: dhn, dw: ps.grad(P + "hid_2sigma.weight"), db: ps.grad(P + "hid_2sigma.bias"), dy: ds, x: hn,
                        w: ps.value(P + "hid_2sigma.weight"), n: n, inDim: d, outDim: dz, accumulate: true)
    }
}
