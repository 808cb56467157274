import Tensor

extension UMAP {
    /// scikit-learn's `manifold.trustworthiness(x, embedded, n_neighbors: k)`: 1 − 2/(n·k·(2n − 3k − 1)) ·
    /// Σᵢ Σ_{j ∈ kNN_embedded(i)} max(0, rank_x(i, j) − k), where rank_x counts from 1 for the nearest
    /// point in the original space. 1 means every neighbour in the layout was a neighbour in the data.
    /// O(n²·d): meant for a few thousand points (score a random subset of larger sets).
    public static func trustworthiness(_ x: Matrix, _ embedded: Matrix, k: Int = 5) throws(AnalysisError) -> Double {
        try Check.matrix(x, "x"); try Check.matrix(embedded, "embedded")
        try Check.same(x.rows, embedded.rows, "embedded.rows")
        let n = x.rows
        try Check.range(k, "k", 1, max(1, n / 2 - 1))
        let low = try KNNGraph.exact(embedded, k: k)
        var total = 0.0
        var dist = [Float](repeating: 0, count: n)
        let d = x.cols
        x.data.withUnsafeBufferPointer { xp in dist.withUnsafeMutableBufferPointer { dp in
            for i in 0..<n {
                for j in 0..<n {
                    var s: Float = 0
                    for q in 0..<d { let t = xp[i * d + q] - xp[j * d + q]; s += t * t }
                    dp[j] = j == i ? .infinity : s
                }
                // rank_x(i, j) = 1 + the points nearer to i than j (ties broken by index, as a stable argsort would;
                // ties are rare in real data). Counting is O(n) per neighbour, cheaper than sorting all n.
                for t in 0..<k {
                    let j = Int(low.indices[i * k + t]), dj = dp[j]
                    var nearer = 0
                    for l in 0..<n where dp[l] < dj || (dp[l] == dj && l < j) { nearer += 1 }
                    let r = nearer + 1 - k
                    if r > 0 { total += Double(r) }
                }
            }
        } }
        return 1 - total * (2 / (Double(n) * Double(k) * (2 * Double(n) - 3 * Double(k) - 1)))
    }
}
