import Tensor

/// Leiden community detection (Traag, Waltman & van Eck 2019): fast local moving, refinement within each
/// community, and aggregation of the refined partition, repeated until no further aggregation is possible.
/// The quality is RBConfiguration modularity with a resolution γ, as leidenalg and scanpy's `sc.tl.leiden` use:
///
///     Q = Σᵢⱼ (Aᵢⱼ − γ·kᵢkⱼ / 2m)·δ(cᵢ, cⱼ)      (unnormalised; leidenalg's `quality()`)
///
/// Like leidenalg, the refinement merges singletons greedily into the best sub-community of their community.
public struct Leiden: Sendable {
    /// Resolution γ (> 0); larger values give more, smaller communities. scanpy's default is 1.
    public var resolution: Double
    /// Passes of the whole algorithm, each starting from the previous partition (scanpy: 2); −1 repeats until a
    /// pass changes nothing.
    public var iterations: Int
    /// Seed for the node visiting order.
    public var seed: UInt64

    public init(resolution: Double = 1, iterations: Int = 2, seed: UInt64 = 0) {
        self.resolution = resolution; self.iterations = iterations; self.seed = seed
    }

    /// A partition of the nodes.
    public struct Result: Sendable {
        /// Community of each node, 0..<communityCount; community 0 is the largest (ties: lowest first node).
        public var labels: [Int]
        /// Number of communities C.
        public var communityCount: Int
        /// RBConfiguration quality of `labels` at the resolution used.
        public var quality: Double
    }

    /// Partitions the weighted undirected graph `graph` (square CSR holding both directions of each edge, with
    /// non-negative weights, e.g. `KNNGraph.connectivities`).
    public func fit(_ graph: CSRMatrix) throws(AnalysisError) -> Result {
        let g = try WeightedGraph(graph)
        if !(resolution > 0) || !resolution.isFinite {
            throw .invalid(parameter: "resolution", reason: "must be a positive finite number (scanpy's default is 1)")
        }
        if iterations == 0 || iterations < -1 {
            throw .invalid(parameter: "iterations", reason: "must be ≥ 1, or −1 to iterate until stable (scanpy: 2)")
        }
        var rng = SeededRNG(seed: seed)
        var labels = Array(0..<g.n)
        if g.total == 0 {  // no edges: every node is its own community
            return Result(labels: labels, communityCount: g.n, quality: 0)
        }
        var pass = 0
        while true {
            let next = optimise(g, start: labels, rng: &rng)
            let changed = next != labels
            labels = next
            pass += 1
            if iterations > 0 ? pass >= iterations : (!changed || pass >= 1000) { break }
        }
        let ordered = Self.orderBySize(labels)
        return Result(labels: ordered, communityCount: (ordered.max() ?? -1) + 1,
                      quality: g.quality(ordered, resolution: resolution))
    }

    /// RBConfiguration quality of a partition (see the type's documentation) on `graph`.
    public static func quality(_ graph: CSRMatrix, labels: [Int], resolution: Double = 1) throws(AnalysisError) -> Double {
        let g = try WeightedGraph(graph)
        try Check.same(g.n, labels.count, "labels")
        if labels.contains(where: { $0 < 0 }) { throw .invalid(parameter: "labels", reason: "labels must be ≥ 0") }
        return g.quality(labels, resolution: resolution)
    }

    /// One pass: local moving → refinement → aggregation until the aggregate graph stops shrinking.
    func optimise(_ g0: WeightedGraph, start: [Int], rng: inout SeededRNG) -> [Int] {
        var g = g0
        var memb = Self.compact(start)
        var toAggregate = Array(0..<g0.n)  // original node → node of g
        while true {
            g.moveNodes(&memb, resolution: resolution, rng: &rng)
            memb = Self.compact(memb)
            let communities = (memb.max() ?? -1) + 1
            if communities == g.n { break }
            let refined = g.refine(memb, resolution: resolution, rng: &rng)
            let r = (refined.max() ?? -1) + 1
            if r == g.n { break }
            var parent = [Int](repeating: 0, count: r)
            for v in 0..<g.n { parent[refined[v]] = memb[v] }
            g = g.aggregated(by: refined, count: r)
            for i in 0..<toAggregate.count { toAggregate[i] = refined[toAggregate[i]] }
            memb = parent
        }
        return Self.compact(toAggregate.map { memb[$0] })
    }

    /// Renumbers labels to 0..<C in order of first appearance.
    static func compact(_ labels: [Int]) -> [Int] {
        var map = [Int: Int]()
        return labels.map { l in
            if let m = map[l] { return m }
            let m = map.count; map[l] = m; return m
        }
    }

    /// Renumbers labels so that 0 is the largest community (ties: the one whose first node comes first).
    static func orderBySize(_ labels: [Int]) -> [Int] {
        let c = compact(labels)
        let count = (c.max() ?? -1) + 1
        var size = [Int](repeating: 0, count: count)
        for l in c { size[l] += 1 }
        let order = (0..<count).sorted { size[$0] > size[$1] || (size[$0] == size[$1] && $0 < $1) }
        var rank = [Int](repeating: 0, count: count)
        for (r, l) in order.enumerated() { rank[l] = r }
        return c.map { rank[$0] }
    }
}
