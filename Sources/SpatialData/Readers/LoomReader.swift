import Foundation
import Tensor

/// Reads loom files (loompy ≥ 2): `/matrix` is genes × cells (dense), `/row_attrs` holds per-gene and
/// `/col_attrs` per-cell vectors. Cell ids come from CellID (or obs_names / cell_names), genes from Gene
/// (or var_names) with Accession as the id when present, and X/Y (or x/y, _X/_Y) become coordinates.
public enum LoomReader {
    public static func read(path: String, platform: String = "unknown") throws -> Dataset {
        let f = try H5File.open(path)
        return try withHDF5 {
            let root = f.root
            guard root.kind(of: "matrix") == .dataset else {
                throw ImportError(.missingField, file: path, field: "/matrix", problem: "this file has no /matrix dataset, so it is not a loom file",
                                  fix: "pass a loom file written by loompy, or choose the reader for this format")
            }
            let m = try root.dataset("matrix")
            guard m.shape.count == 2 else {
                throw ImportError(.shapeMismatch, file: path, field: "/matrix", problem: "has shape \(m.shape), expected genes x cells",
                                  fix: "the file is damaged; re-export it")
            }
            guard m.isNumeric else {
                throw ImportError(.invalidValue, file: path, field: "/matrix", problem: "holds \(m.typeDescription) values, not counts",
                                  fix: "store counts as numbers")
            }
            let nGenes = m.shape[0], nCells = m.shape[1]
            let genesByCells = try m.readFloats()
            let counts = CSRMatrix(dense: Matrix(rows: nGenes, cols: nCells, data: genesByCells)).transposed()

            let colAttrs = try attrs(root, "col_attrs", n: nCells, file: path)
            let rowAttrs = try attrs(root, "row_attrs", n: nGenes, file: path)
            var obs = colAttrs, vars = rowAttrs
            let cellIDs = pick(&obs, ["CellID", "obs_names", "cell_names", "CellId"]) ?? (0..<nCells).map { "cell_\($0)" }
            let symbols = pick(&vars, ["Gene", "var_names", "gene_names"]) ?? (0..<nGenes).map { "gene_\($0)" }
            let ids = pick(&vars, ["Accession", "gene_ids"]) ?? symbols
            var coords: Coordinates?
            for (a, b) in [("X", "Y"), ("x", "y"), ("_X", "_Y")] {
                if let x = obs[a]?.numericValues, let y = obs[b]?.numericValues {
                    coords = Coordinates(x: x, y: y, unit: .unknown); break
                }
            }
            let sample = H5ADReader.take(&obs, H5ADReader.sampleKeys)
            let fov = H5ADReader.take(&obs, H5ADReader.fovKeys)
            let batch = H5ADReader.take(&obs, ["batch"])
            let d = Dataset(name: (path as NSString).lastPathComponent, counts: counts, cellIDs: cellIDs, geneIDs: ids, geneSymbols: symbols,
                            sample: sample, fov: fov, batch: batch, coordinates: coords, platform: platform, obs: obs, vars: vars,
                            metadata: ["source.format": "loom", "source.file": path, "counts.element": "/matrix"])
            try d.validate(file: path, countsField: "/matrix")
            return d
        }
    }

    /// Reads every 1-D attribute vector of a loom attribute group. Strings with few distinct values
    /// become categoricals (loom has no categorical type; labels such as ClusterName are strings).
    static func attrs(_ root: H5Group, _ name: String, n: Int, file: String) throws -> ObsTable {
        var t = ObsTable()
        guard root.kind(of: name) == .group else { return t }
        let g = try root.group(name)
        for c in g.children() where g.kind(of: c) == .dataset {
            let d = try g.dataset(c)
            guard d.shape.count == 1 else { continue }   // multi-dimensional attributes (embeddings) are not columns
            guard d.shape[0] == n else {
                throw ImportError(.shapeMismatch, file: file, field: "/\(name)/\(c)", problem: "has \(d.shape[0]) entries but the matrix has \(n)",
                                  fix: "the loom file is inconsistent; re-export it")
            }
            if d.isString {
                let v = try d.readStrings()
                let distinct = Set(v).count
                t[c] = distinct <= max(64, n / 10) && distinct < n ? .categorical(Categorical(labels: v, sorted: true)) : .string(v)
            } else if d.isBoolEnum {
                t[c] = .bool(try d.readBools())
            } else if d.isFloat {
                t[c] = .float(try d.readDoubles())
            } else if d.isInteger {
                t[c] = .int(try d.readInt64s())
            }
        }
        return t
    }

    static func pick(_ t: inout ObsTable, _ keys: [String]) -> [String]? {
        for k in keys {
            if let v = t[k] { t[k] = nil; return (0..<v.count).map { v.text($0) ?? "" } }
        }
        return nil
    }
}
