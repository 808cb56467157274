import Foundation
import CellLM
import SpatialData
import Tensor

/// A dataset cut into model sequences: one per FOV (spatial data with FOVs) or per sample, with counts laid
/// out in the model's gene vocabulary.
public struct SequenceSet: Sendable {
    public var sequences: [CellSequence]
    /// Dataset rows of each sequence, in sequence order (to put per-cell outputs back in dataset order).
    public var rows: [[Int]]
    /// Names of the sequences (FOV or sample labels).
    public var names: [String]
    public var cellCount: Int { rows.reduce(0) { $0 + $1.count } }

    /// Per-sequence outputs (sequence order, one row per cell) laid out in dataset row order for a dataset of
    /// `cells` cells.
    public func datasetOrder(_ parts: [Matrix], cells: Int) -> Matrix {
        let d = parts.first?.cols ?? 0
        var x = Matrix(rows: cells, cols: d)
        for (k, rows) in rows.enumerated() {
            for (i, r) in rows.enumerated() { for j in 0..<d { x.data[r * d + j] = parts[k].data[i * d + j] } }
        }
        return x
    }
}

public enum DatasetSequences {
    /// Vocabulary alignment: for each vocabulary gene, the dataset column holding it (matched by gene id, then
    /// by symbol, with `GeneHarmonizer`'s key: case-insensitive, Ensembl version stripped), or nil.
    public static func align(_ ds: Dataset, to vocabulary: [String]) -> [Int?] {
        var byKey: [String: Int] = [:]
        for names in [ds.geneIDs, ds.geneSymbols] {
            for (j, name) in names.enumerated() where byKey[GeneHarmonizer.normalizedKey(name)] == nil {
                byKey[GeneHarmonizer.normalizedKey(name)] = j
            }
        }
        return vocabulary.map { byKey[GeneHarmonizer.normalizedKey($0)] }
    }

    /// Cuts `ds` into sequences. `vocabulary` nil means the dataset's own genes (by id). `batchBase`, when given,
    /// numbers the sequences' decoder batch labels from it (pretraining: one batch embedding per FOV/sample);
    /// nil gives every cell the unknown label −1 (new data). Coordinates are passed when the dataset has them.
    public static func make(_ ds: Dataset, vocabulary: [String]? = nil, batchBase: Int32? = nil,
                            datasetLabel: Int32? = nil) throws(CellLMError) -> SequenceSet {
        let vocab = vocabulary ?? ds.geneIDs
        let map = vocabulary == nil ? ds.geneIDs.indices.map { Optional($0) } : align(ds, to: vocab)
        let measured = map.enumerated().compactMap { (g, col) -> Int32? in
            guard let col, ds.measured[col] else { return nil }
            return Int32(g)
        }
        if measured.isEmpty {
            throw .geneMismatch(file: ds.name, problem: "shares no measured gene with the model's \(vocab.count)-gene vocabulary")
        }
        // dataset column → vocabulary index
        var colToVocab = [Int32](repeating: -1, count: ds.geneCount)
        for (g, col) in map.enumerated() { if let col { colToVocab[col] = Int32(g) } }
        let groups = ds.fov ?? ds.sample
        var members = [[Int]](repeating: [], count: groups.categories.count)
        var unassigned: [Int] = []
        for (i, c) in groups.codes.enumerated() { if c >= 0 { members[Int(c)].append(i) } else { unassigned.append(i) } }
        var names = groups.categories
        if !unassigned.isEmpty { members.append(unassigned); names.append("(no \(ds.fov == nil ? "sample" : "FOV"))") }
        var out = SequenceSet(sequences: [], rows: [], names: [])
        for (k, rows) in members.enumerated() where !rows.isEmpty {
            var ip = [0], ix: [Int32] = [], vs: [Float] = []
            ip.reserveCapacity(rows.count + 1)
            for r in rows {
                let lo = ds.counts.indptr[r], hi = ds.counts.indptr[r + 1]
                var pairs: [(Int32, Float)] = []
                for z in lo..<hi {
                    let g = colToVocab[Int(ds.counts.indices[z])]
                    if g >= 0 && ds.counts.values[z] != 0 { pairs.append((g, ds.counts.values[z])) }
                }
                pairs.sort { $0.0 < $1.0 }
                for (g, v) in pairs { ix.append(g); vs.append(v) }
                ip.append(vs.count)
            }
            let counts = CSRMatrix(rows: rows.count, cols: vocab.count, indptr: ip, indices: ix, values: vs)
            let coords: [Float]? = ds.coordinates.map { c in rows.flatMap { [Float(c.x[$0]), Float(c.y[$0])] } }
            let label = batchBase.map { $0 + Int32(out.sequences.count) } ?? -1
            out.sequences.append(CellSequence(counts: counts, coordinates: coords,
                                              batch: [Int32](repeating: label, count: rows.count),
                                              dataset: datasetLabel.map { [Int32](repeating: $0, count: rows.count) },
                                              measured: measured))
            out.rows.append(rows)
            out.names.append(names[k])
        }
        return out
    }
}

extension DatasetSequences {
    /// For a section without FOVs: cuts the tissue into a grid×grid of square tiles by position and uses them as
    /// FOVs (one sequence each). Cells without coordinates go to their sample's group.
    public static func tiled(_ ds: Dataset, grid: Int) -> Dataset {
        guard let c = ds.coordinates, grid > 1 else { return ds }
        let fx = c.x.filter(\.isFinite), fy = c.y.filter(\.isFinite)
        guard let x0 = fx.min(), let x1 = fx.max(), let y0 = fy.min(), let y1 = fy.max() else { return ds }
        var labels: [String] = []
        for i in 0..<ds.cellCount {
            if !c.x[i].isFinite || !c.y[i].isFinite { labels.append(ds.sample.label(i) ?? "none"); continue }
            let tx = min(grid - 1, Int(Double(grid) * (c.x[i] - x0) / max(x1 - x0, 1e-9)))
            let ty = min(grid - 1, Int(Double(grid) * (c.y[i] - y0) / max(y1 - y0, 1e-9)))
            labels.append(String(format: "tile_%02d_%02d", ty, tx))
        }
        var out = ds
        out.fov = Categorical(labels: labels, sorted: true)
        return out
    }
}
