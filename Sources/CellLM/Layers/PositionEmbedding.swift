import Foundation

/// CellPLM's 2-D sinusoidal position embedding (cellplm.md §3.2), which its release builds but never adds.
/// Coordinates are min-max scaled to [0,1] per sequence (FOV) and axis, then quantised to CellPLM's 100×100
/// grid: index = clamp(⌊(c·1.02 − 0.01)·100⌋, 0, 99). Channels [0, d/2) encode the y index, [d/2, d) the
/// x index; within a half, channel 2k is sin(pos·ω_k) and 2k+1 cos(pos·ω_k), ω_k = 10000^(−2k/(d/2)).
/// Cells without coordinates (NaN) get the learned vector `embedder.pe_enc.missing_pe`.
///
/// One deliberate change: the table is multiplied by a learned scalar `embedder.pe_enc.scale`, initialised to
/// 0.1. CellPLM adds the raw ±1 table, which at initialisation is about 15 times the expression signal
/// (gene embeddings start at N(0, 0.005²)); pretraining from scratch with it unscaled collapsed every cell onto
/// one embedding within a few hundred steps on osmFISH (tessera-bench learn), and with the gate it does not.
public enum PositionEmbedding {
    public static let grid = 100

    public static let initialScale: Float = 0.1

    /// coords: N×2 (x, y) in any unit, NaN where unknown; out: N×d, the unscaled table rows (or `missing`).
    /// Returns which rows used `missing`.
    @discardableResult
    public static func compute(out: UnsafeMutablePointer<Float>, coords: [Float]?, n: Int, d: Int,
                               missing: UnsafePointer<Float>) -> [Bool] {
        guard let coords else {
            for r in 0..<n { (out + r * d).update(from: missing, count: d) }
            return [Bool](repeating: true, count: n)
        }
        var lo = [Float](repeating: .infinity, count: 2), hi = [Float](repeating: -.infinity, count: 2)
        for r in 0..<n {
            for a in 0..<2 where coords[2 * r + a].isFinite {
                lo[a] = min(lo[a], coords[2 * r + a]); hi[a] = max(hi[a], coords[2 * r + a])
            }
        }
        let half = d / 2
        var missingRows = [Bool](repeating: false, count: n)
        for r in 0..<n {
            let row = out + r * d
            let x = coords[2 * r], y = coords[2 * r + 1]
            if !x.isFinite || !y.isFinite { row.update(from: missing, count: d); missingRows[r] = true; continue }
            let idx = (0..<2).map { a -> Int in
                let span = hi[a] - lo[a]
                let u = span > 0 ? (coords[2 * r + a] - lo[a]) / span : 0.5
                let g = Int(((u * 1.02 - 0.01) * Float(grid)).rounded(.down))
                return min(max(g, 0), grid - 1)
            }
            fill(row, pos: Float(idx[1]), half: half)            // y → first half
            fill(row + half, pos: Float(idx[0]), half: half)     // x → second half
        }
        return missingRows
    }

    static func fill(_ p: UnsafeMutablePointer<Float>, pos: Float, half: Int) {
        var k = 0
        while k < half {
            let w = exp(-Double(k) * log(10000.0) / Double(half))
            p[k] = Float(sin(Double(pos) * w))
            if k + 1 < half { p[k + 1] = Float(cos(Double(pos) * w)) }
            k += 2
        }
    }
}
