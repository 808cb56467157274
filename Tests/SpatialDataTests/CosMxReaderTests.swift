import Foundation
import Testing
@testable import SpatialData

/// CosMx flat files written here (expression matrix + metadata, with control probes, unassigned rows and
/// drifting column names) and the real transcript table in ../shared/data/giotto-mini/CosMx/Raw.
@Suite struct CosMxReaderTests {
    static let expr = ["fov,cell_ID,GeneA,GeneB,NegPrb1,NegPrb2,SystemControl1,GeneC",
                       "1,0,5,5,1,1,0,5",
                       "1,1,1,0,0,1,0,2",
                       "1,2,0,3,1,0,1,0",
                       "2,1,4,0,0,0,0,1"].joined(separator: "\n") + "\n"
    static let meta = ["fov,cell_ID,Area,AspectRatio,CenterX_local_px,CenterY_local_px,CenterX_global_px,CenterY_global_px,Mean.DAPI",
                       "2,1,300,1.2,30,35,5030,-1035,12.5",
                       "1,1,100,1.0,10,15,1010,-1015,10.5",
                       "1,2,200,1.1,20,25,1020,-1025,11.5"].joined(separator: "\n") + "\n"

    func folder(expr: String = expr, meta: String? = meta) throws -> String {
        let dir = TestEnv.tempDir()
        try ReaderFixtures.write(dir + "/Lung5_Rep1_exprMat_file.csv", expr)
        if let m = meta { try ReaderFixtures.write(dir + "/Lung5_Rep1_metadata_file.csv", m) }
        return dir
    }

    @Test func readsFlatFiles() throws {
        let d = try CosMxReader.read(folder: try folder())
        #expect(d.cellIDs == ["1_1", "2_1", "1_2"])
        #expect(d.geneIDs == ["GeneA", "GeneB", "GeneC"])
        #expect(d.platform == "cosmx")
        #expect(d.counts.toDense().data == [1, 0, 2, 0, 3, 0, 4, 0, 1])
        #expect(d.obs["negprb_counts"] == .float([1, 1, 0]))
        #expect(d.obs["systemcontrol_counts"] == .float([0, 1, 0]))
        #expect(d.metadata["cosmx.control_features"] == "NegPrb1,NegPrb2,SystemControl1")
        #expect(d.metadata["cosmx.unassigned_rows"] == "1")
        let xy = try #require(d.coordinates)
        #expect(xy.x == [1010, 1020, 5030] && xy.y == [-1015, -1025, -1035])
        #expect(xy.unit == .pixel && xy.micronsPerPixel == 0.12028)
        #expect(d.obs["CenterX_local_px"] == .int([10, 20, 30]))
        #expect(d.obs["Mean.DAPI"] == .float([10.5, 11.5, 12.5]))
        #expect(d.obs["CenterX_global_px"] == nil)
        let fov = try #require(d.fov)
        #expect(fov.categories == ["1", "2"] && fov.categoryCounts() == [2, 1])
    }

    @Test func toleratesRenamedColumns() throws {
        let renamed = Self.expr.replacingOccurrences(of: "fov,cell_ID", with: "FOV,cell_id")
        let d = try CosMxReader.read(folder: try folder(expr: renamed, meta: Self.meta.replacingOccurrences(of: "fov,cell_ID", with: "FOV,cellID")))
        #expect(d.cellIDs == ["1_1", "2_1", "1_2"])
        let noMeta = try CosMxReader.read(folder: try folder(meta: nil))
        #expect(noMeta.coordinates == nil && noMeta.cellCount == 3)
    }

    @Test func badInputs() throws {
        let noCell = try folder(expr: Self.expr.replacingOccurrences(of: "fov,cell_ID", with: "fov,cell"))
        let e1 = #expect(throws: ImportError.self) { try CosMxReader.read(folder: noCell) }
        #expect(e1?.kind == .missingField && e1?.field == "cell_ID")

        let text = try folder(expr: Self.expr.replacingOccurrences(of: "1,2,0,3,", with: "1,2,0,x3,"))
        let e2 = #expect(throws: ImportError.self) { try CosMxReader.read(folder: text) }
        #expect(e2?.kind == .invalidValue && e2?.field == "GeneB" && e2?.row == 4)

        let dup = try folder(expr: Self.expr + "1,2,1,1,1,1,1,1\n")
        let e3 = #expect(throws: ImportError.self) { try CosMxReader.read(folder: dup) }
        #expect(e3?.kind == .duplicateID && e3?.row == 6)

        let lost = try folder(meta: Self.meta.replacingOccurrences(of: "2,1,300,1.2,30,35,5030,-1035,12.5\n", with: ""))
        let e4 = #expect(throws: ImportError.self) { try CosMxReader.read(folder: lost) }
        #expect(e4?.kind == .missingField && e4?.problem.contains("'1_2'") == true)
    }

    // MARK: transcripts

    static let tx = TestEnv.data("giotto-mini/CosMx/Raw/Lung12_tx_file.csv")

