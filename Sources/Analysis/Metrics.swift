import Foundation

/// Clustering and regression metrics, matching scikit-learn's definitions.
public enum Metrics {
    /// Adjusted Rand index of two labelings (scikit-learn's `adjusted_rand_score`): 1 for identical
    /// partitions, ≈ 0 for independent ones.
    public static func adjustedRandIndex<L: Hashable>(_ a: [L], _ b: [L]) throws(AnalysisError) -> Double {
        let (table, rowSums, colSums, n) = try contingency(a, b)
        func comb2(_ x: Double) -> Double { x * (x - 1) / 2 }
        let sumIJ = table.values.reduce(0.0) { $0 + comb2(Double($1)) }
        let sumA = rowSums.reduce(0.0) { $0 + comb2(Double($1)) }, sumB = colSums.reduce(0.0) { $0 + comb2(Double($1)) }
        if (rowSums.count == 1 && colSums.count == 1) || (rowSums.count == n && colSums.count == n) { return 1 }
        let expected = sumA * sumB / comb2(Double(n))
        let maxIndex = (sumA + sumB) / 2
        if maxIndex == expected { return 1 }
        return (sumIJ - expected) / (maxIndex - expected)
    }

    /// Normalized mutual information with the arithmetic-mean normalisation, scikit-learn's default:
    /// MI / ((H(a) + H(b)) / 2).
    public static func normalizedMutualInformation<L: Hashable>(_ a: [L], _ b: [L]) throws(AnalysisError) -> Double {
        let (table, rowSums, colSums, n) = try contingency(a, b)
        if rowSums.count == 1 && colSums.count == 1 { return 1 }
        let nn = Double(n)
        var mi = 0.0
        for (key, c) in table {
            let p = Double(c) / nn
            mi += p * log(nn * Double(c) / (Double(rowSums[key.r]) * Double(colSums[key.c])))
        }
        func entropy(_ s: [Int]) -> Double { s.reduce(0.0) { let p = Double($1) / nn; return $0 - p * log(p) } }
        let norm = (entropy(rowSums) + entropy(colSums)) / 2
        if mi <= 0 { return 0 }
        return mi / max(norm, Double.ulpOfOne)
    }

