import Foundation
import Testing
@testable import SpatialData

/// Xenium output folders written here (no Xenium data in ../shared/data): a 10x .h5 with a control probe,
/// a gzipped cells.csv.gz in another order with one extra cell, and experiment.xenium.
@Suite struct XeniumReaderTests {
    static let barcodes = ["aaaa-1", "aaab-1", "aaac-1", "aaad-1"]
    static let header = "cell_id,x_centroid,y_centroid,transcript_counts,control_probe_counts,cell_area,nucleus_area,segmentation_method"

    /// A complete folder; `cells` replaces the cells table, `cellsName` its file name.
    func folder(cells: String? = nil, cellsName: String = "cells.csv.gz", experiment: Bool = true) throws -> String {
        let dir = TestEnv.tempDir()
        try ReaderFixtures.writeTenXH5(dir + "/cell_feature_matrix.h5", barcodes: Self.barcodes,
                                       genes: ["GeneA", "GeneB", "NegControlProbe_1", "GeneC"],
                                       featureTypes: ["Gene Expression", "Gene Expression", "Negative Control Probe", "Gene Expression"],
                                       counts: [[1, 0, 2, 0], [0, 3, 0, 1], [5, 0, 0, 0], [0, 0, 1, 7]])
        let table = cells ?? [Self.header,
                              "aaac-1,30.5,300.25,5,0,40.5,10.0,Imaging",
                              "zzzz-1,1.0,2.0,0,0,1.0,1.0,Imaging",
                              "aaaa-1,10.5,100.25,3,2,20.0,5.5,Imaging",
                              "aaad-1,40.5,400.25,9,1,60.0,NA,Boundary",
                              "aaab-1,20.5,200.25,4,0,30.0,7.5,Imaging"].joined(separator: "\n") + "\n"
        try ReaderFixtures.write(dir + "/" + cellsName, table)
        if experiment {
            try #"{"pixel_size": 0.2125, "analysis_sw_version": "xenium-1.0.2", "num_cells": 4, "images": {"morphology": "morphology.ome.tif"}}"#
                .write(toFile: dir + "/experiment.xenium", atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test func readsFolder() throws {
        let d = try XeniumReader.read(folder: try folder())
        #expect(d.cellCount == 4 && d.geneCount == 3)
        #expect(d.geneSymbols == ["GeneA", "GeneB", "GeneC"])
        #expect(d.cellIDs == Self.barcodes)
        #expect(d.platform == "xenium")
        #expect(d.counts.rowSums() == [1, 4, 5, 7])
        let xy = try #require(d.coordinates)
        #expect(xy.x == [10.5, 20.5, 30.5, 40.5] && xy.y == [100.25, 200.25, 300.25, 400.25])
        #expect(xy.unit == .micrometre)
        #expect(d.obs["transcript_counts"] == .int([3, 4, 5, 9]))
        #expect(d.obs["cell_area"] == .float([20, 30, 40.5, 60]))
        let nucleus = d.obs["nucleus_area"]?.numericValues ?? []
        #expect(nucleus.count == 4 && nucleus[3].isNaN && nucleus[0] == 5.5)
        guard case .categorical(let seg)? = d.obs["segmentation_method"] else { Issue.record("segmentation_method not categorical"); return }
        #expect(seg.categories == ["Boundary", "Imaging"] && seg.categoryCounts() == [1, 3])
        #expect(d.obs["x_centroid"] == nil)
        #expect(d.metadata["xenium.pixel_size"] == "0.2125")
        #expect(d.metadata["xenium.analysis_sw_version"] == "xenium-1.0.2")
        #expect(d.metadata["xenium.cells_without_counts"] == "1")
        #expect(d.metadata["features.dropped"] == "Negative Control Probe=1")
    }

    @Test func plainCsvWithoutManifest() throws {
        let d = try XeniumReader.read(folder: try folder(cellsName: "cells.csv", experiment: false))
        #expect(d.cellCount == 4 && d.metadata["xenium.pixel_size"] == nil)
    }

    @Test func cellMissingFromCellsTableIsNamed() throws {
        let table = [Self.header, "aaaa-1,1,1,1,1,1,1,Imaging", "aaab-1,1,1,1,1,1,1,Imaging", "aaad-1,1,1,1,1,1,1,Imaging"].joined(separator: "\n")
        let dir = try folder(cells: table)
        let e = #expect(throws: ImportError.self) { try XeniumReader.read(folder: dir) }
        #expect(e?.kind == .missingField && e?.field == "cell_id")
        #expect(e?.problem.contains("'aaac-1'") == true)
    }

    @Test func missingColumnAndBadValues() throws {
        let noX = "cell_id,y_centroid\naaaa-1,1\naaab-1,1\naaac-1,1\naaad-1,1\n"
        let dir1 = try folder(cells: noX)
        let e1 = #expect(throws: ImportError.self) { try XeniumReader.read(folder: dir1) }
        #expect(e1?.kind == .missingField && e1?.field == "x_centroid")

        let badX = "cell_id,x_centroid,y_centroid\naaaa-1,1,1\naaab-1,oops,1\naaac-1,1,1\naaad-1,1,1\n"
        let dir2 = try folder(cells: badX)
        let e2 = #expect(throws: ImportError.self) { try XeniumReader.read(folder: dir2) }
        #expect(e2?.kind == .invalidValue && e2?.field == "x_centroid" && e2?.row == 3)

        let dup = "cell_id,x_centroid,y_centroid\naaaa-1,1,1\naaab-1,1,1\naaac-1,1,1\naaad-1,1,1\naaab-1,2,2\n"
        let dir3 = try folder(cells: dup)
        let e3 = #expect(throws: ImportError.self) { try XeniumReader.read(folder: dir3) }
        #expect(e3?.kind == .duplicateID && e3?.row == 6)
    }

    @Test func truncatedGzipIsCorrupt() throws {
        let long = ([Self.header] + (0..<2000).map { "cell\($0),\($0).5,\($0).25,1,0,1,1,Imaging" }).joined(separator: "\n")
        let dir = try folder(cells: long)
        try ReaderFixtures.truncate(dir + "/cells.csv.gz", dropping: 200)
        let e = #expect(throws: ImportError.self) { try XeniumReader.read(folder: dir) }
        #expect(e?.kind == .corrupt && e?.file.hasSuffix("cells.csv.gz") == true)
    }

    @Test func parquetOnlyIsUnsupported() throws {
        let dir = try folder()
        try FileManager.default.moveItem(atPath: dir + "/cells.csv.gz", toPath: dir + "/cells.parquet")
        let e = #expect(throws: ImportError.self) { try XeniumReader.read(folder: dir) }
        #expect(e?.kind == .unsupported)
    }

    @Test func damagedManifest() throws {
        let dir = try folder()
        try "{\"pixel_size\": 0.21".write(toFile: dir + "/experiment.xenium", atomically: true, encoding: .utf8)
        let e = #expect(throws: ImportError.self) { try XeniumReader.read(folder: dir) }
        #expect(e?.kind == .corrupt && e?.file.hasSuffix("experiment.xenium") == true)
    }
}
