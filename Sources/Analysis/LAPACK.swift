import CBLAS

/// Small wrappers over OpenBLAS's Fortran LAPACK entry points (column-major, arguments by pointer).
enum LAPACK {
    /// The `k` largest eigenpairs of the symmetric n×n matrix `a` (row-major; symmetric, so layout does not
    /// matter). Returns eigenvalues in descending order and the eigenvectors as the columns of a row-major n×k
    /// matrix.
    static func topEigen(_ a: [Double], n: Int, k: Int) throws(AnalysisError) -> (values: [Double], vectors: [Double]) {
        var a = a
        var jobz: CChar = 86, range: CChar = 73, uplo: CChar = 85  // "V", "I", "U"
        var nn = Int32(n), lda = Int32(n), il = Int32(n - k + 1), iu = Int32(n), ldz = Int32(n)
        var vl = 0.0, vu = 0.0, abstol = 0.0
        var m: Int32 = 0, info: Int32 = 0
        var w = [Double](repeating: 0, count: n)
        var z = [Double](repeating: 0, count: n * max(k, 1))
        var isuppz = [Int32](repeating: 0, count: 2 * max(k, 1))
        var lwork: Int32 = -1, liwork: Int32 = -1
        var wq = 0.0
        var iwq: Int32 = 0
        dsyevr_(&jobz, &range, &uplo, &nn, &a, &lda, &vl, &vu, &il, &iu, &abstol, &m, &w, &z, &ldz, &isuppz,
                &wq, &lwork, &iwq, &liwork, &info, 1, 1, 1)
        if info != 0 { throw .lapack(routine: "dsyevr (workspace query)", info: Int(info)) }
        lwork = Int32(wq); liwork = iwq
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevr_(&jobz, &range, &uplo, &nn, &a, &lda, &vl, &vu, &il, &iu, &abstol, &m, &w, &z, &ldz, &isuppz,
                &work, &lwork, &iwork, &liwork, &info, 1, 1, 1)
        if info != 0 || Int(m) != k { throw .lapack(routine: "dsyevr", info: Int(info)) }
        // Ascending → descending; column-major z (n×k) → row-major n×k.
        var values = [Double](repeating: 0, count: k)
        var vectors = [Double](repeating: 0, count: n * k)
        for j in 0..<k {
            let src = k - 1 - j
            values[j] = w[src]
            for i in 0..<n { vectors[i * k + j] = z[src * n + i] }
        }
        return (values, vectors)
    }

    /// Replaces the columns of the row-major rows×cols matrix `y` (rows ≥ cols) by an orthonormal basis of
    /// their span (Householder QR: sgeqrf + sorgqr).
    static func orthonormalize(_ y: inout [Float], rows: Int, cols: Int) throws(AnalysisError) {
        var a = [Float](repeating: 0, count: rows * cols)
        for i in 0..<rows { for j in 0..<cols { a[j * rows + i] = y[i * cols + j] } }
        var m = Int32(rows), n = Int32(cols), lda = Int32(rows), info: Int32 = 0, lwork: Int32 = -1
        var tau = [Float](repeating: 0, count: cols)
        var wq: Float = 0
        sgeqrf_(&m, &n, &a, &lda, &tau, &wq, &lwork, &info)
        lwork = max(Int32(wq), Int32(cols) * 64)
        var work = [Float](repeating: 0, count: Int(lwork))
        sgeqrf_(&m, &n, &a, &lda, &tau, &work, &lwork, &info)
        if info != 0 { throw .lapack(routine: "sgeqrf", info: Int(info)) }
        var k = n
        sorgqr_(&m, &n, &k, &a, &lda, &tau, &work, &lwork, &info)
        if info != 0 { throw .lapack(routine: "sorgqr", info: Int(info)) }
        for i in 0..<rows { for j in 0..<cols { y[i * cols + j] = a[j * rows + i] } }
    }
}
