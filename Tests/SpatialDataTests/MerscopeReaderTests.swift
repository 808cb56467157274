import Foundation
import Testing
@testable import SpatialData

/// MERSCOPE region folders written here: Blank-* controls among the genes, a metadata file whose id column
/// is unnamed (as VPT writes it) listing cells in another order, 39-digit EntityIDs kept as text.
@Suite struct MerscopeReaderTests {
    static let ids = ["110883424764611924400221639916314253469", "110883424764611924400221639916314253470",
                      "110883424764611924400221639916314253471"]
    static let counts = ["cell,GeneA,GeneB,Blank-1,GeneC,Blank-2",
                         "\(ids[0]),1,0,1,3,0",
                         "\(ids[1]),0,2,0,0,2",
                         "\(ids[2]),4,0,1,0,1"].joined(separator: "\n") + "\n"
    static let metadata = [",fov,volume,center_x,center_y,transcript_count,solidity",
                           "\(ids[2]),12,300.5,30.5,-300.5,7,0.9",
                           "\(ids[0]),2,100.5,10.5,-100.5,5,0.8",
                           "\(ids[1]),2,200.5,20.5,-200.5,6,0.7"].joined(separator: "\n") + "\n"

    func folder(counts: String = counts, metadata: String? = metadata, prefix: String = "") throws -> String {
        let dir = TestEnv.tempDir()
        try ReaderFixtures.write(dir + "/\(prefix)cell_by_gene.csv", counts)
        if let m = metadata { try ReaderFixtures.write(dir + "/\(prefix)cell_metadata.csv", m) }
        return dir
    }

    @Test func readsRegion() throws {
        let d = try MerscopeReader.read(folder: try folder(prefix: "region_0_"))
        #expect(d.cellCount == 3 && d.geneCount == 3)
        #expect(d.geneIDs == ["GeneA", "GeneB", "GeneC"])
        #expect(d.cellIDs == Self.ids)
        #expect(d.platform == "merscope")
        #expect(d.counts.toDense().data == [1, 0, 3, 0, 2, 0, 4, 0, 0])
        #expect(d.obs["blank_counts"] == .float([1, 2, 2]))
        #expect(d.metadata["merscope.blank_genes"] == "Blank-1,Blank-2")
        let xy = try #require(d.coordinates)
        #expect(xy.x == [10.5, 20.5, 30.5] && xy.y == [-100.5, -200.5, -300.5] && xy.unit == .micrometre)
        let fov = try #require(d.fov)
        #expect(fov.categories == ["2", "12"] && fov.categoryCounts() == [2, 1])
        #expect(d.obs["volume"] == .float([100.5, 200.5, 300.5]))
        #expect(d.obs["transcript_count"] == .int([5, 6, 7]))
        #expect(d.obs["center_x"] == nil && d.obs["fov"] == nil)
    }

    @Test func nonNumericCountNamesRowAndGene() throws {
        let bad = Self.counts.replacingOccurrences(of: "\(Self.ids[1]),0,2,", with: "\(Self.ids[1]),0,two,")
        let dir = try folder(counts: bad)
        let e = #expect(throws: ImportError.self) { try MerscopeReader.read(folder: dir) }
        #expect(e?.kind == .invalidValue && e?.field == "GeneB" && e?.row == 3)
        #expect(e?.problem.contains("'two'") == true)
    }

    @Test func missingPieces() throws {
        let noMeta = try folder(metadata: nil)
        let e1 = #expect(throws: ImportError.self) { try MerscopeReader.read(folder: noMeta) }
        #expect(e1?.kind == .missingField && e1?.field == "cell_metadata.csv")

        let noX = try folder(metadata: Self.metadata.replacingOccurrences(of: "center_x", with: "cx"))
        let e2 = #expect(throws: ImportError.self) { try MerscopeReader.read(folder: noX) }
        #expect(e2?.kind == .missingField && e2?.field == "center_x")

        let lost = Self.metadata.split(separator: "\n").filter { !$0.hasPrefix(Self.ids[1]) }.joined(separator: "\n")
        let noCell = try folder(metadata: lost)
        let e3 = #expect(throws: ImportError.self) { try MerscopeReader.read(folder: noCell) }
        #expect(e3?.kind == .missingField && e3?.problem.contains(Self.ids[1]) == true)
    }

    @Test func duplicateCellAndShortLine() throws {
        let dup = try folder(counts: Self.counts + "\(Self.ids[0]),1,1,1,1,1\n")
        let e1 = #expect(throws: ImportError.self) { try MerscopeReader.read(folder: dup) }
        #expect(e1?.kind == .duplicateID && e1?.row == 5)

        let short = try folder(counts: Self.counts.replacingOccurrences(of: "\(Self.ids[2]),4,0,1,0,1", with: "\(Self.ids[2]),4,0"))
        let e2 = #expect(throws: ImportError.self) { try MerscopeReader.read(folder: short) }
        #expect(e2?.kind == .shapeMismatch && e2?.row == 4)
    }
}
