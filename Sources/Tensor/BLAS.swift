import CBLAS

/// Thin, shape-checked entry points to OpenBLAS for raw row-major Float32 buffers. The model code works on
/// preallocated buffers (llm.c style), so these take pointers and leading dimensions rather than `Matrix`.
public enum BLAS {
    /// C[m×n] = alpha · op(A) · op(B) + beta · C, all row-major. `transA` means A is stored k×m (lda ≥ m),
    /// otherwise m×k (lda ≥ k); likewise `transB`: B stored n×k (ldb ≥ k) or k×n (ldb ≥ n).
    @inlinable
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C untouched when k = 0 only if beta = 1; make the beta scaling explicit.
            for r in 0..<m { for j in 0..<n { c[r * ldc + j] = beta == 0 ? 0 : beta * c[r * ldc + j] } }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Sets the number of threads OpenBLAS uses for the following calls (process-wide).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

    /// Threads OpenBLAS will use.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS's description of its build and the kernel it picked (e.g. "Haswell").
    public static var configuration: String {
        guard let c = openblas_get_config() else { return "unknown" }
        return String(cString: c) + " core=" + (openblas_get_corename().map { String(cString: $0) } ?? "?")
    }
}
