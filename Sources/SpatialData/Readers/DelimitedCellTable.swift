import Foundation

/// A per-cell side table of a delimited-counts import (locations or cell metadata): the parsed rows, one
/// name per field and the column holding cell ids, when there is one.
///
/// Names come from the header; an R `write.table` header (one name fewer than the fields of each row)
/// means the first field is a row name and is treated as the id column. Headerless files take the names
/// the caller gives, else `V1`, `V2`, ... (R's convention).
struct DelimitedCellTable {
    let table: DelimitedTable
    let names: [String]
    let width: Int
    /// Column of cell ids, nil when the file has none (then rows join the counts by order).
    var idColumn: Int?

    static let idAliases = ["cell_ID", "cell_id", "cellid", "cell", "cells", "barcode", "barcodes", "id", "entityid", "cell_name", "spot"]

    init(path: String, columnNames: [String]? = nil) throws {
        let t = try DelimitedTable(path: path, header: columnNames == nil ? .sniff : .absent)
        let width = try t.rectangularWidth(emptyProblem: "the file has a header but no rows")
        let first = t.rows[0]
        var idColumn: Int? = nil
        if let h = t.header {
            if h.count == width - 1 { names = [""] + h; idColumn = 0 } else if h.count == width { names = h } else {
                throw ImportError(.shapeMismatch, file: path, field: "header", row: t.firstLine - 1,
                                  problem: "the header has \(h.count) names but the lines have \(width) fields",
                                  fix: "give every column one header name (or none at all)")
            }
        } else if let given = columnNames {
            guard given.count == width else {
                throw ImportError(.shapeMismatch, file: path, field: "column names",
                                  problem: "\(given.count) column names were given but the lines have \(width) fields",
                                  fix: "pass one name per column: \(width) names")
            }
            names = given
        } else {
            names = (1...max(width, 1)).map { "V\($0)" }
            // A headerless file whose first column is text holds the cell ids there.
            if width > 1, Double(first[0]) == nil { idColumn = 0 }
        }
        self.table = t
        self.width = width
        if idColumn == nil, t.header != nil || columnNames != nil { idColumn = column(Self.idAliases) }
        self.idColumn = idColumn
    }

    var file: String { table.file }
    var rowCount: Int { table.rows.count }
    func line(_ r: Int) -> Int { table.firstLine + r }

    /// First column whose name matches one of `aliases`, case-insensitively.
    func column(_ aliases: [String]) -> Int? {
        let lower = names.map { $0.lowercased() }
        for a in aliases { if let i = lower.firstIndex(of: a.lowercased()), !a.isEmpty { return i } }
        return nil
    }

    /// The column a reference names; an error lists the columns present.
    func column(_ ref: DelimitedCountsReader.ColumnRef, what: String) throws -> Int {
        switch ref {
        case .index(let i):
            guard i >= 0 && i < width else {
                throw ImportError(.missingField, file: file, field: "column \(i)",
                                  problem: "the \(what) column index \(i) is outside the \(width) columns (0-based)",
                                  fix: "pass a 0-based column index below \(width)")
            }
            return i
        case .name(let n):
            guard let i = column([n]) else {
                throw ImportError(.missingField, file: file, field: n,
                                  problem: "no \(what) column named '\(n)'; the columns are \(names.prefix(12).joined(separator: ", "))",
                                  fix: "name one of the columns present, or pass its 0-based index")
            }
            return i
        }
    }

    /// Text of column c, trimmed.
    func strings(_ c: Int) -> [String] {
        table.rows.map { c < $0.count ? $0[c].trimmingCharacters(in: .whitespaces) : "" }
    }

    /// Numbers of column c; the first non-number is an error naming the column and line.
    func numbers(_ c: Int) throws -> [Double] { try table.numbers(c) }

    /// Ids of the cells, when the table has an id column; repeats are an error.
    func ids() throws -> [String]? { try idIndex()?.ids }

    /// The ids and their rows; nil without an id column.
    private func idIndex() throws -> (ids: [String], index: [String: Int], field: String)? {
        guard let c = idColumn else { return nil }
        let v = strings(c), field = names[c].isEmpty ? "row names" : names[c]
        return (v, try VendorTable.index(v, file: file, field: field, lines: line), field)
    }

    /// Table rows for each cell: by id when both sides have ids, otherwise by order (lengths must agree).
    func rows(for cellIDs: [String], idsAreReal: Bool, source: String) throws -> [Int] {
        if idsAreReal, let id = try idIndex() {
            return try VendorTable.join(cellIDs, in: id.index, file: file, field: id.field, from: source)
        }
        guard rowCount == cellIDs.count else {
            throw ImportError(.shapeMismatch, file: file, field: "rows",
                              problem: "the file has \(rowCount) rows but \(source) has \(cellIDs.count) cells, and there are no cell ids to join by",
                              fix: "give one row per cell in the same order as the counts, or add a cell id column to both files")
        }
        return Array(0..<rowCount)
    }
}
