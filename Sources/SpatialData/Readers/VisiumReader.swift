import Foundation

/// Reads 10x Visium Space Ranger output: the feature-barcode matrix (.h5) joined with `spatial/`
/// (spot positions and scale factors).
///
/// Both positions layouts are accepted, told apart by content rather than by name, because the 1.x → 2.x
/// change broke many readers: `tissue_positions.csv` (Space Ranger ≥ 2, with a header) and
/// `tissue_positions_list.csv` (1.x, no header). Columns, in order: barcode, in_tissue, array_row,
/// array_col, pxl_row_in_fullres, pxl_col_in_fullres. Coordinates follow spatialdata-io:
/// x = pxl_col_in_fullres, y = pxl_row_in_fullres, in full-resolution image pixels, with
/// micronsPerPixel = 55 µm / spot_diameter_fullres.
public enum VisiumReader {
    /// Diameter of a Visium spot in micrometres (the physical scale of `spot_diameter_fullres`).
    public static let spotDiameterMicrons = 55.0

    /// Reads a Space Ranger output folder (the folder holding `spatial/`, or its parent with `outs/`).
    public static func read(folder: String) throws -> Dataset {
        var root = folder
        let outs = (folder as NSString).appendingPathComponent("outs")
        if !VendorTable.isDirectory((folder as NSString).appendingPathComponent("spatial")) && VendorTable.isDirectory(outs) { root = outs }
        let spatial = (root as NSString).appendingPathComponent("spatial")
        guard VendorTable.isDirectory(spatial) else {
            throw ImportError(.missingField, file: folder, field: "spatial/",
                              problem: "the folder has no spatial/ subfolder with the spot positions",
                              fix: "pass the Space Ranger 'outs' folder, which holds spatial/ and filtered_feature_bc_matrix.h5")
        }
        guard let matrix = VendorTable.find(in: root, names: ["filtered_feature_bc_matrix.h5", "raw_feature_bc_matrix.h5"],
                                            suffixes: ["filtered_feature_bc_matrix.h5", "raw_feature_bc_matrix.h5", ".h5"]) else {
            throw ImportError(.missingField, file: root, field: "filtered_feature_bc_matrix.h5",
                              problem: "the folder has no feature-barcode matrix (.h5)",
                              fix: "copy filtered_feature_bc_matrix.h5 from the Space Ranger outs folder next to spatial/")
        }
        var d = try read(matrix: matrix, spatial: spatial)
        d.name = ((root as NSString).lastPathComponent == "outs"
                  ? ((root as NSString).deletingLastPathComponent as NSString).lastPathComponent
                  : (root as NSString).lastPathComponent)
        return d
    }

    /// Reads a matrix .h5 and a `spatial/` folder given separately.
    public static func read(matrix: String, spatial: String) throws -> Dataset {
        let positionsPath = try positionsFile(in: spatial)
        let scalePath = (spatial as NSString).appendingPathComponent("scalefactors_json.json")
        var d = try TenXH5Reader.read(path: matrix, platform: "visium")
        let positions = try readPositions(positionsPath)
        let rows = try VendorTable.join(d.cellIDs, in: positions.index, file: positionsPath, field: "barcode",
                                        from: "the matrix \((matrix as NSString).lastPathComponent)")
        var mpp: Double? = nil
        // uns['spatial'][library_id] as sc.read_visium builds it; the library is named after the folder above spatial/.
        var library = SpatialLibrary(id: ((spatial as NSString).deletingLastPathComponent as NSString).lastPathComponent)
        for res in ["hires", "lowres"] {
            let path = (spatial as NSString).appendingPathComponent("tissue_\(res)_image.png")
            if FileManager.default.fileExists(atPath: path) { library.images[res] = try PNGFile.readRGB(path) }
        }
        if FileManager.default.fileExists(atPath: scalePath) {
            let factors = try scaleFactors(scalePath)
            library.scalefactors = factors
            for (k, v) in factors { d.metadata["visium.\(k)"] = VendorTable.format(v) }
            if let spot = factors["spot_diameter_fullres"] {
                guard spot > 0, spot.isFinite else {
                    throw ImportError(.invalidValue, file: scalePath, field: "spot_diameter_fullres", problem: "the spot diameter is \(spot) pixels",
                                      fix: "the scale factors are damaged; copy scalefactors_json.json again from Space Ranger")
                }
                mpp = spotDiameterMicrons / spot
            }
        } else {
            d.metadata["visium.scalefactors"] = "missing (no micrometre scale)"
        }
        d.coordinates = Coordinates(x: rows.map { positions.pxlCol[$0] }, y: rows.map { positions.pxlRow[$0] },
                                    unit: .pixel, micronsPerPixel: mpp)
        try describeImages(in: spatial, coordinates: d.coordinates!, metadata: &d.metadata)
        d.obs["in_tissue"] = .bool(rows.map { positions.inTissue[$0] })
        d.obs["array_row"] = .int(rows.map { positions.arrayRow[$0] })
        d.obs["array_col"] = .int(rows.map { positions.arrayCol[$0] })
        d.spatialLibraries = [library]
        d.metadata["source.format"] = "visium-spaceranger"
        d.metadata["visium.positions"] = positions.layout
        d.metadata["visium.positions_file"] = positionsPath
        try d.validate(file: matrix, countsField: "/matrix/data")
        return d
    }

