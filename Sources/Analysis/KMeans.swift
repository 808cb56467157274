import Foundation
import Tensor

/// k-means clustering: greedy k-means++ seeding (2 + ⌊ln k⌋ candidates per centre, as scikit-learn), Lloyd
/// iterations until the centres move less than `tolerance` × the mean column variance, best of `restarts` runs.
public struct KMeans: Sendable {
    /// Number of clusters (1 ≤ k ≤ N).
    public var k: Int
    /// Independent seedings; the run with the lowest inertia wins (scikit-learn's `n_init`).
    public var restarts: Int
    public var maxIterations: Int
    /// Relative tolerance on the squared centre shift (scikit-learn's `tol`).
    public var tolerance: Double
    public var seed: UInt64

    public init(k: Int, restarts: Int = 10, maxIterations: Int = 300, tolerance: Double = 1e-4, seed: UInt64 = 0) {
        self.k = k; self.restarts = restarts; self.maxIterations = maxIterations; self.tolerance = tolerance; self.seed = seed
    }

    /// A clustering.
    public struct Result: Sendable {
        /// Cluster of each row, 0..<k.
        public var labels: [Int]
        /// k×D cluster centres.
        public var centroids: Matrix
        /// Sum of squared distances of the rows to their centres.
        public var inertia: Double
        /// Lloyd iterations of the winning run.
        public var iterations: Int
    }

    /// Clusters the rows of `x` (N×D).
    public func fit(_ x: Matrix) throws(AnalysisError) -> Result {
        try Check.matrix(x, "x")
        try Check.range(k, "k", 1, x.rows)
        try Check.range(restarts, "restarts", 1, Int.max)
        try Check.range(maxIterations, "maxIterations", 1, Int.max)
        let n = x.rows, d = x.cols
        let xd = x.data.map { Double($0) }
        var variance = 0.0
        for j in 0..<d {
            var s = 0.0, s2 = 0.0
            for i in 0..<n { s += xd[i * d + j]; s2 += xd[i * d + j] * xd[i * d + j] }
            variance += s2 / Double(n) - (s / Double(n)) * (s / Double(n))
        }
        let tol = tolerance * variance / Double(d)
        var rng = SeededRNG(seed: seed)
        var best: Result?
        for _ in 0..<restarts {
            var centres = seedPlusPlus(xd, n: n, d: d, rng: &rng)
            var labels = [Int](repeating: 0, count: n)
            var iterations = 0
            for it in 0..<maxIterations {
                iterations = it + 1
                _ = Self.assign(xd, n: n, d: d, centres: centres, k: k, labels: &labels)
                var sums = [Double](repeating: 0, count: k * d), counts = [Int](repeating: 0, count: k)
                for i in 0..<n { counts[labels[i]] += 1; for j in 0..<d { sums[labels[i] * d + j] += xd[i * d + j] } }
                var shift = 0.0
                for c in 0..<k {
                    if counts[c] == 0 { continue }  // an empty cluster keeps its centre
                    for j in 0..<d {
                        let v = sums[c * d + j] / Double(counts[c])
                        shift += (v - centres[c * d + j]) * (v - centres[c * d + j])
                        centres[c * d + j] = v
                    }
                }
                if shift <= tol { break }
            }
            let inertia = Self.assign(xd, n: n, d: d, centres: centres, k: k, labels: &labels)
            if best == nil || inertia < best!.inertia {
                best = Result(labels: labels, centroids: Matrix(rows: k, cols: d, data: centres.map { Float($0) }),
                              inertia: inertia, iterations: iterations)
            }
        }
        return best!
    }

    /// Nearest centre of every row (parallel); returns the inertia.
    static func assign(_ x: [Double], n: Int, d: Int, centres: [Double], k: Int, labels: inout [Int]) -> Double {
        let chunks = max(1, min(Parallel.cores, n / 512))
        var partial = [Double](repeating: 0, count: chunks)
        labels.withUnsafeMutableBufferPointer { lb in partial.withUnsafeMutableBufferPointer { pp in
            let l = UncheckedSendable(lb), p = UncheckedSendable(pp)
            Parallel.run(chunks) { ch in
                var s = 0.0
                for i in (n * ch / chunks)..<(n * (ch + 1) / chunks) {
                    var bi = 0, bd = Double.infinity
                    for c in 0..<k {
                        var dist = 0.0
                        for j in 0..<d { let t = x[i * d + j] - centres[c * d + j]; dist += t * t }
                        if dist < bd { bd = dist; bi = c }
                    }
                    l.value[i] = bi; s += bd
                }
                p.value[ch] = s
            }
        } }
        return partial.reduce(0, +)
    }

    /// Greedy k-means++: each new centre is the best (lowest potential) of 2 + ⌊ln k⌋ D²-weighted samples.
    func seedPlusPlus(_ x: [Double], n: Int, d: Int, rng: inout SeededRNG) -> [Double] {
        var centres = [Double](repeating: 0, count: k * d)
        func dist2(_ i: Int, _ j: Int) -> Double {
            var s = 0.0; for q in 0..<d { let t = x[i * d + q] - x[j * d + q]; s += t * t }; return s
        }
        let first = rng.int(below: n)
        for q in 0..<d { centres[q] = x[first * d + q] }
        var closest = (0..<n).map { dist2($0, first) }
        var potential = closest.reduce(0, +)
        let trials = 2 + Int(log(Double(k)))
        for c in 1..<max(k, 1) {
            var bestCand = 0, bestPot = Double.infinity, bestClosest: [Double] = []
            for _ in 0..<trials {
                // Sample ∝ D² (any point if all distances are 0).
                var r = rng.uniform() * potential, cand = n - 1
                if potential > 0 { for i in 0..<n { r -= closest[i]; if r < 0 { cand = i; break } } } else { cand = rng.int(below: n) }
                var pot = 0.0
                var newClosest = closest
                for i in 0..<n { let v = min(closest[i], dist2(i, cand)); newClosest[i] = v; pot += v }
                if pot < bestPot { bestPot = pot; bestCand = cand; bestClosest = newClosest }
            }
            for q in 0..<d { centres[c * d + q] = x[bestCand * d + q] }
            closest = bestClosest; potential = bestPot
        }
        return centres
    }
}
