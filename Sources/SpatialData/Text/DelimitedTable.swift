import Foundation

/// A delimited text table (CSV, TSV or whitespace-separated), with quoted fields, a sniffed delimiter and
/// an optional header. Column lookups are case-insensitive and accept aliases, because vendor exports
/// rename columns between versions.
public struct DelimitedTable: Sendable {
    public enum Delimiter: Sendable, Equatable { case comma, tab, whitespace }
    public enum HeaderMode: Sendable { case present, absent, sniff }

    public let file: String
    public let delimiter: Delimiter
    public let header: [String]?
    /// Data rows (header excluded). Row numbers in errors are 1-based file lines.
    public let rows: [[String]]
    /// File line number of rows[0] (1-based).
    public let firstLine: Int

    public init(path: String, delimiter: Delimiter? = nil, header: HeaderMode = .present) throws {
        let lines = try TextFile.lines(path)
        var start = 0
        while start < lines.count && lines[start].allSatisfy(\.isWhitespace) { start += 1 }
        guard start < lines.count else {
            throw ImportError(.missingField, file: path, field: "", problem: "the file is empty", fix: "check that the export completed")
        }
        let d = delimiter ?? DelimitedTable.sniff(lines[start])
        let parsed = lines[start...].map { DelimitedTable.split($0, d) }
        var hasHeader: Bool
        switch header {
        case .present: hasHeader = true
        case .absent: hasHeader = false
        case .sniff:
            // A header row is one whose fields are not all numeric where the next row has numbers.
            let first = parsed[0]
            let second = parsed.count > 1 ? parsed[1] : []
            let firstNumeric = first.filter { Double($0) != nil }.count
            let secondNumeric = second.filter { Double($0) != nil }.count
            hasHeader = parsed.count > 1 ? firstNumeric < secondNumeric : firstNumeric == 0
        }
        self.file = path
        self.delimiter = d
        self.header = hasHeader ? parsed[0] : nil
        self.rows = Array(parsed.dropFirst(hasHeader ? 1 : 0)).filter { !($0.count == 1 && $0[0].isEmpty) }
        self.firstLine = start + (hasHeader ? 2 : 1)
    }

    private init(file: String, delimiter: Delimiter, header: [String]?, rows: [[String]], firstLine: Int) {
        self.file = file; self.delimiter = delimiter; self.header = header; self.rows = rows; self.firstLine = firstLine
    }

    /// A header-only table (rows are streamed elsewhere), for looking columns up by alias.
    init(file: String, header: [String]) {
        self.init(file: file, delimiter: .comma, header: header, rows: [], firstLine: 2)
    }

    /// This table with its first data row taken as the header, for formats whose header can only be
    /// recognised by content (Space Ranger 1.x vs 2.x positions files). Unchanged when there are no rows.
    public func promotingFirstRowToHeader() -> DelimitedTable {
        guard let first = rows.first else { return self }
        return DelimitedTable(file: file, delimiter: delimiter, header: first, rows: Array(rows.dropFirst()), firstLine: firstLine + 1)
    }

    /// Tab if the line has tabs, comma if it has commas, otherwise runs of spaces.
    public static func sniff<S: StringProtocol>(_ line: S) -> Delimiter {
        if line.contains("\t") { return .tab }
        if line.contains(",") { return .comma }
        return .whitespace
    }

    /// Splits one line; double-quoted fields may contain the delimiter and "" for a quote.
    public static func split<S: StringProtocol>(_ line: S, _ d: Delimiter) -> [String] {
        var fields: [String] = []
        var cur = "", inQuotes = false, wasQuoted = false
        var it = line.makeIterator()
        var pending: Character? = nil
        func isSep(_ c: Character) -> Bool {
            switch d { case .comma: return c == ","; case .tab: return c == "\t"; case .whitespace: return c == " " || c == "\t" }
        }
        while let c = pending ?? it.next() {
            pending = nil
            if inQuotes {
                if c == "\"" {
                    if let n = it.next() { if n == "\"" { cur.append("\"") } else { inQuotes = false; pending = n } } else { inQuotes = false }
                } else { cur.append(c) }
            } else if c == "\"" && cur.isEmpty {
                inQuotes = true; wasQuoted = true
            } else if isSep(c) {
                if d == .whitespace && cur.isEmpty && !wasQuoted { continue }
                fields.append(cur); cur = ""; wasQuoted = false
            } else { cur.append(c) }
        }
        if !(d == .whitespace && cur.isEmpty && !wasQuoted) || fields.isEmpty { fields.append(cur) }
        return fields
    }

