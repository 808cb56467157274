import Foundation
import Tensor

/// A wide counts file (one row per cell: key columns such as the cell id or FOV, then one column per
/// feature), streamed line by line: count columns are parsed from bytes straight into CSR, control columns
/// into per-row sums, and only the key columns become strings. Memory grows with the non-zeros, not with
/// the file, which is what a multi-gigabyte MERSCOPE or CosMx matrix needs.
struct WideCountsTable {
    let file: String
    let header: [String]
    /// keys[k][row]: the text of key column k.
    var keys: [[String]]
    /// File line of each row (for errors).
    var lines: [Int32]
    /// rows × countColumns.count.
    var counts: CSRMatrix
    /// sums[g][row]: the row's total over control group g.
    var sums: [[Double]]

    /// The header line of a comma-separated file as a header-only table (for column lookups by alias).
    static func header(_ path: String) throws -> DelimitedTable {
        var fields: [String]? = nil
        try LineStream.forEach(path) { line, _ in
            var ranges: [Range<Int>] = []
            LineStream.splitCSV(line, into: &ranges)
            fields = ranges.map { LineStream.text(line, $0) }
            return false
        }
        guard let fields, !(fields.count == 1 && fields[0].isEmpty) else {
            throw ImportError(.missingField, file: path, field: "", problem: "the file is empty", fix: "check that the export completed")
        }
        return DelimitedTable(file: path, header: fields)
    }

    /// Streams the rows after the header.
    init(path: String, header: [String], keyColumns: [Int], countColumns: [Int], sumGroups: [[Int]]) throws {
        file = path
        self.header = header
        keys = keyColumns.map { _ in [] }
        lines = []
        sums = sumGroups.map { _ in [] }
        var indptr = [0], indices = [Int32](), values = [Float]()
        var keys = self.keys, lines = self.lines, sums = self.sums
        try LineStream.forEachRow(path, width: header.count) { line, ranges, number in
            for (k, c) in keyColumns.enumerated() { keys[k].append(LineStream.text(line, ranges[c])) }
            for (j, c) in countColumns.enumerated() {
                guard let v = LineStream.number(line, ranges[c]) else {
                    throw ImportError(.invalidValue, file: path, field: header[c], row: number,
                                      problem: "the count '\(LineStream.text(line, ranges[c]).prefix(40))' is not a number",
                                      fix: "counts must be plain numbers; check the delimiter and that no text column sits among the gene columns")
                }
                if v != 0 { indices.append(Int32(j)); values.append(Float(v)) }
            }
            for (g, cols) in sumGroups.enumerated() {
                var s = 0.0
                for c in cols {
                    guard let v = LineStream.number(line, ranges[c]) else {
                        throw ImportError(.invalidValue, file: path, field: header[c], row: number,
                                          problem: "the count '\(LineStream.text(line, ranges[c]).prefix(40))' is not a number",
                                          fix: "counts must be plain numbers")
                    }
                    s += v
                }
                sums[g].append(s)
            }
            indptr.append(values.count)
            lines.append(Int32(clamping: number))
        }
        self.keys = keys; self.lines = lines; self.sums = sums
        counts = CSRMatrix(rows: lines.count, cols: countColumns.count, indptr: indptr, indices: indices, values: values)
    }

    /// The rows listed, in order (a cheap selection of the streamed matrix and sums).
    func selecting(_ rows: [Int]) -> (counts: CSRMatrix, sums: [[Double]]) {
        (counts.selectingRows(rows), sums.map { s in rows.map { s[$0] } })
    }
}
