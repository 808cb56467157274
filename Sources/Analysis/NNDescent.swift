import Tensor

extension KNNGraph {
    /// Approximate k nearest neighbours for large N: a seeded random-projection forest gives the initial lists,
    /// NN-descent (Dong, Moses & Li 2011; the pynndescent scheme) refines them until fewer than `delta`·N·k
    /// entries change per round. Recall against `exact` is typically ≥ 0.95 with the defaults.
    ///
    /// - Parameters:
    ///   - trees: random-projection trees in the forest.
    ///   - leafSize: points per leaf (0: max(2k, 30)).
    ///   - rounds: at most this many NN-descent rounds.
    public static func approximate(_ x: Matrix, k: Int, trees: Int = 8, leafSize: Int = 0, rounds: Int = 10,
                                   delta: Double = 0.001, seed: UInt64 = 0) throws(AnalysisError) -> Neighbors {
        try Check.matrix(x, "x")
        let n = x.rows, d = x.cols
        try Check.range(k, "k", 1, n - 1)
        try Check.range(trees, "trees", 1, 1024)
        let leaf = leafSize > 0 ? max(leafSize, 2) : max(2 * k, 30)
        let data = KNNGraph.centred(x)
        var heap = NeighborHeap(n: n, k: k)
        var rng = SeededRNG(seed: seed)
        @inline(__always) func dist(_ a: Int, _ b: Int) -> Float {
            var s: Float = 0
            for q in 0..<d { let t = data[a * d + q] - data[b * d + q]; s += t * t }
            return s
        }
        // Random-projection forest: all pairs within each leaf.
        for _ in 0..<trees {
            var stack: [[Int]] = [Array(0..<n)]
            while let set = stack.popLast() {
                if set.count <= leaf {
                    for a in 0..<set.count { for b in (a + 1)..<max(a + 1, set.count) {
                        let dd = dist(set[a], set[b])
                        heap.push(set[a], Int32(set[b]), dd); heap.push(set[b], Int32(set[a]), dd)
                    } }
                    continue
                }
                let p = set[rng.int(below: set.count)]
                var q = set[rng.int(below: set.count)]
                if p == q { q = set[(set.firstIndex(of: p)! + 1) % set.count] }
                var normal = [Float](repeating: 0, count: d), offset: Float = 0
                for j in 0..<d {
                    normal[j] = data[p * d + j] - data[q * d + j]
                    offset += normal[j] * (data[p * d + j] + data[q * d + j]) / 2
                }
                var left: [Int] = [], right: [Int] = []
                for i in set {
                    var s: Float = -offset
                    for j in 0..<d { s += normal[j] * data[i * d + j] }
                    if s > 0 || (s == 0 && rng.next() & 1 == 0) { left.append(i) } else { right.append(i) }
                }
                if left.isEmpty || right.isEmpty {  // degenerate split (duplicates): halve at random
                    var s = set; s.shuffle(using: &rng)
                    left = Array(s[..<(s.count / 2)]); right = Array(s[(s.count / 2)...])
                }
                stack.append(left); stack.append(right)
            }
        }
        // NN-descent rounds.
        for _ in 0..<rounds {
            var newC = [[Int32]](repeating: [], count: n), oldC = [[Int32]](repeating: [], count: n)
            for i in 0..<n {
                for t in 0..<k {
                    let j = heap.ids[i * k + t]; if j < 0 { continue }
                    if heap.isNew[i * k + t] {
                        heap.isNew[i * k + t] = false
                        newC[i].append(j); if newC[Int(j)].count < 2 * k { newC[Int(j)].append(Int32(i)) }
                    } else {
                        oldC[i].append(j); if oldC[Int(j)].count < 2 * k { oldC[Int(j)].append(Int32(i)) }
                    }
                }
            }
            let chunks = max(1, min(Parallel.cores * 4, n / 256))
            var updates = [[(Int32, Int32, Float)]](repeating: [], count: chunks)
            let snapshot = heap
            updates.withUnsafeMutableBufferPointer { up in
                let u = UncheckedSendable(up)
                Parallel.run(chunks) { ch in
                    var local: [(Int32, Int32, Float)] = []
                    for i in (n * ch / chunks)..<(n * (ch + 1) / chunks) {
                        let nw = Array(Set(newC[i])), od = Array(Set(oldC[i]))
                        for a in 0..<nw.count {
                            let p = Int(nw[a])
                            for b in (a + 1)..<max(a + 1, nw.count) {
                                let q = Int(nw[b]); if p == q { continue }
                                let dd = dist(p, q)
                                if dd < snapshot.worst(p) || dd < snapshot.worst(q) { local.append((Int32(p), Int32(q), dd)) }
                            }
                            for qq in od {
                                let q = Int(qq); if p == q { continue }
                                let dd = dist(p, q)
                                if dd < snapshot.worst(p) || dd < snapshot.worst(q) { local.append((Int32(p), Int32(q), dd)) }
                            }
                        }
                    }
                    u.value[ch] = local
                }
            }
            var changed = 0
            for list in updates {
                for (p, q, dd) in list {
                    if heap.push(Int(p), q, dd) { changed += 1 }
                    if heap.push(Int(q), p, dd) { changed += 1 }
                }
            }
            if Double(changed) < delta * Double(n * k) { break }
        }
        // Sort each list ascending.
        var indices = [Int32](repeating: 0, count: n * k), dists = [Float](repeating: 0, count: n * k)
        for i in 0..<n {
            var row: [(Float, Int32)] = []
            for t in 0..<k { row.append((heap.dist[i * k + t], heap.ids[i * k + t])) }
            row.sort { (a: (Float, Int32), b: (Float, Int32)) -> Bool in a.0 < b.0 || (a.0 == b.0 && a.1 < b.1) }
            for t in 0..<k { indices[i * k + t] = row[t].1; dists[i * k + t] = row[t].0.squareRoot() }
        }
        return Neighbors(count: n, k: k, indices: indices, distances: dists)
    }
}

/// Per-point bounded max-heaps of (squared distance, id, new-flag), k entries each.
struct NeighborHeap: Sendable {
    let n: Int, k: Int
    var ids: [Int32], dist: [Float], isNew: [Bool]

    init(n: Int, k: Int) {
        self.n = n; self.k = k
        ids = [Int32](repeating: -1, count: n * k); dist = [Float](repeating: .infinity, count: n * k)
        isNew = [Bool](repeating: true, count: n * k)
    }

    @inline(__always) func worst(_ i: Int) -> Float { dist[i * k] }

    /// Inserts `j` into i's heap if closer than the current worst and not already present.
    @discardableResult
    mutating func push(_ i: Int, _ j: Int32, _ d: Float) -> Bool {
        let base = i * k
        if d >= dist[base] || Int(j) == i { return false }
        for t in 0..<k where ids[base + t] == j { return false }
        // Replace the root and sift down.
        var pos = 0
        while true {
            let l = 2 * pos + 1, r = l + 1
            var big = pos
            var bigD = d
            if l < k && dist[base + l] > bigD { big = l; bigD = dist[base + l] }
            if r < k && dist[base + r] > bigD { big = r }
            if big == pos { break }
            dist[base + pos] = dist[base + big]; ids[base + pos] = ids[base + big]; isNew[base + pos] = isNew[base + big]
            pos = big
        }
        dist[base + pos] = d; ids[base + pos] = j; isNew[base + pos] = true
        return true
    }
}
