import Analysis
import Foundation
import Tensor

/// Clusters an embedding and scores the clusters against labels. Held-out cells lead; every score over all
/// labelled cells includes the cells SupCon trained on and says so in its name (`…_incl_training`):
///
/// - **held-out** (`ari_heldout`, `nmi_heldout`): the labelled cells held out of fine-tuning, Leiden at the
///   label-free resolution; `ari_kmeans_heldout`, `nmi_kmeans_heldout`: k-means (k = class count) on the same
///   cells, side by side;
/// - **label-free resolution**: chosen without looking at labels, by stability across seeds: Leiden runs at each
///   resolution with `stabilitySeeds` seeds, a resolution's stability is the mean ARI between those partitions,
///   and the most stable resolution wins (within 0.01 of the best, the finer one: a coarse split is trivially
///   stable, so ties go to the resolution that says more). When no stability is given (a peer's partitions),
///   the resolution whose cluster count is closest to the class count stands in, and `label_free_rule` says so
///   (0 = stability, 1 = class count);
/// - `ari_heldout_class_count`: held-out cells at the class-count resolution (the earlier rule, for comparison);
/// - `…_incl_training`: the same over all labelled cells, the best over the grid (what CellPLM and the SupCon
///   thesis report; comparable with published numbers only), and at resolution 1.0.
///
/// Leiden runs on the scanpy-style kNN graph of all cells (`EmbeddingGraph`), so unlabelled and held-out cells
/// shape the graph as they would for a user. `score` takes partitions made elsewhere (a peer's), so every method
/// is scored by the same code.
public struct ClusterEvaluation: Sendable {
    /// Resolutions, ascending, with the partition of all cells at each.
    public var resolutions: [Double]
    public var partitions: [[Int]]
    public var kmeans: [Int]
    /// Per resolution: mean pairwise ARI of Leiden over seeds (nil when not measured).
    public var stability: [Double]?
    /// Index into `resolutions` of the label-free choice.
    public var labelFreeIndex: Int
    /// Named scores (see `score`).
    public var scores: [String: Double]

    /// Seeds per resolution for the stability rule.
    public static let stabilitySeeds = 3

    /// The grid min, min+step, … ≤ max (rounded to 1e-6 so 0.1 steps read as typed).
    public static func grid(min lo: Double, max hi: Double, step: Double) -> [Double] {
        guard lo > 0, hi >= lo, step > 0 else { return [] }
        var out: [Double] = [], k = 0
        while true {
            let r = ((lo + Double(k) * step) * 1e6).rounded() / 1e6
            if r > hi + 1e-9 { break }
            out.append(r); k += 1
        }
        return out
    }

    /// kNN graph + Leiden over `resolutions` (each with `stabilitySeeds` seeds for the label-free rule), and
    /// k-means, on `embedding` (N×D, all cells); scored against `truth` (class or −1 per cell) with `heldOut`
    /// marking the held-out cells. `between` runs after the graph and after each resolution (a workflow checks
    /// cancellation and reports progress there).
    public static func run(embedding: Matrix, truth: [Int32], heldOut: [Bool], classCount: Int, resolutions: [Double],
                           neighbors: Int = 15, seed: UInt64 = 0, between: (Int) throws -> Void = { _ in }) throws -> ClusterEvaluation {
        let graph = try EmbeddingGraph(embedding, neighbors: neighbors, seed: seed)
        try between(0)
        var partitions: [[Int]] = [], stability: [Double] = []
        for r in resolutions {
            let runs = try (0..<UInt64(stabilitySeeds)).map { try graph.leiden(resolution: r, seed: seed &+ $0).labels }
            partitions.append(runs[0])
            stability.append(try meanPairwiseARI(runs))
            try between(partitions.count)
        }
        let kmeans = try KMeans(k: classCount, restarts: 10, seed: seed).fit(embedding).labels
        return try score(partitions: partitions, resolutions: resolutions, kmeans: kmeans, truth: truth, heldOut: heldOut,
                         classCount: classCount, stability: stability)
    }

    /// Mean ARI over all pairs of partitions of the same cells.
    public static func meanPairwiseARI(_ runs: [[Int]]) throws -> Double {
        var total = 0.0, pairs = 0
        for a in runs.indices { for b in runs.indices where b > a { total += try Metrics.adjustedRandIndex(runs[a], runs[b]); pairs += 1 } }
        return pairs == 0 ? 1 : total / Double(pairs)
    }

