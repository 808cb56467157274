import Foundation
import Testing
@testable import SpatialData

/// The text exports in ../shared/data (osmFISH, seqFISH + Tasic, Giotto Visium multi-sample, STARmap 3-D)
/// and small broken files. Expected numbers were computed with pandas on the same files.
@Suite struct DelimitedCountsReaderTests {
    static func data(_ p: String) -> String { TestEnv.data(p) }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func osmfishCellsByGenesWithLocationsByOrder() throws {
        var o = DelimitedCountsReader.Options(); o.platform = "osmfish"
        let d = try DelimitedCountsReader.read(counts: Self.data("osmfish-tissue-pair/Spatial_count.txt"),
                                               locations: Self.data("osmfish-tissue-pair/Locations.txt"), options: o)
        #expect(d.cellCount == 3405 && d.geneCount == 33)
        #expect(d.geneIDs.first == "Gad2" && d.geneIDs.last == "Acta2")
        #expect(d.cellIDs.first == "0" && d.cellIDs.last == "3404")
        #expect(d.counts[0, 0] == 35)
        let sums = d.counts.rowSums()
        #expect(sums[0] == 390 && sums[3404] == 147 && sums.reduce(0, +) == 650913)
        let xy = try #require(d.coordinates)
        #expect(xy.x[0] == 18171.23094 && xy.y[0] == 24590.79527)
        #expect(xy.x.min() == 0 && xy.x.max() == 23895.58589 && xy.y.min() == 16327.76468 && xy.y.max() == 48290.23586)
        #expect(xy.z == nil && xy.unit == .unknown)
        #expect(d.platform == "osmfish" && d.name == "Spatial_count")
        #expect(d.metadata["delimited.orientation"]?.hasPrefix("cells x genes") == true)
    }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func osmfishReferenceGenesByCells() throws {
        let path = Self.data("osmfish-tissue-pair/scRNA_count.txt")
        let d = try DelimitedCountsReader.read(counts: path)
        #expect(d.cellCount == 1000 && d.geneCount == 33)
        #expect(d.cellIDs.first == "SM-DAIFH_S33_E1-50")
        #expect(d.counts.rowSums()[0] == 7442)
        #expect(d.counts.columnSums()[0] == 232421 && d.geneIDs[0] == "Gad2")
        #expect(d.counts.rowSums().reduce(0, +) == 4991835)
        #expect(d.coordinates == nil)
        let given = try DelimitedCountsReader.read(counts: path, orientation: .genesByCells)
        #expect(given.counts == d.counts && given.cellIDs == d.cellIDs)
        let flipped = try DelimitedCountsReader.read(counts: path, orientation: .cellsByGenes)
        #expect(flipped.cellCount == 33 && flipped.cellIDs[0] == "Gad2")
    }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func seqfishWithNamedLocationColumnsAndLabels() throws {
        var o = DelimitedCountsReader.Options()
        o.locationColumns = .init(id: 0, x: 2, y: 3, fov: 1)
        o.metadataColumnNames = ["cell_id", "domain", "cell_type", "cluster", "flag", "score"]
        o.platform = "seqfish"
        let d = try DelimitedCountsReader.read(counts: Self.data("seqfish-tasic-pair/seqfish_cortex_b2_testing.txt"),
                                               locations: Self.data("seqfish-tasic-pair/fcortex.coordinates.txt"),
                                               metadata: Self.data("seqfish-tasic-pair/seqfish_labels.tsv"), options: o)
        #expect(d.cellCount == 1597 && d.geneCount == 113)
        #expect(d.geneIDs.first == "abca15")
        #expect(d.cellIDs.first == "1" && d.cellIDs.last == "1597")
        #expect(d.counts.rowSums()[0] == 4751 && d.counts.rowSums().reduce(0, +) == 7733579)
        let xy = try #require(d.coordinates)
        #expect(xy.x.min() == 257.12 && xy.x.max() == 5904.12 && xy.y.min() == -4027.93 && xy.y.max() == -33.01)
        #expect(d.fov?.categories == ["100"])
        guard case .categorical(let types)? = d.obs["cell_type"] else { Issue.record("cell_type missing"); return }
        #expect(types.categories.count == 8)
        #expect(types.categoryCounts()[try #require(types.categories.firstIndex(of: "Glutamatergic Neuron"))] == 859)
        #expect(d.obs["score"]?.typeName == "float" && d.obs["domain"]?.typeName == "int")
        #expect(d.obs["cell_id"] == nil)
    }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func ambiguousHeaderlessLocationsNeedColumns() throws {
        let e = #expect(throws: ImportError.self) {
            try DelimitedCountsReader.read(counts: Self.data("seqfish-tasic-pair/seqfish_cortex_b2_testing.txt"),
                                           locations: Self.data("seqfish-tasic-pair/fcortex.coordinates.txt"))
        }
        // The fix names the CLI flag, not an internal type, and the flag's text reads the file.
        #expect(e?.kind == .missingField && e?.fix.contains("--location-columns") == true && e?.fix.contains("LocationColumns") == false)
        guard case .success(let cols) = DelimitedCountsReader.LocationColumns.parse("x=2,y=3") else { Issue.record("parse"); return }
        var o = DelimitedCountsReader.Options()
        o.locationColumns = cols
        let d = try DelimitedCountsReader.read(counts: Self.data("seqfish-tasic-pair/seqfish_cortex_b2_testing.txt"),
                                               locations: Self.data("seqfish-tasic-pair/fcortex.coordinates.txt"), options: o)
        #expect(d.coordinates != nil)
        if case .success = DelimitedCountsReader.LocationColumns.parse("x=2") { Issue.record("x without y accepted") }
        if case .success = DelimitedCountsReader.LocationColumns.parse("a=1,x=2,y=3") { Issue.record("unknown key accepted") }
        guard case .success(let named) = DelimitedCountsReader.LocationColumns.parse("id=0,x=X,y=Y") else { Issue.record("names"); return }
        #expect(named == .init(id: .index(0), x: .name("X"), y: .name("Y")))
    }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func tasicTakesCellIDsFromLabels() throws {
        var o = DelimitedCountsReader.Options()
        o.metadataColumnNames = ["cell_type", "cell_id", "layer"]
        let d = try DelimitedCountsReader.read(counts: Self.data("seqfish-tasic-pair/tasic_training_b2.txt"),
                                               metadata: Self.data("seqfish-tasic-pair/tasic_labels.tsv"), options: o)
        #expect(d.cellCount == 1723 && d.geneCount == 113)
        #expect(d.cellIDs[0] == "Calb2_tdTpositive_cell_46")
        #expect(d.counts.rowSums()[0] == 3700)
        guard case .categorical(let types)? = d.obs["cell_type"] else { Issue.record("cell_type missing"); return }
        #expect(types.categories.count == 8)
    }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func giottoVisiumMultiSample() throws {
        let raw = "giotto-mini/Visium_multisample/Raw/"
        let d = try DelimitedCountsReader.read(counts: Self.data(raw + "expression_matrix.txt.gz"),
                                               locations: Self.data(raw + "spatial_locs.txt"),
                                               metadata: Self.data(raw + "cell_metadata.txt"))
        #expect(d.cellCount == 2327 && d.geneCount == 1255)
        #expect(d.cellIDs[0] == "NP-AAACAATCTACTAGCA-1" && d.geneIDs[0] == "A4GALT")
        #expect(d.counts.nnz == 620263)
        #expect(d.counts.rowSums()[0] == 256 && d.counts.columnSums()[0] == 1000)
        #expect(d.counts.rowSums().reduce(0, +) == 1421449)
        #expect(d.sample.categories == ["CP", "NP"] && d.sample.categoryCounts() == [1340, 987])
        #expect(d.batch == d.sample)
        let xy = try #require(d.coordinates)
        #expect(xy.x[0] == 11334 && xy.y[0] == -4450)
        #expect(xy.x.min() == 5522 && xy.y.min() == -9999 && xy.y.max() == -3839)
        #expect(d.obs["in_tissue"] == .int([Int64](repeating: 1, count: 2327)))
        #expect(d.obs["array_row"]?.text(0) == "3" && d.obs["list_ID"] == nil)
        #expect(d.metadata["delimited.orientation"]?.contains("cell ids") == true)
    }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func starmapThreeDimensional() throws {
        var o = DelimitedCountsReader.Options(); o.platform = "starmap"
        let d = try DelimitedCountsReader.read(counts: Self.data("giotto-mini/3D_starmap/starmap_expr.txt.gz"),
                                               locations: Self.data("giotto-mini/3D_starmap/starmap_cell_loc.txt"), options: o)
        #expect(d.cellCount == 4000 && d.geneCount == 28)
        #expect(d.cellIDs[0] == "cell_2944" && Array(d.geneIDs.prefix(3)) == ["Slc17a7", "Mgp", "Gad1"])
        #expect(d.counts.rowSums()[0] == 211568 && d.counts.rowSums().reduce(0, +) == 767249138)
        let xyz = try #require(d.coordinates)
        let z = try #require(xyz.z)
        #expect(xyz.x[0] == 270 && xyz.y[0] == 212 && z[0] == 19)
        #expect(xyz.x.min() == 3 && xyz.x.max() == 1774 && xyz.y.min() == 1 && xyz.y.max() == 1536 && z.min() == 6 && z.max() == 94)
    }

    // MARK: bad inputs

    func write(_ name: String, _ text: String) throws -> String {
        let p = TestEnv.tempDir() + "/" + name
        try ReaderFixtures.write(p, text)
        return p
    }

    @Test func nonNumericCountNamesLineAndCell() throws {
        let p = try write("c.tsv", "gene\tc1\tc2\tc3\nA\t1\t0\t2\nB\t0\tNA?\t1\n")
        let e = #expect(throws: ImportError.self) { try DelimitedCountsReader.read(counts: p) }
        #expect(e?.kind == .invalidValue && e?.row == 3 && e?.field == "c2")
        #expect(e?.problem.contains("row 'B'") == true)
    }

    @Test func raggedLineAndHeaderMismatch() throws {
        let p = try write("r.tsv", "A\tB\n1\t2\n3\n4\t5\n")
        let e = #expect(throws: ImportError.self) { try DelimitedCountsReader.read(counts: p) }
        #expect(e?.kind == .shapeMismatch && e?.row == 3)
        let h = try write("h.csv", "A,B,C,D\n1,2\n3,4\n")
        let e2 = #expect(throws: ImportError.self) { try DelimitedCountsReader.read(counts: h) }
        #expect(e2?.kind == .shapeMismatch && e2?.field == "header")
    }

    @Test func locationsLengthMismatchAndMissingIDs() throws {
        let counts = try write("c.csv", "GeneA,GeneB\n1,2\n3,4\n5,6\n")
        let locs = try write("l.csv", "x,y\n1,1\n2,2\n")
        let e = #expect(throws: ImportError.self) { try DelimitedCountsReader.read(counts: counts, locations: locs) }
        #expect(e?.kind == .shapeMismatch && e?.problem.contains("2 rows") == true && e?.problem.contains("3 cells") == true)

        let named = try write("n.csv", "cell,GeneA,GeneB\nc1,1,2\nc2,3,4\n")
        let byID = try write("i.csv", "cell_id,x,y\nc2,2,2\nc3,3,3\n")
        let e2 = #expect(throws: ImportError.self) { try DelimitedCountsReader.read(counts: named, locations: byID) }
        #expect(e2?.kind == .missingField && e2?.problem.contains("'c1'") == true)

        let dup = try write("d.csv", "cell_id,x,y\nc1,1,1\nc2,2,2\nc1,3,3\n")
        let e3 = #expect(throws: ImportError.self) { try DelimitedCountsReader.read(counts: named, locations: dup) }
        #expect(e3?.kind == .duplicateID && e3?.row == 4)

        let ok = try write("ok.csv", "cell_id,x,y,area\nc2,2,20,5.5\nc1,1,10,4.5\n")
        let d = try DelimitedCountsReader.read(counts: named, locations: ok)
        #expect(d.coordinates?.x == [1, 2] && d.coordinates?.y == [10, 20] && d.obs["area"] == .float([4.5, 5.5]))
    }

    @Test func windowsLineEndings() throws {
        let counts = try write("w.tsv", "GeneA\tGeneB\r\n1\t2\r\n3\t4\r\n")
        let locs = try write("wl.tsv", "X\tY\r\n1.5\t2.5\r\n3.5\t4.5\r\n")
        let d = try DelimitedCountsReader.read(counts: counts, locations: locs)
        #expect(d.cellCount == 2 && d.geneIDs == ["GeneA", "GeneB"] && d.coordinates?.y == [2.5, 4.5])
    }

    @Test func duplicateCellIDsInCounts() throws {
        let p = try write("dup.csv", "cell,GeneA\nc1,1\nc1,2\n")
        let e = #expect(throws: ImportError.self) { try DelimitedCountsReader.read(counts: p) }
        #expect(e?.kind == .duplicateID)
    }

    @Test func noGeneNames() throws {
        let p = try write("n.txt", "1 2 3\n4 5 6\n")
        let e = #expect(throws: ImportError.self) { try DelimitedCountsReader.read(counts: p) }
        #expect(e?.kind == .missingField && e?.field == "gene names")
    }

    @Test func truncatedGzip() throws {
        let body = "gene " + (0..<500).map { "c\($0)" }.joined(separator: " ") + "\n" +
            (0..<200).map { g in "G\(g) " + (0..<500).map { String(($0 * 7 + g) % 13) }.joined(separator: " ") }.joined(separator: "\n")
        let p = try write("t.txt.gz", body)
        try ReaderFixtures.truncate(p, dropping: 300)
        let e = #expect(throws: ImportError.self) { try DelimitedCountsReader.read(counts: p) }
        #expect(e?.kind == .corrupt && e?.file == p)
    }
}
