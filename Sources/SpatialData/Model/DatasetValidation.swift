import Dispatch

/// The checks every reader runs before it hands out a `Dataset`, so that no reader returns a half-valid one.
extension Dataset {
    /// Throws the first problem found: inconsistent shapes, bad CSR structure, NaN / infinite / negative
    /// counts, duplicate or empty cell ids, missing coordinates. `file` names the source in the error.
    /// `cellIDsChecked`: the reader already ran `Dataset.checkCellIDs` on these ids (overlapped with I/O).
    public func validate(file: String, countsField: String = "X", cellIDsChecked: Bool = false) throws {
        let n = counts.rows, g = counts.cols
        if let p = counts.structuralProblem() {
            throw ImportError(.shapeMismatch, file: file, field: countsField, row: p.row, problem: "the sparse matrix is inconsistent: \(p)",
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
        // Cell-id hashing and the pass over the counts are independent: run them on two cores.
        final class Outcome: @unchecked Sendable { var error: Error? }   // written by one task, read after wait()
        let ids = Outcome()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            if !cellIDsChecked { do { try Dataset.checkCellIDs(self.cellIDs, file: file) } catch { ids.error = error } }
        }
        let valueError: Error? = { do { try validateCountValues(file: file, field: countsField); return nil } catch { return error } }()
        group.wait()
        if let e = valueError ?? ids.error { throw e }
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
            // SIMD blocks: `x >= 0` is false for negatives and NaN, `x < inf` for +inf. Only a block that
            // holds a bad value is scanned for its position.
            let isBad = { (x: Float) in !(x >= 0 && x < .infinity) }
            let lanes = 16, full = v.count / lanes * lanes
            let zero = SIMD16<Float>(repeating: 0), inf = SIMD16<Float>(repeating: .infinity)
            var k = 0
            while k < full {
                let x = SIMD16<Float>(v[k..<k + lanes])
                if !all((x .>= zero) .& (x .< inf)) { return (k..<k + lanes).first { isBad(v[$0]) } }
                k += lanes
            }
            return (full..<v.count).first { isBad(v[$0]) }
        }
        if let k = bad {
            let r = counts.rowOf(entry: k), value = counts.values[k]
            let what = value.isNaN ? "NaN" : (value.isInfinite ? "an infinite value" : "a negative value (\(value))")
            throw ImportError(.invalidValue, file: file, field: field, row: r,
                              problem: "cell '\(cellIDs.indices.contains(r) ? cellIDs[r] : "?")', gene '\(geneSymbols.indices.contains(Int(counts.indices[k])) ? geneSymbols[Int(counts.indices[k])] : "?")' holds \(what); counts must be finite and >= 0",
                              fix: "import raw counts (a layer such as 'counts' or raw/X) rather than scaled or log-transformed values")
        }
    }

    /// Throws on an empty or repeated cell id. Each id's UTF-8 is hashed once (FNV-1a, 64 bit); ids are
    /// split by one hash bit into two open-addressing tables filled on two threads, and strings are
    /// compared only when hashes meet. About 5x faster than a Set<String> on a million ids, which matters
    /// because every import runs it. The error names the earliest row that repeats an id.
    public static func checkCellIDs(_ ids: [String], file: String) throws {
        let n = ids.count
        if let empty = ids.firstIndex(where: \.isEmpty) {
            throw ImportError(.invalidValue, file: file, field: "cell id", row: empty, problem: "the cell id is empty",
                              fix: "give every cell a non-empty id")
        }
        var hashes = [UInt64](repeating: 0, count: n)
        hashes.withUnsafeMutableBufferPointer { h in
            let base = Int(bitPattern: h.baseAddress)
            DispatchQueue.concurrentPerform(iterations: 2) { part in
                let out = UnsafeMutablePointer<UInt64>(bitPattern: base)!
                for i in stride(from: part, to: n, by: 2) {
                    var id = ids[i]
                    out[i] = id.withUTF8 { bytes -> UInt64 in
                        var v: UInt64 = 0xcbf2_9ce4_8422_2325
                        for b in bytes { v = (v ^ UInt64(b)) &* 0x100_0000_01b3 }
                        return v ^ (v >> 29)
                    }
                }
            }
        }
        // Equal ids have equal hashes, so each duplicate pair lands in the same half.
        final class Found: @unchecked Sendable { var pairs: [(row: Int, first: Int)?] = [nil, nil] }
        let found = Found()
        hashes.withUnsafeBufferPointer { h in
            let base = Int(bitPattern: h.baseAddress)
            DispatchQueue.concurrentPerform(iterations: 2) { half in
                let hs = UnsafePointer<UInt64>(bitPattern: base)!
                var cap = 16
                while cap < n { cap <<= 1 }
                var slots = [Int32](repeating: -1, count: cap)
                let mask = UInt64(cap - 1)
                for i in 0..<n where Int(hs[i] >> 63) == half {
                    var slot = Int((hs[i] >> 7) & mask)
                    while slots[slot] >= 0 {
                        let j = Int(slots[slot])
                        if hs[j] == hs[i] && ids[j] == ids[i] { found.pairs[half] = (i, j); return }
                        slot = (slot + 1) & (cap - 1)
                    }
                    slots[slot] = Int32(i)
                }
            }
        }
        if let dup = found.pairs.compactMap({ $0 }).min(by: { $0.row < $1.row }) {
            throw ImportError(.duplicateID, file: file, field: "cell id", row: dup.row,
                              problem: "cell id '\(ids[dup.row])' repeats (first at row \(dup.first))",
                              fix: "make cell ids unique, e.g. prefix them with the sample or FOV (anndata: obs_names_make_unique())")
        }
    }
}
