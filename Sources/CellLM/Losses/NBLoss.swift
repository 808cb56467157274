import Foundation
import Tensor

/// Negative-binomial reconstruction losses (cellplm.md §4.2, §5.2), restricted to a dataset's measured genes.
/// With ε = 1e-10, for count x, mean μ and inverse dispersion θ:
///   nll = lgamma(θ+ε) + lgamma(x+1) − lgamma(x+θ+ε) + (θ+x)·log(1 + μ/(θ+ε)) + x·(log(θ+ε) − log(μ+ε))
/// and the decoder's means are first rescaled per cell so their total matches the observed total.
///
/// The dense part (every selected gene) runs in 8-lane SIMD; the lgamma/digamma terms vanish at x = 0 and are
/// computed only on the non-zero counts.
public enum NBLoss {
    public static let eps = 1e-10

    public enum Objective: Sendable {
        /// Pretraining: cells with at least one masked entry; term A over all measured genes plus, with `dae`,
        /// term B over the masked entries alone (each with its own size factor). Mean over those cells.
        case masked(dae: Bool)
        /// Only term B (masked entries of masked cells): held-out evaluation of masked-gene prediction.
        case maskedEntriesOnly
        /// Imputation fine-tuning: term A over every cell. Mean over cells.
        case allCells
    }

    /// truth, mean: N×G dense; theta: G; measured: indices of the measured genes; inputMask: N×G (1 = masked)
    /// for the masked objectives. Writes dmean (N×G, zero outside the loss) and dtheta (G); returns the loss.
    public static func compute(truth: UnsafePointer<Float>, mean: UnsafePointer<Float>, theta: UnsafePointer<Float>,
                               n: Int, genes: Int, measured: [Int32], inputMask: UnsafePointer<UInt8>?,
                               objective: Objective, dmean: UnsafeMutablePointer<Float>,
                               dtheta: UnsafeMutablePointer<Float>) -> Float {
        dmean.update(repeating: 0, count: n * genes)
        for g in 0..<genes { dtheta[g] = 0 }
        var terms: [Bool] = [true, false]      // [A, B]
        var cells: [Int] = []
        switch objective {
        case .allCells: cells = Array(0..<n)
        case .masked, .maskedEntriesOnly:
            precondition(inputMask != nil, "the masked objectives need the input mask")
            if case .masked(let dae) = objective { terms = [true, dae] } else { terms = [false, true] }
            for i in 0..<n {
                let row = inputMask! + i * genes
                if measured.contains(where: { row[Int($0)] != 0 }) { cells.append(i) }
            }
        }
        if cells.isEmpty { return 0 }
        // Per-gene constants. θ + ε equals θ in float32 for θ ≥ 1e-4, so the float path drops ε there.
        let thD = (0..<genes).map { Double(theta[$0]) + eps }
        let lgTheta = thD.map { Special.lgamma($0) }, psiTheta = thD.map { Special.digamma($0) }
        let logTheta = (0..<genes).map { Float(Foundation.log(thD[$0])) }
        // Per gene, for small integer counts x = 1…31: lgamma(x+θ) − lgamma(θ) and ψ(x+θ) − ψ(θ), by the
        // recurrences Γ(z+1) = zΓ(z) and ψ(z+1) = ψ(z) + 1/z (most non-zero counts are small).
        let tableSize = 32
        var lgTable = [Double](repeating: 0, count: genes * tableSize), psiTable = lgTable
        for g32 in measured {
            let g = Int(g32)
            var lg = 0.0, ps = 0.0
            for x in 1..<tableSize {
                let z = Double(x - 1) + thD[g]
                lg += Foundation.log(z); ps += 1 / z
                lgTable[g * tableSize + x] = lg; psiTable[g * tableSize + x] = ps
            }
        }
        let inv = 1 / Double(cells.count)
        let chunks = min(Parallel.cores, max(1, cells.count / 8))
        var lossParts = [Double](repeating: 0, count: chunks)
        var thetaParts = [Float](repeating: 0, count: chunks * genes)
        let G = measured.count
        lossParts.withUnsafeMutableBufferPointer { lp in
            thetaParts.withUnsafeMutableBufferPointer { tp in
                logTheta.withUnsafeBufferPointer { lt in
                    let lpp = lp.baseAddress!, tpp = tp.baseAddress!, ltp = lt.baseAddress!
                    Parallel.run(chunks) { ch in
                        var loss = 0.0
                        let dth = tpp + ch * genes
                        // Gathered per-term work arrays (padded to a multiple of 8), raw so the loops carry no
                        // copy-on-write checks.
                        let cap = (G + 8) / 8 * 8
                        let sel = UnsafeMutablePointer<Int32>.allocate(capacity: cap)
                        let work = UnsafeMutablePointer<Float>.allocate(capacity: 6 * cap)
                        defer { sel.deallocate(); work.deallocate() }
                        let xs = work, ms = work + cap, ts = work + 2 * cap, lts = work + 3 * cap, gm = work + 4 * cap, dts = work + 5 * cap
                        let lo = cells.count * ch / chunks, hi = cells.count * (ch + 1) / chunks
                        for ci in lo..<hi {
                            let i = cells[ci]
                            let xr = truth + i * genes, mr = mean + i * genes, dr = dmean + i * genes
                            for term in 0..<2 where terms[term] {
                                var k = 0
                                if term == 0 { measured.withUnsafeBufferPointer { sel.update(from: $0.baseAddress!, count: G) }; k = G }
                                else { let mk = inputMask! + i * genes; for g in measured where mk[Int(g)] != 0 { sel[k] = g; k += 1 } }
                                if k == 0 { continue }
                                var tSum = 0.0, sSum = 0.0
                                for z in 0..<k {
                                    let g = Int(sel[z])
                                    xs[z] = xr[g]; ms[z] = mr[g]; ts[z] = theta[g]; lts[z] = ltp[g]
                                    tSum += Double(xs[z]); sSum += Double(ms[z])
                                }
                                for z in k..<((k + 7) / 8 * 8) { xs[z] = 0; ms[z] = 0; ts[z] = 1; lts[z] = 0 }
                                if sSum <= 0 { continue }
                                let s = Float(tSum / sSum)
                                let (nll, dot) = dense(xs, ms, ts, lts, gm: gm, dT: dts, count: k, scale: s)
                                loss += nll
                                // The lgamma/digamma terms on non-zero counts.
                                for z in 0..<k where xs[z] > 0 {
                                    let g = Int(sel[z]), x = Double(xs[z])
                                    if x < Double(tableSize), x == x.rounded(.down) {
                                        let t = g * tableSize + Int(x)
                                        loss += Special.logFactorial[Int(x)] - lgTable[t]
                                        dts[z] -= Float(psiTable[t])
                                    } else {
                                        loss += lgTheta[g] + Special.lgammaPlusOne(x) - Special.lgamma(x + thD[g])
                                        dts[z] += Float(psiTheta[g] - Special.digamma(x + thD[g]))
                                    }
                                }
                                let a = s * Float(inv), b = Float(dot / sSum * inv)
                                for z in 0..<k {
                                    let g = Int(sel[z])
                                    dr[g] += a * gm[z] - b
                                    dth[g] += dts[z] * Float(inv)
                                }
                            }
                        }
                        lpp[ch] = loss
                    }
                }
            }
        }
        for ch in 0..<chunks { for g in 0..<genes { dtheta[g] += thetaParts[ch * genes + g] } }
        return Float(lossParts.reduce(0, +) * inv)
    }

