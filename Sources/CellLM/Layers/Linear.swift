import Tensor

/// Fully connected layer with PyTorch's layout: weight is out×in (row-major), y = x·Wᵀ + b.
public enum Linear {
    /// x: N×in (row stride ldx), w: out×in, b: out or nil → y: N×out (row stride ldy).
    public static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                               b: UnsafePointer<Float>?, n: Int, inDim: Int, outDim: Int,
                               ldx: Int? = nil, ldy: Int? = nil) {
        let ldx = ldx ?? inDim, ldy = ldy ?? outDim
        if let b {
            for r in 0..<n { (y + r * ldy).update(from: b, count: outDim) }
        }
        BLAS.gemm(transB: true, m: n, n: outDim, k: inDim, a: x, lda: ldx, b: w, ldb: inDim,
                  beta: b == nil ? 0 : 1, c: y, ldc: ldy)
    }

    /// dy: N×out → dx: N×in (overwritten, or accumulated when `accumulate`; skipped when nil),
    /// dw: out×in += dyᵀ·x, db: out += Σ_rows dy.
    public static func backward(dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                                db: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                w: UnsafePointer<Float>, n: Int, inDim: Int, outDim: Int,
                                ldx: Int? = nil, ldy: Int? = nil, lddx: Int? = nil, accumulate: Bool = false) {
        let ldx = ldx ?? inDim, ldy = ldy ?? outDim
        if let dx {
            BLAS.gemm(m: n, n: inDim, k: outDim, a: dy, lda: ldy, b: w, ldb: inDim,
                      beta: accumulate ? 1 : 0, c: dx, ldc: lddx ?? inDim)
        }
        BLAS.gemm(transA: true, m: outDim, n: inDim, k: n, a: dy, lda: ldy, b: x, ldb: ldx, beta: 1, c: dw, ldc: inDim)
        if let db { addColumnSums(into: db, dy, rows: n, cols: outDim, ld: ldy) }
    }

    /// out[c] += Σ_r m[r, c].
    public static func addColumnSums(into out: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>,
                                     rows: Int, cols: Int, ld: Int) {
        for r in 0..<rows {
            let row = m + r * ld
            for c in 0..<cols { out[c] += row[c] }
        }
    }
}
