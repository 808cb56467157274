/// A compressed sparse row matrix of Float32 values: rows are cells, columns are genes.
///
/// `indptr` has `rows + 1` non-decreasing entries starting at 0; row `r` owns the half-open range
/// `indptr[r] ..< indptr[r+1]` of `indices` (column ids) and `values`. Column ids within a row need not be
/// sorted (anndata does not require it either); `sortIndices()` sorts them and sums duplicates.
public struct CSRMatrix: Sendable, Equatable {
    public var rows: Int
    public var cols: Int
    public var indptr: [Int]
    public var indices: [Int32]
    public var values: [Float]

    public init(rows: Int, cols: Int, indptr: [Int], indices: [Int32], values: [Float]) {
        self.rows = rows; self.cols = cols
        self.indptr = indptr; self.indices = indices; self.values = values
    }

    /// An all-zero matrix.
    public static func zeros(rows: Int, cols: Int) -> CSRMatrix {
        CSRMatrix(rows: rows, cols: cols, indptr: [Int](repeating: 0, count: rows + 1), indices: [], values: [])
    }

    public var nnz: Int { values.count }

    /// Fraction of entries that are stored (0 when the matrix is empty).
    public var density: Double {
        rows == 0 || cols == 0 ? 0 : Double(nnz) / (Double(rows) * Double(cols))
    }

    /// Bytes held by the three arrays.
    public var byteSize: Int { indptr.count * 8 + indices.count * 4 + values.count * 4 }