    /// The dense terms over k gathered entries (x counts, m raw means, t = θ, lt = log θ), means scaled by s:
    ///   nll += (θ+x)·log((θ+μ)/θ) + x·(log θ − log(μ+ε))
    ///   gm   = ∂nll/∂μ = (θ+x)/(θ+μ) − x/(μ+ε)
    ///   dT   = ∂nll/∂θ without the digamma terms = log((θ+μ)/θ) − (θ+x)·μ/(θ(θ+μ)) + x/θ
    /// Returns Σ nll and Σ μ·gm.
    @inline(__always)
    static func dense(_ xp: UnsafePointer<Float>, _ mp: UnsafePointer<Float>, _ tp: UnsafePointer<Float>,
                      _ lp: UnsafePointer<Float>, gm gp: UnsafeMutablePointer<Float>, dT dp: UnsafeMutablePointer<Float>,
                      count k: Int, scale s: Float) -> (Double, Double) {
        typealias V = FastMath.V
        var nllSum = 0.0, dotSum = 0.0
        var z = 0
        while z < k {
            let x = UnsafeRawPointer(xp + z).loadUnaligned(as: V.self)
            let mu = UnsafeRawPointer(mp + z).loadUnaligned(as: V.self) * s
            let t = UnsafeRawPointer(tp + z).loadUnaligned(as: V.self)
            let lt = UnsafeRawPointer(lp + z).loadUnaligned(as: V.self)
            let q = t + mu
            let l1p = FastMath.log(q) - lt
            let tpx = t + x
            let logMu = FastMath.log(mu + 1e-10)
            var nll = tpx * l1p + x * (lt - logMu)
            var g = tpx / q - x / (mu + 1e-10)
            var d = l1p - tpx * mu / (t * q) + x / t
            var dotv = mu * g
            if z + 8 > k {   // padding lanes contribute nothing
                let valid = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .< SIMD8<Int32>(repeating: Int32(k - z))
                nll.replace(with: 0, where: .!valid); g.replace(with: 0, where: .!valid)
                d.replace(with: 0, where: .!valid); dotv.replace(with: 0, where: .!valid)
            }
            UnsafeMutableRawPointer(gp + z).storeBytes(of: g, as: V.self)
            UnsafeMutableRawPointer(dp + z).storeBytes(of: d, as: V.self)
            nllSum += Double(nll.sum()); dotSum += Double(dotv.sum())
            z += 8
        }
        return (nllSum, dotSum)
    }
}
