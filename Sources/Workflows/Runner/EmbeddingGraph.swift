import Analysis
import Foundation
import Tensor

/// The scanpy-style neighbourhood graph of an embedding and Leiden clusters on it, shared by embed and
/// cluster-supcon:
///
///     let graph = try EmbeddingGraph(embedding, neighbors: 15, seed: context.seed)   // scanpy n_neighbors = 15
///     let labels = try graph.leiden(resolution: 1.0, seed: context.seed).labels
///
/// `neighbors` counts the cell itself, as scanpy's `n_neighbors` does (so 15 finds 14 others). Exact search
/// up to `exactLimit` cells, NN-descent (seeded) above.
public struct EmbeddingGraph: Sendable {
    /// N×N symmetric UMAP connectivities (`KNNGraph.connectivities`).
    public let connectivities: CSRMatrix
    public let neighbors: KNNGraph.Neighbors
    public static let exactLimit = 20_000

    public init(_ embedding: Matrix, neighbors: Int = 15, seed: UInt64 = 0) throws(AnalysisError) {
        let k = min(neighbors - 1, embedding.rows - 1)
        guard k >= 1 else { throw .outOfRange(parameter: "cells", value: embedding.rows, allowed: 3...Int.max) }
        let nb = embedding.rows <= Self.exactLimit ? try KNNGraph.exact(embedding, k: k)
                                                   : try KNNGraph.approximate(embedding, k: k, seed: seed)
        self.neighbors = nb
        connectivities = try KNNGraph.connectivities(nb)
    }

    /// Leiden (scanpy's defaults: 2 iterations, RBConfiguration) at `resolution`.
    public func leiden(resolution: Double = 1, seed: UInt64 = 0) throws(AnalysisError) -> Leiden.Result {
        try Leiden(resolution: resolution, iterations: 2, seed: seed).fit(connectivities)
    }
}
