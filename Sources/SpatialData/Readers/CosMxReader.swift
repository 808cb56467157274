import Foundation

/// Reads NanoString CosMx flat-file exports: `<sample>_exprMat_file.csv` (fov, cell_ID, one column per
/// target) joined with `<sample>_metadata_file.csv` (fov, cell_ID, Area, CenterX/Y_local_px,
/// CenterX/Y_global_px, stain intensities, ...).
///
/// `cell_ID` is unique only within a FOV, so the cell id is `"\(cell_ID)_\(fov)"` (as squidpy and
/// spatialdata-io name them); `cell_ID == 0` rows collect unassigned transcripts and are dropped.
/// `NegPrb*`, `SystemControl*` and `FalseCode*` columns are set aside: their per-cell totals go to obs
/// (`negprb_counts`, ...), their names to metadata `cosmx.control_features`. Coordinates are the global
/// pixel centres with 0.12028 µm per pixel; local centres are kept in obs. Column names drift between the
/// public release and AtoMx exports, so each is looked up through a list of aliases.
public enum CosMxReader {
    /// Micrometres per pixel of CosMx SMI images (NanoString's stated value).
    public static let micronsPerPixel = 0.12028

    static let fovAliases = ["fov", "FOV", "fov_id"]
    static let cellAliases = ["cell_ID", "cell_id", "cellID", "CellId"]

    /// Reads a folder holding `*_exprMat_file.csv(.gz)` and, ideally, `*_metadata_file.csv(.gz)`.
    public static func read(folder: String) throws -> Dataset {
        guard let expr = VendorTable.find(in: folder, suffixes: ["_exprMat_file.csv", "_exprMat_file.csv.gz", "exprMat_file.csv"]) else {
            throw ImportError(.missingField, file: folder, field: "*_exprMat_file.csv", problem: "the folder has no *_exprMat_file.csv",
                              fix: "pass the CosMx flat-file export folder (it holds <sample>_exprMat_file.csv and <sample>_metadata_file.csv)")
        }
        var d = try read(exprMat: expr, metadata: metadataFile(near: expr))
        d.name = (folder as NSString).lastPathComponent
        return d
    }

    /// The `_metadata_file.csv` that belongs to an `_exprMat_file.csv`, if present.
    static func metadataFile(near expr: String) -> String? {
        let folder = (expr as NSString).deletingLastPathComponent
        let sibling = (expr as NSString).lastPathComponent.replacingOccurrences(of: "exprMat_file", with: "metadata_file")
        return VendorTable.find(in: folder, names: [sibling], suffixes: ["_metadata_file.csv", "_metadata_file.csv.gz"])
    }

    /// The cell key `"\(cell_ID)_\(fov)"` for every row, and which rows hold real cells (cell_ID ≠ 0).
    static func cellKeys(cells: [String], fovs: [String], file: String, fields: (cell: String, fov: String),
                         line: (Int) -> Int) throws -> (keys: [String], fovs: [String], assigned: [Int]) {
        var keys = [String](), assigned = [Int]()
        keys.reserveCapacity(cells.count)
        for r in cells.indices {
            let c = cells[r], f = fovs[r]
            if c.isEmpty || f.isEmpty {
                throw ImportError(.invalidValue, file: file, field: c.isEmpty ? fields.cell : fields.fov, row: line(r),
                                  problem: "the \(c.isEmpty ? "cell id" : "fov") is empty", fix: "every row needs a fov and a cell_ID")
            }
            keys.append("\(c)_\(f)")
            if Double(c) != 0 { assigned.append(r) }
        }
        return (keys, fovs, assigned)
    }

    static func cellKeys(_ t: DelimitedTable, cell: Int, fov: Int) throws -> (keys: [String], fovs: [String], assigned: [Int]) {
        let cells = try t.strings(cell).map { $0.trimmingCharacters(in: .whitespaces) }
        let fovs = try t.strings(fov).map { $0.trimmingCharacters(in: .whitespaces) }
        return try cellKeys(cells: cells, fovs: fovs, file: t.file, fields: (VendorTable.columnName(t, cell), VendorTable.columnName(t, fov)),
                            line: { t.firstLine + $0 })
    }