    /// The label-free choice by stability: the most stable resolution; within 0.01 of it, the finest.
    public static func mostStable(_ stability: [Double]) -> Int {
        let best = stability.max() ?? 0
        return stability.indices.last { stability[$0] >= best - 0.01 } ?? 0
    }

    /// Scores given partitions of all cells. Keys, held-out first: `ari_heldout`, `nmi_heldout`,
    /// `ari_kmeans_heldout`, `nmi_kmeans_heldout`, `ari_heldout_class_count`, `ari_heldout_res1`,
    /// `resolution_label_free`, `clusters_label_free`, `label_free_rule`; then over all labelled cells, training
    /// cells included: `ari_label_free_incl_training`, `nmi_label_free_incl_training`, `ari_best_incl_training`,
    /// `nmi_best_incl_training`, `resolution_best_ari_incl_training`, `ari_kmeans_incl_training`,
    /// `nmi_kmeans_incl_training`, `ari_res1_incl_training`, `nmi_res1_incl_training` (res1 keys when 1.0 is on
    /// the grid). Held-out keys are NaN without held-out cells.
    public static func score(partitions: [[Int]], resolutions: [Double], kmeans: [Int], truth: [Int32], heldOut: [Bool],
                             classCount: Int, stability: [Double]? = nil) throws -> ClusterEvaluation {
        precondition(partitions.count == resolutions.count && !resolutions.isEmpty, "one partition per resolution")
        precondition(stability == nil || stability!.count == resolutions.count, "one stability per resolution")
        let labelled = truth.indices.filter { truth[$0] >= 0 }
        let held = labelled.filter { heldOut[$0] }
        func ari(_ p: [Int], _ rows: [Int]) throws -> Double {
            rows.count < 2 ? .nan : try Metrics.adjustedRandIndex(rows.map { Int(truth[$0]) }, rows.map { p[$0] })
        }
        func nmi(_ p: [Int], _ rows: [Int]) throws -> Double {
            rows.count < 2 ? .nan : try Metrics.normalizedMutualInformation(rows.map { Int(truth[$0]) }, rows.map { p[$0] })
        }
        let counts = partitions.map { Set($0).count }
        let byCount = resolutions.indices.min { (abs(counts[$0] - classCount), resolutions[$0]) < (abs(counts[$1] - classCount), resolutions[$1]) }!
        let lf = stability.map(mostStable) ?? byCount
        let aris = try partitions.map { try ari($0, labelled) }, nmis = try partitions.map { try nmi($0, labelled) }
        let bestA = aris.indices.max { (aris[$0], -resolutions[$0]) < (aris[$1], -resolutions[$1]) }!
        let bestN = nmis.indices.max { (nmis[$0], -resolutions[$0]) < (nmis[$1], -resolutions[$1]) }!
        var s: [String: Double] = [
            "ari_heldout": try ari(partitions[lf], held), "nmi_heldout": try nmi(partitions[lf], held),
            "ari_kmeans_heldout": try ari(kmeans, held), "nmi_kmeans_heldout": try nmi(kmeans, held),
            "ari_heldout_class_count": try ari(partitions[byCount], held),
            "resolution_label_free": resolutions[lf], "clusters_label_free": Double(counts[lf]),
            "label_free_rule": stability == nil ? 1 : 0,
            "ari_label_free_incl_training": aris[lf], "nmi_label_free_incl_training": nmis[lf],
            "ari_best_incl_training": aris[bestA], "nmi_best_incl_training": nmis[bestN],
            "resolution_best_ari_incl_training": resolutions[bestA], "resolution_best_nmi_incl_training": resolutions[bestN],
            "ari_kmeans_incl_training": try ari(kmeans, labelled), "nmi_kmeans_incl_training": try nmi(kmeans, labelled),
            "heldout_cells": Double(held.count), "labelled_cells": Double(labelled.count), "classes": Double(classCount),
        ]
        if let st = stability { s["stability_label_free"] = st[lf] }
        if let one = resolutions.firstIndex(where: { abs($0 - 1) < 1e-9 }) {
            s["ari_res1_incl_training"] = aris[one]; s["nmi_res1_incl_training"] = nmis[one]; s["ari_heldout_res1"] = try ari(partitions[one], held)
        }
        return ClusterEvaluation(resolutions: resolutions, partitions: partitions, kmeans: kmeans, stability: stability,
                                 labelFreeIndex: lf, scores: s)
    }
}
