import Foundation
import Testing
import Tensor
import Analysis

/// Timing of the clustering pipeline on 20,000 points × 50 dims. Opt-in: set TESSERA_ANALYSIS_BENCH=1
/// (best run on a release build).
@Suite struct BenchmarkTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TESSERA_ANALYSIS_BENCH"] == "1"))
    func knnAndLeiden20k() throws {
        var rng = SeededRNG(seed: 42)
        let n = 20_000, d = 50, clusters = 20
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
        let (pca, tPCA) = try time { try PCA(components: 20).fit(x) }
        let ari = try Metrics.adjustedRandIndex(truth, part.labels)
        print(String(format: "20k×50 (cores %d): exact kNN k=14 %.3f s; approximate %.3f s (recall %.4f); connectivities %.3f s (nnz %d); Leiden %.3f s (%d communities, ARI %.3f); PCA k=20 %.3f s",
                     Parallel.cores, tExact, tApprox, approx.recall(against: exact), tConn, graph.nnz, tLeiden,
                     part.communityCount, ari, tPCA))
        #expect(pca.scores.rows == n)
    }
}
