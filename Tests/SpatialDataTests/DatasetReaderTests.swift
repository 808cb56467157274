import Foundation
import Testing
@testable import SpatialData

/// Format detection from paths and dispatch to the readers.
@Suite struct DatasetReaderTests {
    static func data(_ p: String) -> String { TestEnv.data(p) }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func detectsSharedData() throws {
        #expect(try DatasetReader.detect(path: Self.data("visium-10x-mini")) == .visium)
        #expect(try DatasetReader.detect(path: Self.data("visium-10x-mini/filtered_feature_bc_matrix.h5")) == .tenxH5)
        #expect(try DatasetReader.detect(path: Self.data("visium-10x-mini/test_data.h5ad")) == .h5ad)
        #expect(try DatasetReader.detect(path: Self.data("giotto-mini/CosMx/Raw")) == .cosmxTranscripts)
        #expect(try DatasetReader.detect(path: Self.data("giotto-mini/CosMx/Raw/Lung12_tx_file.csv")) == .cosmxTranscripts)
        #expect(try DatasetReader.detect(path: Self.data("giotto-mini/3D_starmap/starmap_expr.txt.gz")) == .delimited)
        #expect(try DatasetReader.detect(path: Self.data("seqfish-tasic-pair/seqfish_labels.tsv")) == .delimited)
        let loom = try FileManager.default.contentsOfDirectory(atPath: Self.data("osmfish")).first { $0.hasSuffix(".loom") }
        if let l = loom { #expect(try DatasetReader.detect(path: Self.data("osmfish/" + l)) == .loom) }
    }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func readsThroughTheEntryPoint() throws {
        let v = try DatasetReader.read(path: Self.data("visium-10x-mini"))
        #expect(v.platform == "visium" && v.cellCount == 100 && v.coordinates?.unit == .pixel)
        let h5 = try DatasetReader.read(path: Self.data("visium-10x-mini/filtered_feature_bc_matrix.h5"))
        #expect(h5.platform == "visium" && h5.coordinates == nil && h5.counts == v.counts)
        let tx = try DatasetReader.read(path: Self.data("giotto-mini/CosMx/Raw"))
        #expect(tx.cellCount == 120 && tx.platform == "cosmx")
        var o = DatasetReader.Options()
        o.locations = Self.data("giotto-mini/3D_starmap/starmap_cell_loc.txt")
        o.delimited.platform = "starmap"
        let s = try DatasetReader.read(path: Self.data("giotto-mini/3D_starmap/starmap_expr.txt.gz"), options: o)
        #expect(s.cellCount == 4000 && s.coordinates?.z?.count == 4000 && s.platform == "starmap")
    }

    @Test func detectsVendorFolders() throws {
        let x = TestEnv.tempDir()
        try ReaderFixtures.writeTenXH5(x + "/cell_feature_matrix.h5", barcodes: ["a", "b"], genes: ["G1", "G2"], counts: [[1, 0], [0, 2]])
        try ReaderFixtures.write(x + "/cells.csv.gz", "cell_id,x_centroid,y_centroid\na,1,2\nb,3,4\n")
        #expect(try DatasetReader.detect(path: x) == .xenium)
        let d = try DatasetReader.read(path: x)
        #expect(d.platform == "xenium" && d.coordinates?.x == [1, 3])
        let xh5 = try DatasetReader.read(path: x + "/cell_feature_matrix.h5")
        #expect(xh5.platform == "xenium")

        let m = TestEnv.tempDir()
        try ReaderFixtures.write(m + "/cell_by_gene.csv", "cell,G1,Blank-1\n7,1,1\n")
        try ReaderFixtures.write(m + "/cell_metadata.csv", "EntityID,fov,center_x,center_y\n7,0,1.5,2.5\n")
        #expect(try DatasetReader.detect(path: m) == .merscope)
        #expect(try DatasetReader.detect(path: m + "/cell_by_gene.csv") == .merscope)
        #expect(try DatasetReader.read(path: m + "/cell_by_gene.csv").coordinates?.x == [1.5])

        let c = TestEnv.tempDir()
        try ReaderFixtures.write(c + "/S1_exprMat_file.csv", "fov,cell_ID,G1\n1,1,3\n")
        try ReaderFixtures.write(c + "/S1_metadata_file.csv", "fov,cell_ID,CenterX_global_px,CenterY_global_px\n1,1,10,20\n")
        #expect(try DatasetReader.detect(path: c) == .cosmx)
        let cd = try DatasetReader.read(path: c + "/S1_exprMat_file.csv")
        #expect(cd.cellIDs == ["1_1"] && cd.coordinates?.y == [20])
    }

    @Test func unsupportedAndMissing() throws {
        let dir = TestEnv.tempDir()
        try ReaderFixtures.write(dir + "/notes.md", "hello")
        let e1 = #expect(throws: ImportError.self) { try DatasetReader.detect(path: dir) }
        #expect(e1?.kind == .unsupported && e1?.problem.contains("notes.md") == true)
        #expect(e1?.fix.contains(".h5ad") == true && e1?.fix.contains("Xenium") == true)
        let e2 = #expect(throws: ImportError.self) { try DatasetReader.detect(path: dir + "/notes.md") }
        #expect(e2?.kind == .unsupported)
        try ReaderFixtures.write(dir + "/cells.parquet", "PAR1")
        let e3 = #expect(throws: ImportError.self) { try DatasetReader.read(path: dir + "/cells.parquet") }
        #expect(e3?.kind == .unsupported && e3?.problem.contains("Parquet") == true)
        let e4 = #expect(throws: ImportError.self) { try DatasetReader.read(path: dir + "/absent.h5ad") }
        #expect(e4?.kind == .unreadable)
    }
}
