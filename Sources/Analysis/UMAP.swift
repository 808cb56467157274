import Foundation
import Tensor

/// UMAP's layout: umap-learn's `simplicial_set_embedding` over a fuzzy graph the project already builds
/// (`KNNGraph.connectivities`, the same graph scanpy's `tl.umap` starts from). Edges are sampled in proportion
/// to their weight (an edge of weight w every max(w)/w epochs; weights below max/epochs dropped), each sample
/// pulls its two ends together and pushes the head away from `negativeSampleRate` random cells, with the
/// learning rate falling linearly to 0. Gradients are clipped to ±4, as umap-learn does.
///
/// The run is single-threaded and seeded, so the same graph, initialisation and seed give the same layout
/// bit for bit (umap-learn is deterministic only when seeded and single-threaded too).
public struct UMAP: Sendable {
    /// Epochs; 0: umap-learn's default (500 up to 10,000 cells, else 200).
    public var epochs = 0
    public var minDist = 0.1
    public var spread = 1.0
    public var negativeSampleRate = 5
    public var repulsion = 1.0
    public var learningRate = 1.0
    public var seed: UInt64 = 0

    public init(epochs: Int = 0, minDist: Double = 0.1, seed: UInt64 = 0) {
        self.epochs = epochs; self.minDist = minDist; self.seed = seed
    }