    /// Expected values computed with pandas: cells = (fov, cell_ID) groups with cell_ID != 0, genes = non-NegPrb targets.
    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func aggregatesLungTranscripts() throws {
        let d = try CosMxTranscripts.aggregate(path: Self.tx)
        #expect(d.cellCount == 120 && d.geneCount == 960)
        #expect(d.counts.nnz == 11648)
        #expect(d.counts.values.reduce(0, +) == 18783)
        let fov = try #require(d.fov)
        #expect(fov.categories == ["2", "3"] && fov.categoryCounts() == [67, 53])
        let sums = d.counts.rowSums()
        func row(_ id: String) throws -> Int { try #require(d.cellIDs.firstIndex(of: id)) }
        #expect(sums[try row("12_2")] == 211)
        #expect(sums[try row("113_2")] == 532)
        #expect(sums[try row("1796_3")] == 176)
        #expect(d.cellIDs.first == "12_2" && d.cellIDs.last == "1796_3")
        let mzt2a = try #require(d.geneIDs.firstIndex(of: "MZT2A"))
        #expect(d.counts[try row("12_2"), mzt2a] == 28)
        #expect(d.geneIDs == d.geneIDs.sorted() && d.geneIDs.first == "AATK")
        #expect(!d.geneIDs.contains { $0.hasPrefix("NegPrb") })
        #expect(d.obs["negprb_counts"]?.numericValues?[try row("113_2")] == 3)
        #expect(d.obs["negprb_counts"]?.numericValues?.reduce(0, +) == 182)
        #expect(d.metadata["cosmx.unassigned_transcripts"] == "6860")
        #expect(d.metadata["cosmx.unassigned_by_fov"] == "2=2695,3=4165")
        let xy = try #require(d.coordinates)
        #expect(abs(xy.x[try row("12_2")] - 5867.710056852749) < 1e-6)
        #expect(abs(xy.y[try row("12_2")] - -156625.30980303392) < 1e-6)
        #expect(xy.unit == .pixel && xy.micronsPerPixel == 0.12028)
        #expect(xy.x.allSatisfy { $0 >= 5294.5 && $0 <= 6638.7 })
    }

    @Test func transcriptTableErrors() throws {
        let dir = TestEnv.tempDir()
        let head = "fov,cell_ID,x_global_px,y_global_px,x_local_px,y_local_px,z,target,CellComp"
        try ReaderFixtures.write(dir + "/a_tx_file.csv", [head, "1,1,1.5,2.5,1,2,0,GeneA,Nuclear", "1,1,1.5,bad,1,2,0,GeneB,Nuclear"].joined(separator: "\n"))
        let e1 = #expect(throws: ImportError.self) { try CosMxTranscripts.aggregate(path: dir + "/a_tx_file.csv") }
        #expect(e1?.kind == .invalidValue && e1?.field == "y_global_px" && e1?.row == 3)

        try ReaderFixtures.write(dir + "/b_tx_file.csv", [head, "1,0,1.5,2.5,1,2,0,GeneA,0"].joined(separator: "\n"))
        let e2 = #expect(throws: ImportError.self) { try CosMxTranscripts.aggregate(path: dir + "/b_tx_file.csv") }
        #expect(e2?.kind == .invalidValue && e2?.problem.contains("no transcript") == true)

        try ReaderFixtures.write(dir + "/c_tx_file.csv", "fov,cell_ID,x_global_px,y_global_px,gene_name\n1,1,1,1,A\n")
        let e3 = #expect(throws: ImportError.self) { try CosMxTranscripts.aggregate(path: dir + "/c_tx_file.csv") }
        #expect(e3?.kind == .missingField && e3?.field == "target")
    }

    @Test func smallTranscriptTable() throws {
        let dir = TestEnv.tempDir()
        let rows = ["fov,cell_ID,x_global_px,y_global_px,x_local_px,y_local_px,z,target,CellComp",
                    "10,3,10,20,1,2,1,GeneB,Nuclear", "2,3,1,1,1,1,0,GeneA,Nuclear", "10,3,20,40,3,4,3,GeneB,Membrane",
                    "10,3,30,60,5,6,2,NegPrb1,Nuclear", "2,0,9,9,9,9,0,GeneC,0"]
        try ReaderFixtures.write(dir + "/s_tx_file.csv.gz", rows.joined(separator: "\n") + "\n")
        let d = try CosMxTranscripts.aggregate(path: dir + "/s_tx_file.csv.gz")
        #expect(d.cellIDs == ["3_2", "3_10"])
        #expect(d.geneIDs == ["GeneA", "GeneB", "GeneC"])
        #expect(d.counts.toDense().data == [1, 0, 0, 0, 2, 0])
        #expect(d.coordinates?.x == [1, 20] && d.coordinates?.y == [1, 40])
        #expect(d.obs["z_mean"] == .float([0, 2]))
        #expect(d.obs["transcript_count"] == .float([1, 3]))
        #expect(d.obs["negprb_counts"] == .float([0, 1]))
    }
}
