/// The checks every reader runs before it hands out a `Dataset`, so that no reader returns a half-valid one.
extension Dataset {
    /// Throws the first problem found: inconsistent shapes, bad CSR structure, NaN / infinite / negative
    /// counts, duplicate or empty cell ids, missing coordinates. `file` names the source in the error.
    public func validate(file: String, countsField: String = "X") throws {
        let n = counts.rows, g = counts.cols
        if let p = counts.structuralProblem() {
            throw ImportError(.shapeMismatch, file: file, field: countsField, problem: "the sparse matrix is inconsistent: \(p)",
                              fix: "re-export the matrix; its indptr/indices/data arrays do not describe a \(n) x \(g) matrix")
        }
        try checkLength(cellIDs.count, n, "cell ids (obs index)", file)
        try checkLength(geneIDs.count, g, "gene ids (var index)", file)
        try checkLength(geneSymbols.count, g, "gene symbols", file)
        try checkLength(measured.count, g, "measured-gene mask", file)
        try checkLength(sample.count, n, "sample", file)
        try checkLength(batch.count, n, "batch", file)
        if let f = fov { try checkLength(f.count, n, "fov", file) }
        for (name, col) in obs.columns { try checkLength(col.count, n, "obs/\(name)", file) }
        for (name, col) in vars.columns { try checkLength(col.count, g, "var/\(name)", file) }
        for (label, c) in [("sample", sample), ("batch", batch)] + (fov.map { [("fov", $0)] } ?? []) {
            if let bad = c.codes.firstIndex(where: { $0 < -1 || Int($0) >= c.categories.count }) {
                throw ImportError(.invalidValue, file: file, field: label, row: bad,
                                  problem: "category code \(c.codes[bad]) is outside the \(c.categories.count) categories",
                                  fix: "repair the categorical column; codes must index its categories")
            }
        }
        try validateCountValues(file: file, field: countsField)
        try validateCellIDs(file: file)
        if let xy = coordinates {
            try checkLength(xy.x.count, n, "x coordinate", file)
            try checkLength(xy.y.count, n, "y coordinate", file)
            if let z = xy.z { try checkLength(z.count, n, "z coordinate", file) }
            for (axis, v) in [("x", xy.x), ("y", xy.y)] + (xy.z.map { [("z", $0)] } ?? []) {
                if let bad = v.firstIndex(where: { !$0.isFinite }) {
                    throw ImportError(.invalidValue, file: file, field: "\(axis) coordinate", row: bad,
                                      problem: "cell '\(cellIDs[bad])' has no \(axis) position (\(v[bad]))",
                                      fix: "drop cells without positions or supply their coordinates")
                }
            }
        }
    }

    private func checkLength(_ got: Int, _ want: Int, _ field: String, _ file: String) throws {
        if got != want {
            throw ImportError(.shapeMismatch, file: file, field: field,
                              problem: "has \(got) entries but the matrix has \(want)",
                              fix: "make \(field) match the matrix shape (\(counts.rows) cells x \(counts.cols) genes)")
        }
    }

    private func validateCountValues(file: String, field: String) throws {
        let bad = counts.values.withUnsafeBufferPointer { v -> Int? in
            // One fused pass: `!(x >= 0)` is true for negatives and NaN, `x == .infinity` catches +inf.
            for k in 0..<v.count where !(v[k] >= 0) || v[k] == .infinity { return k }
            return nil
        }
        if let k = bad {
            let r = counts.rowOf(entry: k), value = counts.values[k]
            let what = value.isNaN ? "NaN" : (value.isInfinite ? "an infinite value" : "a negative value (\(value))")
            throw ImportError(.invalidValue, file: file, field: field, row: r,
                              problem: "cell '\(cellIDs.indices.contains(r) ? cellIDs[r] : "?")', gene '\(geneSymbols.indices.contains(Int(counts.indices[k])) ? geneSymbols[Int(counts.indices[k])] : "?")' holds \(what); counts must be finite and >= 0",
                              fix: "import raw counts (a layer such as 'counts' or raw/X) rather than scaled or log-transformed values")
        }
    }

    private func validateCellIDs(file: String) throws {
        var seen = Set<String>(minimumCapacity: cellIDs.count)
        for (i, id) in cellIDs.enumerated() {
            if id.isEmpty {
                throw ImportError(.invalidValue, file: file, field: "cell id", row: i, problem: "the cell id is empty",
                                  fix: "give every cell a non-empty id")
            }
            if !seen.insert(id).inserted {
                let first = cellIDs.firstIndex(of: id) ?? 0
                throw ImportError(.duplicateID, file: file, field: "cell id", row: i,
                                  problem: "cell id '\(id)' repeats (first at row \(first))",
                                  fix: "make cell ids unique, e.g. prefix them with the sample or FOV (anndata: obs_names_make_unique())")
            }
        }
    }
}
