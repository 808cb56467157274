import Testing
@testable import Tensor

@Suite struct CSRMatrixTests {
    @Test func denseRoundTripAndTranspose() {
        let d = Matrix(rows: 2, cols: 3, data: [0, 1, 0, 2, 0, 3])
        let s = CSRMatrix(dense: d)
        #expect(s.nnz == 3)
        #expect(s.indptr == [0, 1, 3])
        #expect(s.toDense() == d)
        let t = s.transposed()
        #expect(t.rows == 3 && t.cols == 2)
        #expect(t[2, 1] == 3 && t[1, 0] == 1 && t[0, 1] == 2)
        #expect(s.structuralProblem() == nil)
    }
}

@Suite struct MatrixTests {
    @Test func sgemmMatchesTheDefinition() {
        var rng = SeededRNG(seed: 3)
        let a = Matrix(rows: 5, cols: 7, data: (0..<35).map { _ in Float(rng.normal()) })
        let b = Matrix(rows: 7, cols: 4, data: (0..<28).map { _ in Float(rng.normal()) })
        let c = a.matmul(b)
        for i in 0..<5 {
            for j in 0..<4 {
                var s: Float = 0
                for k in 0..<7 { s += a[i, k] * b[k, j] }
                #expect(abs(c[i, j] - s) < 1e-5)
            }
        }
    }

    @Test func seededStreamsRepeat() {
        var a = SeededRNG(seed: 42), b = SeededRNG(seed: 42), c = SeededRNG(seed: 43)
        let x = (0..<8).map { _ in a.next() }
        #expect(x == (0..<8).map { _ in b.next() })
        #expect(x != (0..<8).map { _ in c.next() })
    }

    @Test func selectingAndMergingColumns() {
        let s = CSRMatrix(dense: Matrix(rows: 2, cols: 4, data: [1, 2, 0, 4, 0, 5, 6, 0]))
        #expect(s.selectingColumns([3, 1]).toDense().data == [4, 2, 0, 5])
        #expect(s.selectingRows([1]).toDense().data == [0, 5, 6, 0])
        // Columns 0 and 2 merge into group 0, column 1 into group 1, column 3 is dropped.
        #expect(s.mergingColumns(into: 2, group: [0, 1, 0, -1]).toDense().data == [1, 2, 6, 5])
        #expect(s.rowSums() == [7, 11] && s.columnSums() == [1, 7, 6, 4])
    }

    @Test func structuralProblemsAreNamed() {
        var s = CSRMatrix(dense: Matrix(rows: 2, cols: 3, data: [1, 0, 2, 0, 3, 0]))
        s.indices[2] = 9
        #expect(s.structuralProblem() == CSRMatrix.Problem(array: "indices", row: 1, message: "column index 9 at entry 2 (row 1) is outside 0..<3"))
    }
}
