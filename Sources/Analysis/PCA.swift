import Tensor

/// Principal component analysis of an N×G dense matrix (cells × genes): centred, optionally scaled to unit
/// variance per column, to `components` components.
///
/// Small G uses the exact eigen-decomposition of the G×G covariance (LAPACK `dsyevr`); large G uses a seeded
/// randomized SVD (Halko, Martinsson & Tropp 2011) with power iterations. Signs follow one convention: each
/// component's largest-|loading| entry is positive (scikit-learn ≥ 1.5's `svd_flip` on the loadings).
public struct PCA: Sendable {
    /// How the components are computed.
    public enum Solver: Sendable, Equatable {
        /// Covariance eigen-decomposition for G ≤ 2,000 columns, randomized SVD otherwise.
        case auto
        /// Exact: eigen-decomposition of the G×G covariance.
        case covariance
        /// Randomized SVD with `oversamples` extra directions and `powerIterations` subspace iterations.
        case randomized(oversamples: Int = 10, powerIterations: Int = 4, seed: UInt64 = 0)
    }

    /// The number of components k (1 ≤ k ≤ min(N, G)).
    public var components: Int
    /// Divides each centred column by its standard deviation (population, ddof 0, like scikit-learn's
    /// `StandardScaler`); constant columns are left at zero.
    public var scale: Bool
    public var solver: Solver

    public init(components: Int, scale: Bool = false, solver: Solver = .auto) {
        self.components = components; self.scale = scale; self.solver = solver
    }

    /// The fitted components and the projection of the input onto them.
    public struct Result: Sendable {
        /// N×k projections of the centred (scaled) rows.
        public var scores: Matrix
        /// k×G; row j is component j (unit length), like scikit-learn's `components_`.
        public var loadings: Matrix
        /// Variance along each component (ddof 1).
        public var explainedVariance: [Float]
        /// `explainedVariance` over the total variance of the centred (scaled) input.
        public var explainedVarianceRatio: [Float]
        /// Column means that were subtracted.
        public var mean: [Float]
        /// Column scale factors that were divided out (all 1 when `scale` is false).
        public var scaleFactors: [Float]
    }

    /// Fits the PCA to `x` (N×G) and returns the scores, loadings and explained variance.
    public func fit(_ x: Matrix) throws(AnalysisError) -> Result {
        try Check.matrix(x, "x")
        let n = x.rows, g = x.cols
        try Check.range(n, "x.rows", 2, Int.max)
        let k = components
        try Check.range(k, "components", 1, min(n, g))

        // Centre (and scale) in Double accumulators.
        var mean = [Float](repeating: 0, count: g), sd = [Float](repeating: 1, count: g)
        var sum = [Double](repeating: 0, count: g), sq = [Double](repeating: 0, count: g)
        for i in 0..<n { for j in 0..<g { sum[j] += Double(x.data[i * g + j]) } }
        for j in 0..<g { mean[j] = Float(sum[j] / Double(n)) }
        for i in 0..<n { for j in 0..<g { let d = Double(x.data[i * g + j]) - sum[j] / Double(n); sq[j] += d * d } }
        if scale { for j in 0..<g { let s = (sq[j] / Double(n)).squareRoot(); sd[j] = s > 0 ? Float(s) : 1 } }
        var xc = x.data
        for i in 0..<n { for j in 0..<g { xc[i * g + j] = (xc[i * g + j] - mean[j]) / sd[j] } }
        var total = 0.0
        for j in 0..<g { total += sq[j] / (scale ? Double(sd[j] * sd[j]) : 1) / Double(n - 1) }

        let useRandomized: Bool
        switch solver {
        case .auto: useRandomized = g > 2000
        case .covariance: useRandomized = false
        case .randomized: useRandomized = true
        }
        var loadings: [Float], variance: [Double]
        if useRandomized {
            var p = 10, q = 4, seed: UInt64 = 0
            if case .randomized(let pp, let qq, let s) = solver { p = pp; q = qq; seed = s }
            (loadings, variance) = try Self.randomized(xc, n: n, g: g, k: k, oversamples: max(0, p), power: max(0, q), seed: seed)
        } else {
            (loadings, variance) = try Self.covariance(xc, n: n, g: g, k: k)
        }
        // Sign convention: the largest-|loading| entry of each component is positive.
        for c in 0..<k {
            var best = 0
            for j in 1..<g where abs(loadings[c * g + j]) > abs(loadings[c * g + best]) { best = j }
            if loadings[c * g + best] < 0 { for j in 0..<g { loadings[c * g + j] = -loadings[c * g + j] } }
        }
        var scores = [Float](repeating: 0, count: n * k)
        xc.withUnsafeBufferPointer { a in loadings.withUnsafeBufferPointer { b in scores.withUnsafeMutableBufferPointer { c in
            BLAS.gemm(transB: true, m: n, n: k, k: g, a: a.baseAddress!, lda: g, b: b.baseAddress!, ldb: g,
                      c: c.baseAddress!, ldc: k)
        } } }
        return Result(scores: Matrix(rows: n, cols: k, data: scores), loadings: Matrix(rows: k, cols: g, data: loadings),
                      explainedVariance: variance.map { Float($0) },
                      explainedVarianceRatio: variance.map { Float(total > 0 ? $0 / total : 0) },
                      mean: mean, scaleFactors: sd)
    }

