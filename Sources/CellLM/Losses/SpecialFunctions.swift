import Foundation

/// log Γ(x) and ψ(x) for x > 0 in double precision, pure functions (glibc's lgamma writes a global sign,
/// which parallel loops must not share). Recurrence up to x ≥ 10, then the Stirling / asymptotic series.
public enum Special {
    /// log Γ(k + 1) = log k! for k < 4096 (counts are integers, and this term is on every non-zero count).
    public static let logFactorial: [Double] = {
        var t = [Double](repeating: 0, count: 4096)
        for k in 1..<4096 { t[k] = t[k - 1] + Foundation.log(Double(k)) }
        return t
    }()

    /// log Γ(x + 1), from the table when x is a small integer.
    @inline(__always)
    public static func lgammaPlusOne(_ x: Double) -> Double {
        if x < 4096, x == x.rounded(.down) { return logFactorial[Int(x)] }
        return lgamma(x + 1)
    }

    public static func lgamma(_ x: Double) -> Double {
        var x = x, prod = 1.0
        while x < 10 { prod *= x; x += 1 }       // one log for the whole recurrence
        let shift = prod == 1 ? 0 : Foundation.log(prod)
        let z = 1 / (x * x)
        let series = (1.0 / 12 - z * (1.0 / 360 - z * (1.0 / 1260 - z * (1.0 / 1680 - z / 1188)))) / x
        return (x - 0.5) * Foundation.log(x) - x + 0.91893853320467274178 + series - shift
    }

    public static func digamma(_ x: Double) -> Double {
        var x = x, acc = 0.0
        while x < 10 { acc -= 1 / x; x += 1 }
        let z = 1 / (x * x)
        return acc + Foundation.log(x) - 0.5 / x - z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z / 132))))
    }
}