    /// Pearson correlation coefficient of two equally long vectors.
    public static func pearson<T: BinaryFloatingPoint>(_ x: [T], _ y: [T]) throws(AnalysisError) -> Double {
        try vectors(x, y)
        let n = Double(x.count)
        let mx = x.reduce(0.0) { $0 + Double($1) } / n, my = y.reduce(0.0) { $0 + Double($1) } / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<x.count {
            let dx = Double(x[i]) - mx, dy = Double(y[i]) - my
            sxy += dx * dy; sxx += dx * dx; syy += dy * dy
        }
        if sxx == 0 || syy == 0 { throw .invalid(parameter: sxx == 0 ? "x" : "y", reason: "is constant, so the correlation is undefined") }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Cosine similarity x·y / (‖x‖‖y‖).
    public static func cosine<T: BinaryFloatingPoint>(_ x: [T], _ y: [T]) throws(AnalysisError) -> Double {
        try vectors(x, y)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<x.count { let a = Double(x[i]), b = Double(y[i]); sxy += a * b; sxx += a * a; syy += b * b }
        if sxx == 0 || syy == 0 { throw .invalid(parameter: sxx == 0 ? "x" : "y", reason: "is the zero vector, so the cosine is undefined") }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Macro-averaged F1 over the union of the labels in `truth` and `predicted` (scikit-learn's
    /// `f1_score(average="macro")`; a class never predicted or never true scores 0).
    public static func macroF1<L: Hashable>(truth: [L], predicted: [L]) throws(AnalysisError) -> Double {
        try Check.same(truth.count, predicted.count, "predicted")
        if truth.isEmpty { throw .empty(parameter: "truth") }
        return f1(truth: truth, predicted: predicted, classes: Set(truth).union(predicted))
    }

    /// Macro-F1 of a clustering against true classes after the best one-to-one matching of clusters to classes
    /// (Hungarian algorithm on the contingency table). Averaged over the true classes; points in unmatched
    /// clusters count as errors.
    public static func alignedMacroF1<L: Hashable, C: Hashable>(truth: [L], clusters: [C]) throws(AnalysisError) -> Double {
        let map = try alignment(truth: truth, clusters: clusters)
        let mapped: [L?] = clusters.map { map[$0] }
        return f1(truth: truth.map { Optional($0) }, predicted: mapped, classes: Set(truth.map { Optional($0) }))
    }

    /// The one-to-one assignment of clusters to classes that maximises the number of agreeing points.
    public static func alignment<L: Hashable, C: Hashable>(truth: [L], clusters: [C]) throws(AnalysisError) -> [C: L] {
        try Check.same(truth.count, clusters.count, "clusters")
        if truth.isEmpty { throw .empty(parameter: "truth") }
        var classes: [L] = [], clusterIDs: [C] = []
        var ci = [L: Int](), ki = [C: Int]()
        for t in truth where ci[t] == nil { ci[t] = classes.count; classes.append(t) }
        for c in clusters where ki[c] == nil { ki[c] = clusterIDs.count; clusterIDs.append(c) }
        var count = [[Double]](repeating: [Double](repeating: 0, count: clusterIDs.count), count: classes.count)
        for i in 0..<truth.count { count[ci[truth[i]]!][ki[clusters[i]]!] += 1 }
        var map = [C: L]()
        if classes.count <= clusterIDs.count {
            let assign = hungarian(count.map { $0.map { -$0 } })
            for (r, c) in assign.enumerated() { map[clusterIDs[c]] = classes[r] }
        } else {
            let t = (0..<clusterIDs.count).map { c in (0..<classes.count).map { -count[$0][c] } }
            for (c, r) in hungarian(t).enumerated() { map[clusterIDs[c]] = classes[r] }
        }
        return map
    }

    // MARK: helpers

    static func f1<L: Hashable>(truth: [L], predicted: [L], classes: Set<L>) -> Double {
        var tp = [L: Int](), tCount = [L: Int](), pCount = [L: Int]()
        for i in 0..<truth.count {
            tCount[truth[i], default: 0] += 1; pCount[predicted[i], default: 0] += 1
            if truth[i] == predicted[i] { tp[truth[i], default: 0] += 1 }
        }
        var sum = 0.0
        for c in classes {
            let t = Double(tp[c] ?? 0), denom = Double((tCount[c] ?? 0) + (pCount[c] ?? 0))
            sum += denom > 0 ? 2 * t / denom : 0
        }
        return classes.isEmpty ? 0 : sum / Double(classes.count)
    }

    static func vectors<T: BinaryFloatingPoint>(_ x: [T], _ y: [T]) throws(AnalysisError) {
        if x.isEmpty { throw .empty(parameter: "x") }
        try Check.same(x.count, y.count, "y")
        if let i = x.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(parameter: "x", index: i) }
        if let i = y.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(parameter: "y", index: i) }
    }

    static func contingency<L: Hashable>(_ a: [L], _ b: [L]) throws(AnalysisError)
        -> (table: [Pair: Int], rows: [Int], cols: [Int], n: Int) {
        try Check.same(a.count, b.count, "b")
        if a.isEmpty { throw .empty(parameter: "a") }
        var ai = [L: Int](), bi = [L: Int]()
        var rows: [Int] = [], cols: [Int] = [], table = [Pair: Int]()
        for i in 0..<a.count {
            let r = ai[a[i]] ?? { ai[a[i]] = rows.count; rows.append(0); return rows.count - 1 }()
            let c = bi[b[i]] ?? { bi[b[i]] = cols.count; cols.append(0); return cols.count - 1 }()
            rows[r] += 1; cols[c] += 1
            table[Pair(r, c), default: 0] += 1
        }
        return (table, rows, cols, a.count)
    }

    struct Pair: Hashable { var r: Int, c: Int; init(_ r: Int, _ c: Int) { self.r = r; self.c = c } }

    /// Minimum-cost assignment of each row of `cost` (n×m, n ≤ m) to a distinct column (O(n²m) Hungarian
    /// algorithm with potentials). Returns the column of each row.
    static func hungarian(_ cost: [[Double]]) -> [Int] {
        let n = cost.count, m = cost.first?.count ?? 0
        var u = [Double](repeating: 0, count: n + 1), v = [Double](repeating: 0, count: m + 1)
        var p = [Int](repeating: 0, count: m + 1), way = [Int](repeating: 0, count: m + 1)
        for i in 1...max(n, 1) where n > 0 {
            p[0] = i
            var j0 = 0
            var minv = [Double](repeating: .infinity, count: m + 1), used = [Bool](repeating: false, count: m + 1)
            repeat {
                used[j0] = true
                let i0 = p[j0]
                var delta = Double.infinity, j1 = 0
                for j in 1...m where !used[j] {
                    let cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j] { minv[j] = cur; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                for j in 0...m { if used[j] { u[p[j]] += delta; v[j] -= delta } else { minv[j] -= delta } }
                j0 = j1
            } while p[j0] != 0
            repeat { let j1 = way[j0]; p[j0] = p[j1]; j0 = j1 } while j0 != 0
        }
        var result = [Int](repeating: 0, count: n)
        for j in 1..<(m + 1) where p[j] > 0 { result[p[j] - 1] = j - 1 }
        return result
    }
}
