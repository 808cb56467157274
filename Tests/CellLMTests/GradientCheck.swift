import Foundation
import Tensor
@testable import CellLM

/// Finite-difference checks in float32: the directional derivative of a scalar f along a direction v that
/// mixes the analytic gradient with random noise, by central differences, against ⟨∇f, v⟩.
enum GradientCheck {
    /// Returns the relative error |fd − analytic| / max(|analytic|, tiny).
    static func directional(_ x: UnsafeMutablePointer<Float>, count: Int, grad: [Float], h: Float = 1e-2,
                            seed: UInt64 = 7, f: () -> Double) -> (fd: Double, analytic: Double, rel: Double) {
        var rng = SeededRNG(seed: seed)
        let gn = grad.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        var v = (0..<count).map { _ in Float(rng.normal()) }
        let vn = v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        for i in 0..<count {
            v[i] = Float(Double(v[i]) / max(vn, 1e-30) + (gn > 0 ? Double(grad[i]) / gn : 0))
        }
        let analytic = zip(grad, v).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let saved = Array(UnsafeBufferPointer(start: x, count: count))
        for i in 0..<count { x[i] = saved[i] + h * v[i] }
        let fp = f()
        for i in 0..<count { x[i] = saved[i] - h * v[i] }
        let fm = f()
        for i in 0..<count { x[i] = saved[i] }
        let fd = (fp - fm) / (2 * Double(h))
        return (fd, analytic, abs(fd - analytic) / max(abs(analytic), 1e-6))
    }

    static func randomArray(_ n: Int, _ rng: inout SeededRNG, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float(rng.normal()) * scale }
    }
}

extension Buffer {
    convenience init(_ a: [Float]) {
        self.init(count: a.count)
        for i in 0..<a.count { pointer[i] = a[i] }
    }
    static func random(_ n: Int, _ rng: inout SeededRNG, scale: Float = 1) -> Buffer {
        Buffer(GradientCheck.randomArray(n, &rng, scale: scale))
    }
    static func zeros(_ n: Int) -> Buffer { Buffer(count: n) }
    var p: UnsafeMutablePointer<Float> { pointer }
}

extension GradientCheck {
    static func directional(_ b: Buffer, grad: Buffer, h: Float = 1e-2, seed: UInt64 = 7, f: () -> Double)
    -> (fd: Double, analytic: Double, rel: Double) {
        directional(b.pointer, count: b.count, grad: grad.array, h: h, seed: seed, f: f)
    }
}