    /// Index of the first column whose name matches one of `names` (case-insensitive).
    public func column(_ names: String...) -> Int? { column(names) }

    public func column(_ names: [String]) -> Int? {
        guard let h = header else { return nil }
        let lower = h.map { $0.lowercased() }
        for n in names { if let i = lower.firstIndex(of: n.lowercased()) { return i } }
        return nil
    }

    /// Like `column` but throws an error that names the file, the expected names and the columns present.
    public func requireColumn(_ names: String..., what: String) throws -> Int {
        try requireColumn(names, what: what)
    }

    /// `requireColumn` with the aliases as an array (for alias tables kept in constants).
    public func requireColumn(_ names: [String], what: String) throws -> Int {
        if let i = column(names) { return i }
        throw ImportError(.missingField, file: file, field: names[0],
                          problem: "no \(what) column (looked for \(names.joined(separator: ", ")); the header has \((header ?? []).prefix(12).joined(separator: ", "))\((header?.count ?? 0) > 12 ? ", ..." : ""))",
                          fix: "check that this is the expected export, or rename the column to \(names[0])")
    }

    /// The field at (row, column), or an error naming the line when the row is short.
    public func field(_ r: Int, _ c: Int) throws -> String {
        let row = rows[r]
        guard c < row.count else {
            throw ImportError(.shapeMismatch, file: file, field: header.map { c < $0.count ? $0[c] : "column \(c + 1)" } ?? "column \(c + 1)",
                              row: firstLine + r, problem: "the line has \(row.count) fields, expected at least \(c + 1)",
                              fix: "repair the truncated or malformed line")
        }
        return row[c]
    }

    /// A numeric column; empty fields and "NA"/"NaN" become NaN when `allowMissing`.
    public func numbers(_ c: Int, allowMissing: Bool = false) throws -> [Double] {
        var out = [Double](); out.reserveCapacity(rows.count)
        for r in rows.indices {
            let s = try field(r, c)
            // Infinite values ("inf", "1e999") are never a measurement: refuse them here, at their line.
            if let v = Double(s.trimmingCharacters(in: .whitespaces)), !v.isInfinite || allowMissing { out.append(v.isInfinite ? .nan : v); continue }
            if allowMissing && ["", "na", "nan", "null"].contains(s.lowercased()) { out.append(.nan); continue }
            throw ImportError(.invalidValue, file: file, field: header.map { c < $0.count ? $0[c] : "column \(c + 1)" } ?? "column \(c + 1)",
                              row: firstLine + r, problem: "'\(s.prefix(40))' is not a finite number",
                              fix: "this column must be numeric; check the export or the column mapping")
        }
        return out
    }

    /// The common width of all rows; throws naming the first line whose width differs (or an empty table).
    public func rectangularWidth(emptyProblem: String) throws -> Int {
        guard let first = rows.first else {
            throw ImportError(.missingField, file: file, field: "", problem: emptyProblem, fix: "check that the export completed")
        }
        let width = first.count
        for (r, row) in rows.enumerated() where row.count != width {
            throw ImportError(.shapeMismatch, file: file, field: "line \(firstLine + r)", row: firstLine + r,
                              problem: "the line has \(row.count) fields but the first line has \(width)",
                              fix: "repair the truncated or malformed line (a stray delimiter or quote, or a cut-off file)")
        }
        return width
    }

    /// A text column.
    public func strings(_ c: Int) throws -> [String] {
        try rows.indices.map { try field($0, c) }
    }
}
