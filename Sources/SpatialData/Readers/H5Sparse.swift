import Tensor

/// Reads the (data, indices, indptr) triple shared by anndata's csr/csc groups and 10x matrices.
enum H5Sparse {
    /// Reads a compressed matrix group as CSR of shape `major × minor` (for CSC files the caller swaps and
    /// transposes). Checks the CSR invariants before returning.
    static func read(_ g: H5Group, major: Int, minor: Int, field: String) throws -> CSRMatrix {
        let file = g.file.path
        for name in ["data", "indices", "indptr"] where g.kind(of: name) != .dataset {
            throw ImportError(.missingField, file: file, field: "\(field)/\(name)",
                              problem: "the sparse matrix has no '\(name)' array",
                              fix: "the file is incomplete; re-export it (anndata: adata.write_h5ad)")
        }
        let dataDS = try g.dataset("data"), indDS = try g.dataset("indices"), ptrDS = try g.dataset("indptr")
        guard dataDS.isNumeric else {
            throw ImportError(.invalidValue, file: file, field: "\(field)/data", problem: "holds \(dataDS.typeDescription) values, not numbers",
                              fix: "store counts as a numeric array")
        }
        let counts = CSRMatrix(rows: major, cols: minor, indptr: try ptrDS.readInt64s().map { Int($0) },
                               indices: try indDS.readInt32s(), values: try dataDS.readFloats())
        // Checked here, not only in Dataset.validate: a CSC matrix is transposed next, which needs valid indices.
        if let p = counts.structuralProblem() {
            throw ImportError(.shapeMismatch, file: file, field: "\(field)/\(p.array)", row: p.row, problem: p.message,
                              fix: "the sparse arrays do not describe a \(major) x \(minor) matrix; re-export the file")
        }
        return counts
    }
}
