import Analysis
import Foundation
import Tensor

/// Clusters an embedding and scores the clusters against labels the way the issue asks, three ways:
///
/// - **held-out**: ARI/NMI over the labelled cells held out of fine-tuning, at the label-free resolution;
/// - **label-free**: over all labelled cells, at the resolution whose cluster count is closest to the number of
///   classes (ties → the smaller resolution; only the class count is used, never the labels themselves);
/// - **best**: the best ARI and the best NMI over the resolution grid, over all labelled cells (what CellPLM and
///   the SupCon thesis report; for comparison with published numbers only).
///
/// Plus k-means with k = the class count (all labelled cells, and held-out cells). Leiden runs on the scanpy-style
/// kNN graph of all cells (`EmbeddingGraph`), so unlabelled and held-out cells shape the graph as they would for
/// a user. `score` takes partitions made elsewhere (a peer's), so every method is scored by the same code.
public struct ClusterEvaluation: Sendable {
    /// Resolutions, ascending, with the partition of all cells at each.
    public var resolutions: [Double]
    public var partitions: [[Int]]
    public var kmeans: [Int]
    /// Index into `resolutions` of the label-free choice.
    public var labelFreeIndex: Int
    /// Named scores (see `score`).
    public var scores: [String: Double]

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

    /// kNN graph + Leiden over `resolutions`, and k-means, on `embedding` (N×D, all cells); scored against
    /// `truth` (class or −1 per cell) with `heldOut` marking the held-out cells. `between` runs after the graph
    /// and after each resolution (a workflow checks cancellation and reports progress there).
    public static func run(embedding: Matrix, truth: [Int32], heldOut: [Bool], classCount: Int, resolutions: [Double],
                           neighbors: Int = 15, seed: UInt64 = 0, between: (Int) throws -> Void = { _ in }) throws -> ClusterEvaluation {
        let graph = try EmbeddingGraph(embedding, neighbors: neighbors, seed: seed)
        try between(0)
        var partitions: [[Int]] = []
        for r in resolutions {
            partitions.append(try graph.leiden(resolution: r, seed: seed).labels)
            try between(partitions.count)
        }
        let kmeans = try KMeans(k: classCount, restarts: 10, seed: seed).fit(embedding).labels
        return try score(partitions: partitions, resolutions: resolutions, kmeans: kmeans, truth: truth, heldOut: heldOut, classCount: classCount)
    }

    /// Scores given partitions of all cells. Keys: `ari_heldout`, `nmi_heldout`, `ari_label_free`,
    /// `nmi_label_free`, `resolution_label_free`, `clusters_label_free`, `ari_best`, `nmi_best`,
    /// `resolution_best_ari`, `resolution_best_nmi`, `ari_kmeans`, `nmi_kmeans`, `ari_kmeans_heldout`,
    /// `nmi_kmeans_heldout`, `ari_res1`, `nmi_res1` (when 1.0 is on the grid). Held-out keys are NaN without
    /// held-out cells.
    public static func score(partitions: [[Int]], resolutions: [Double], kmeans: [Int], truth: [Int32], heldOut: [Bool],
                             classCount: Int) throws -> ClusterEvaluation {
        precondition(partitions.count == resolutions.count && !resolutions.isEmpty, "one partition per resolution")
        let labelled = truth.indices.filter { truth[$0] >= 0 }
        let held = labelled.filter { heldOut[$0] }
        func ari(_ p: [Int], _ rows: [Int]) throws -> Double {
            rows.count < 2 ? .nan : try Metrics.adjustedRandIndex(rows.map { Int(truth[$0]) }, rows.map { p[$0] })
        }
        func nmi(_ p: [Int], _ rows: [Int]) throws -> Double {
            rows.count < 2 ? .nan : try Metrics.normalizedMutualInformation(rows.map { Int(truth[$0]) }, rows.map { p[$0] })
        }
        let counts = partitions.map { Set($0).count }
        let lf = resolutions.indices.min { (abs(counts[$0] - classCount), resolutions[$0]) < (abs(counts[$1] - classCount), resolutions[$1]) }!
        let aris = try partitions.map { try ari($0, labelled) }, nmis = try partitions.map { try nmi($0, labelled) }
        let bestA = aris.indices.max { (aris[$0], -resolutions[$0]) < (aris[$1], -resolutions[$1]) }!
        let bestN = nmis.indices.max { (nmis[$0], -resolutions[$0]) < (nmis[$1], -resolutions[$1]) }!
        var s: [String: Double] = [
            "ari_heldout": try ari(partitions[lf], held), "nmi_heldout": try nmi(partitions[lf], held),
            "ari_label_free": aris[lf], "nmi_label_free": nmis[lf],
            "resolution_label_free": resolutions[lf], "clusters_label_free": Double(counts[lf]),
            "ari_best": aris[bestA], "nmi_best": nmis[bestN],
            "resolution_best_ari": resolutions[bestA], "resolution_best_nmi": resolutions[bestN],
            "ari_kmeans": try ari(kmeans, labelled), "nmi_kmeans": try nmi(kmeans, labelled),
            "ari_kmeans_heldout": try ari(kmeans, held), "nmi_kmeans_heldout": try nmi(kmeans, held),
            "heldout_cells": Double(held.count), "labelled_cells": Double(labelled.count), "classes": Double(classCount),
        ]
        if let one = resolutions.firstIndex(where: { abs($0 - 1) < 1e-9 }) {
            s["ari_res1"] = aris[one]; s["nmi_res1"] = nmis[one]; s["ari_heldout_res1"] = try ari(partitions[one], held)
        }
        return ClusterEvaluation(resolutions: resolutions, partitions: partitions, kmeans: kmeans, labelFreeIndex: lf, scores: s)
    }
}
