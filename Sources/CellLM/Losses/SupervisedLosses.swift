import Foundation
import Tensor

/// Losses for fine-tuning heads, each returning the loss and writing its gradient.
public enum SupervisedLoss {
    /// Mean squared error over the entries where `mask` is 1 (all when nil): pred, target N×C → dpred.
    public static func mse(pred: UnsafePointer<Float>, target: UnsafePointer<Float>, mask: UnsafePointer<UInt8>? = nil,
                           count: Int, dpred: UnsafeMutablePointer<Float>) -> Float {
        var used = 0
        var s = 0.0
        for i in 0..<count where mask?[i] ?? 1 != 0 { let e = Double(pred[i] - target[i]); s += e * e; used += 1 }
        let inv = used > 0 ? 1 / Float(used) : 0
        for i in 0..<count { dpred[i] = (mask?[i] ?? 1 != 0) ? 2 * (pred[i] - target[i]) * inv : 0 }
        return used > 0 ? Float(s / Double(used)) : 0
    }

    /// Softmax cross-entropy, mean over cells whose label is ≥ 0 (−1 = unlabelled): logits N×C → dlogits.
    public static func crossEntropy(logits: UnsafePointer<Float>, labels: [Int32], classes c: Int,
                                    dlogits: UnsafeMutablePointer<Float>) -> Float {
        let n = labels.count
        let used = labels.filter { $0 >= 0 }.count
        dlogits.update(repeating: 0, count: n * c)
        if used == 0 { return 0 }
        var s = 0.0
        for i in 0..<n where labels[i] >= 0 {
            let row = logits + i * c, drow = dlogits + i * c
            let lse = logSumExp(row, c)
            s += Double(lse - row[Int(labels[i])])
            for j in 0..<c { drow[j] = expf(row[j] - lse) / Float(used) }
            drow[Int(labels[i])] -= 1 / Float(used)
        }
        return Float(s / Double(used))
    }

    /// Supervised contrastive loss as the CellPLM SupCon fine-tuning defines it (cellplm.md §6.1): L2-normalised
    /// features, s_ij = f̂_i·f̂_j/τ with the diagonal set to 0 (kept in the denominator), positives = every cell
    /// with the anchor's label including itself, per anchor −mean over positives of (s_ij − log Σ_k exp s_ik),
    /// averaged over anchors. Cells labelled −1 (unlabelled, "Unknown") are neither anchors nor positives but
    /// remain negatives. features: N×D → dfeatures.
    public static func supCon(features: UnsafePointer<Float>, labels: [Int32], dim: Int, temperature: Float = 0.07,
                              dfeatures: UnsafeMutablePointer<Float>) -> Float {
        let n = labels.count
        dfeatures.update(repeating: 0, count: n * dim)
        let anchors = (0..<n).filter { labels[$0] >= 0 }
        if anchors.isEmpty || n < 2 { return 0 }
        var fh = [Float](repeating: 0, count: n * dim), norms = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var s: Float = 0
            for j in 0..<dim { s += features[i * dim + j] * features[i * dim + j] }
            norms[i] = max(s.squareRoot(), 1e-12)
            for j in 0..<dim { fh[i * dim + j] = features[i * dim + j] / norms[i] }
        }
        var sim = [Float](repeating: 0, count: n * n)
        fh.withUnsafeBufferPointer { f in
            sim.withUnsafeMutableBufferPointer { s in
                BLAS.gemm(transB: true, m: n, n: n, k: dim, alpha: 1 / temperature, a: f.baseAddress!, lda: dim,
                          b: f.baseAddress!, ldb: dim, c: s.baseAddress!, ldc: n)
            }
        }
        for i in 0..<n { sim[i * n + i] = 0 }
        var count: [Int32: Int] = [:]
        for l in labels where l >= 0 { count[l, default: 0] += 1 }
        // dS_ij = (softmax_i(s)_j − [j ∈ P_i]/|P_i|) / |anchors| for anchors, 0 otherwise; diagonal fixed.
        var dsim = [Float](repeating: 0, count: n * n)
        var loss = 0.0
        let inv = 1 / Float(anchors.count)
        for i in anchors {
            let row = sim.withUnsafeBufferPointer { $0.baseAddress! + i * n }
            let lse = logSumExp(row, n)
            let pos = Float(count[labels[i]]!)
            var s = 0.0
            for j in 0..<n {
                let isPos = labels[j] == labels[i]
                if isPos { s += Double(row[j] - lse) }
                dsim[i * n + j] = (expf(row[j] - lse) - (isPos ? 1 / pos : 0)) * inv
            }
            dsim[i * n + i] = 0
            loss -= s / Double(pos)
        }
        // dF̂ = (dS + dSᵀ)·F̂ / τ, then through the normalisation.
        var sym = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { sym[i * n + j] = dsim[i * n + j] + dsim[j * n + i] } }
        var dfh = [Float](repeating: 0, count: n * dim)
        sym.withUnsafeBufferPointer { s in fh.withUnsafeBufferPointer { f in dfh.withUnsafeMutableBufferPointer { d in
            BLAS.gemm(m: n, n: dim, k: n, alpha: 1 / temperature, a: s.baseAddress!, lda: n, b: f.baseAddress!, ldb: dim,
                      c: d.baseAddress!, ldc: dim)
        } } }
        for i in 0..<n {
            var dot: Float = 0
            for j in 0..<dim { dot += fh[i * dim + j] * dfh[i * dim + j] }
            for j in 0..<dim { dfeatures[i * dim + j] = (dfh[i * dim + j] - fh[i * dim + j] * dot) / norms[i] }
        }
        return Float(loss / Double(anchors.count))
    }
}
