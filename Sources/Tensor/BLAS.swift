import CBLAS

/// Thin, shape-checked entry points to OpenBLAS for raw row-major Float32 buffers. The model code works on
/// preallocated buffers (llm.c style), so these take pointers and leading dimensions rather than `Matrix`.
public enum BLAS {
    /// C[m×n] = alpha · op(A) · op(B) + beta · C, all row-major. `transA` means A is stored k×m (lda ≥ m),
    /// otherwise m×k (lda ≥ k); likewise `transB`: B stored n×k (ldb ≥ k) or k×n (ldb ≥ n).
    ///
    /// Large products are split into one block of C per core, each a single-threaded OpenBLAS call. Our
    /// element-wise kernels run on the same threads between GEMMs; OpenBLAS's own pool would keep spinning
    /// on the cores after each call and slow those kernels down by half.
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        _ = singleThreaded
        if k == 0 {
            // BLAS leaves C untouched when k = 0 only if beta = 1; make the beta scaling explicit.
            for r in 0..<m { for j in 0..<n { c[r * ldc + j] = beta == 0 ? 0 : beta * c[r * ldc + j] } }
            return
        }
        let parts = Parallel.cores
        if parts > 1 && m * n * k >= 1 << 21 && max(m, n) >= 64 && !Parallel.isSerial {
            Parallel.run(parts) { p in
                if m >= n {
                    let lo = m * p / parts / 8 * 8, hi = p == parts - 1 ? m : m * (p + 1) / parts / 8 * 8
                    if lo >= hi { return }
                    call(transA, transB, hi - lo, n, k, alpha, transA ? a + lo : a + lo * lda, lda, b, ldb, beta, c + lo * ldc, ldc)
                } else {
                    let lo = n * p / parts / 16 * 16, hi = p == parts - 1 ? n : n * (p + 1) / parts / 16 * 16
                    if lo >= hi { return }
                    call(transA, transB, m, hi - lo, k, alpha, a, lda, transB ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc)
                }
            }
        } else {
            call(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
    }

    @inline(__always)
    static func call(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                     _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
                     _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// OpenBLAS runs single-threaded inside each call; `gemm` does the splitting (see above).
    static let singleThreaded: Bool = { openblas_set_num_threads(1); return true }()

    /// Threads OpenBLAS will use.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS's description of its build and the kernel it picked (e.g. "Haswell").
    public static var configuration: String {
        guard let c = openblas_get_config() else { return "unknown" }
        return String(cString: c) + " core=" + (openblas_get_corename().map { String(cString: $0) } ?? "?")
    }
}