    /// Reads an expression matrix and its (optional) metadata file.
    public static func read(exprMat: String, metadata: String?) throws -> Dataset {
        let et = try WideCountsTable.header(exprMat)
        let header = et.header ?? []
        let fovCol = try et.requireColumn(fovAliases, what: "field of view")
        let cellCol = try et.requireColumn(cellAliases, what: "cell id")
        let features = header.indices.filter { $0 != fovCol && $0 != cellCol }
        let controls = features.filter { VendorTable.controlKind(header[$0]) != nil }
        let genes = features.filter { VendorTable.controlKind(header[$0]) == nil }
        guard !genes.isEmpty else {
            throw ImportError(.missingField, file: exprMat, field: "gene columns", problem: "the header has no target (gene) columns",
                              fix: "pass the CosMx *_exprMat_file.csv (fov, cell_ID, then one column per target)")
        }
        let kinds: [String] = ["NegPrb", "SystemControl", "FalseCode", "Blank"].filter { k in controls.contains { VendorTable.controlKind(header[$0]) == k } }
        let table = try WideCountsTable(path: exprMat, header: header, keyColumns: [cellCol, fovCol], countColumns: genes,
                                        sumGroups: kinds.map { k in controls.filter { VendorTable.controlKind(header[$0]) == k } })
        let (keys, fovs, rows) = try cellKeys(cells: table.keys[0], fovs: table.keys[1], file: exprMat,
                                             fields: (header[cellCol], header[fovCol]), line: { Int(table.lines[$0]) })
        guard !rows.isEmpty else {
            throw ImportError(.missingField, file: exprMat, field: "rows",
                              problem: table.lines.isEmpty ? "the file has a header but no cells" : "every row has cell_ID 0 (unassigned transcripts), so there are no cells",
                              fix: "export the expression matrix after cell segmentation")
        }
        let cellIDs = rows.map { keys[$0] }
        _ = try VendorTable.index(cellIDs, file: exprMat, field: "fov + cell_ID", lines: { Int(table.lines[rows[$0]]) })
        let (counts, sums) = table.selecting(rows)

        var obs = ObsTable()
        var meta = ["source.format": "cosmx-flat-files", "source.file": exprMat,
                    "cosmx.unassigned_rows": String(table.lines.count - rows.count)]
        if !controls.isEmpty {
            meta["cosmx.control_features"] = controls.map { header[$0] }.joined(separator: ",")
            for (g, kind) in kinds.enumerated() { obs["\(kind.lowercased())_counts"] = .float(sums[g]) }
        }
        var coordinates: Coordinates? = nil
        if let m = metadata {
            coordinates = try joinMetadata(m, cellIDs: cellIDs, exprMat: exprMat, obs: &obs)
            meta["cosmx.metadata_file"] = m
        } else {
            meta["cosmx.metadata_file"] = "missing (no coordinates)"
        }
        let d = Dataset(name: ((exprMat as NSString).deletingLastPathComponent as NSString).lastPathComponent,
                        counts: counts, cellIDs: cellIDs, geneIDs: genes.map { header[$0] },
                        fov: Categorical(labels: rows.map { fovs[$0] }, sorted: true), coordinates: coordinates,
                        platform: "cosmx", obs: obs, metadata: meta)
        try d.validate(file: exprMat, countsField: "counts")
        return d
    }

    /// Joins the metadata file by fov + cell_ID: global centres become the coordinates, the rest obs columns.
    static func joinMetadata(_ path: String, cellIDs: [String], exprMat: String, obs: inout ObsTable) throws -> Coordinates {
        let mt = try DelimitedTable(path: path, delimiter: .comma, header: .present)
        let fovCol = try mt.requireColumn(fovAliases, what: "field of view")
        let cellCol = try mt.requireColumn(cellAliases, what: "cell id")
        let xCol = try mt.requireColumn("CenterX_global_px", "x_global_px", "CenterX_global", what: "global x centre (px)")
        let yCol = try mt.requireColumn("CenterY_global_px", "y_global_px", "CenterY_global", what: "global y centre (px)")
        let (keys, _, _) = try cellKeys(mt, cell: cellCol, fov: fovCol)
        let index = try VendorTable.index(keys, file: path, field: "fov + cell_ID", lines: { mt.firstLine + $0 })
        let rows = try VendorTable.join(cellIDs, in: index, file: path, field: "fov + cell_ID", from: (exprMat as NSString).lastPathComponent)
        let x = try mt.numbers(xCol), y = try mt.numbers(yCol)
        for c in (mt.header ?? []).indices where ![fovCol, cellCol, xCol, yCol].contains(c) {
            let name = VendorTable.columnName(mt, c)
            if obs[name] == nil { obs[name] = try VendorTable.obsColumn(mt, column: c, rows: rows) }
        }
        return Coordinates(x: rows.map { x[$0] }, y: rows.map { y[$0] }, unit: .pixel, micronsPerPixel: micronsPerPixel)
    }
}
