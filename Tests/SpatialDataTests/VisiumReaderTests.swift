import Foundation
import Testing
@testable import SpatialData

/// Space Ranger output: the real 1.x crop in ../shared/data/visium-10x-mini, plus 2.x / broken variants of
/// its positions file written to temporary folders. Known values computed with h5py + csv.
@Suite struct VisiumReaderTests {
    static let folder = TestEnv.data("visium-10x-mini")
    static let matrix = folder + "/filtered_feature_bc_matrix.h5"

    /// A temporary spatial/ folder holding `positions` under `name` and the real scale factors.
    func spatialFolder(_ name: String, _ positions: String) throws -> String {
        let dir = TestEnv.tempDir() + "/spatial"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try positions.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Self.folder + "/spatial/scalefactors_json.json", toPath: dir + "/scalefactors_json.json")
        return dir
    }

    func realPositions() throws -> [String] {
        try String(contentsOfFile: Self.folder + "/spatial/tissue_positions_list.csv", encoding: .utf8)
            .split(separator: "\n").map(String.init)
    }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func readsSpaceRanger1Folder() throws {
        let d = try VisiumReader.read(folder: Self.folder)
        #expect(d.cellCount == 100 && d.geneCount == 100)
        #expect(d.counts.nnz == 656)
        #expect(d.platform == "visium")
        #expect(d.name == "visium-10x-mini")
        #expect(d.cellIDs[0] == "AAACAAGTATCTCCCA-1")
        #expect(Array(d.counts.rowSums().prefix(3)) == [10, 9, 11])
        #expect(d.counts.rowSums().reduce(0, +) == 932)
        // AAACAAGTATCTCCCA-1,1,50,102,8513,9811 → x = pxl_col = 9811, y = pxl_row = 8513.
        let xy = try #require(d.coordinates)
        #expect(xy.x[0] == 9811 && xy.y[0] == 8513)
        #expect(xy.unit == .pixel)
        #expect(xy.x.min() == 2787 && xy.x.max() == 11380 && xy.y.min() == 2885 && xy.y.max() == 11026)
        #expect(abs((xy.micronsPerPixel ?? 0) - 0.6150232698017049) < 1e-12)
        #expect(d.obs["array_row"]?.typeName == "int" && d.obs["array_col"]?.typeName == "int")
        #expect(d.obs["array_row"]?.text(0) == "50" && d.obs["array_col"]?.text(0) == "102")
        #expect(d.obs["in_tissue"] == .bool([Bool](repeating: true, count: 100)))
        #expect(d.metadata["visium.tissue_hires_scalef"] == "0.150015")
        #expect(d.metadata["visium.spot_diameter_fullres"] == "89.42751063343188")
        #expect(d.metadata["visium.positions"]?.contains("1.x") == true)
        // Image sizes come from the PNG headers (libpng); the spots fit the images at their scale factors.
        #expect(d.metadata["visium.hires_image"] == "2000x2000" && d.metadata["visium.lowres_image"] == "600x600")
        #expect(d.metadata["visium.hires_image_spots_inside"] == "yes" && d.metadata["visium.lowres_image_spots_inside"] == "yes")
    }

    @Test func damagedImageIsNamed() throws {
        let path = TestEnv.tempDir() + "/tissue_hires_image.png"
        try Data([0x89, 0x50, 0x4E, 0x47, 0, 1, 2, 3]).write(to: URL(fileURLWithPath: path))
        #expect(throws: ImportError.self) { try PNGFile.size(path) }
    }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func spaceRanger2HeaderGivesSameSpots() throws {
        let header = "barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres"
        // Space Ranger 2 lists spots in another order; shuffle to prove the join is by barcode.
        let lines = try realPositions().reversed()
        let spatial = try spatialFolder("tissue_positions.csv", ([header] + lines).joined(separator: "\n") + "\n")
        let d2 = try VisiumReader.read(matrix: Self.matrix, spatial: spatial)
        let d1 = try VisiumReader.read(folder: Self.folder)
        #expect(d2.coordinates == d1.coordinates)
        #expect(d2.obs == d1.obs)
        #expect(d2.metadata["visium.positions"]?.contains("header") == true)
    }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func missingBarcodeIsNamed() throws {
        let lines = try realPositions()
        let spatial = try spatialFolder("tissue_positions_list.csv", lines.dropFirst().joined(separator: "\n"))
        let e = #expect(throws: ImportError.self) { try VisiumReader.read(matrix: Self.matrix, spatial: spatial) }
        #expect(e?.kind == .missingField)
        #expect(e?.problem.contains("AAACAAGTATCTCCCA-1") == true)
        #expect(e?.file.hasSuffix("tissue_positions_list.csv") == true)
    }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data"))
    func duplicateAndBadValuesAreRejected() throws {
        let lines = try realPositions()
        let dup = try spatialFolder("tissue_positions_list.csv", (lines + [lines[3]]).joined(separator: "\n"))
        let e1 = #expect(throws: ImportError.self) { try VisiumReader.read(matrix: Self.matrix, spatial: dup) }
        #expect(e1?.kind == .duplicateID && e1?.row == 101)

        var bad = lines
        bad[4] = bad[4].split(separator: ",").enumerated().map { $0.offset == 5 ? "abc" : String($0.element) }.joined(separator: ",")
        let nonNumeric = try spatialFolder("tissue_positions_list.csv", bad.joined(separator: "\n"))
        let e2 = #expect(throws: ImportError.self) { try VisiumReader.read(matrix: Self.matrix, spatial: nonNumeric) }
        #expect(e2?.kind == .invalidValue && e2?.row == 5)

        var tissue = lines
        tissue[2] = tissue[2].replacingOccurrences(of: "-1,1,", with: "-1,7,")
        let flag = try spatialFolder("tissue_positions_list.csv", tissue.joined(separator: "\n"))
        let e3 = #expect(throws: ImportError.self) { try VisiumReader.read(matrix: Self.matrix, spatial: flag) }
        #expect(e3?.field == "in_tissue" && e3?.row == 3)
    }

    @Test func parquetPositionsAreUnsupported() throws {
        let dir = TestEnv.tempDir() + "/spatial"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data([0x50, 0x41, 0x52, 0x31]).write(to: URL(fileURLWithPath: dir + "/tissue_positions.parquet"))
        let e = #expect(throws: ImportError.self) { try VisiumReader.positionsFile(in: dir) }
        #expect(e?.kind == .unsupported)
        #expect(e?.fix.contains("read_parquet") == true)
    }

    @Test func folderWithoutSpatialIsAnError() throws {
        let dir = TestEnv.tempDir()
        let e = #expect(throws: ImportError.self) { try VisiumReader.read(folder: dir) }
        #expect(e?.kind == .missingField && e?.field == "spatial/")
    }
}
