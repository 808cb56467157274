import Foundation
import Tensor

/// The counts table of a delimited-counts import, before deciding which axis holds cells: a numeric grid
/// with optional labels along the top (header) and down the left (first column). It is streamed line by
/// line and parsed from bytes straight into CSR (rows as in the file), so a matrix of a billion text
/// fields needs memory for its non-zeros only.
///
/// Label layouts recognised:
/// - header with one name fewer than each line's fields (R `write.table`): header = column labels,
///   first field of each line = row label;
/// - header with as many names as fields, and the first field of the lines is text or the first header
///   cell is empty (pandas `to_csv`, `scRNA_count.txt`): the first column holds row labels;
/// - header with as many names as fields, all numeric lines: column labels only (`Spatial_count.txt`);
/// - no header, first field text: row labels only (`seqfish_cortex_b2_testing.txt`).
/// The delimiter is sniffed from the first line (tab, else comma, else spaces); with `.sniff` the first
/// line is a header when it has fewer numeric fields than the second.
struct DelimitedCountsGrid {
    let file: String
    private(set) var rowLabels: [String]?
    private(set) var columnLabels: [String]?
    /// First column of numbers (1 when the first column holds row labels).
    private(set) var firstDataColumn = 0
    private(set) var width = 0
    /// Rows × numeric columns, in file order.
    private var grid = CSRMatrix.zeros(rows: 0, cols: 0)

    init(path: String, header mode: DelimitedTable.HeaderMode) throws {
        file = path
        var delimiter = DelimitedTable.Delimiter.comma
        var pending: (fields: [String], line: Int)? = nil   // the first line, until the second decides
        var header: [String]? = nil
        var decided = false, labelled = false
        var labels: [String] = []
        var indptr = [0], indices = [Int32](), values = [Float]()
        var ranges: [Range<Int>] = []
        let numberCount = { (fields: [String]) in fields.filter { Double($0.trimmingCharacters(in: .whitespaces)) != nil }.count }

        // Fixes the layout from the header (if any) and the first data line.
        func decide(firstData: UnsafeBufferPointer<UInt8>, fields: [Range<Int>], line: Int) throws {
            width = fields.count
            let firstIsText = LineStream.number(firstData, fields[0]) == nil || fields[0].isEmpty
            if let h = header {
                if h.count == width - 1 {
                    labelled = true; columnLabels = h
                } else if h.count == width {
                    labelled = firstIsText || h[0].trimmingCharacters(in: .whitespaces).isEmpty
                    columnLabels = labelled ? Array(h.dropFirst()) : h
                } else {
                    throw ImportError(.shapeMismatch, file: path, field: "header", row: line - 1,
                                      problem: "the header has \(h.count) names but the lines have \(width) fields",
                                      fix: "give one header name per column (optionally leaving out the row-name column, as R writes it)")
                }
            } else {
                labelled = firstIsText
            }
            columnLabels = columnLabels.map { $0.map { $0.trimmingCharacters(in: .whitespaces) } }
            firstDataColumn = labelled ? 1 : 0
            if width - firstDataColumn < 1 {
                throw ImportError(.missingField, file: path, field: "counts", problem: "the lines hold labels but no numbers",
                                  fix: "check the delimiter: counts files are tab-, comma- or space-separated")
            }
            decided = true
        }

        func dataRow(_ bytes: UnsafeBufferPointer<UInt8>, _ fields: [Range<Int>], line: Int) throws {
            if !decided { try decide(firstData: bytes, fields: fields, line: line) }
            guard fields.count == width else {
                throw ImportError(.shapeMismatch, file: path, field: "line \(line)", row: line,
                                  problem: "the line has \(fields.count) fields but the first line has \(width)",
                                  fix: "repair the truncated or malformed line (a stray delimiter or quote, or a cut-off file)")
            }
            if labelled { labels.append(LineStream.text(bytes, fields[0])) }
            for c in firstDataColumn..<width {
                guard let v = LineStream.number(bytes, fields[c]) else {
                    let name = columnName(c)
                    throw ImportError(.invalidValue, file: path, field: name, row: line,
                                      problem: "the count '\(LineStream.text(bytes, fields[c]).prefix(40))'\(labelled ? " (row '\(labels.last ?? "")')" : "") is not a number",
                                      fix: "counts must be plain numbers; check the delimiter and that no text column sits among the counts")
                }
                if v != 0 { indices.append(Int32(c - firstDataColumn)); values.append(Float(v)) }
            }
            indptr.append(values.count)
        }

        var sawLine = false
        try LineStream.forEach(path) { bytes, line in
            if bytes.allSatisfy({ $0 == 32 || $0 == 9 }) { return true }   // blank lines carry nothing
            if !sawLine {
                sawLine = true
                var probe = String(decoding: bytes.prefix(4096), as: UTF8.self)
                if probe.isEmpty { probe = " " }
                delimiter = DelimitedTable.sniff(probe)
            }
            LineStream.split(bytes, delimiter, into: &ranges)
            if header == nil && !decided {
                let texts = ranges.map { LineStream.text(bytes, $0) }
                switch mode {
                case .present: header = texts; return true
                case .absent: break
                case .sniff:
                    guard let first = pending else { pending = (texts, line); return true }
                    // A header is a first line with fewer numbers than the second.
                    if numberCount(first.fields) < numberCount(texts) {
                        header = first.fields
                    } else {
                        // The first line was data after all: parse it from its own text, then this line.
                        let joined = Array(first.fields.joined(separator: delimiter == .comma ? "," : "\t").utf8)
                        var firstRanges: [Range<Int>] = []
                        try joined.withUnsafeBufferPointer { b in
                            LineStream.split(b, delimiter == .comma ? .comma : .tab, into: &firstRanges)
                            try dataRow(b, firstRanges, line: first.line)
                        }
                    }
                    pending = nil
                }
            }
            try dataRow(bytes, ranges, line: line)
            return true
        }
        // A single line under .sniff: a header when it holds no numbers, else one row of data.
        if let first = pending {
            if numberCount(first.fields) == 0 { header = first.fields } else {
                let joined = Array(first.fields.joined(separator: "\t").utf8)
                var firstRanges: [Range<Int>] = []
                try joined.withUnsafeBufferPointer { b in
                    LineStream.split(b, .tab, into: &firstRanges)
                    try dataRow(b, firstRanges, line: first.line)
                }
            }
        }
        guard decided else {
            throw ImportError(.missingField, file: path, field: "", problem: header == nil ? "the file is empty" : "the counts file has no rows of numbers",
                              fix: "check that the export completed")
        }
        rowLabels = labelled ? labels : nil
        grid = CSRMatrix(rows: indptr.count - 1, cols: width - firstDataColumn, indptr: indptr, indices: indices, values: values)
    }

    var rowCount: Int { grid.rows }
    var columnCount: Int { width - firstDataColumn }

    /// Name of data column j (0-based among the numeric columns) for error messages.
    func columnName(_ c: Int) -> String {
        if let l = columnLabels, c - firstDataColumn >= 0, c - firstDataColumn < l.count { return l[c - firstDataColumn] }
        return "column \(c + 1)"
    }

    /// The counts as cells × genes: the grid as is when cells are rows, transposed otherwise.
    func matrix(cellsAreRows: Bool) throws -> CSRMatrix {
        cellsAreRows ? grid : grid.transposed()
    }
}
