import Foundation
@testable import SpatialData

/// Small synthetic vendor files for the reader tests.
enum ReaderFixtures {
    /// Writes a 10x-style feature-barcode .h5 (CSC, genes as rows) from a dense cells × genes table.
    static func writeTenXH5(_ path: String, barcodes: [String], genes: [String], featureTypes: [String]? = nil,
                            counts: [[Int32]]) throws {
        var data = [Int32](), indices = [Int64](), indptr: [Int64] = [0]
        for row in counts {
            for (g, v) in row.enumerated() where v != 0 { data.append(v); indices.append(Int64(g)) }
            indptr.append(Int64(data.count))
        }
        let f = try H5File.create(path)
        let m = try f.root.createGroup("matrix")
        try m.writeStrings("barcodes", barcodes)
        try m.writeInt32s("data", data)
        try m.writeInt64s("indices", indices)
        try m.writeInt64s("indptr", indptr)
        try m.writeInt64s("shape", [Int64(genes.count), Int64(barcodes.count)])
        let feats = try m.createGroup("features")
        try feats.writeStrings("id", genes.map { "ID_" + $0 })
        try feats.writeStrings("name", genes)
        try feats.writeStrings("feature_type", featureTypes ?? genes.map { _ in "Gene Expression" })
        try feats.writeStrings("genome", genes.map { _ in "test" })
    }

    /// Writes `text` to `path` (gzip-compressed when the name ends in .gz).
    static func write(_ path: String, _ text: String) throws {
        if path.hasSuffix(".gz") { try TextFile.writeGzip(path, text) } else {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    /// Cuts the last `bytes` bytes off a file (a truncated download).
    static func truncate(_ path: String, dropping bytes: Int) throws {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        try d.prefix(max(0, d.count - bytes)).write(to: URL(fileURLWithPath: path))
    }
}
