import Analysis
import ArgumentParser
import Foundation
import Tensor

/// `tessera-bench cluster`: the clustering pipeline (exact and approximate kNN, scanpy-style connectivities,
/// Leiden, PCA) on seeded Gaussian clusters. Ours only for now; scanpy and leidenalg in the same run come with
/// the workflows' quality benchmark.
struct ClusterBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cluster",
        abstract: "kNN graph, connectivities, Leiden and PCA timings on simulated clusters (ours).")
    @Option(help: "Points.") var cells = 20_000
    @Option(help: "Dimensions.") var dims = 50
    @Option(help: "True clusters.") var clusters = 20

    func run() throws {
        var rng = SeededRNG(seed: 42)
        let n = cells, d = dims
        let centres = (0..<(clusters * d)).map { _ in Float(rng.normal() * 0.6) }
        var data = [Float](repeating: 0, count: n * d), truth = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let c = rng.int(below: clusters); truth[i] = c
            for j in 0..<d { data[i * d + j] = centres[c * d + j] + Float(rng.normal()) }
        }
        let x = Matrix(rows: n, cols: d, data: data)
        func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let r = try body()
            return (r, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let (exact, tExact) = try time { try KNNGraph.exact(x, k: 14) }
        let (approx, tApprox) = try time { try KNNGraph.approximate(x, k: 14, seed: 1) }
        let (graph, tConn) = try time { try KNNGraph.connectivities(exact) }
        let (part, tLeiden) = try time { try Leiden(resolution: 1, iterations: 2, seed: 0).fit(graph) }
        let (_, tPCA) = try time { try PCA(components: 20).fit(x) }
        let ari = try Metrics.adjustedRandIndex(truth, part.labels)
        print(String(format: "%d × %d, %d cores, load %@", n, d, Parallel.cores, loadAverage()))
        print(String(format: "exact kNN (k=14)        %.3f s", tExact))
        print(String(format: "approximate kNN         %.3f s (recall %.3f)", tApprox, approx.recall(against: exact)))
        print(String(format: "connectivities          %.3f s (nnz %d)", tConn, graph.nnz))
        print(String(format: "Leiden (resolution 1)   %.3f s (%d communities, ARI %.3f)", tLeiden, part.communityCount, ari))
        print(String(format: "PCA (20 components)     %.3f s", tPCA))
    }
}
