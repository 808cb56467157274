import Foundation
import Tensor

/// Element-wise activations as forward/backward pairs over n contiguous values. Backward passes take the
/// forward input (or output, where cheaper) and turn dy into dx in place unless said otherwise.
public enum Activation {
    // MARK: ReLU
    public static func reluForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        Parallel.forEach(n, grain: 16_384) { r in for i in r { y[i] = max(x[i], 0) } }
    }

    /// d ← d · [y > 0] (y is the ReLU output).
    public static func reluBackward(_ d: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, _ n: Int) {
        Parallel.forEach(n, grain: 16_384) { r in for i in r where y[i] <= 0 { d[i] = 0 } }
    }

    // MARK: GELU, exact (erf) form as torch.nn.GELU()
    public static func geluForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        Parallel.forEach(n, grain: 8192) { r in
            FastMath.map(y + r.lowerBound, x + r.lowerBound, r.count) { v in
                0.5 * v * (1 + FastMath.erf(v * 0.70710678118654752))
            }
        }
    }

    /// dx = dy · (Φ(x) + x·φ(x)); dx may alias dy.
    public static func geluBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
                                    input x: UnsafePointer<Float>, _ n: Int) {
        Parallel.forEach(n, grain: 8192) { r in
            var i = r.lowerBound
            let end = r.upperBound
            typealias V = FastMath.V
            while i < end {
                let m = min(8, end - i)
                var v = V(repeating: 0), g = V(repeating: 0)
                if m == 8 {
                    v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
                    g = UnsafeRawPointer(dy + i).loadUnaligned(as: V.self)
                } else { for j in 0..<m { v[j] = x[i + j]; g[j] = dy[i + j] } }
                let cdf = 0.5 * (1 + FastMath.erf(v * 0.70710678118654752))
                let pdf = FastMath.exp(-0.5 * v * v) * 0.3989422804014327
                let out = g * (cdf + v * pdf)
                if m == 8 { UnsafeMutableRawPointer(dx + i).storeBytes(of: out, as: V.self) }
                else { for j in 0..<m { dx[i + j] = out[j] } }
                i += 8
            }
        }
    }

    // MARK: PReLU with one shared slope (torch.nn.PReLU())
    public static func preluForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, slope: Float, _ n: Int) {
        for i in 0..<n { let v = x[i]; y[i] = v >= 0 ? v : slope * v }
    }

    /// Turns dy into dx in place and returns d(slope) = Σ dy·x over x < 0.
    public static func preluBackward(_ d: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, slope: Float,
                                     _ n: Int) -> Float {
        var ds: Float = 0
        for i in 0..<n where x[i] < 0 { ds += d[i] * x[i]; d[i] *= slope }
        return ds
    }

    // MARK: sigmoid / softplus
    @inlinable public static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// torch.nn.functional.softplus (beta 1, threshold 20).
    @inlinable public static func softplus(_ x: Float) -> Float { x > 20 ? x : log1pf(expf(x)) }
    /// d softplus / dx = sigmoid(x) (1 above the threshold).
    @inlinable public static func softplusGrad(_ x: Float) -> Float { x > 20 ? 1 : sigmoid(x) }
}

/// Inverted dropout: a mask of 0 or 1/(1−p) drawn from the model's seeded generator.
public enum Dropout {
    /// Fills `mask` (n values) and applies it: y = x ∘ mask. With p = 0 the mask is all ones.
    public static func forward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                               mask: UnsafeMutablePointer<Float>, p: Float, n: Int, rng: inout SeededRNG) {
        if p <= 0 {
            mask.update(repeating: 1, count: n)
            if UnsafePointer(y) != x { y.update(from: x, count: n) }
            return
        }
        let scale = 1 / (1 - p)
        // Compare 16-bit uniforms against p: one 64-bit draw gives four decisions.
        let threshold = UInt64((Double(p) * 65536).rounded())
        var i = 0
        while i < n {
            var r = rng.next()
            for k in 0..<min(4, n - i) {
                mask[i + k] = (r & 0xFFFF) < threshold ? 0 : scale
                r >>= 16
            }
            i += 4
        }
        for j in 0..<n { y[j] = x[j] * mask[j] }
    }

    /// d ← d ∘ mask.
    public static func backward(_ d: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, n: Int) {
        for j in 0..<n { d[j] *= mask[j] }
    }
}
