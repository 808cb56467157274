/// Float32 transcendental functions on 8-lane SIMD vectors, for the element-wise kernels (libm calls do not
/// vectorise). Accuracy: exp within 2 ulp over [−87, 88]; erf within 2e-7 absolute.
public enum FastMath {
    public typealias V = SIMD8<Float>

    /// e^x, Cody–Waite reduction x = k·ln2 + r, |r| ≤ ln2/2, then a degree-6 polynomial; 2^k from the bits.
    @inlinable @inline(__always)
    public static func exp(_ x: V) -> V {
        // Clamp with selects (SIMD clamped() is a non-inlined generic call).
        var xc = x.replacing(with: -87.3, where: x .< -87.3)
        xc = xc.replacing(with: 88.7, where: xc .> 88.7)
        // Round to nearest by adding 1.5·2²³: k lands in the low mantissa bits of `shifted`.
        let shifted = xc * 1.44269504088896341 + 12_582_912
        let k = shifted - 12_582_912
        let r = (xc - k * 0.693359375) + k * 2.12194440e-4
        var p = V(repeating: 1.3981999507e-3)
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * r * r + r + 1
        let kb = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- 0x4B40_0000 &+ 127
        return p * unsafeBitCast(kb &<< 23, to: V.self)
    }

    /// erf via the Numerical Recipes erfc Chebyshev fit (fractional error < 1.2e-7).
    @inlinable @inline(__always)
    public static func erf(_ x: V) -> V {
        let a = x.replacing(with: -x, where: x .< 0)
        let t = 1 / (1 + 0.5 * a)
        var p = V(repeating: 0.17087277)
        p = p * t - 0.82215223
        p = p * t + 1.48851587
        p = p * t - 1.13520398
        p = p * t + 0.27886807
        p = p * t - 0.18628806
        p = p * t + 0.09678418
        p = p * t + 0.37409196
        p = p * t + 1.00002368
        p = p * t - 1.26551223
        let r = 1 - t * exp(-a * a + p)
        return r.replacing(with: -r, where: x .< 0)
    }

    @inlinable @inline(__always)
    public static func sigmoid(_ x: V) -> V { 1 / (1 + exp(-x)) }

    /// Natural log for x > 0 (Cephes logf: x = m·2^e with m in [√½, √2), degree-8 polynomial in m − 1).
    @inlinable @inline(__always)
    public static func log(_ x: V) -> V {
        let bits = unsafeBitCast(x, to: SIMD8<Int32>.self)
        var e = V((bits &>> 23) &- 127)
        var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F80_0000, to: V.self)   // [1, 2)
        let big = m .> 1.41421356
        m = m.replacing(with: m * 0.5, where: big)
        e = e.replacing(with: e + 1, where: big)
        let f = m - 1
        let z = f * f
        var p = V(repeating: 7.0376836292e-2)
        p = p * f - 1.1514610310e-1
        p = p * f + 1.1676998740e-1
        p = p * f - 1.2420140846e-1
        p = p * f + 1.4249322787e-1
        p = p * f - 1.6668057665e-1
        p = p * f + 2.0000714765e-1
        p = p * f - 2.4999993993e-1
        p = p * f + 3.3333331174e-1
        let y = p * f * z - 0.5 * z
        return f + y + e * 0.693147180559945309
    }

    // Scalar forms (lane 0 of the vector form), for code that is not a bulk loop.
    @inlinable public static func exp(_ x: Float) -> Float { exp(V(repeating: x))[0] }
    @inlinable public static func erf(_ x: Float) -> Float { erf(V(repeating: x))[0] }
    @inlinable public static func sigmoid(_ x: Float) -> Float { sigmoid(V(repeating: x))[0] }
    @inlinable public static func log(_ x: Float) -> Float { log(V(repeating: x))[0] }

    /// y[i] = f(x[i]) over n values, 8 lanes at a time (the tail padded). y may alias x.
    @inlinable @inline(__always)
    public static func map(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, _ f: (V) -> V) {
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: f(v), as: V.self)
            i += 8
        }
        if i < n {
            var v = V(repeating: 0)
            for j in 0..<(n - i) { v[j] = x[i + j] }
            let r = f(v)
            for j in 0..<(n - i) { y[i + j] = r[j] }
        }
    }
}
