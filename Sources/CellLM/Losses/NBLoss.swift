import Foundation
import Tensor

/// Negative-binomial reconstruction losses (cellplm.md §4.2, §5.2), restricted to a dataset's measured genes.
/// With ε = 1e-10, for count x, mean μ and inverse dispersion θ:
///   nll = lgamma(θ+ε) + lgamma(x+1) − lgamma(x+θ+ε) + (θ+x)·log(1 + μ/(θ+ε)) + x·(log(θ+ε) − log(μ+ε))
/// and the decoder's means are first rescaled per cell so their total matches the observed total.
public enum NBLoss {
    public static let eps = 1e-10

    public enum Objective: Sendable {
        /// Pretraining: cells with at least one masked entry; term A over all measured genes plus, with `dae`,
        /// term B over the masked entries alone (each with its own size factor). Mean over those cells.
        case masked(dae: Bool)
        /// Imputation fine-tuning: term A over every cell. Mean over cells.
        case allCells
    }

    /// truth, mean: N×G dense; theta: G; measured: indices of the measured genes; inputMask: N×G (1 = masked)
    /// for `.masked`. Writes dmean (N×G, zero outside the loss) and dtheta (G); returns the loss.
    public static func compute(truth: UnsafePointer<Float>, mean: UnsafePointer<Float>, theta: UnsafePointer<Float>,
                               n: Int, genes: Int, measured: [Int32], inputMask: UnsafePointer<UInt8>?,
                               objective: Objective, dmean: UnsafeMutablePointer<Float>,
                               dtheta: UnsafeMutablePointer<Float>) -> Float {
        dmean.update(repeating: 0, count: n * genes)
        var cells: [Int] = []
        var useB = false
        switch objective {
        case .allCells: cells = Array(0..<n)
        case .masked(let dae):
            precondition(inputMask != nil, "the masked objective needs the input mask")
            useB = dae
            for i in 0..<n {
                let row = inputMask! + i * genes
                if measured.contains(where: { row[Int($0)] != 0 }) { cells.append(i) }
            }
        }
        for g in 0..<genes { dtheta[g] = 0 }
        if cells.isEmpty { return 0 }
        // Per-gene constants.
        let th = (0..<genes).map { Double(theta[$0]) + eps }
        let lgTheta = th.map { Special.lgamma($0) }, psiTheta = th.map { Special.digamma($0) }, logTheta = th.map { log($0) }
        let inv = 1 / Double(cells.count)
        let chunks = min(Parallel.cores, max(1, cells.count / 8))
        var lossParts = [Double](repeating: 0, count: chunks)
        var thetaParts = [Double](repeating: 0, count: chunks * genes)
        lossParts.withUnsafeMutableBufferPointer { lp in
            thetaParts.withUnsafeMutableBufferPointer { tp in
                let lpp = lp.baseAddress!, tpp = tp.baseAddress!
                Parallel.forEach(chunks, grain: 1) { range in
                    for ch in range {
                        var loss = 0.0
                        let dth = tpp + ch * genes
                        var sel = [Int32](), gmu = [Double]()
                        sel.reserveCapacity(measured.count); gmu.reserveCapacity(measured.count)
                        let lo = cells.count * ch / chunks, hi = cells.count * (ch + 1) / chunks
                        for ci in lo..<hi {
                            let i = cells[ci]
                            let xr = truth + i * genes, mr = mean + i * genes, dr = dmean + i * genes
                            // Term A: every measured gene. Term B: the masked ones.
                            for term in 0..<(useB ? 2 : 1) {
                                sel.removeAll(keepingCapacity: true)
                                if term == 0 { sel.append(contentsOf: measured) }
                                else { let mk = inputMask! + i * genes; for g in measured where mk[Int(g)] != 0 { sel.append(g) } }
                                var tSum = 0.0, sSum = 0.0
                                for g in sel { tSum += Double(xr[Int(g)]); sSum += Double(mr[Int(g)]) }
                                if sel.isEmpty || sSum <= 0 { continue }
                                let s = tSum / sSum
                                gmu.removeAll(keepingCapacity: true)
                                var dot = 0.0
                                for g in sel {
                                    let gi = Int(g)
                                    let x = Double(xr[gi]), mu = Double(mr[gi]) * s, t = th[gi]
                                    let l1p = log1p(mu / t)
                                    var nll = (t - eps + x) * l1p
                                    var dT = l1p - (t - eps + x) * mu / (t * (t + mu))
                                    if x > 0 {
                                        nll += lgTheta[gi] + Special.lgamma(x + 1) - Special.lgamma(x + t)
                                            + x * (logTheta[gi] - log(mu + eps))
                                        dT += psiTheta[gi] - Special.digamma(x + t) + x / t
                                    }
                                    loss += nll
                                    let gm = (t - eps + x) / (t + mu) - x / (mu + eps)
                                    gmu.append(gm)
                                    dot += mu * gm
                                    dth[gi] += dT * inv
                                }
                                for (z, g) in sel.enumerated() {
                                    dr[Int(g)] += Float((s * gmu[z] - dot / sSum) * inv)
                                }
                            }
                        }
                        lpp[ch] = loss
                    }
                }
            }
        }
        for ch in 0..<chunks { for g in 0..<genes { dtheta[g] += Float(thetaParts[ch * genes + g]) } }
        return Float(lossParts.reduce(0, +) * inv)
    }
}
