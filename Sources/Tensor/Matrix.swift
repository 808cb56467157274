import CBLAS

/// A dense row-major Float32 matrix.
public struct Matrix: Sendable, Equatable {
    public var rows: Int
    public var cols: Int
    public var data: [Float]

    public init(rows: Int, cols: Int, data: [Float]? = nil) {
        self.rows = rows; self.cols = cols
        self.data = data ?? [Float](repeating: 0, count: rows * cols)
        precondition(self.data.count == rows * cols, "Matrix data has \(self.data.count) values, expected \(rows * cols)")
    }

    public subscript(r: Int, c: Int) -> Float {
        get { data[r * cols + c] }
        set { data[r * cols + c] = newValue }
    }

    /// The rows `r` (in that order, repeats allowed) as a new r.count × cols matrix.
    public func selecting(rows r: [Int]) -> Matrix {
        var out = Matrix(rows: r.count, cols: cols)
        for (i, row) in r.enumerated() { out.data.replaceSubrange(i * cols..<(i + 1) * cols, with: data[row * cols..<(row + 1) * cols]) }
        return out
    }

    /// C = A·B with OpenBLAS sgemm. Shapes: (m×k)·(k×n) → m×n.
    public func matmul(_ b: Matrix) -> Matrix {
        precondition(cols == b.rows, "matmul shapes \(rows)x\(cols) · \(b.rows)x\(b.cols) do not chain")
        var c = Matrix(rows: rows, cols: b.cols)
        if rows == 0 || b.cols == 0 || cols == 0 { return c }
        data.withUnsafeBufferPointer { a in
            b.data.withUnsafeBufferPointer { bb in
                c.data.withUnsafeMutableBufferPointer { cc in
                    BLAS.gemm(m: rows, n: b.cols, k: cols, a: a.baseAddress!, lda: cols, b: bb.baseAddress!, ldb: b.cols,
                              c: cc.baseAddress!, ldc: b.cols)
                }
            }
        }
        return c
    }
}
