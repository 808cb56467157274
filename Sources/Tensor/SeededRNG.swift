import Foundation

/// A seeded, deterministic random number generator (xoshiro256**, seeded through SplitMix64), with the
/// samplers the tissue simulator needs. The same seed gives the same stream on every machine.
public struct SeededRNG: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    /// The generator's full state, for checkpoints (resuming reproduces the same stream).
    public var state: [UInt64] {
        get { [s.0, s.1, s.2, s.3] }
        set { precondition(newValue.count == 4); s = (newValue[0], newValue[1], newValue[2], newValue[3]) }
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Double {
        var u = uniform()
        while u <= .leastNonzeroMagnitude { u = uniform() }
        return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * .pi * uniform())
    }

    /// Gamma(shape, scale = 1), Marsaglia–Tsang; shapes below 1 use the boost x·U^(1/shape).
    public mutating func gamma(shape: Double) -> Double {
        if shape < 1 {
            let g = gamma(shape: shape + 1)
            return g * Foundation.pow(max(uniform(), .leastNonzeroMagnitude), 1 / shape)
        }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat { x = normal(); v = 1 + c * x } while v <= 0
            v = v * v * v
            let u = uniform()
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if Foundation.log(max(u, .leastNonzeroMagnitude)) < 0.5 * x * x + d * (1 - v + Foundation.log(v)) { return d * v }
        }
    }

    /// Poisson(lambda): inversion for small means, the PTRS transformed-rejection method otherwise.
    public mutating func poisson(_ lambda: Double) -> Int {
        if lambda <= 0 { return 0 }
        if lambda < 12 {
            let l = Foundation.exp(-lambda)
            var k = 0, p = uniform()
            while p > l { k += 1; p *= uniform() }
            return k
        }
        // Hörmann (1993), PTRS.
        let slam = lambda.squareRoot(), loglam = Foundation.log(lambda)
        let b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b
        let invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2)
        while true {
            let u = uniform() - 0.5, v = uniform()
            let us = 0.5 - abs(u)
            let k = Foundation.floor((2 * a / us + b) * u + lambda + 0.43)
            if us >= 0.07 && v <= vr { return Int(k) }
            if k < 0 || (us < 0.013 && v > us) { continue }
            if Foundation.log(v) + Foundation.log(invalpha) - Foundation.log(a / (us * us) + b)
                <= -lambda + k * loglam - Foundation.lgamma(k + 1) { return Int(k) }
        }
    }

    /// Negative binomial with mean `mu` and inverse dispersion `theta` (variance mu + mu²/theta),
    /// drawn as a gamma–Poisson mixture.
    public mutating func negativeBinomial(mean mu: Double, theta: Double) -> Int {
        if mu <= 0 { return 0 }
        return poisson(gamma(shape: theta) * mu / theta)
    }

    /// Fills `out` with standard normals (Box–Muller in float, both outputs of each pair used).
    public mutating func fillNormal(_ out: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i < count {
            let r = next()
            let u1 = (Float(r >> 40) + 0.5) * 0x1.0p-24, u2 = Float((r >> 16) & 0xFF_FFFF) * 0x1.0p-24
            let rad = (-2 * Foundation.log(u1)).squareRoot(), a = 2 * Float.pi * u2
            out[i] = rad * Foundation.cos(a)
            if i + 1 < count { out[i + 1] = rad * Foundation.sin(a) }
            i += 2
        }
    }

    /// A uniform integer in 0..<n.
    public mutating func int(below n: Int) -> Int { Int(next() % UInt64(n)) }
}
