import Foundation
import Tensor

/// The `H5ADExtras` half of the writer: layers with their own genes, and `uns` values.
extension H5ADWriter {
    /// The dataset with every layer gene it lacks appended to its genes (no counts, not measured, var columns
    /// padded with missing values), and for each layer the var column of each of its genes. Genes match by
    /// GeneHarmonizer's key against symbols, then ids.
    static func withLayerGenes(_ d: Dataset, _ layers: [H5ADExtras.Layer]) -> (Dataset, [[Int]]) {
        guard !layers.isEmpty else { return (d, []) }
        var column: [String: Int] = [:]
        for names in [d.geneSymbols, d.geneIDs] {
            for (j, n) in names.enumerated() where column[GeneHarmonizer.normalizedKey(n)] == nil { column[GeneHarmonizer.normalizedKey(n)] = j }
        }
        var added: [String] = []
        var columns: [[Int]] = []
        for l in layers {
            columns.append(l.genes.map { g in
                let k = GeneHarmonizer.normalizedKey(g)
                if let j = column[k] { return j }
                let j = d.geneCount + added.count
                column[k] = j; added.append(g)
                return j
            })
        }
        guard !added.isEmpty else { return (d, columns) }
        var out = d
        let g = d.geneCount + added.count
        out.counts = CSRMatrix(rows: d.counts.rows, cols: g, indptr: d.counts.indptr, indices: d.counts.indices, values: d.counts.values)
        out.geneIDs += added; out.geneSymbols += added
        out.measured += [Bool](repeating: false, count: added.count)
        var vars = ObsTable()
        for (n, v) in d.vars.columns { vars[n] = padded(v, by: added.count) }
        out.vars = vars
        return (out, columns)
    }

    /// X with layer `l`'s values filled in for its genes `d` does not measure (`columns`: each layer gene's var
    /// column in `d`, which already holds the appended genes), and the var mask of the filled genes. Measured
    /// genes keep their stored counts; an unmeasured gene's own stored values (structural zeros by definition)
    /// give way to the layer's. Zeros are not stored, and each row's columns come out ascending, as scipy keeps
    /// a canonical CSR matrix.
    static func counts(_ d: Dataset, filledFrom l: H5ADExtras.Layer, columns: [Int]) -> (CSRMatrix, [Bool]) {
        var filled = [Bool](repeating: false, count: d.geneCount)
        let take = columns.indices.filter { !d.measured[columns[$0]] }.sorted { columns[$0] < columns[$1] }
        for s in take { filled[columns[s]] = true }
        guard !take.isEmpty else { return (d.counts, filled) }
        let c = d.counts, t = l.values.cols
        var indptr = [Int](repeating: 0, count: c.rows + 1)
        var indices: [Int32] = [], values: [Float] = []
        indices.reserveCapacity(c.nnz + c.rows * take.count); values.reserveCapacity(c.nnz + c.rows * take.count)
        var row: [(col: Int32, value: Float)] = []
        for i in 0..<c.rows {
            row.removeAll(keepingCapacity: true)
            for z in c.indptr[i]..<c.indptr[i + 1] where !filled[Int(c.indices[z])] { row.append((c.indices[z], c.values[z])) }
            for s in take {
                let v = l.values.data[i * t + s]
                if v != 0 { row.append((Int32(columns[s]), v)) }
            }
            // Appended columns follow every dataset column, so a sorted input row stays sorted without this.
            if zip(row, row.dropFirst()).contains(where: { $0.col > $1.col }) { row.sort { $0.col < $1.col } }
            for e in row { indices.append(e.col); values.append(e.value) }
            indptr[i + 1] = indices.count
        }
        return (CSRMatrix(rows: c.rows, cols: c.cols, indptr: indptr, indices: indices, values: values), filled)
    }

    /// A var column extended by `k` missing values.
    static func padded(_ v: ObsValues, by k: Int) -> ObsValues {
        let none = [Bool](repeating: true, count: k)
        switch v {
        case .categorical(let c):
            return .categorical(Categorical(codes: c.codes + [Int32](repeating: -1, count: k), categories: c.categories, ordered: c.ordered))
        case .float(let x): return .float(x + [Double](repeating: .nan, count: k))
        case .int(let x): return .nullableInt(x + [Int64](repeating: 0, count: k), missing: [Bool](repeating: false, count: x.count) + none)
        case .bool(let x): return .nullableBool(x + [Bool](repeating: false, count: k), missing: [Bool](repeating: false, count: x.count) + none)
        case .string(let x): return .string(x + [String](repeating: "", count: k))
        case .nullableInt(let x, let m): return .nullableInt(x + [Int64](repeating: 0, count: k), missing: m + none)
        case .nullableBool(let x, let m): return .nullableBool(x + [Bool](repeating: false, count: k), missing: m + none)
        }
    }

    /// A layer as an N×genes CSR matrix holding the layer's own columns only (sorted within each row).
    static func writeLayer(_ group: H5Group, _ l: H5ADExtras.Layer, columns: [Int], genes: Int) throws {
        let order = columns.indices.sorted { columns[$0] < columns[$1] }
        let n = l.values.rows, m = order.count
        var data = [Float](repeating: 0, count: n * m), indices = [Int32](repeating: 0, count: n * m)
        for i in 0..<n {
            for (t, src) in order.enumerated() {
                data[i * m + t] = l.values.data[i * l.values.cols + src]
                indices[i * m + t] = Int32(columns[src])
            }
        }
        let g = try group.createGroup(l.name, attributes: [("encoding-type", .string("csr_matrix")), ("encoding-version", .string("0.1.0")),
                                                            ("shape", .ints([Int64(n), Int64(genes)]))])
        try g.writeFloats("data", data)
        try writeIndex(g, indices: indices, indptr: (0...n).map { Int64($0 * m) })
    }

    /// One `uns` entry in anndata's encodings: scalar strings and numbers, string and numeric arrays, dicts.
    static func writeUns(_ group: H5Group, _ name: String, _ value: H5ADExtras.UnsValue) throws {
        let key = name.replacingOccurrences(of: "/", with: "_")
        switch value {
        case .string(let s):
            try group.writeScalarString(key, s, attributes: [("encoding-type", .string("string")), ("encoding-version", .string("0.2.0"))])
        case .number(let x):
            try group.writeScalarDouble(key, x, attributes: [("encoding-type", .string("numeric-scalar")), ("encoding-version", .string("0.2.0"))])
        case .strings(let a): try group.writeStrings(key, a, attributes: stringArray)
        case .numbers(let a): try group.writeDoubles(key, a, attributes: array)
        case .dict(let entries):
            let g = try group.createGroup(key, attributes: dict)
            for (k, v) in entries { try writeUns(g, k, v) }
        }
    }
}
