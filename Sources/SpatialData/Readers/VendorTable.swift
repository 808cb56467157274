import Foundation
import Tensor

/// Pieces shared by the text readers (MERSCOPE, CosMx, Xenium cells, delimited counts): counts from table
/// columns, per-cell annotation columns, control-probe names and id joins, each with errors that name the
/// file, the column and the line.
enum VendorTable {
    /// The column's display name for errors.
    static func columnName(_ t: DelimitedTable, _ c: Int) -> String {
        if let h = t.header, c < h.count, !h[c].isEmpty { return h[c] }
        return "column \(c + 1)"
    }

    /// Parses one count field; empty fields are zero (some exports leave zeros blank).
    @inline(__always)
    static func count(_ s: String) -> Float? {
        if s == "0" || s.isEmpty { return 0 }
        if let v = Float(s) { return v }
        let trimmed = s.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return 0 }
        return Float(trimmed)
    }

    static func notANumber(_ t: DelimitedTable, row r: Int, column c: Int, _ s: String) -> ImportError {
        ImportError(.invalidValue, file: t.file, field: columnName(t, c), row: t.firstLine + r,
                    problem: "the count '\(s.prefix(40))' is not a number",
                    fix: "counts must be plain numbers; check the delimiter and that no text column sits among the gene columns")
    }

    /// Counts of `columns` for the table rows `rows` (in that order): a rows.count × columns.count CSR matrix.
    static func counts(_ t: DelimitedTable, rows: [Int], columns: [Int]) throws -> CSRMatrix {
        var indptr = [Int](); indptr.reserveCapacity(rows.count + 1); indptr.append(0)
        var indices = [Int32](), values = [Float]()
        let needed = (columns.max() ?? -1) + 1
        for r in rows {
            let row = t.rows[r]
            if row.count < needed { _ = try t.field(r, needed - 1) }
            for (j, c) in columns.enumerated() {
                let s = row[c]
                guard let v = count(s) else { throw notANumber(t, row: r, column: c, s) }
                if v != 0 { indices.append(Int32(j)); values.append(v) }
            }
            indptr.append(values.count)
        }
        return CSRMatrix(rows: rows.count, cols: columns.count, indptr: indptr, indices: indices, values: values)
    }

    /// Per-row sums of `columns` (for control probes set aside from the counts).
    static func rowSums(_ t: DelimitedTable, rows: [Int], columns: [Int]) throws -> [Double] {
        guard !columns.isEmpty else { return [Double](repeating: 0, count: rows.count) }
        let m = try counts(t, rows: rows, columns: columns)
        return m.rowSums()
    }

    /// A per-cell annotation column from table column `c`, rows `rows`: integers, floats (NA / empty = NaN),
    /// booleans, or text (categorical when labels repeat, plain strings when every row is distinct).
    static func obsColumn(_ t: DelimitedTable, column c: Int, rows: [Int]) throws -> ObsValues {
        let text = try rows.map { try t.field($0, c).trimmingCharacters(in: .whitespaces) }
        if !text.isEmpty, text.allSatisfy({ Int64($0) != nil }) { return .int(text.map { Int64($0) ?? 0 }) }
        let missing: Set<String> = ["", "na", "nan", "null", "none"]
        var floats = [Double](); floats.reserveCapacity(text.count)
        var numeric = !text.isEmpty
        for s in text {
            if let v = Double(s) { floats.append(v) } else if missing.contains(s.lowercased()) { floats.append(.nan) } else { numeric = false; break }
        }
        if numeric && floats.contains(where: { !$0.isNaN }) { return .float(floats) }
        let bools: [String: Bool] = ["true": true, "false": false]
        if !text.isEmpty, text.allSatisfy({ bools[$0.lowercased()] != nil }) { return .bool(text.map { bools[$0.lowercased()] ?? false }) }
        let distinct = Set(text).count
        if distinct == text.count && text.count > 1 { return .string(text) }
        return .categorical(Categorical(labels: text, sorted: true))
    }

    /// Index of each id; a repeated id is an error naming both lines.
    static func index(_ ids: [String], file: String, field: String, lines: (Int) -> Int) throws -> [String: Int] {
        var out = [String: Int](minimumCapacity: ids.count)
        for (i, id) in ids.enumerated() {
            if let first = out[id] {
                throw ImportError(.duplicateID, file: file, field: field, row: lines(i),
                                  problem: "the id '\(id)' repeats (first on line \(lines(first)))",
                                  fix: "each cell must appear once; remove the duplicate line or make the ids unique")
            }
            out[id] = i
        }
        return out
    }

    /// For each wanted id, its row in `index`; the first id without one is an error naming it.
    static func join(_ wanted: [String], in index: [String: Int], file: String, field: String, from source: String) throws -> [Int] {
        var rows = [Int](); rows.reserveCapacity(wanted.count)
        for (i, id) in wanted.enumerated() {
            guard let r = index[id] else {
                let missing = wanted[i...].filter { index[$0] == nil }.count
                throw ImportError(.missingField, file: file, field: field,
                                  problem: "cell '\(id)' from \(source) has no row here (\(missing) cell\(missing == 1 ? "" : "s") missing in all)",
                                  fix: "use the files of the same run; every cell in \(source) needs a row in this file")
            }
            rows.append(r)
        }
        return rows
    }

    /// The control family of a feature name ("NegPrb", "SystemControl", "FalseCode", "Blank"), nil for a gene:
    /// vendors' negative-control and system probes, which are not genes and are set aside from the counts.
    static func controlKind(_ name: String) -> String? {
        let l = name.lowercased()
        if l.hasPrefix("negprb") || l.hasPrefix("negcontrol") || l.hasPrefix("negative") { return "NegPrb" }
        if l.hasPrefix("systemcontrol") { return "SystemControl" }
        if l.hasPrefix("falsecode") { return "FalseCode" }
        if l.hasPrefix("blank-") || l.hasPrefix("blank_") || l == "blank" { return "Blank" }
        return nil
    }

    /// Orders strings the way people number things ("2" before "10").
    static func naturalLess(_ a: String, _ b: String) -> Bool {
        if let x = Int64(a), let y = Int64(b) { return x < y }
        return a.localizedStandardCompare(b) == .orderedAscending
    }

    /// A short number for metadata strings (no trailing ".0").
    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }

    /// The top-level object of a small JSON file (scale factors, experiment manifests).
    static func jsonObject(_ path: String) throws -> [String: Any] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ImportError(.unreadable, file: path, field: "", problem: "the file cannot be read (\(error.localizedDescription))",
                              fix: "check that the file exists and is readable")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data), let dict = obj as? [String: Any] else {
            throw ImportError(.corrupt, file: path, field: "", problem: "the file is not a JSON object",
                              fix: "the file is damaged or truncated; copy it again from the instrument output")
        }
        return dict
    }

    /// The file in `folder` whose name is one of `names` (first match), or whose name ends with one of `suffixes`.
    static func find(in folder: String, names: [String] = [], suffixes: [String] = []) -> String? {
        let fm = FileManager.default
        for n in names {
            let p = (folder as NSString).appendingPathComponent(n)
            if fm.fileExists(atPath: p) { return p }
        }
        guard !suffixes.isEmpty, let items = try? fm.contentsOfDirectory(atPath: folder) else { return nil }
        for s in suffixes {
            if let hit = items.sorted().first(where: { $0.hasSuffix(s) && !$0.hasPrefix(".") }) {
                return (folder as NSString).appendingPathComponent(hit)
            }
        }
        return nil
    }

    static func isDirectory(_ path: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
    }
}
