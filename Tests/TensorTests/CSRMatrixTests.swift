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
