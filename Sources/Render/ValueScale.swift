/// The range a continuous colouring spans: `vmin`/`vmax` given, or percentiles of the finite values
/// (default: the minimum and the 99.5th percentile, so a few outliers do not wash out the map; spatialLIBD#97).
/// Percentiles are numpy's (linear interpolation between order statistics), found in O(n) by a histogram
/// pass and a sort of the one bin that holds the rank.
public struct ValueScale: Sendable, Equatable, Codable {
    public var vmin: Float
    public var vmax: Float

    public init(vmin: Float, vmax: Float) { self.vmin = vmin; self.vmax = vmax }

    /// The scale for `values`: explicit bounds win, else percentiles `pmin`/`pmax` (0...100) of the finite values.
    /// With no finite value the scale is 0...1 (every cell is drawn as missing anyway).
    public static func fit(_ values: [Float], vmin: Float? = nil, vmax: Float? = nil,
                           pmin: Double = 0, pmax: Double = 99.5) throws(RenderError) -> ValueScale {
        guard (0...100).contains(pmin) else { throw .invalid(parameter: "pmin", reason: "\(pmin) is not a percentile; give 0...100") }
        guard (0...100).contains(pmax) else { throw .invalid(parameter: "pmax", reason: "\(pmax) is not a percentile; give 0...100, e.g. 99.5") }
        if let v = vmin, !v.isFinite { throw .invalid(parameter: "vmin", reason: "must be a finite number") }
        if let v = vmax, !v.isFinite { throw .invalid(parameter: "vmax", reason: "must be a finite number") }
        var lo: Float = 0, hi: Float = 1
        if let v = vmin { lo = v } else if let p = try percentile(values, pmin) { lo = p }
        if let v = vmax { hi = v } else if let p = try percentile(values, pmax) { hi = p }
        if lo > hi { throw .invalid(parameter: "vmin", reason: "\(lo) is above vmax \(hi); give vmin ≤ vmax") }
        return ValueScale(vmin: lo, vmax: hi)
    }

    /// numpy's `percentile(values[finite], p)` (linear method); nil when no value is finite.
    public static func percentile(_ values: [Float], _ p: Double) throws(RenderError) -> Float? {
        guard (0...100).contains(p) else { throw .invalid(parameter: "percentile", reason: "\(p) is not in 0...100") }
        var n = 0, lo = Float.infinity, hi = -Float.infinity
        values.withUnsafeBufferPointer { v in
            for x in v where x.isFinite { n += 1; if x < lo { lo = x }; if x > hi { hi = x } }
        }
        if n == 0 { return nil }
        if lo == hi { return lo }
        let rank = p / 100 * Double(n - 1)
        let r0 = Int(rank.rounded(.down)), r1 = min(n - 1, r0 + 1)
        let a = orderStatistic(values, r0, count: n, lo: lo, hi: hi)
        if rank == Double(r0) { return a }
        let b = orderStatistic(values, r1, count: n, lo: lo, hi: hi)
        return Float(Double(a) + (Double(b) - Double(a)) * (rank - Double(r0)))
    }

    /// The `rank`-th smallest finite value (0-based).
    static func orderStatistic(_ values: [Float], _ rank: Int, count: Int, lo: Float, hi: Float) -> Float {
        let bins = 1 << 16
        let scale = Double(bins) / (Double(hi) - Double(lo))
        var hist = [Int](repeating: 0, count: bins)
        @inline(__always) func bin(_ x: Float) -> Int { min(bins - 1, Int((Double(x) - Double(lo)) * scale)) }
        values.withUnsafeBufferPointer { v in hist.withUnsafeMutableBufferPointer { h in
            for x in v where x.isFinite { h[bin(x)] += 1 }
        } }
        var below = 0, b = 0
        while below + hist[b] <= rank { below += hist[b]; b += 1 }
        var inBin: [Float] = []
        inBin.reserveCapacity(hist[b])
        for x in values where x.isFinite && bin(x) == b { inBin.append(x) }
        inBin.sort()
        return inBin[rank - below]
    }
}
