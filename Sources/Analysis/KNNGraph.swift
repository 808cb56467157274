import Tensor

/// k-nearest-neighbour search (Euclidean, self excluded) on an N×D embedding, and the weighted graph built
/// from it (see `connectivities`).
public enum KNNGraph {
    /// The k nearest neighbours of every row, nearest first.
    public struct Neighbors: Sendable, Equatable {
        /// Number of points N.
        public var count: Int
        /// Neighbours per point.
        public var k: Int
        /// N×k row-major neighbour indices (never the point itself).
        public var indices: [Int32]
        /// N×k row-major Euclidean distances, ascending within each row.
        public var distances: [Float]

        public init(count: Int, k: Int, indices: [Int32], distances: [Float]) {
            self.count = count; self.k = k; self.indices = indices; self.distances = distances
        }

        /// Fraction of `exact`'s neighbour sets that this list also found (1 = identical sets).
        public func recall(against exact: Neighbors) -> Double {
            precondition(exact.count == count && exact.k == k, "recall needs lists of the same shape")
            var hit = 0
            for i in 0..<count {
                let mine = Set(indices[(i * k)..<((i + 1) * k)])
                for j in 0..<k where mine.contains(exact.indices[i * k + j]) { hit += 1 }
            }
            return count * k == 0 ? 1 : Double(hit) / Double(count * k)
        }
    }

    /// Exact k nearest neighbours. Squared distances come from blocked GEMMs (‖x‖² + ‖y‖² − 2x·y on centred
    /// data, split over the cores); the best k + 4 candidates per row are then re-ranked with directly computed
    /// distances so near-ties come out in true order.
    ///
    /// - Throws: `.empty` for an empty `x`, `.nonFinite` for NaN/∞, `.outOfRange` unless 1 ≤ k ≤ N − 1.
    public static func exact(_ x: Matrix, k: Int) throws(AnalysisError) -> Neighbors {
        try Check.matrix(x, "x")
        let n = x.rows, d = x.cols
        try Check.range(k, "k", 1, n - 1)
        let c = centred(x)
        var norms = [Float](repeating: 0, count: n)
        for i in 0..<n { var s: Float = 0; for j in 0..<d { s += c[i * d + j] * c[i * d + j] }; norms[i] = s }
        let kk = min(k + 4, n - 1)
        let indices = UnsafeMutableBufferPointer<Int32>.allocate(capacity: n * k)
        let dists = UnsafeMutableBufferPointer<Float>.allocate(capacity: n * k)
        defer { indices.deallocate(); dists.deallocate() }
        let block = max(16, min(n, (1 << 22) / max(n, 1)))  // ≈ 16 MB of dot products per block
        var dots = [Float](repeating: 0, count: block * n)
        var start = 0
        while start < n {
            let b = min(block, n - start)
            c.withUnsafeBufferPointer { cp in dots.withUnsafeMutableBufferPointer { dp in
                BLAS.gemm(transB: true, m: b, n: n, k: d, a: cp.baseAddress! + start * d, lda: d,
                          b: cp.baseAddress!, ldb: d, c: dp.baseAddress!, ldc: n)
            } }
            let s0 = start
            let ip = UncheckedSendable(indices), dp = UncheckedSendable(dists)
            dots.withUnsafeBufferPointer { dots in c.withUnsafeBufferPointer { cp in norms.withUnsafeBufferPointer { nm in
                Parallel.forEach(b, grain: 8) { rows in
                    var heap = TopK(capacity: kk)
                    for r in rows {
                        let i = s0 + r
                        heap.reset()
                        let row = dots.baseAddress! + r * n
                        for j in 0..<n where j != i {
                            let dist = nm[i] + nm[j] - 2 * row[j]
                            if dist < heap.worst { heap.insert(dist, Int32(j)) }
                        }
                        // Re-rank the candidates with exact differences.
                        var cand: [(Float, Int32)] = []
                        cand.reserveCapacity(kk)
                        for t in 0..<heap.count {
                            let j = Int(heap.ids[t])
                            var s: Float = 0
                            for q in 0..<d { let v = cp[i * d + q] - cp[j * d + q]; s += v * v }
                            cand.append((s, heap.ids[t]))
                        }
                        cand.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
                        for t in 0..<k { ip.value[i * k + t] = cand[t].1; dp.value[i * k + t] = cand[t].0.squareRoot() }
                    }
                }
            } } }
            start += b
        }
        return Neighbors(count: n, k: k, indices: Array(indices), distances: Array(dists))
    }

    /// `x` minus its column means (distances are unchanged; the GEMM identity loses less precision).
    static func centred(_ x: Matrix) -> [Float] {
        let n = x.rows, d = x.cols
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(x.data[i * d + j]) } }
        var c = x.data
        for i in 0..<n { for j in 0..<d { c[i * d + j] -= Float(mean[j] / Double(n)) } }
        return c
    }
}

/// The `capacity` smallest (distance, id) pairs seen, as an unsorted array with its maximum tracked.
struct TopK {
    var dist: [Float], ids: [Int32], count = 0
    let capacity: Int
    var worst: Float = .infinity
    var worstAt = 0

    init(capacity: Int) {
        self.capacity = capacity
        dist = [Float](repeating: .infinity, count: capacity); ids = [Int32](repeating: -1, count: capacity)
    }

    mutating func reset() { count = 0; worst = .infinity; worstAt = 0 }

    mutating func insert(_ d: Float, _ id: Int32) {
        if count < capacity {
            dist[count] = d; ids[count] = id; count += 1
            if count == capacity { rescan() }
            return
        }
        dist[worstAt] = d; ids[worstAt] = id
        rescan()
    }

    private mutating func rescan() {
        var w: Float = -.infinity, at = 0
        for t in 0..<count where dist[t] > w { w = dist[t]; at = t }
        worst = w; worstAt = at
    }
}
