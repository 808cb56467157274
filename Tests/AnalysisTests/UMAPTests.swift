import Foundation
import SpatialData
import Tensor
import Testing
@testable import Analysis

/// Our UMAP against umap-learn on the same graph, by scikit-learn's trustworthiness (Fixtures/umap.json, written
/// by scripts/umap_fixture.py from the real osmFISH cells), plus the layout's own contract.
struct UMAPTests {
    struct Reference: Decodable {
        var cells: Int, k: Int
        var umap_learn_trustworthiness: [Double]
        var fixed_layout_trustworthiness: Double
    }
    static let osmfish = "../shared/data/osmfish/osmfish_valid_cells.h5ad"

    /// log1p(counts per 10,000) of every cell, dense (scanpy's normalize_total + log1p).
    static func logNormalised(_ d: Dataset) -> Matrix {
        let m = d.counts
        var x = Matrix(rows: m.rows, cols: m.cols)
        for i in 0..<m.rows {
            var total: Float = 0
            for e in m.indptr[i]..<m.indptr[i + 1] { total += m.values[e] }
            for e in m.indptr[i]..<m.indptr[i + 1] where total > 0 { x.data[i * m.cols + Int(m.indices[e])] = log1p(m.values[e] / total * 10_000) }
        }
        return x
    }

    @Test func abParametersMatchUmapLearn() {
        // umap.umap_.find_ab_params(1.0, 0.1) = (1.5769, 0.8951)
        let (a, b) = UMAP.curve(minDist: 0.1, spread: 1)
        #expect(abs(a - 1.5769) < 0.01 && abs(b - 0.8951) < 0.005)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: osmfish), "../shared/data/osmfish is absent: skipped"))
    func trustworthinessWithinUmapLearns() throws {
        let ref: Reference = try Fixture.load("umap")
        let x = Self.logNormalised(try DatasetReader.read(path: Self.osmfish))
        #expect(x.rows == ref.cells)
        // Our trustworthiness is scikit-learn's: a fixed projection, X·W with W[j] = (sin(j + 1), cos(j + 1)), scores the same.
        var fixed = Matrix(rows: x.rows, cols: 2)
        for i in 0..<x.rows {
            var a = 0.0, b = 0.0
            for j in 0..<x.cols { a += Double(x.data[i * x.cols + j]) * sin(Double(j + 1)); b += Double(x.data[i * x.cols + j]) * cos(Double(j + 1)) }
            fixed.data[2 * i] = Float(a); fixed.data[2 * i + 1] = Float(b)
        }
        #expect(abs(try UMAP.trustworthiness(x, fixed, k: ref.k) - ref.fixed_layout_trustworthiness) < 1e-3)

        let graph = try KNNGraph.connectivities(try KNNGraph.exact(x, k: 14))
        let layout = try UMAP(seed: 0).layout(graph, initial: try UMAP.initialLayout(x, seed: 0))
        let ours = try UMAP.trustworthiness(x, layout, k: ref.k)
        let theirs = ref.umap_learn_trustworthiness.reduce(0, +) / Double(ref.umap_learn_trustworthiness.count)
        print("UMAP trustworthiness (osmFISH, k = \(ref.k)): ours \(ours), umap-learn \(ref.umap_learn_trustworthiness)")
        #expect(ours >= theirs - 0.02)
    }

    @Test func seededAndValidated() throws {
        let b = try Fixture.blobs
        let graph = try Fixture.scanpyGraph()
        let u = UMAP(epochs: 100, seed: 3)
        let a1 = try u.layout(graph, initial: try UMAP.initialLayout(b.matrix, seed: 3))
        let a2 = try u.layout(graph, initial: try UMAP.initialLayout(b.matrix, seed: 3))
        #expect(a1.data == a2.data)
        #expect(a1.rows == 300 && a1.cols == 2 && a1.data.allSatisfy(\.isFinite))
        // The five blobs stay apart: each point's nearest layout neighbour shares its blob.
        let nb = try KNNGraph.exact(a1, k: 1)
        let same = (0..<300).filter { b.labels[$0] == b.labels[Int(nb.indices[$0])] }.count
        #expect(same >= 295)
        #expect(throws: AnalysisError.self) { try u.layout(graph, initial: Matrix(rows: 10, cols: 2)) }
        var bad = try UMAP.initialLayout(b.matrix); bad.data[0] = .nan
        #expect(throws: AnalysisError.self) { try u.layout(graph, initial: bad) }
    }
}
