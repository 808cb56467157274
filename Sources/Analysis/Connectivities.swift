import Foundation
import Tensor

extension KNNGraph {
    /// The symmetric weighted graph scanpy builds for clustering (`sc.pp.neighbors(method="umap")`): UMAP's fuzzy
    /// simplicial set. Per point, ρ is the distance to the nearest neighbour and σ solves
    /// Σⱼ exp(−(dⱼ − ρ)/σ) = log₂(n_neighbors); the directed weights A are then symmetrised as
    /// `mix·(A + Aᵀ − A∘Aᵀ) + (1 − mix)·(A∘Aᵀ)`.
    ///
    /// scanpy's `n_neighbors` counts the point itself, so `n_neighbors = 15` there matches `neighbors.k = 14`
    /// here (the list is passed self-excluded; the zero self-distance is accounted for as scanpy/UMAP do).
    ///
    /// - Returns: an N×N CSR adjacency with sorted column indices, no self loops and no stored zeros.
    public static func connectivities(_ neighbors: Neighbors, localConnectivity: Double = 1,
                                      setOpMixRatio: Double = 1) throws(AnalysisError) -> CSRMatrix {
        let n = neighbors.count, k = neighbors.k
        if n == 0 || k == 0 { throw .empty(parameter: "neighbors") }
        if !(localConnectivity >= 0) { throw .invalid(parameter: "localConnectivity", reason: "must be ≥ 0, e.g. 1") }
        if !(setOpMixRatio >= 0 && setOpMixRatio <= 1) {
            throw .invalid(parameter: "setOpMixRatio", reason: "must lie in 0...1 (1 = fuzzy union, scanpy's default)")
        }
        if let i = neighbors.distances.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(parameter: "neighbors.distances", index: i) }
        let (sigma, rho) = smoothKNN(neighbors, localConnectivity: localConnectivity)

        // Directed memberships, gathered per row as (column, forward weight, backward weight).
        var rows = [[(Int32, Double, Double)]](repeating: [], count: n)
        for i in 0..<n {
            for t in 0..<k {
                let j = Int(neighbors.indices[i * k + t])
                if j == i || j < 0 { continue }
                let d = Double(neighbors.distances[i * k + t])
                let w = (d - rho[i] <= 0 || sigma[i] == 0) ? 1.0 : exp(-(d - rho[i]) / sigma[i])
                rows[i].append((Int32(j), w, 0))
                rows[j].append((Int32(i), 0, w))
            }
        }
        var indptr = [Int](repeating: 0, count: n + 1)
        var indices: [Int32] = [], values: [Float] = []
        indices.reserveCapacity(2 * n * k); values.reserveCapacity(2 * n * k)
        for i in 0..<n {
            rows[i].sort { $0.0 < $1.0 }
            var t = 0
            let r = rows[i]
            while t < r.count {
                var f = 0.0, b = 0.0
                let col = r[t].0
                while t < r.count && r[t].0 == col { f += r[t].1; b += r[t].2; t += 1 }
                let prod = f * b
                let v = setOpMixRatio * (f + b - prod) + (1 - setOpMixRatio) * prod
                if v != 0 { indices.append(col); values.append(Float(v)) }
            }
            indptr[i + 1] = indices.count
        }
        return CSRMatrix(rows: n, cols: n, indptr: indptr, indices: indices, values: values)
    }

    /// UMAP's `smooth_knn_dist` (64 bisection steps, tolerance 1e-5, σ floored at 1e-3 × the mean distance).
    static func smoothKNN(_ nb: Neighbors, localConnectivity: Double) -> (sigma: [Double], rho: [Double]) {
        let n = nb.count, k = nb.k
        let target = log2(Double(k + 1))
        var all = 0.0
        for v in nb.distances { all += Double(v) }
        let meanAll = all / Double(n * (k + 1))  // the self column counts, at distance 0
        var sigma = [Double](repeating: 0, count: n), rho = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let d = (0..<k).map { Double(nb.distances[i * k + $0]) }
            let nonzero = d.filter { $0 > 0 }
            if Double(nonzero.count) >= localConnectivity {
                let index = Int(localConnectivity.rounded(.down))
                let interp = localConnectivity - Double(index)
                if index > 0 {
                    rho[i] = nonzero[index - 1]
                    if interp > 1e-5 { rho[i] += interp * (nonzero[index] - nonzero[index - 1]) }
                } else {
                    rho[i] = interp * nonzero[0]
                }
            } else if let m = nonzero.max() {
                rho[i] = m
            }
            var lo = 0.0, hi = Double.infinity, mid = 1.0
            for _ in 0..<64 {
                var psum = 0.0
                for v in d { let x = v - rho[i]; psum += x > 0 ? exp(-(x / mid)) : 1 }
                if abs(psum - target) < 1e-5 { break }
                if psum > target { hi = mid; mid = (lo + hi) / 2 } else { lo = mid; mid = hi == .infinity ? mid * 2 : (lo + hi) / 2 }
            }
            let meanI = d.reduce(0, +) / Double(k + 1)
            if rho[i] > 0 { mid = max(mid, 1e-3 * meanI) } else { mid = max(mid, 1e-3 * meanAll) }
            sigma[i] = mid
        }
        return (sigma, rho)
    }
}