    /// Top-k eigenvectors of Xcᵀ·Xc / (N − 1). Returns k×G loadings and the k variances.
    static func covariance(_ xc: [Float], n: Int, g: Int, k: Int) throws(AnalysisError) -> ([Float], [Double]) {
        var cov = [Float](repeating: 0, count: g * g)
        xc.withUnsafeBufferPointer { a in cov.withUnsafeMutableBufferPointer { c in
            BLAS.gemm(transA: true, m: g, n: g, k: n, alpha: 1 / Float(n - 1), a: a.baseAddress!, lda: g,
                      b: a.baseAddress!, ldb: g, c: c.baseAddress!, ldc: g)
        } }
        let (values, vectors) = try LAPACK.topEigen(cov.map { Double($0) }, n: g, k: k)
        var loadings = [Float](repeating: 0, count: k * g)
        for c in 0..<k { for j in 0..<g { loadings[c * g + j] = Float(vectors[j * k + c]) } }
        return (loadings, values.map { max(0, $0) })
    }

    /// Randomized SVD of Xc (N×G): range finder with power iterations, then the small l×l eigenproblem of B·Bᵀ.
    static func randomized(_ xc: [Float], n: Int, g: Int, k: Int, oversamples: Int, power: Int,
                           seed: UInt64) throws(AnalysisError) -> ([Float], [Double]) {
        let l = min(k + oversamples, min(n, g))
        var rng = SeededRNG(seed: seed)
        var omega = [Float](repeating: 0, count: g * l)
        omega.withUnsafeMutableBufferPointer { rng.fillNormal($0.baseAddress!, count: g * l) }
        var y = [Float](repeating: 0, count: n * l), z = [Float](repeating: 0, count: g * l)
        func mulX(_ b: [Float], _ out: inout [Float]) {  // out (N×l) = Xc · b (G×l)
            xc.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { bb in out.withUnsafeMutableBufferPointer { c in
                BLAS.gemm(m: n, n: l, k: g, a: a.baseAddress!, lda: g, b: bb.baseAddress!, ldb: l, c: c.baseAddress!, ldc: l)
            } } }
        }
        func mulXt(_ b: [Float], _ out: inout [Float]) {  // out (G×l) = Xcᵀ · b (N×l)
            xc.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { bb in out.withUnsafeMutableBufferPointer { c in
                BLAS.gemm(transA: true, m: g, n: l, k: n, a: a.baseAddress!, lda: g, b: bb.baseAddress!, ldb: l,
                          c: c.baseAddress!, ldc: l)
            } } }
        }
        mulX(omega, &y)
        for _ in 0..<power {
            try LAPACK.orthonormalize(&y, rows: n, cols: l)
            mulXt(y, &z)
            try LAPACK.orthonormalize(&z, rows: g, cols: l)
            mulX(z, &y)
        }
        try LAPACK.orthonormalize(&y, rows: n, cols: l)
        mulXt(y, &z)  // z = Bᵀ (G×l), B = Qᵀ·Xc
        var bbt = [Float](repeating: 0, count: l * l)
        z.withUnsafeBufferPointer { a in bbt.withUnsafeMutableBufferPointer { c in
            BLAS.gemm(transA: true, m: l, n: l, k: g, a: a.baseAddress!, lda: l, b: a.baseAddress!, ldb: l,
                      c: c.baseAddress!, ldc: l)
        } }
        let (s2, u) = try LAPACK.topEigen(bbt.map { Double($0) }, n: l, k: k)
        // Component c = (Bᵀ·u_c) / s_c.
        var loadings = [Float](repeating: 0, count: k * g)
        for c in 0..<k {
            let s = max(s2[c], 1e-300).squareRoot()
            for j in 0..<g {
                var acc = 0.0
                for r in 0..<l { acc += Double(z[j * l + r]) * u[r * k + c] }
                loadings[c * g + j] = Float(acc / s)
            }
        }
        return (loadings, s2.map { max(0, $0) / Double(n - 1) })
    }
}
