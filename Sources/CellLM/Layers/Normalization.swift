import Foundation
import Tensor

/// LayerNorm over the last dimension (eps 1e-5, biased variance, per-channel affine), as torch.nn.LayerNorm:
/// GroupNorm with a single group, so both share one kernel.
public enum LayerNorm {
    public static let eps: Float = GroupNorm.eps

    /// x, y: N×C. Saves per-row mean and 1/σ (N each) for the backward.
    public static func forward(y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                               rstd: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                               gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, n: Int, c: Int) {
        GroupNorm.forward(y: y, mean: mean, rstd: rstd, x: x, gamma: gamma, beta: beta, n: n, c: c, groups: 1)
    }

    /// dy: N×C → dx (overwritten, or added to when `accumulate`), dgamma/dbeta += (C each).
    public static func backward(dx: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                                dbeta: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                n: Int, c: Int, accumulate: Bool) {
        GroupNorm.backward(dx: dx, dgamma: dgamma, dbeta: dbeta, dy: dy, x: x, mean: mean, rstd: rstd, gamma: gamma,
                           n: n, c: c, groups: 1, accumulate: accumulate)
    }
}

/// GroupNorm with G groups of contiguous channels per cell (torch.nn.GroupNorm(G, C) on N×C input), eps 1e-5.
public enum GroupNorm {
    public static let eps: Float = 1e-5

    /// x, y: N×C; mean, rstd: N×G.
    public static func forward(y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                               rstd: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                               gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, n: Int, c: Int, groups: Int) {
        let cg = c / groups
        Parallel.forEach(n, grain: 64) { rows in
            for r in rows {
                for g in 0..<groups {
                    let xr = x + r * c + g * cg, yr = y + r * c + g * cg
                    let ga = gamma + g * cg, be = beta + g * cg
                    var s: Float = 0
                    for j in 0..<cg { s += xr[j] }
                    let m = s / Float(cg)
                    var v: Float = 0
                    for j in 0..<cg { let d = xr[j] - m; v += d * d }
                    let rs = 1 / (v / Float(cg) + eps).squareRoot()
                    mean[r * groups + g] = m; rstd[r * groups + g] = rs
                    for j in 0..<cg { yr[j] = (xr[j] - m) * rs * ga[j] + be[j] }
                }
            }
        }
    }

    public static func backward(dx: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                                dbeta: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                n: Int, c: Int, groups: Int, accumulate: Bool) {
        let cg = c / groups
        let parts = Parallel.cores
        var partial = [Float](repeating: 0, count: parts * 2 * c)
        partial.withUnsafeMutableBufferPointer { pb in
            let pp = pb.baseAddress!
            let chunks = min(parts, max(1, n / 32))
            let work: (Int) -> Void = { ci in
                let lo = n * ci / chunks, hi = n * (ci + 1) / chunks
                let dgAll = pp + ci * 2 * c, dbAll = dgAll + c
                for r in lo..<hi {
                    for g in 0..<groups {
                        let off = r * c + g * cg
                        let xr = x + off, dyr = dy + off, dxr = dx + off, ga = gamma + g * cg
                        let dg = dgAll + g * cg, dbt = dbAll + g * cg
                        let m = mean[r * groups + g], rs = rstd[r * groups + g]
                        var sumG: Float = 0, sumGX: Float = 0
                        for j in 0..<cg {
                            let xh = (xr[j] - m) * rs
                            let gg = dyr[j] * ga[j]
                            sumG += gg; sumGX += gg * xh
                            dg[j] += dyr[j] * xh; dbt[j] += dyr[j]
                        }
                        let a = sumG / Float(cg), b = sumGX / Float(cg)
                        for j in 0..<cg {
                            let xh = (xr[j] - m) * rs
                            let v = rs * (dyr[j] * ga[j] - a - xh * b)
                            dxr[j] = accumulate ? dxr[j] + v : v
                        }
                    }
                }
            }
            Parallel.run(chunks, work)
            for ci in 0..<chunks {
                for j in 0..<c { dgamma[j] += pp[ci * 2 * c + j]; dbeta[j] += pp[ci * 2 * c + c + j] }
            }
        }
    }
}
