import Foundation
import Testing
import Tensor
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

    /// The written h5ad holds what sc.read_visium builds from the same folder: uns['spatial'][library] images
    /// (pixel for pixel) and scale factors, var gene_ids / feature_types / genome; sc.pl.spatial draws it; and
    /// `convert` of that h5ad (read, write) keeps the images and an obsm embedding.
    @Test(.enabled(if: TestEnv.hasSharedData && TestEnv.hasScanpy, "needs ../shared/data and scanpy in .venv-test"))
    func writtenVisiumMatchesScanpyReadVisium() throws {
        var d = try DatasetReader.read(path: Self.folder)
        #expect(d.spatialLibraries.count == 1 && d.spatialLibraries[0].images["hires"]?.width == 2000)
        d.embeddings["X_test"] = Matrix(rows: d.cellCount, cols: 2, data: (0..<(2 * d.cellCount)).map { Float($0) })
        let dir = TestEnv.tempDir()
        try H5ADWriter.write(d, to: dir + "/visium.h5ad")
        let again = try H5ADReader.read(path: dir + "/visium.h5ad")
        #expect(again.spatialLibraries == d.spatialLibraries && again.embeddings == d.embeddings)
        try H5ADWriter.write(again, to: dir + "/converted.h5ad")
        let out = try TestEnv.runPython("""
        import sys, numpy as np, scanpy as sc, matplotlib
        matplotlib.use("Agg")
        ref = sc.read_visium(sys.argv[1])
        for name in ["visium", "converted"]:
            a = sc.read_h5ad(sys.argv[2] + "/" + name + ".h5ad")
            lib = list(ref.uns["spatial"])[0]
            ours = a.uns["spatial"][list(a.uns["spatial"])[0]]
            for res in ["hires", "lowres"]:
                r = ref.uns["spatial"][lib]["images"][res][..., :3]
                assert ours["images"][res].shape == r.shape, (res, ours["images"][res].shape, r.shape)
                assert np.abs(ours["images"][res] - r).max() < 1e-6, res
            for k, v in ref.uns["spatial"][lib]["scalefactors"].items():
                assert abs(ours["scalefactors"][k] - v) < 1e-9, k
            ref.var_names_make_unique()
            common = [b for b in ref.obs_names if b in set(a.obs_names)]
            assert len(common) == a.n_obs, (len(common), a.n_obs)
            assert np.allclose(a[common].obsm["spatial"], ref[common].obsm["spatial"])
            for c in ["gene_ids", "feature_types", "genome"]:
                assert list(a.var[c].astype(str)) == list(ref.var[c].astype(str)), c
            assert a.obsm["X_test"].shape == (a.n_obs, 2)
            sc.pl.spatial(a, color="in_tissue", show=False)
            print(name, "ok")
        """, [Self.folder, dir])
        #expect(out.contains("visium ok") && out.contains("converted ok"), "\(out)")
    }
}
