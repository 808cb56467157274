import Foundation
import Testing
@testable import SpatialData

/// `tessera inspect` end to end: the built executable beside the test runner, text and --json.
@Suite(.enabled(if: TestEnv.hasSharedData && HDF5Probe.executable != nil, "needs ../shared/data and the built tessera executable"))
struct CLITests {
    func tessera(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: HDF5Probe.executable!)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func inspectJSON() throws {
        let r = try tessera(["inspect", "--json", TestEnv.data("osmfish/osmfish_valid_cells.h5ad")])
        #expect(r.status == 0, "\(r.err)")
        let s = try JSONDecoder().decode(DatasetSummary.self, from: Data(r.out.utf8))
        #expect(s.cells == 4839 && s.genes == 33 && s.nonZero == 110647 && s.totalCounts == 898778)
        let cluster = try #require(s.obs.first { $0.name == "ClusterName" })
        #expect(cluster.categoryCount == 31 && cluster.categories?["pyramidal L4"] == 526)
        #expect(s.x?.max == 23895.58588501429)
    }

    @Test func inspectTextOfSeveralFormats() throws {
        let r = try tessera(["inspect", TestEnv.data("visium-10x-mini"), TestEnv.data("giotto-mini/CosMx/Raw/Lung12_tx_file.csv")])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("cells 100   genes 100") && r.out.contains("[visium]"))
        #expect(r.out.contains("cells 120") && r.out.contains("FOVs 2"))
    }

    /// Several files with one name (sample runs' filtered_feature_bc_matrix.h5, say) are told apart by path.
    @Test func inspectOfSameNamedFilesPrintsTheirPaths() throws {
        let a = TestEnv.tempDir(), b = TestEnv.tempDir()
        for d in [a, b] { try FileManager.default.copyItem(atPath: TestEnv.data("osmfish/osmfish_valid_cells.h5ad"), toPath: d + "/cells.h5ad") }
        let r = try tessera(["inspect", a + "/cells.h5ad", b + "/cells.h5ad"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("== \(a)/cells.h5ad") && r.out.contains("== \(b)/cells.h5ad"), "\(r.out.prefix(300))")
        let single = try tessera(["inspect", a + "/cells.h5ad", TestEnv.data("visium-10x-mini")])
        #expect(!single.out.contains("== "), "distinct names need no path")
    }

    @Test func badInputExitsThreeWithOneLine() throws {
        let path = TestEnv.tempDir() + "/broken.h5ad"
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: path))
        let r = try tessera(["inspect", path])
        #expect(r.status == 3)
        #expect(r.err.hasPrefix("error: \(path)") && r.err.contains("Fix:"))
        #expect(r.err.split(separator: "\n").count == 1)
    }

    @Test func geneOverlapOfASimulatedPanel() throws {
        let dir = TestEnv.tempDir()
        let sim = try tessera(["simulate", "--cells", "1000", "--genes", "200", "--fovs", "2", "--out", dir])
        #expect(sim.status == 0, "\(sim.err)")
        // Seen from the reference, exactly the 20 held-out genes (10%) are missing from the panel.
        let r = try tessera(["genes", "overlap", dir + "/reference.h5ad", dir + "/spatial.h5ad", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let report = try JSONDecoder().decode(GeneOverlapReport.self, from: Data(r.out.utf8))
        #expect(report.panelGeneCount == 200 && report.matchedCount == 180 && report.missing.count == 20)
    }

    @Test func convertWritesWhatAnndataCanRead() throws {
        let out = TestEnv.tempDir() + "/cosmx.h5ad"
        let r = try tessera(["convert", TestEnv.data("giotto-mini/CosMx/Raw/Lung12_tx_file.csv"), out])
        #expect(r.status == 0, "\(r.err)")
        let d = try H5ADReader.read(path: out)
        #expect(d.cellCount == 120 && d.geneCount == 960 && d.platform == "cosmx")
        #expect(d.fov?.categories.count == 2)
    }
}
