import Foundation

/// Wall-clock time per named section of a training step, for the benchmark's per-layer profile. Off by default;
/// when off, `measure` costs one branch.
public enum Profile {
    nonisolated(unsafe) public static var enabled = false
    nonisolated(unsafe) static var totals: [String: Double] = [:]
    nonisolated(unsafe) static var order: [String] = []
    static let lock = NSLock()

    @inline(__always)
    public static func measure<T, E: Error>(_ name: String, _ body: () throws(E) -> T) throws(E) -> T {
        if !enabled { return try body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = try body()
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        lock.lock(); defer { lock.unlock() }   // workers embedding FOVs side by side record here too
        if totals[name] == nil { order.append(name) }
        totals[name, default: 0] += dt
        return r
    }

    public static func reset() { totals = [:]; order = [] }

    /// "name ms, …" averaged over `steps`.
    public static func summary(steps: Int) -> String {
        order.map { String(format: "%@ %.1f", $0, totals[$0]! / Double(max(1, steps))) }.joined(separator: ", ")
    }
}
