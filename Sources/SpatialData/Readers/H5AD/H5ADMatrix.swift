import CHDF5
import Tensor

/// Reads an anndata matrix element (X, raw/X, a layer) as cells × genes CSR, whatever its layout:
/// a dense 2-D dataset, a csr_matrix or csc_matrix group (int32 or int64 indices), or a pre-0.7 group
/// tagged with `h5sparse_format`.
enum H5ADMatrixReader {
    static func read(_ parent: H5Group, _ name: String, rows: Int, cols: Int) throws -> CSRMatrix {
        let file = parent.file.path
        let field = parent.childPath(name)
        switch parent.kind(of: name) {
        case .dataset?:
            let d = try parent.dataset(name)
            guard d.isNumeric else {
                throw ImportError(.invalidValue, file: file, field: field, problem: "holds \(d.typeDescription) values, not numbers",
                                  fix: "store counts as a numeric matrix")
            }
            guard d.shape.count == 2, d.shape[0] == rows, d.shape[1] == cols else {
                throw ImportError(.shapeMismatch, file: file, field: field,
                                  problem: "has shape \(d.shape) but obs and var give \(rows) x \(cols)",
                                  fix: "the matrix and its obs/var tables disagree; re-export the file")
            }
            let dense = try d.readFloats()
            return CSRMatrix(dense: Matrix(rows: rows, cols: cols, data: dense))
        case .group?:
            let g = try parent.group(name)
            let format: String
            let shape: [Int64]
            if let enc = g.encodingType {
                format = enc
                shape = g.intsAttribute("shape") ?? []
            } else if let legacy = g.stringAttribute("h5sparse_format") {
                format = legacy + "_matrix"
                shape = g.intsAttribute("h5sparse_shape") ?? []
            } else {
                throw ImportError(.unsupported, file: file, field: field, problem: "the group has no encoding-type, so its matrix layout is unknown",
                                  fix: "re-save the file with a current anndata")
            }
            guard shape.count == 2 else {
                throw ImportError(.missingField, file: file, field: "\(field)@shape", problem: "the sparse matrix has no valid shape attribute",
                                  fix: "the file is incomplete; re-export it")
            }
            guard shape[0] == Int64(rows), shape[1] == Int64(cols) else {
                throw ImportError(.shapeMismatch, file: file, field: field,
                                  problem: "has shape \(shape) but obs and var give \(rows) x \(cols)",
                                  fix: "the matrix and its obs/var tables disagree; re-export the file")
            }
            switch format {
            case "csr_matrix": return try H5Sparse.read(g, major: rows, minor: cols, field: field)
            case "csc_matrix": return try H5Sparse.read(g, major: cols, minor: rows, field: field).transposed()
            default:
                throw ImportError(.unsupported, file: file, field: field, problem: "matrix encoding '\(format)' is not supported",
                                  fix: "store the matrix as dense, csr_matrix or csc_matrix")
            }
        default:
            throw ImportError(.missingField, file: file, field: field, problem: "the matrix is missing",
                              fix: "choose a counts element that exists (X, raw/X or a layer name)")
        }
    }
}
