import Foundation
import Tensor

/// The counts table of a delimited-counts import, before deciding which axis holds cells: a numeric grid
/// with optional labels along the top (header) and down the left (first column).
///
/// Label layouts recognised:
/// - header with one name fewer than each line's fields (R `write.table`): header = column labels,
///   first field of each line = row label;
/// - header with as many names as fields, and the first field of the lines is text or the first header
///   cell is empty (pandas `to_csv`, `scRNA_count.txt`): the first column holds row labels;
/// - header with as many names as fields, all numeric lines: column labels only (`Spatial_count.txt`);
/// - no header, first field text: row labels only (`seqfish_cortex_b2_testing.txt`).
struct DelimitedCountsGrid {
    let table: DelimitedTable
    let rowLabels: [String]?
    let columnLabels: [String]?
    /// First column of numbers (1 when the first column holds row labels).
    let firstDataColumn: Int
    let width: Int

    init(path: String, header: DelimitedTable.HeaderMode) throws {
        let t = try DelimitedTable(path: path, header: header)
        let width = try t.rectangularWidth(emptyProblem: "the counts file has no rows of numbers")
        let first = t.rows[0]
        let firstIsText = Double(first[0].trimmingCharacters(in: .whitespaces)) == nil
        var labelled: Bool
        var columnLabels: [String]? = nil
        if let h = t.header {
            if h.count == width - 1 {
                labelled = true; columnLabels = h
            } else if h.count == width {
                labelled = firstIsText || h[0].trimmingCharacters(in: .whitespaces).isEmpty
                columnLabels = labelled ? Array(h.dropFirst()) : h
            } else {
                throw ImportError(.shapeMismatch, file: path, field: "header", row: t.firstLine - 1,
                                  problem: "the header has \(h.count) names but the lines have \(width) fields",
                                  fix: "give one header name per column (optionally leaving out the row-name column, as R writes it)")
            }
        } else {
            labelled = firstIsText
        }
        self.table = t
        self.width = width
        self.firstDataColumn = labelled ? 1 : 0
        self.columnLabels = columnLabels.map { $0.map { $0.trimmingCharacters(in: .whitespaces) } }
        self.rowLabels = labelled ? t.rows.map { $0[0].trimmingCharacters(in: .whitespaces) } : nil
        if width - firstDataColumn < 1 {
            throw ImportError(.missingField, file: path, field: "counts", problem: "the lines hold labels but no numbers",
                              fix: "check the delimiter: counts files are tab-, comma- or space-separated")
        }
    }

    var rowCount: Int { table.rows.count }
    var columnCount: Int { width - firstDataColumn }

    /// Name of data column j (0-based among the numeric columns) for error messages.
    func columnName(_ c: Int) -> String {
        if let l = columnLabels, c - firstDataColumn >= 0, c - firstDataColumn < l.count { return l[c - firstDataColumn] }
        return "column \(c + 1)"
    }

    /// The counts as cells × genes: the grid as is when cells are rows, transposed otherwise.
    func matrix(cellsAreRows: Bool) throws -> CSRMatrix {
        var indptr = [Int](); indptr.reserveCapacity(rowCount + 1); indptr.append(0)
        var indices = [Int32](), values = [Float]()
        for (r, row) in table.rows.enumerated() {
            for c in firstDataColumn..<width {
                let s = row[c]
                guard let v = VendorTable.count(s) else {
                    throw ImportError(.invalidValue, file: table.file, field: columnName(c), row: table.firstLine + r,
                                      problem: "the count '\(s.prefix(40))'\(rowLabels.map { " (row '\($0[r])')" } ?? "") is not a number",
                                      fix: "counts must be plain numbers; check the delimiter and that no text column sits among the counts")
                }
                if v != 0 { indices.append(Int32(c - firstDataColumn)); values.append(v) }
            }
            indptr.append(values.count)
        }
        let m = CSRMatrix(rows: rowCount, cols: columnCount, indptr: indptr, indices: indices, values: values)
        return cellsAreRows ? m : m.transposed()
    }
}
