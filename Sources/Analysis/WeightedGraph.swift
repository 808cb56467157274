import Tensor

/// An undirected weighted graph in CSR form (both directions stored; self loops stored once with their full
/// contribution to the degree), with the Leiden moves on it.
struct WeightedGraph: Sendable {
    var n: Int
    var indptr: [Int]
    var adj: [Int32]
    var weight: [Double]
    /// Row sums (weighted degrees, self loops included).
    var degree: [Double]
    /// Σ degree = 2m.
    var total: Double

    init(n: Int, indptr: [Int], adj: [Int32], weight: [Double]) {
        self.n = n; self.indptr = indptr; self.adj = adj; self.weight = weight
        degree = (0..<n).map { v in (indptr[v]..<indptr[v + 1]).reduce(0.0) { $0 + weight[$1] } }
        total = degree.reduce(0, +)
    }

    init(_ m: CSRMatrix) throws(AnalysisError) {
        if m.rows == 0 { throw .empty(parameter: "graph") }
        if m.rows != m.cols { throw .lengthMismatch(parameter: "graph.cols", expected: m.rows, actual: m.cols) }
        if let p = m.structuralProblem() { throw .invalid(parameter: "graph." + p.array, reason: p.message) }
        if let i = m.values.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(parameter: "graph.values", index: i) }
        if m.values.contains(where: { $0 < 0 }) {
            throw .invalid(parameter: "graph.values", reason: "edge weights must be ≥ 0 (use connectivities, not distances)")
        }
        self.init(n: m.rows, indptr: m.indptr, adj: m.indices, weight: m.values.map { Double($0) })
    }

    /// Σᵢⱼ (Aᵢⱼ − γ kᵢkⱼ/2m) δ(cᵢ, cⱼ).
    func quality(_ labels: [Int], resolution: Double) -> Double {
        let c = (labels.max() ?? -1) + 1
        var inside = 0.0
        var k = [Double](repeating: 0, count: c)
        for v in 0..<n {
            k[labels[v]] += degree[v]
            for e in indptr[v]..<indptr[v + 1] where labels[Int(adj[e])] == labels[v] { inside += weight[e] }
        }
        return total > 0 ? inside - resolution * k.reduce(0) { $0 + $1 * $1 } / total : 0
    }

    /// Leiden's fast local moving: nodes from a queue (random initial order) move to the neighbouring (or an
    /// empty) community with the largest quality gain; neighbours of a moved node outside its new community
    /// are queued again.
    func moveNodes(_ memb: inout [Int], resolution gamma: Double, rng: inout SeededRNG) {
        var commDegree = [Double](repeating: 0, count: n), commSize = [Int](repeating: 0, count: n)
        for v in 0..<n { commDegree[memb[v]] += degree[v]; commSize[memb[v]] += 1 }
        var empty = (0..<n).filter { commSize[$0] == 0 }
        var queue = Array(0..<n)
        queue.shuffle(using: &rng)
        var inQueue = [Bool](repeating: true, count: n)
        var head = 0
        var w = [Double](repeating: 0, count: n), touched: [Int] = []
        let scale = gamma / total
        while head < queue.count {
            let v = queue[head]; head += 1
            if head > 4 * n { queue.removeFirst(head); head = 0 }
            inQueue[v] = false
            let a = memb[v], kv = degree[v]
            for e in indptr[v]..<indptr[v + 1] {
                let u = Int(adj[e]); if u == v { continue }
                let c = memb[u]
                if w[c] == 0 { touched.append(c) }
                w[c] += weight[e]
            }
            commDegree[a] -= kv; commSize[a] -= 1
            if commSize[a] == 0 { empty.append(a) }
            var best = a, bestGain = w[a] - scale * kv * commDegree[a]
            for c in touched where c != a {
                let gain = w[c] - scale * kv * commDegree[c]
                if gain > bestGain { best = c; bestGain = gain }
            }
            if bestGain < 0, commSize[a] > 0, let e = empty.last { best = e; bestGain = 0 }
            for c in touched { w[c] = 0 }
            touched.removeAll(keepingCapacity: true)
            if commSize[best] == 0, let at = empty.lastIndex(of: best) { empty.remove(at: at) }
            commDegree[best] += kv; commSize[best] += 1
            memb[v] = best
            if best != a {
                for e in indptr[v]..<indptr[v + 1] {
                    let u = Int(adj[e])
                    if !inQueue[u] && memb[u] != best { inQueue[u] = true; queue.append(u) }
                }
            }
        }
    }

    /// Leiden's refinement: starting from singletons, each node still alone (in random order) merges into the
    /// sub-community within its own community `memb` that gains the most (gain ≥ 0). Returns labels 0..<R.
    func refine(_ memb: [Int], resolution gamma: Double, rng: inout SeededRNG) -> [Int] {
        var sub = Array(0..<n)
        var subDegree = degree, subSize = [Int](repeating: 1, count: n)
        var order = Array(0..<n)
        order.shuffle(using: &rng)
        var w = [Double](repeating: 0, count: n), touched: [Int] = []
        let scale = gamma / total
        for v in order where subSize[sub[v]] == 1 {
            let a = sub[v], kv = degree[v]
            for e in indptr[v]..<indptr[v + 1] {
                let u = Int(adj[e]); if u == v || memb[u] != memb[v] { continue }
                let c = sub[u]
                if w[c] == 0 { touched.append(c) }
                w[c] += weight[e]
            }
            var best = a, bestGain = 0.0
            for c in touched where c != a {
                let gain = w[c] - scale * kv * subDegree[c]
                if gain >= bestGain { best = c; bestGain = gain }
            }
            for c in touched { w[c] = 0 }
            touched.removeAll(keepingCapacity: true)
            if best != a {
                subDegree[a] -= kv; subSize[a] -= 1
                subDegree[best] += kv; subSize[best] += 1
                sub[v] = best
            }
        }
        return Leiden.compact(sub)
    }

    /// The graph whose nodes are the groups `labels` (0..<count); edge weights are summed, internal edges
    /// become self loops.
    func aggregated(by labels: [Int], count: Int) -> WeightedGraph {
        var members = [[Int]](repeating: [], count: count)
        for v in 0..<n { members[labels[v]].append(v) }
        var indptr = [Int](repeating: 0, count: count + 1)
        var adj: [Int32] = [], wts: [Double] = []
        var acc = [Double](repeating: 0, count: count), seen = [Bool](repeating: false, count: count), touched: [Int] = []
        for c in 0..<count {
            for v in members[c] {
                for e in self.indptr[v]..<self.indptr[v + 1] {
                    let d = labels[Int(self.adj[e])]
                    if !seen[d] { seen[d] = true; touched.append(d) }
                    acc[d] += weight[e]
                }
            }
            touched.sort()
            for d in touched { adj.append(Int32(d)); wts.append(acc[d]); acc[d] = 0; seen[d] = false }
            touched.removeAll(keepingCapacity: true)
            indptr[c + 1] = adj.count
        }
        return WeightedGraph(n: count, indptr: indptr, adj: adj, weight: wts)
    }
}
