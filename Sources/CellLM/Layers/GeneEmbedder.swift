import Foundation
import Tensor

/// The gene-expression embedder (cellplm.md §3.1):
///   T = log1p(X)·E            sparse N×G counts times the G×d gene-embedding table
///   T ← T + PE                the spatial position embedding, when on (§3.2)
///   H0 = GN4(Drop_p(ReLU(T·Weᵀ + be)))
public struct GeneEmbedder {
    public let d: Int, genes: Int

    public final class Cache {
        let t = Buffer(), a = Buffer(), mask = Buffer(), gnMean = Buffer(), gnRstd = Buffer(), dt = Buffer()
        /// log1p of the (masked) input values, in CSR order.
        var logValues: [Float] = []
        public init() {}
    }

    /// log1p of a count: a table for small integers (almost every count), libm otherwise.
    static let log1pTable: [Float] = (0..<1024).map { log1pf(Float($0)) }
    @inline(__always) static func log1p(_ v: Float) -> Float {
        if v >= 0, v < 1024, v == v.rounded(.down) { return log1pTable[Int(v)] }
        return log1pf(v)
    }

    /// Parameters Tessera adds that CellPLM has no counterpart for: importing CellPLM weights (or golden
    /// tensors) leaves them at their initial values.
    public static let tesseraOnly: Set<String> = ["embedder.pe_enc.scale"]

    public static func layout(genes: Int, d: Int) -> [(String, [Int], Int)] {
        [("embedder.feat_enc.emb", [genes, d], 1),
         ("embedder.extra_linear.0.weight", [d, d], 1), ("embedder.extra_linear.0.bias", [d], 1),
         ("embedder.extra_linear.3.weight", [d], 1), ("embedder.extra_linear.3.bias", [d], 1),
         ("embedder.pe_enc.missing_pe", [d], 1), ("embedder.pe_enc.scale", [1], 1)]
    }

    /// x: N×G counts (columns in vocabulary order) → h0: N×d. `position`: N×d additive embedding or nil.
    public func forward(h0: UnsafeMutablePointer<Float>, x: CSRMatrix, position: UnsafePointer<Float>?,
                        params ps: ParameterStore, cache c: Cache, dropout p: Float, train: Bool, rng: inout SeededRNG) {
        let n = x.rows, nd = n * d
        let t = c.t.resize(nd), a = c.a.resize(nd)
        c.logValues = x.values.map(Self.log1p)
        let emb = UnsafePointer(ps.value("embedder.feat_enc.emb"))
        let dim = d
        c.logValues.withUnsafeBufferPointer { lv in
            x.indices.withUnsafeBufferPointer { ix in
                x.indptr.withUnsafeBufferPointer { ip in
                    // Blocks of 64 embedding columns, so the slice of E being gathered (G×64) stays in cache
                    // across a thread's rows instead of streaming whole 4·d-byte rows per non-zero.
                    Parallel.forEach(n, grain: 32) { rows in
                        for r in rows {
                            let tr = t + r * dim
                            if let position { tr.update(from: position + r * dim, count: dim) } else { tr.update(repeating: 0, count: dim) }
                        }
                        var jb = 0
                        while jb < dim {
                            let w = min(64, dim - jb)
                            for r in rows {
                                let tr = t + r * dim + jb
                                for z in ip[r]..<ip[r + 1] {
                                    let v = lv[z], e = emb + Int(ix[z]) * dim + jb
                                    for j in 0..<w { tr[j] += v * e[j] }
                                }
                            }
                            jb += 64
                        }
                    }
                }
            }
        }
        Linear.forward(y: a, x: t, w: ps.value("embedder.extra_linear.0.weight"), b: ps.value("embedder.extra_linear.0.bias"),
                       n: n, inDim: d, outDim: d)
        Activation.reluForward(a, a, nd)
        if train { Dropout.forward(a, a, mask: c.mask.resize(nd), p: p, n: nd, rng: &rng) }
        GroupNorm.forward(y: h0, mean: c.gnMean.resize(n * 4), rstd: c.gnRstd.resize(n * 4), x: a,
                          gamma: ps.value("embedder.extra_linear.3.weight"), beta: ps.value("embedder.extra_linear.3.bias"),
                          n: n, c: d, groups: 4)
    }

    /// dh0: N×d → parameter gradients; returns dT (N×d, the gradient reaching the position embedding).
    @discardableResult
    public func backward(dh0: UnsafePointer<Float>, x: CSRMatrix, transposed xt: CSRMatrix?, params ps: ParameterStore,
                         cache c: Cache) -> UnsafeMutablePointer<Float> {
        let n = x.rows, nd = n * d
        let da = c.dt.resize(nd)
        GroupNorm.backward(dx: da, dgamma: ps.grad("embedder.extra_linear.3.weight"), dbeta: ps.grad("embedder.extra_linear.3.bias"),
                           dy: dh0, x: c.a.pointer, mean: c.gnMean.pointer, rstd: c.gnRstd.pointer,
                           gamma: ps.value("embedder.extra_linear.3.weight"), n: n, c: d, groups: 4, accumulate: false)
        Dropout.backward(da, mask: c.mask.pointer, n: nd)
        Activation.reluBackward(da, output: c.a.pointer, nd)
        let dt = c.t.pointer   // T is only needed for the weight gradient, computed before dT overwrites it
        let w = ps.value("embedder.extra_linear.0.weight")
        BLAS.gemm(transA: true, m: d, n: d, k: n, a: da, lda: d, b: dt, ldb: d, beta: 1,
                  c: ps.grad("embedder.extra_linear.0.weight"), ldc: d)
        Linear.addColumnSums(into: ps.grad("embedder.extra_linear.0.bias"), da, rows: n, cols: d, ld: d)
        BLAS.gemm(m: n, n: d, k: d, a: da, lda: d, b: w, ldb: d, c: dt, ldc: d)
        // dE[g] += Σ_i log1p(x_ig)·dT_i, by gene (over the transposed input) so threads never share a row.
        if let xt {
            let dE = ps.grad("embedder.feat_enc.emb"), dim = d
            // log1p values in transposed order.
            let lv = xt.values.map(Self.log1p)
            lv.withUnsafeBufferPointer { lv in
                xt.indices.withUnsafeBufferPointer { ix in
                    xt.indptr.withUnsafeBufferPointer { ip in
                        Parallel.forEach(xt.rows, grain: 64) { genes in
                            for g in genes where ip[g] < ip[g + 1] {
                                let eg = dE + g * dim
                                for z in ip[g]..<ip[g + 1] {
                                    let v = lv[z], src = UnsafePointer(dt) + Int(ix[z]) * dim
                                    for j in 0..<dim { eg[j] += v * src[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dt
    }
}
