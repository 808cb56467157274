import Foundation
import Tensor

/// Loads the JSON fixtures written by scripts/analysis_fixtures.py.
enum Fixture {
    static func load<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures") else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "Fixtures/\(name).json"])
        }
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }

    struct Blobs: Decodable {
        var rows: Int, cols: Int, x: [Float], labels: [Int], countRows: Int, countCols: Int, counts: [Float]
        var matrix: Matrix { Matrix(rows: rows, cols: cols, data: x) }
        var logCounts: Matrix { Matrix(rows: countRows, cols: countCols, data: counts.map { log1p($0) }) }
    }

    static var blobs: Blobs { get throws { try load("blobs") } }

    /// The scanpy connectivities stored in knn.json.
    static func scanpyGraph() throws -> CSRMatrix {
        struct K: Decodable { var indptr: [Int], colIndices: [Int32], values: [Float] }
        let k: K = try load("knn")
        return CSRMatrix(rows: k.indptr.count - 1, cols: k.indptr.count - 1, indptr: k.indptr, indices: k.colIndices, values: k.values)
    }
}
