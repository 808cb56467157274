import Foundation
import Tensor

/// Reads counts kept as delimited text (tab, comma or space separated; gzip is fine) plus optional
/// per-cell locations and metadata files: the layouts of osmFISH, seqFISH, STARmap and Giotto exports.
///
/// **Orientation.** Pass `.cellsByGenes` or `.genesByCells` when you know it. `.sniff` decides, in order:
/// 1. when the locations or metadata file has cell ids, the axis whose labels match them holds cells;
/// 2. labels only along the top (a header of names, numeric lines) → the header names genes, lines are cells;
///    labels only down the left (first column of names, no header) → the lines are genes;
/// 3. labels on both axes → the longer axis holds cells (spatial panels and small references measure fewer
///    genes than cells; pass the orientation for whole-transcriptome tables with fewer cells than genes).
///
/// **Joins.** Locations and metadata rows are matched to cells by id when both the counts and the side file
/// have cell ids, otherwise by row order (then their lengths must agree). Counts without cell ids take the
/// ids of the locations (or metadata) file, else `0`, `1`, ... (anndata's default).
public enum DelimitedCountsReader {
    /// Which axis of the counts table holds cells.
    public enum Orientation: String, Sendable, Codable {
        case sniff
        case cellsByGenes = "cells-x-genes"
        case genesByCells = "genes-x-cells"
    }