    /// The N×2 layout of `graph` (N×N, symmetric, non-negative) starting from `initial` (N×2; see
    /// `UMAP.initialLayout`).
    public func layout(_ graph: CSRMatrix, initial: Matrix) throws(AnalysisError) -> Matrix {
        let n = graph.rows
        if n == 0 { throw .empty(parameter: "graph") }
        if graph.cols != n { throw .lengthMismatch(parameter: "graph.cols", expected: n, actual: graph.cols) }
        if initial.rows != n { throw .lengthMismatch(parameter: "initial.rows", expected: n, actual: initial.rows) }
        if initial.cols != 2 { throw .lengthMismatch(parameter: "initial.cols", expected: 2, actual: initial.cols) }
        if let i = graph.values.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
            throw .invalid(parameter: "graph.values", reason: "entry \(i) is \(graph.values[i]); weights must be finite and ≥ 0")
        }
        if let i = initial.data.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(parameter: "initial", index: i) }
        if !(minDist >= 0 && minDist < spread) { throw .invalid(parameter: "minDist", reason: "must lie in [0, spread), e.g. 0.1") }
        try Check.range(negativeSampleRate, "negativeSampleRate", 0, 100)
        let nEpochs = epochs > 0 ? epochs : (n <= 10_000 ? 500 : 200)
        try Check.range(nEpochs, "epochs", 1, 100_000)
        let (a, b) = Self.curve(minDist: minDist, spread: spread)

        // Edges (both directions, as umap-learn's COO of the symmetric graph), weak ones dropped.
        let wmax = graph.values.max() ?? 0
        var head: [Int32] = [], tail: [Int32] = [], perSample: [Double] = []
        for i in 0..<n {
            for e in graph.indptr[i]..<graph.indptr[i + 1] {
                let w = graph.values[e]
                if w <= 0 || w < wmax / Float(nEpochs) { continue }
                head.append(Int32(i)); tail.append(graph.indices[e]); perSample.append(Double(wmax) / Double(w))
            }
        }
        // Scale the initial layout to [0, 10] per axis, as umap-learn does before optimising.
        var emb = initial.data
        for d in 0..<2 {
            var lo = Float.infinity, hi = -Float.infinity
            for i in 0..<n { lo = min(lo, emb[2 * i + d]); hi = max(hi, emb[2 * i + d]) }
            let s: Float = hi > lo ? 10 / (hi - lo) : 1
            for i in 0..<n { emb[2 * i + d] = (emb[2 * i + d] - lo) * s }
        }
        let m = head.count
        var nextSample = perSample
        let perNegative = perSample.map { $0 / Double(max(1, negativeSampleRate)) }
        var nextNegative = perNegative
        var rng = SeededRNG(seed: seed)
        let a2b = Float(-2 * a * b), bf = Float(b), af = Float(a), gamma2b = Float(2 * repulsion * b)
        let nr = negativeSampleRate

        emb.withUnsafeMutableBufferPointer { y in
            for epoch in 0..<nEpochs {
                let alpha = Float(learningRate * (1 - Double(epoch) / Double(nEpochs)))
                let ep = Double(epoch)
                for e in 0..<m where nextSample[e] <= ep {
                    let j = Int(head[e]), k = Int(tail[e])
                    var dx = y[2 * j] - y[2 * k], dy = y[2 * j + 1] - y[2 * k + 1]
                    let d2 = dx * dx + dy * dy
                    if d2 > 0 {
                        let pb = powf(d2, bf)
                        let g = a2b * (pb / d2) / (af * pb + 1)
                        let gx = max(-4, min(4, g * dx)) * alpha, gy = max(-4, min(4, g * dy)) * alpha
                        y[2 * j] += gx; y[2 * j + 1] += gy
                        y[2 * k] -= gx; y[2 * k + 1] -= gy
                    }
                    nextSample[e] += perSample[e]
                    if nr == 0 { continue }
                    let negatives = Int((ep - nextNegative[e]) / perNegative[e])
                    if negatives <= 0 { continue }
                    for _ in 0..<negatives {
                        let r = rng.int(below: n)
                        if r == j { continue }
                        dx = y[2 * j] - y[2 * r]; dy = y[2 * j + 1] - y[2 * r + 1]
                        let q = dx * dx + dy * dy
                        guard q > 0 else { continue }
                        let g = gamma2b / ((0.001 + q) * (af * powf(q, bf) + 1))
                        y[2 * j] += max(-4, min(4, g * dx)) * alpha
                        y[2 * j + 1] += max(-4, min(4, g * dy)) * alpha
                    }
                    nextNegative[e] += Double(negatives) * perNegative[e]
                }
            }
        }
        return Matrix(rows: n, cols: 2, data: emb)
    }

    /// umap-learn's `find_ab_params`: a, b of 1 / (1 + a·x^(2b)) fitted by least squares to 1 below `minDist`
    /// and exp(−(x − minDist)/spread) above, on 300 points over [0, 3·spread] (Gauss–Newton from a coarse grid).
    public static func curve(minDist: Double, spread: Double) -> (a: Double, b: Double) {
        let xs = (0..<300).map { 3 * spread * Double($0) / 299 }
        let ys = xs.map { $0 < minDist ? 1 : exp(-($0 - minDist) / spread) }
        func loss(_ a: Double, _ b: Double) -> Double {
            var s = 0.0
            for (x, t) in zip(xs, ys) { let f = 1 / (1 + a * pow(x, 2 * b)); s += (f - t) * (f - t) }
            return s
        }
        var best = (a: 1.0, b: 1.0, l: Double.infinity)
        for ai in stride(from: 0.1, through: 5, by: 0.1) { for bi in stride(from: 0.3, through: 2, by: 0.05) {
            let l = loss(ai, bi); if l < best.l { best = (ai, bi, l) }
        } }
        var a = best.a, b = best.b, lambda = 1e-3
        for _ in 0..<200 {
            var jtj = [0.0, 0.0, 0.0], jtr = [0.0, 0.0]
            for (x, t) in zip(xs, ys) where x > 0 {
                let p = pow(x, 2 * b), f = 1 / (1 + a * p)
                let da = -p * f * f, db = -a * p * 2 * log(x) * f * f
                let r = f - t
                jtj[0] += da * da; jtj[1] += da * db; jtj[2] += db * db; jtr[0] += da * r; jtr[1] += db * r
            }
            let m00 = jtj[0] * (1 + lambda), m11 = jtj[2] * (1 + lambda), det = m00 * m11 - jtj[1] * jtj[1]
            guard det != 0 else { break }
            let sa = (m11 * jtr[0] - jtj[1] * jtr[1]) / det, sb = (m00 * jtr[1] - jtj[1] * jtr[0]) / det
            let (na, nb) = (a - sa, b - sb)
            if na > 0, nb > 0, loss(na, nb) < loss(a, b) { a = na; b = nb; lambda /= 3 } else { lambda *= 4 }
            if abs(sa) < 1e-10 && abs(sb) < 1e-10 { break }
        }
        return (a, b)
    }

    /// A starting layout: the first two principal components of `x` (umap-learn's `init="pca"`), plus
    /// noise of 1e-4 × the largest coordinate so no two cells coincide.
    public static func initialLayout(_ x: Matrix, seed: UInt64 = 0) throws(AnalysisError) -> Matrix {
        if x.cols >= 2 && x.rows > 2 {
            let p = try PCA(components: 2).fit(x)
            var out = p.scores
            var rng = SeededRNG(seed: seed ^ 0x5eed)
            let scale = Float(10) / max(out.data.map(abs).max() ?? 1, 1e-12)
            for i in 0..<out.data.count { out.data[i] = out.data[i] * scale + Float(rng.normal()) * 1e-4 * 10 }
            return out
        }
        var rng = SeededRNG(seed: seed)
        return Matrix(rows: x.rows, cols: 2, data: (0..<(2 * x.rows)).map { _ in Float(rng.uniform() * 20 - 10) })
    }
}
