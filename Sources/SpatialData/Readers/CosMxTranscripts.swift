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
        // One streamed pass (transcript tables run to hundreds of millions of lines): cells and targets get
        // provisional numbers in order of appearance and are sorted at the end.
        let t = try WideCountsTable.header(path)
        let header = t.header ?? []
        let fovCol = try t.requireColumn(CosMxReader.fovAliases, what: "field of view")
        let cellCol = try t.requireColumn(CosMxReader.cellAliases, what: "cell id")
        let targetCol = try t.requireColumn("target", "gene", "feature_name", what: "target (gene)")
        let xCol = try t.requireColumn("x_global_px", "x_global", "CenterX_global_px", what: "global x (px)")
        let yCol = try t.requireColumn("y_global_px", "y_global", "CenterY_global_px", what: "global y (px)")
        let xlCol = t.column("x_local_px"), ylCol = t.column("y_local_px"), zCol = t.column("z")

        var geneOf = [String: Int32](), targets = [String](), controlKinds = [String: String]()
        var cellOf = [String: Int](), cellFOV = [String](), cellNumber = [String]()
        var perCell = [[Int32: Float]]()
        var sx = [Double](), sy = [Double](), slx = [Double](), sly = [Double](), sz = [Double](), total = [Double]()
        var controlTotals = [String: [Double]]()
        var unassigned = 0, unassignedByFOV = [String: Int](), transcripts = 0
        try LineStream.forEachRow(path, width: header.count) { line, ranges, number in
            func value(_ c: Int) throws -> Double {
                guard let v = LineStream.number(line, ranges[c]), v.isFinite else {
                    throw ImportError(.invalidValue, file: path, field: header[c], row: number,
                                      problem: "'\(LineStream.text(line, ranges[c]).prefix(40))' is not a number",
                                      fix: "this column must be numeric; check the export")
                }
                return v
            }
            let target = LineStream.text(line, ranges[targetCol])
            let cell = LineStream.text(line, ranges[cellCol])
            let fov = LineStream.text(line, ranges[fovCol])
            if target.isEmpty || cell.isEmpty || fov.isEmpty {
                let col = target.isEmpty ? targetCol : (cell.isEmpty ? cellCol : fovCol)
                throw ImportError(.invalidValue, file: path, field: header[col], row: number,
                                  problem: "the field is empty", fix: "every transcript needs a fov, a cell_ID and a target")
            }
            transcripts += 1
            var gene: Int32 = -1, control: String? = nil
            if let kind = controlKinds[target] ?? VendorTable.controlKind(target) { controlKinds[target] = kind; control = kind }
            else if let g = geneOf[target] { gene = g }
            else { gene = Int32(targets.count); geneOf[target] = gene; targets.append(target) }
            if Double(cell) == 0 { unassigned += 1; unassignedByFOV[fov, default: 0] += 1; return }
            let key = "\(cell)_\(fov)"
            let c: Int
            if let known = cellOf[key] { c = known } else {
                c = cellFOV.count; cellOf[key] = c; cellFOV.append(fov); cellNumber.append(cell)
                perCell.append([:]); sx.append(0); sy.append(0); slx.append(0); sly.append(0); sz.append(0); total.append(0)
                for k in controlTotals.keys { controlTotals[k]!.append(0) }
            }
            if gene >= 0 { perCell[c][gene, default: 0] += 1 }
            if let kind = control {
                if controlTotals[kind] == nil { controlTotals[kind] = [Double](repeating: 0, count: cellFOV.count) }
                controlTotals[kind]![c] += 1
            }
            sx[c] += try value(xCol); sy[c] += try value(yCol); total[c] += 1
            if let xl = xlCol { slx[c] += try value(xl) }
            if let yl = ylCol { sly[c] += try value(yl) }
            if let z = zCol { sz[c] += try value(z) }
        }
        guard !cellFOV.isEmpty else {
            throw ImportError(.invalidValue, file: path, field: header[cellCol],
                              problem: transcripts == 0 ? "the file has a header but no transcripts" : "no transcript is assigned to a cell (every cell_ID is 0)",
                              fix: "export transcripts after cell segmentation, or import the expression matrix instead")
        }
        // Deterministic order: genes by name, cells by FOV then cell number.
        let geneOrder = targets.indices.sorted { targets[$0] < targets[$1] }
        var geneRank = [Int32](repeating: 0, count: targets.count)
        for (rank, g) in geneOrder.enumerated() { geneRank[g] = Int32(rank) }
        let cellOrder = cellFOV.indices.sorted {
            cellFOV[$0] != cellFOV[$1] ? VendorTable.naturalLess(cellFOV[$0], cellFOV[$1]) : VendorTable.naturalLess(cellNumber[$0], cellNumber[$1])
        }
        // Rows in sorted cell order, columns renumbered to sorted gene ranks.
        let n = cellFOV.count
        let kinds = controlTotals.keys.sorted()
        var indptr = [0], indices = [Int32](), values = [Float]()
        for c in cellOrder {
            for (g, v) in perCell[c].map({ (geneRank[Int($0.key)], $0.value) }).sorted(by: { $0.0 < $1.0 }) { indices.append(g); values.append(v) }
            indptr.append(values.count)
        }
        let counts = CSRMatrix(rows: n, cols: targets.count, indptr: indptr, indices: indices, values: values)
        let ordered = cellOrder
        var obs = ObsTable()
        let mean = { (sum: [Double]) in ordered.map { sum[$0] / total[$0] } }
        obs["transcript_count"] = .float(ordered.map { total[$0] })
        if xlCol != nil { obs["x_local_px"] = .float(mean(slx)) }
        if ylCol != nil { obs["y_local_px"] = .float(mean(sly)) }
        if zCol != nil { obs["z_mean"] = .float(mean(sz)) }
        for k in kinds { obs["\(k.lowercased())_counts"] = .float(ordered.map { controlTotals[k]![$0] }) }
        var meta = ["source.format": "cosmx-transcripts", "source.file": path,
                    "cosmx.unassigned_transcripts": String(unassigned),
                    "cosmx.transcripts": String(transcripts)]
        if !unassignedByFOV.isEmpty {
            meta["cosmx.unassigned_by_fov"] = unassignedByFOV.keys.sorted(by: VendorTable.naturalLess)
                .map { "\($0)=\(unassignedByFOV[$0] ?? 0)" }.joined(separator: ",")
        }
        if !controlKinds.isEmpty { meta["cosmx.control_features"] = controlKinds.keys.sorted().joined(separator: ",") }
        let d = Dataset(name: ((path as NSString).deletingLastPathComponent as NSString).lastPathComponent,
                        counts: counts, cellIDs: ordered.map { "\(cellNumber[$0])_\(cellFOV[$0])" },
                        geneIDs: geneOrder.map { targets[$0] },
                        fov: Categorical(labels: ordered.map { cellFOV[$0] }, sorted: true),
                        coordinates: Coordinates(x: mean(sx), y: mean(sy),
                                                 unit: .pixel, micronsPerPixel: CosMxReader.micronsPerPixel),
                        platform: "cosmx", obs: obs, metadata: meta)
        try d.validate(file: path, countsField: header[targetCol])
        return d
    }
}