    /// A column of a side file, by header name (case-insensitive) or 0-based index.
    public enum ColumnRef: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
        case name(String)
        case index(Int)
        public init(stringLiteral value: String) { self = .name(value) }
        public init(integerLiteral value: Int) { self = .index(value) }
    }

    /// Which columns of the locations file hold the id, x, y (z, FOV). Without it they are found by name
    /// (x / sdimx / x_centroid / center_x, ...) or, in a headerless file, as its 2 or 3 numeric columns.
    public struct LocationColumns: Sendable, Equatable {
        public var id: ColumnRef?
        public var x: ColumnRef
        public var y: ColumnRef
        public var z: ColumnRef?
        public var fov: ColumnRef?
        public init(id: ColumnRef? = nil, x: ColumnRef, y: ColumnRef, z: ColumnRef? = nil, fov: ColumnRef? = nil) {
            self.id = id; self.x = x; self.y = y; self.z = z; self.fov = fov
        }

        /// Parses the CLI's `--location-columns` text, `x=2,y=3[,id=0][,z=4][,fov=1]`: 0-based column numbers or
        /// header names. nil with a message naming what is wrong.
        public static func parse(_ text: String) -> Result<LocationColumns, ImportError> {
            var refs: [String: ColumnRef] = [:]
            for part in text.split(separator: ",") {
                let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2, ["id", "x", "y", "z", "fov"].contains(kv[0]), !kv[1].isEmpty else {
                    return .failure(ImportError(.invalidValue, file: "--location-columns", field: String(part),
                                                problem: "is not KEY=COLUMN with KEY one of id, x, y, z, fov",
                                                fix: "write e.g. --location-columns id=0,x=2,y=3 (0-based column numbers, or header names)"))
                }
                refs[kv[0]] = Int(kv[1]).map { .index($0) } ?? .name(kv[1])
            }
            guard let x = refs["x"], let y = refs["y"] else {
                return .failure(ImportError(.missingField, file: "--location-columns", field: "x, y", problem: "names no x or no y column",
                                            fix: "write e.g. --location-columns x=2,y=3"))
            }
            return .success(LocationColumns(id: refs["id"], x: x, y: y, z: refs["z"], fov: refs["fov"]))
        }
    }

    /// Everything else about the import.
    public struct Options: Sendable {
        /// Header handling of the counts file (sniffed by default: a first line with fewer numbers than the next).
        public var countsHeader: DelimitedTable.HeaderMode = .sniff
        public var locationColumns: LocationColumns? = nil
        /// Names for the columns of a headerless metadata file (else V1, V2, ...); a name among
        /// cell_id / cell / barcode / id marks the id column.
        public var metadataColumnNames: [String]? = nil
        public var unit: CoordinateUnit = .unknown
        public var micronsPerPixel: Double? = nil
        /// Platform label (osmfish, seqfish, starmap, visium, scrna, ...).
        public var platform: String = "unknown"
        /// Display name; defaults to the counts file name without extensions.
        public var name: String? = nil
        public init() {}
    }

    static let xAliases = ["x", "sdimx", "x_centroid", "center_x", "centerx", "x_global_px", "centerx_global_px", "imagecol", "x_coord", "pos_x", "spatial_x", "coord_x"]
    static let yAliases = ["y", "sdimy", "y_centroid", "center_y", "centery", "y_global_px", "centery_global_px", "imagerow", "y_coord", "pos_y", "spatial_y", "coord_y"]
    static let zAliases = ["z", "sdimz", "z_centroid", "center_z", "z_coord", "pos_z", "spatial_z", "coord_z"]
    static let fovAliases = ["fov", "field", "field_of_view"]
    static let sampleAliases = ["sample", "sample_id", "list_id", "library_id", "section", "slice"]
    static let batchAliases = ["batch", "batch_id"]

    /// Reads `counts`, joining `locations` (coordinates) and `metadata` (sample, FOV, batch, annotations) when given.
    public static func read(counts: String, locations: String? = nil, metadata: String? = nil,
                            orientation: Orientation = .sniff, options: Options = Options()) throws -> Dataset {
        let grid = try DelimitedCountsGrid(path: counts, header: options.countsHeader)
        let loc = try locations.map { try DelimitedCellTable(path: $0) }
        var locTable = loc
        if let spec = options.locationColumns, let l = loc, let idRef = spec.id { locTable?.idColumn = try l.column(idRef, what: "cell id") }
        let meta = try metadata.map { try DelimitedCellTable(path: $0, columnNames: options.metadataColumnNames) }
        let sideIDs = try locTable?.ids() ?? meta?.ids()

        let (cellsAreRows, rule) = try decideOrientation(grid, orientation: orientation, sideIDs: sideIDs, file: counts)
        let cellLabels = cellsAreRows ? grid.rowLabels : grid.columnLabels
        guard let geneLabels = cellsAreRows ? grid.columnLabels : grid.rowLabels else {
            throw ImportError(.missingField, file: counts, field: cellsAreRows ? "header" : "first column",
                              problem: "the counts have no gene names (\(cellsAreRows ? "no header line" : "no first column of names")) for orientation \(cellsAreRows ? "cells x genes" : "genes x cells")",
                              fix: "add the gene names, or pass the other orientation if the genes run the other way")
        }
        let matrix = try grid.matrix(cellsAreRows: cellsAreRows)
        let n = matrix.rows
        let idsAreReal = cellLabels != nil || sideIDs != nil
        let cellIDs = cellLabels ?? sideIDs ?? (0..<n).map(String.init)
        guard cellIDs.count == n else {
            throw ImportError(.shapeMismatch, file: locTable?.file ?? meta?.file ?? counts, field: "rows",
                              problem: "the file has \(cellIDs.count) cells but the counts have \(n), and the counts carry no cell ids to join by",
                              fix: "give one row per cell in the same order as the counts")
        }
        let source = (counts as NSString).lastPathComponent
        var obs = ObsTable()
        var coordinates: Coordinates? = nil
        var fov: Categorical? = nil, sample: Categorical? = nil, batch: Categorical? = nil
        var used: Set<Int> = []

        if let l = locTable {
            let rows = try l.rows(for: cellIDs, idsAreReal: idsAreReal, source: source)
            let cols = try locationColumns(l, options.locationColumns)
            if let c = l.idColumn { used.insert(c) }
            used.formUnion([cols.x, cols.y] + [cols.z, cols.fov].compactMap { $0 })
            let x = try l.numbers(cols.x), y = try l.numbers(cols.y), z = try cols.z.map { try l.numbers($0) }
            coordinates = Coordinates(x: rows.map { x[$0] }, y: rows.map { y[$0] }, z: z.map { z in rows.map { z[$0] } },
                                      unit: options.unit, micronsPerPixel: options.micronsPerPixel)
            if let f = cols.fov { let v = l.strings(f); fov = Categorical(labels: rows.map { v[$0] }, sorted: true) }
            try addObs(l, rows: rows, skip: used, to: &obs)
        }
        if let m = meta {
            let rows = try m.rows(for: cellIDs, idsAreReal: idsAreReal, source: source)
            var skip: Set<Int> = m.idColumn.map { [$0] } ?? []
            func categorical(_ aliases: [String]) -> Categorical? {
                guard let c = m.column(aliases) else { return nil }
                skip.insert(c)
                let v = m.strings(c)
                return Categorical(labels: rows.map { v[$0] }, sorted: true)
            }
            sample = categorical(sampleAliases)
            batch = categorical(batchAliases)
            if let f = categorical(fovAliases), fov == nil { fov = f }
            try addObs(m, rows: rows, skip: skip, to: &obs)
        }
        var md = ["source.format": "delimited-text", "source.file": counts,
                  "delimited.orientation": (cellsAreRows ? "cells x genes" : "genes x cells") + " (\(rule))"]
        if let l = locations { md["delimited.locations"] = l }
        if let m = metadata { md["delimited.metadata"] = m }
        let name = options.name ?? Self.baseName(counts)
        let d = Dataset(name: name, counts: matrix, cellIDs: cellIDs, geneIDs: geneLabels, sample: sample, fov: fov,
                        batch: batch, coordinates: coordinates, platform: options.platform, obs: obs, metadata: md)
        try d.validate(file: counts, countsField: "counts")
        return d
    }

    /// Orientation by the caller or by the rules in the type's documentation; returns the rule used.
    static func decideOrientation(_ g: DelimitedCountsGrid, orientation: Orientation, sideIDs: [String]?, file: String) throws -> (Bool, String) {
        switch orientation {
        case .cellsByGenes: return (true, "given")
        case .genesByCells: return (false, "given")
        case .sniff: break
        }
        if let ids = sideIDs {
            let set = Set(ids)
            let rowHits = g.rowLabels?.filter { set.contains($0) }.count ?? 0
            let colHits = g.columnLabels?.filter { set.contains($0) }.count ?? 0
            if rowHits != colHits { return (rowHits > colHits, "sniffed: cell ids of the side file match the \(rowHits > colHits ? "row" : "column") labels") }
        }
        switch (g.rowLabels != nil, g.columnLabels != nil) {
        case (false, true): return (true, "sniffed: header names the genes")
        case (true, false): return (false, "sniffed: first column names the genes")
        case (true, true):
            return (g.rowCount >= g.columnCount, "sniffed: the longer axis holds cells")
        case (false, false):
            throw ImportError(.missingField, file: file, field: "gene names",
                              problem: "the counts file has neither a header nor a first column of names, so no gene is named",
                              fix: "add a header line with the gene names (or a first column of gene names)")
        }
    }

    struct ResolvedLocation { var x: Int; var y: Int; var z: Int?; var fov: Int? }

    /// The x / y / z / FOV columns of a locations table, from the caller's spec, names, or numeric columns.
    static func locationColumns(_ l: DelimitedCellTable, _ spec: LocationColumns?) throws -> ResolvedLocation {
        if let s = spec {
            return ResolvedLocation(x: try l.column(s.x, what: "x"), y: try l.column(s.y, what: "y"),
                                    z: try s.z.map { try l.column($0, what: "z") }, fov: try s.fov.map { try l.column($0, what: "fov") })
        }
        if l.table.header != nil {
            guard let x = l.column(xAliases), let y = l.column(yAliases) else {
                throw ImportError(.missingField, file: l.file, field: "x, y",
                                  problem: "no x / y columns (looked for \(xAliases.prefix(4).joined(separator: ", ")), ...); the header has \(l.names.prefix(12).joined(separator: ", "))",
                                  fix: "rename the coordinate columns to x and y, or name them with --location-columns x=NAME,y=NAME")
            }
            return ResolvedLocation(x: x, y: y, z: l.column(zAliases), fov: l.column(fovAliases))
        }
        let first = l.table.rows.first ?? []
        let numeric = first.indices.filter { $0 != l.idColumn && Double(first[$0].trimmingCharacters(in: .whitespaces)) != nil }
        switch numeric.count {
        case 2: return ResolvedLocation(x: numeric[0], y: numeric[1], z: nil, fov: nil)
        case 3: return ResolvedLocation(x: numeric[0], y: numeric[1], z: numeric[2], fov: nil)
        default:
            throw ImportError(.missingField, file: l.file, field: "x, y",
                              problem: "the file has no header and \(numeric.count) numeric columns, so which are x and y is ambiguous",
                              fix: "name the columns with --location-columns (e.g. --location-columns id=0,fov=1,x=2,y=3; 0-based), or add a header line with x and y")
        }
    }

    /// Adds every column of `t` not in `skip` as an obs column (a name already present is kept).
    static func addObs(_ t: DelimitedCellTable, rows: [Int], skip: Set<Int>, to obs: inout ObsTable) throws {
        for c in 0..<t.width where !skip.contains(c) {
            let name = t.names[c].isEmpty ? "V\(c + 1)" : t.names[c]
            if obs[name] == nil { obs[name] = try VendorTable.obsColumn(t.table, column: c, rows: rows) }
        }
    }

    /// The file name without its directory and extensions (.txt.gz → stem).
    static func baseName(_ path: String) -> String {
        var n = (path as NSString).lastPathComponent
        for ext in [".gz", ".txt", ".tsv", ".csv"] where n.lowercased().hasSuffix(ext) { n = String(n.dropLast(ext.count)) }
        return n
    }
}