    /// A broken CSR invariant: which array, the row at fault when there is one, and what is wrong.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var array: String      // "indptr", "indices" or "data"
        public var row: Int?
        public var message: String
        public var description: String { message }
    }

    /// Checks the CSR invariants; returns the first violation, or nil when valid.
    public func structuralProblem() -> Problem? {
        if indptr.count != rows + 1 {
            return Problem(array: "indptr", row: nil, message: "indptr has \(indptr.count) entries but the matrix has \(rows) rows, so it needs \(rows + 1)")
        }
        if indices.count != values.count {
            return Problem(array: "indices", row: nil, message: "indices has \(indices.count) entries but data has \(values.count)")
        }
        if indptr.first != 0 || indptr.last != values.count {
            return Problem(array: "indptr", row: nil, message: "indptr runs from \(indptr.first ?? -1) to \(indptr.last ?? -1) but there are \(values.count) stored values")
        }
        for r in 0..<rows where indptr[r] > indptr[r + 1] {
            return Problem(array: "indptr", row: r, message: "indptr decreases at row \(r) (\(indptr[r]) then \(indptr[r + 1]))")
        }
        let c = Int32(clamping: cols)
        // min/max first (vectorised); the search for the offending entry only runs when one exists.
        let (lo, hi) = indices.withUnsafeBufferPointer { v -> (Int32, Int32) in
            var lo = Int32.max, hi = Int32.min
            for x in v { lo = Swift.min(lo, x); hi = Swift.max(hi, x) }
            return (lo, hi)
        }
        if (lo < 0 || hi >= c) && nnz > 0, let bad = indices.firstIndex(where: { $0 < 0 || $0 >= c }) {
            let row = rowOf(entry: bad)
            return Problem(array: "indices", row: row, message: "column index \(indices[bad]) at entry \(bad) (row \(row)) is outside 0..<\(cols)")
        }
        return nil
    }

    /// The row that owns stored entry `k` (binary search over indptr).
    public func rowOf(entry k: Int) -> Int {
        var lo = 0, hi = rows
        while lo < hi {
            let mid = (lo + hi) / 2
            if indptr[mid + 1] <= k { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Per-row sums (library sizes for a counts matrix).
    public func rowSums() -> [Double] {
        var out = [Double](repeating: 0, count: rows)
        values.withUnsafeBufferPointer { v in
            for r in 0..<rows {
                var s = 0.0
                for k in indptr[r]..<indptr[r + 1] { s += Double(v[k]) }
                out[r] = s
            }
        }
        return out
    }

    /// Per-column sums.
    public func columnSums() -> [Double] {
        var out = [Double](repeating: 0, count: cols)
        for k in 0..<nnz { out[Int(indices[k])] += Double(values[k]) }
        return out
    }

    /// Entry (r, c); a linear scan of row r.
    public subscript(r: Int, c: Int) -> Float {
        var s: Float = 0
        for k in indptr[r]..<indptr[r + 1] where Int(indices[k]) == c { s += values[k] }
        return s
    }

    /// Builds a CSR matrix from a dense row-major buffer, keeping non-zeros only.
    public init(dense: Matrix) {
        var indptr = [Int](); indptr.reserveCapacity(dense.rows + 1); indptr.append(0)
        var indices = [Int32](), values = [Float]()
        for r in 0..<dense.rows {
            for c in 0..<dense.cols {
                let v = dense.data[r * dense.cols + c]
                if v != 0 { indices.append(Int32(c)); values.append(v) }
            }
            indptr.append(values.count)
        }
        self.init(rows: dense.rows, cols: dense.cols, indptr: indptr, indices: indices, values: values)
    }

    /// The dense row-major copy (for small matrices and tests).
    public func toDense() -> Matrix {
        var m = Matrix(rows: rows, cols: cols)
        for r in 0..<rows {
            for k in indptr[r]..<indptr[r + 1] { m.data[r * cols + Int(indices[k])] += values[k] }
        }
        return m
    }

    /// The transpose, as CSR (equivalently, this matrix in CSC form). O(nnz).
    public func transposed() -> CSRMatrix {
        var counts = [Int](repeating: 0, count: cols + 1)
        for c in indices { counts[Int(c) + 1] += 1 }
        for i in 0..<cols { counts[i + 1] += counts[i] }
        var next = counts
        var tIndices = [Int32](repeating: 0, count: nnz)
        var tValues = [Float](repeating: 0, count: nnz)
        for r in 0..<rows {
            for k in indptr[r]..<indptr[r + 1] {
                let c = Int(indices[k]); let dst = next[c]; next[c] += 1
                tIndices[dst] = Int32(r); tValues[dst] = values[k]
            }
        }
        return CSRMatrix(rows: cols, cols: rows, indptr: counts, indices: tIndices, values: tValues)
    }

    /// Keeps the listed rows, in the given order.
    public func selectingRows(_ keep: [Int]) -> CSRMatrix {
        var p = [Int](); p.reserveCapacity(keep.count + 1); p.append(0)
        var idx = [Int32](), val = [Float]()
        for r in keep {
            idx.append(contentsOf: indices[indptr[r]..<indptr[r + 1]])
            val.append(contentsOf: values[indptr[r]..<indptr[r + 1]])
            p.append(val.count)
        }
        return CSRMatrix(rows: keep.count, cols: cols, indptr: p, indices: idx, values: val)
    }

    /// Keeps the listed columns, renumbered in the given order; a column may not be listed twice.
    public func selectingColumns(_ keep: [Int]) -> CSRMatrix {
        var map = [Int32](repeating: -1, count: cols)
        for (n, c) in keep.enumerated() { map[c] = Int32(n) }
        var p = [Int](); p.reserveCapacity(rows + 1); p.append(0)
        var idx = [Int32](), val = [Float]()
        for r in 0..<rows {
            for k in indptr[r]..<indptr[r + 1] where map[Int(indices[k])] >= 0 {
                idx.append(map[Int(indices[k])]); val.append(values[k])
            }
            p.append(val.count)
        }
        return CSRMatrix(rows: rows, cols: keep.count, indptr: p, indices: idx, values: val)
    }

    /// Sums columns into groups: `group[c]` is the output column of input column c (or -1 to drop it).
    public func mergingColumns(into groups: Int, group: [Int]) -> CSRMatrix {
        var p = [Int](); p.reserveCapacity(rows + 1); p.append(0)
        var idx = [Int32](), val = [Float]()
        var acc = [Float](repeating: 0, count: groups)
        var touched = [Int]()
        for r in 0..<rows {
            for k in indptr[r]..<indptr[r + 1] {
                let g = group[Int(indices[k])]
                if g < 0 { continue }
                if acc[g] == 0 { touched.append(g) }
                acc[g] += values[k]
            }
            touched.sort()
            for g in touched where acc[g] != 0 { idx.append(Int32(g)); val.append(acc[g]); acc[g] = 0 }
            touched.removeAll(keepingCapacity: true)
            p.append(val.count)
        }
        return CSRMatrix(rows: rows, cols: groups, indptr: p, indices: idx, values: val)
    }
}
