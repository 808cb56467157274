import Foundation
import Testing
import Tensor
@testable import Analysis

@Suite struct LeidenTests {
    struct Row: Decodable { var resolution: Double, clusters: [Int], quality: [Double] }
    struct Ref: Decodable {
        var labels: [Int], quality: Double, modularity: Double
        var sweepRows: [Int32], sweepCols: [Int32], sweepValues: [Float], table: [Row]
    }

    /// The sweep graph (stored as its upper triangle) as a symmetric CSR matrix.
    static func sweepGraph(_ r: Ref) -> CSRMatrix {
        let n = Int(max(r.sweepRows.max()!, r.sweepCols.max()!)) + 1
        var rows = [[(Int32, Float)]](repeating: [], count: n)
        for e in 0..<r.sweepRows.count {
            let a = Int(r.sweepRows[e]), b = Int(r.sweepCols[e])
            rows[a].append((Int32(b), r.sweepValues[e])); rows[b].append((Int32(a), r.sweepValues[e]))
        }
        var indptr = [0], indices: [Int32] = [], values: [Float] = []
        for var row in rows {
            row.sort { $0.0 < $1.0 }
            indices += row.map(\.0); values += row.map(\.1); indptr.append(indices.count)
        }
        return CSRMatrix(rows: n, cols: n, indptr: indptr, indices: indices, values: values)
    }

    @Test func recoversBlobsWithLeidenalgQuality() throws {
        let ref: Ref = try Fixture.load("leiden")
        let graph = try Fixture.scanpyGraph()
        let truth = try Fixture.blobs.labels
        // Our quality function agrees with leidenalg's on leidenalg's own partition.
        let theirs = try Leiden.quality(graph, labels: ref.labels, resolution: 1)
        #expect(abs(theirs - ref.quality) / ref.quality < 1e-5)
        let r = try Leiden(resolution: 1, iterations: 2, seed: 0).fit(graph)
        let ari = try Metrics.adjustedRandIndex(truth, r.labels)
        #expect(ari >= 0.95)
        #expect(abs(r.quality - ref.quality) / ref.quality < 0.01)
        // Labels are ordered by size.
        let sizes = (0..<r.communityCount).map { c in r.labels.filter { $0 == c }.count }
        #expect(sizes == sizes.sorted(by: >))
        #expect(try Leiden(resolution: 1, iterations: 2, seed: 0).fit(graph).labels == r.labels, "seeded runs repeat")
    }

    @Test func resolutionSweepTracksLeidenalg() throws {
        let ref: Ref = try Fixture.load("leiden")
        let graph = Self.sweepGraph(ref)
        for row in ref.table {
            var ours: [Int] = [], quality: [Double] = []
            for seed in 0..<5 {
                let r = try Leiden(resolution: row.resolution, iterations: 2, seed: UInt64(seed)).fit(graph)
                ours.append(r.communityCount); quality.append(r.quality)
            }
            let theirMean = Double(row.clusters.reduce(0, +)) / 5, ourMean = Double(ours.reduce(0, +)) / 5
            let qRatio = quality.max()! / row.quality.max()!
            #expect(abs(ourMean - theirMean) <= max(1.5, 0.2 * theirMean), "resolution \(row.resolution)")
            #expect(qRatio > 0.99, "resolution \(row.resolution)")
        }
    }

    @Test func iterateUntilStable() throws {
        let ref: Ref = try Fixture.load("leiden")
        let graph = Self.sweepGraph(ref)
        let two = try Leiden(resolution: 1, iterations: 2, seed: 0).fit(graph)
        let stable = try Leiden(resolution: 1, iterations: -1, seed: 0).fit(graph)
        #expect(stable.quality >= two.quality - 1e-9 * abs(two.quality))
    }

    @Test func smallGraphs() throws {
        // Two triangles joined by one edge → two communities; no edges → singletons.
        let edges = [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)]
        var dense = Matrix(rows: 6, cols: 6)
        for (a, b) in edges { dense[a, b] = 1; dense[b, a] = 1 }
        let r = try Leiden().fit(CSRMatrix(dense: dense))
        #expect(r.labels == [0, 0, 0, 1, 1, 1])
        let none = try Leiden().fit(CSRMatrix.zeros(rows: 3, cols: 3))
        #expect(none.labels == [0, 1, 2] && none.communityCount == 3)
    }
}
