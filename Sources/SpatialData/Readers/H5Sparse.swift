import Tensor

/// Reads the (data, indices, indptr) triple shared by anndata's csr/csc groups and 10x matrices.
enum H5Sparse {
    /// Reads a compressed matrix group as CSR of shape `major × minor` (for CSC files the caller swaps and
    /// transposes). Checks array lengths and index ranges before returning.
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
        if ptrDS.count != major + 1 {
            throw ImportError(.shapeMismatch, file: file, field: "\(field)/indptr",
                              problem: "has \(ptrDS.count) entries but the matrix has \(major) rows, so it needs \(major + 1)",
                              fix: "the matrix is inconsistent with its shape attribute; re-export it")
        }
        if indDS.count != dataDS.count {
            throw ImportError(.shapeMismatch, file: file, field: "\(field)/indices",
                              problem: "has \(indDS.count) entries but data has \(dataDS.count)",
                              fix: "the sparse arrays are inconsistent; re-export the matrix")
        }
        let indptr = try ptrDS.readInt64s()
        let nnz = dataDS.count
        if indptr.first != 0 || indptr.last != Int64(nnz) {
            throw ImportError(.shapeMismatch, file: file, field: "\(field)/indptr",
                              problem: "runs from \(indptr.first ?? -1) to \(indptr.last ?? -1) but there are \(nnz) stored values",
                              fix: "the sparse arrays are inconsistent; re-export the matrix")
        }
        if let r = (0..<major).first(where: { indptr[$0] > indptr[$0 + 1] }) {
            throw ImportError(.shapeMismatch, file: file, field: "\(field)/indptr", row: r,
                              problem: "decreases (\(indptr[r]) then \(indptr[r + 1]))", fix: "the sparse arrays are corrupt; re-export the matrix")
        }
        let indices = try indDS.readInt32s()
        let lim = Int32(clamping: minor)
        let (lo, hi) = indices.withUnsafeBufferPointer { v -> (Int32, Int32) in
            var lo = Int32.max, hi = Int32.min
            for x in v { lo = min(lo, x); hi = max(hi, x) }
            return (lo, hi)
        }
        if !indices.isEmpty && (lo < 0 || hi >= lim), let k = indices.firstIndex(where: { $0 < 0 || $0 >= lim }) {
            var lo = 0, hi = major
            while lo < hi { let m = (lo + hi) / 2; if indptr[m + 1] <= Int64(k) { lo = m + 1 } else { hi = m } }
            throw ImportError(.shapeMismatch, file: file, field: "\(field)/indices", row: lo,
                              problem: "index \(indices[k]) (entry \(k)) is outside 0..<\(minor)",
                              fix: "the sparse arrays do not match the shape; re-export the matrix")
        }
        let values = try dataDS.readFloats()
        return CSRMatrix(rows: major, cols: minor, indptr: indptr.map { Int($0) }, indices: indices, values: values)
    }
}