    /// Records the tissue images' sizes and whether the spots, scaled by the image's scale factor, fall
    /// inside it (a check that positions, scale factors and image belong together).
    static func describeImages(in spatial: String, coordinates c: Coordinates, metadata: inout [String: String]) throws {
        for (res, key) in [("hires", "tissue_hires_scalef"), ("lowres", "tissue_lowres_scalef")] {
            let path = (spatial as NSString).appendingPathComponent("tissue_\(res)_image.png")
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let (w, h) = try PNGFile.size(path)
            metadata["visium.\(res)_image"] = "\(w)x\(h)"
            if let f = metadata["visium.\(key)"].flatMap(Double.init), let mx = c.x.max(), let my = c.y.max(),
               (mx * f).isFinite, (my * f).isFinite {
                let inside = mx * f <= Double(w) * 1.02 && my * f <= Double(h) * 1.02
                metadata["visium.\(res)_image_spots_inside"] = inside ? "yes" : "no: spots reach \(Int(mx * f))x\(Int(my * f)) px, the image is \(w)x\(h); scale factors and image may not belong together"
            }
        }
    }

    /// The positions file in `spatial`: Space Ranger ≥ 2 name first, then 1.x; parquet is reported as unsupported.
    static func positionsFile(in spatial: String) throws -> String {
        if let p = VendorTable.find(in: spatial, names: ["tissue_positions.csv", "tissue_positions_list.csv",
                                                         "tissue_positions.csv.gz", "tissue_positions_list.csv.gz"]) { return p }
        if let p = VendorTable.find(in: spatial, names: ["tissue_positions.parquet"]) {
            throw ImportError(.unsupported, file: p, field: "",
                              problem: "positions stored as Parquet (Visium HD binned output) cannot be read by this build",
                              fix: "convert it to CSV first, e.g. in Python: pandas.read_parquet(path).to_csv('tissue_positions.csv', index=False)")
        }
        throw ImportError(.missingField, file: spatial, field: "tissue_positions.csv",
                          problem: "spatial/ has neither tissue_positions.csv (Space Ranger ≥ 2) nor tissue_positions_list.csv (1.x)",
                          fix: "copy the whole spatial/ folder from the Space Ranger outs folder")
    }

    /// Spot positions, one entry per positions row.
    struct Positions {
        var index: [String: Int]
        var inTissue: [Bool]
        var arrayRow: [Int64], arrayCol: [Int64]
        var pxlRow: [Double], pxlCol: [Double]
        var layout: String
    }

    /// Parses a positions file, sniffing the header: present when the first field is "barcode" or in_tissue is not a number.
    static func readPositions(_ path: String) throws -> Positions {
        var t = try DelimitedTable(path: path, delimiter: .comma, header: .absent)
        guard let first = t.rows.first else {
            throw ImportError(.missingField, file: path, field: "", problem: "the positions file has no rows", fix: "copy it again from Space Ranger")
        }
        let hasHeader = first.first?.lowercased() == "barcode" || (first.count > 1 && Double(first[1]) == nil)
        let columns: [Int]
        let names = ["barcode", "in_tissue", "array_row", "array_col", "pxl_row_in_fullres", "pxl_col_in_fullres"]
        if hasHeader {
            t = t.promotingFirstRowToHeader()
            columns = [try t.requireColumn("barcode", what: "spot barcode"),
                       try t.requireColumn("in_tissue", what: "in-tissue flag"),
                       try t.requireColumn("array_row", what: "array row"),
                       try t.requireColumn("array_col", what: "array column"),
                       try t.requireColumn("pxl_row_in_fullres", "pxl_row_in_fullres_px", what: "pixel row"),
                       try t.requireColumn("pxl_col_in_fullres", "pxl_col_in_fullres_px", what: "pixel column")]
        } else {
            guard first.count >= 6 else {
                throw ImportError(.shapeMismatch, file: path, field: "line 1", row: t.firstLine,
                                  problem: "the line has \(first.count) fields; a positions file has 6 (\(names.joined(separator: ", ")))",
                                  fix: "pass Space Ranger's tissue_positions(_list).csv unchanged")
            }
            columns = Array(0..<6)
        }
        let barcodes = try t.strings(columns[0])
        let index = try VendorTable.index(barcodes, file: path, field: "barcode", lines: { t.firstLine + $0 })
        func ints(_ k: Int) throws -> [Int64] {
            try t.numbers(columns[k]).enumerated().map { r, v in
                guard v == v.rounded(), abs(v) < 1e12 else {
                    throw ImportError(.invalidValue, file: path, field: names[k], row: t.firstLine + r,
                                      problem: "'\(v)' is not a whole number", fix: "\(names[k]) must be an integer grid index")
                }
                return Int64(v)
            }
        }
        let inTissue = try ints(1)
        if let bad = inTissue.firstIndex(where: { $0 != 0 && $0 != 1 }) {
            throw ImportError(.invalidValue, file: path, field: "in_tissue", row: t.firstLine + bad,
                              problem: "in_tissue is \(inTissue[bad]); it must be 0 or 1", fix: "check that the columns are in Space Ranger's order")
        }
        return Positions(index: index, inTissue: inTissue.map { $0 == 1 }, arrayRow: try ints(2), arrayCol: try ints(3),
                         pxlRow: try t.numbers(columns[4]), pxlCol: try t.numbers(columns[5]),
                         layout: hasHeader ? "spaceranger>=2 (header)" : "spaceranger-1.x (no header)")
    }

    /// The numeric entries of `scalefactors_json.json`.
    static func scaleFactors(_ path: String) throws -> [String: Double] {
        let obj = try VendorTable.jsonObject(path)
        var out = [String: Double]()
        for (k, v) in obj { if let n = v as? NSNumber { out[k] = n.doubleValue } }
        return out
    }
}
