import Foundation
import Tensor

/// Builds a cells × genes dataset from a CosMx transcript table `<sample>_tx_file.csv` (one row per
/// decoded transcript: fov, cell_ID, x/y_global_px, x/y_local_px, z, target, CellComp), for exports that
/// ship transcripts but no expression matrix.
///
/// Each transcript with `cell_ID ≠ 0` is counted for cell `"\(cell_ID)_\(fov)"` and its target; `cell_ID == 0`
/// transcripts are unassigned, left out and counted in metadata `cosmx.unassigned_transcripts`. Control
/// targets (`NegPrb*`, `SystemControl*`, `FalseCode*`) are not genes: their per-cell totals go to obs.
/// Genes are every non-control target seen in the file (assigned or not), sorted by name; cells are sorted
/// by FOV then cell_ID. A cell's position is the mean global position of all its transcripts (pixels,
/// 0.12028 µm per pixel); the mean local position and z go to obs.
public enum CosMxTranscripts {
    /// Aggregates the transcript table at `path` into per-cell counts.
    public static func aggregate(path: String) throws -> Dataset {
        let t = try DelimitedTable(path: path, delimiter: .comma, header: .present)
        let fovCol = try t.requireColumn(CosMxReader.fovAliases, what: "field of view")
        let cellCol = try t.requireColumn(CosMxReader.cellAliases, what: "cell id")
        let targetCol = try t.requireColumn("target", "gene", "feature_name", what: "target (gene)")
        let xCol = try t.requireColumn("x_global_px", "x_global", "CenterX_global_px", what: "global x (px)")
        let yCol = try t.requireColumn("y_global_px", "y_global", "CenterY_global_px", what: "global y (px)")
        let xlCol = t.column("x_local_px"), ylCol = t.column("y_local_px"), zCol = t.column("z")
        let gx = try t.numbers(xCol), gy = try t.numbers(yCol)
        let lx = try xlCol.map { try t.numbers($0) }, ly = try ylCol.map { try t.numbers($0) }, z = try zCol.map { try t.numbers($0) }

        // Pass 1: targets and cells.
        var geneOf = [String: Int32](), targets = [String](), controlKinds = [String: String]()
        var cellOf = [String: Int](), cellFOV = [String](), cellNumber = [String]()
        var rowTarget = [Int32](repeating: -1, count: t.rows.count), rowCell = [Int](repeating: -1, count: t.rows.count)
        var rowControl = [String?](repeating: nil, count: t.rows.count)
        var unassigned = 0, unassignedByFOV = [String: Int]()
        for r in t.rows.indices {
            let target = try t.field(r, targetCol).trimmingCharacters(in: .whitespaces)
            let cell = try t.field(r, cellCol).trimmingCharacters(in: .whitespaces)
            let fov = try t.field(r, fovCol).trimmingCharacters(in: .whitespaces)
            if target.isEmpty || cell.isEmpty || fov.isEmpty {
                let col = target.isEmpty ? targetCol : (cell.isEmpty ? cellCol : fovCol)
                throw ImportError(.invalidValue, file: path, field: VendorTable.columnName(t, col), row: t.firstLine + r,
                                  problem: "the field is empty", fix: "every transcript needs a fov, a cell_ID and a target")
            }
            if let kind = VendorTable.controlKind(target) { controlKinds[target] = kind; rowControl[r] = kind } else if let g = geneOf[target] {
                rowTarget[r] = g
            } else {
                let g = Int32(targets.count); geneOf[target] = g; targets.append(target); rowTarget[r] = g
            }
            if Double(cell) == 0 { unassigned += 1; unassignedByFOV[fov, default: 0] += 1; continue }
            let key = "\(cell)_\(fov)"
            if let c = cellOf[key] { rowCell[r] = c } else {
                let c = cellFOV.count; cellOf[key] = c; cellFOV.append(fov); cellNumber.append(cell); rowCell[r] = c
            }
        }
        guard !cellFOV.isEmpty else {
            throw ImportError(.invalidValue, file: path, field: VendorTable.columnName(t, cellCol),
                              problem: "no transcript is assigned to a cell (every cell_ID is 0)",
                              fix: "export transcripts after cell segmentation, or import the expression matrix instead")
        }
        // Deterministic order: genes by name, cells by FOV then cell number.
        let geneOrder = targets.indices.sorted { targets[$0] < targets[$1] }
        var geneRank = [Int32](repeating: 0, count: targets.count)
        for (rank, g) in geneOrder.enumerated() { geneRank[g] = Int32(rank) }
        let cellOrder = cellFOV.indices.sorted {
            cellFOV[$0] != cellFOV[$1] ? VendorTable.naturalLess(cellFOV[$0], cellFOV[$1]) : VendorTable.naturalLess(cellNumber[$0], cellNumber[$1])
        }
        var cellRank = [Int](repeating: 0, count: cellFOV.count)
        for (rank, c) in cellOrder.enumerated() { cellRank[c] = rank }

        // Pass 2: per-cell tallies.
        let n = cellFOV.count
        var perCell = [[Int32: Float]](repeating: [:], count: n)
        var sx = [Double](repeating: 0, count: n), sy = sx, slx = sx, sly = sx, sz = sx, total = sx
        let kinds = Array(Set(controlKinds.values)).sorted()
        var controlTotals = [String: [Double]]()
        for k in kinds { controlTotals[k] = [Double](repeating: 0, count: n) }
        for r in t.rows.indices where rowCell[r] >= 0 {
            let c = cellRank[rowCell[r]]
            if rowTarget[r] >= 0 { perCell[c][geneRank[Int(rowTarget[r])], default: 0] += 1 }
            if let kind = rowControl[r] { controlTotals[kind]?[c] += 1 }
            sx[c] += gx[r]; sy[c] += gy[r]; total[c] += 1
            if let v = lx { slx[c] += v[r] }
            if let v = ly { sly[c] += v[r] }
            if let v = z { sz[c] += v[r] }
        }
        var indptr = [0], indices = [Int32](), values = [Float]()
        for c in 0..<n {
            for (g, v) in perCell[c].sorted(by: { $0.key < $1.key }) { indices.append(g); values.append(v) }
            indptr.append(values.count)
        }
        let counts = CSRMatrix(rows: n, cols: targets.count, indptr: indptr, indices: indices, values: values)
        let ordered = cellOrder
        var obs = ObsTable()
        obs["transcript_count"] = .float(total)
        if lx != nil { obs["x_local_px"] = .float(zip(slx, total).map { $0 / $1 }) }
        if ly != nil { obs["y_local_px"] = .float(zip(sly, total).map { $0 / $1 }) }
        if z != nil { obs["z_mean"] = .float(zip(sz, total).map { $0 / $1 }) }
        for k in kinds { obs["\(k.lowercased())_counts"] = .float(controlTotals[k] ?? []) }
        var meta = ["source.format": "cosmx-transcripts", "source.file": path,
                    "cosmx.unassigned_transcripts": String(unassigned),
                    "cosmx.transcripts": String(t.rows.count)]
        if !unassignedByFOV.isEmpty {
            meta["cosmx.unassigned_by_fov"] = unassignedByFOV.keys.sorted(by: VendorTable.naturalLess)
                .map { "\($0)=\(unassignedByFOV[$0] ?? 0)" }.joined(separator: ",")
        }
        if !controlKinds.isEmpty { meta["cosmx.control_features"] = controlKinds.keys.sorted().joined(separator: ",") }
        let d = Dataset(name: ((path as NSString).deletingLastPathComponent as NSString).lastPathComponent,
                        counts: counts, cellIDs: ordered.map { "\(cellNumber[$0])_\(cellFOV[$0])" },
                        geneIDs: geneOrder.map { targets[$0] },
                        fov: Categorical(labels: ordered.map { cellFOV[$0] }, sorted: true),
                        coordinates: Coordinates(x: zip(sx, total).map { $0 / $1 }, y: zip(sy, total).map { $0 / $1 },
                                                 unit: .pixel, micronsPerPixel: CosMxReader.micronsPerPixel),
                        platform: "cosmx", obs: obs, metadata: meta)
        try d.validate(file: path, countsField: VendorTable.columnName(t, targetCol))
        return d
    }
}
