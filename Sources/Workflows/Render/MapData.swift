import Foundation
import Render
import SpatialData
import Tensor

/// Everything a map of one dataset or job result can be coloured by: the dataset's coordinates (in µm), obs
/// columns and genes, plus a job's own columns (`map.tmap`: `X_umap`, clusters, imputed genes). Colour keys:
/// an obs or job column by name, or a gene (measured: log1p of counts per 10,000; imputed: as predicted).
public struct MapData: Sendable {
    public let dataset: Dataset
    public let extra: MapColumns?
    public let positions: CellPositions?

    /// One colour key the viewer can offer.
    public struct Key: Sendable, Codable, Equatable {
        public var name: String
        /// "categorical" or "numeric".
        public var kind: String
        /// "obs" (the dataset), "result" (the job) or "embedding".
        public var source: String
        public var categories: [String]?
        public var counts: [Int]?
    }

    /// What `GET …/keys` returns.
    public struct Keys: Sendable, Codable, Equatable {
        public var cells: Int
        public var hasCoordinates: Bool
        public var positions: String?
        public var columns: [Key]
        public var genes: [String]
        public var imputedGenes: [String]
        public var embeddings: [String]
        /// FOVs (or samples, where there are no FOVs) that `fov=` can pick, when there are several.
        public var fovs: [String]
    }

    public init(dataset: Dataset, extra: MapColumns? = nil) throws(RenderError) {
        if let e = extra, e.cells != dataset.cellCount {
            throw .lengthMismatch(column: "map columns", expected: dataset.cellCount, actual: e.cells)
        }
        self.dataset = dataset; self.extra = extra
        positions = Self.positions(dataset)
    }

    /// x/y in µm (pixels times µm per pixel where stated), y down. 3-D coordinates are projected onto x/y.
    static func positions(_ d: Dataset) -> CellPositions? {
        guard let c = d.coordinates, c.count == d.cellCount, c.count > 0 else { return nil }
        let f = c.unit == .pixel ? (c.micronsPerPixel ?? 1) : 1
        var notes: [String] = []
        if c.z != nil { notes.append("x/y of 3-D coordinates; z dropped") }
        if c.unit == .pixel && c.micronsPerPixel == nil { notes.append("pixels: the data states no µm per pixel, so 1 px is drawn as 1 µm") }
        if c.unit == .unknown { notes.append("unit not stated; drawn as µm") }
        return CellPositions(x: c.x.map { Float($0 * f) }, y: c.y.map { Float($0 * f) }, note: notes.isEmpty ? nil : notes.joined(separator: "; "))
    }

    /// The keys this source offers.
    public var keys: Keys {
        var cols: [Key] = []
        for (name, v) in dataset.obs.columns {
            switch v {
            case .categorical(let c): cols.append(Key(name: name, kind: "categorical", source: "obs", categories: c.categories, counts: c.categoryCounts()))
            case .string: continue
            default: cols.append(Key(name: name, kind: "numeric", source: "obs"))
            }
        }
        var embeddings: [String] = [], imputed: [String] = []
        if let e = extra {
            for name in e.names {
                if name.hasPrefix("imputed:") { imputed.append(String(name.dropFirst(8))); continue }
                if name.hasSuffix(".x") || name.hasSuffix(".y") {
                    let base = String(name.dropLast(2))
                    if name.hasSuffix(".x") && e.floats[base + ".y"] != nil { embeddings.append(base) }
                    continue
                }
                if let c = e.categories[name] {
                    var counts = [Int](repeating: 0, count: c.names.count)
                    for code in c.codes where code >= 0 { counts[Int(code)] += 1 }
                    cols.append(Key(name: name, kind: "categorical", source: "result", categories: c.names, counts: counts))
                } else {
                    cols.append(Key(name: name, kind: "numeric", source: "result"))
                }
            }
        }
        return Keys(cells: dataset.cellCount, hasCoordinates: positions != nil, positions: positions?.note, columns: cols,
                    genes: zip(dataset.geneSymbols, dataset.measured).filter(\.1).map(\.0), imputedGenes: imputed, embeddings: embeddings,
                    fovs: { let g = dataset.fov ?? dataset.sample; return g.categories.count > 1 ? g.categories : [] }())
    }

    /// Positions in `basis`: "spatial" (the tissue) or an embedding stored by the job (e.g. "X_umap").
    public func positions(basis: String) throws(RenderError) -> CellPositions {
        if basis == "spatial" {
            guard let p = positions else {
                throw .invalid(parameter: "basis", reason: "dataset '\(dataset.name)' has no spatial coordinates; register a file with x/y (obsm['spatial']) or use basis=X_umap")
            }
            return p
        }
        guard let e = extra, let x = e.floats[basis + ".x"], let y = e.floats[basis + ".y"] else {
            throw .invalid(parameter: "basis", reason: "'\(basis)' is not stored for this source; choose spatial\(keys.embeddings.map { ", " + $0 }.joined())")
        }
        // Embeddings have no unit: scale them so the layout spans about as many "µm" as cells need to read.
        let s = Float(max(1, Double(e.cells).squareRoot() * 10)) / max(1e-6, (x.max()! - x.min()!) + (y.max()! - y.min()!)) * 2
        return CellPositions(x: x.map { $0 * s }, y: y.map { -$0 * s }, note: "\(basis) (no unit; scaled ×\(s))")
    }

    /// The colouring for `color` (an obs or result column) or `gene` (with `layer` "measured" or "imputed").
    /// `asCategories` draws a numeric column as categories (one per distinct value, at most 102).
    public func colouring(color: String?, gene: String?, layer: String = "measured", asCategories: Bool) throws(RenderError) -> MapColouring {
        let c = try colouring(color: color, gene: gene, layer: layer)
        guard asCategories, case .values(let key, let v) = c else { return c }
        if gene != nil { throw .invalid(parameter: "as", reason: "a gene is continuous; colour it as values (drop as=categories)") }
        let distinct = Array(Set(v.filter(\.isFinite))).sorted()
        if distinct.count > Palette.limit {
            throw .invalid(parameter: "as", reason: "'\(key)' is a continuous column with \(distinct.count) distinct values; more than \(Palette.limit) cannot be told apart as categories, so colour it as values (drop as=categories)")
        }
        let code = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, Int32($0)) })
        return .categories(key: key, codes: v.map { code[$0] ?? -1 }, names: distinct.map { $0 == $0.rounded() && abs($0) < 1e9 ? String(Int($0)) : String($0) }, colours: nil)
    }

    /// The colouring for `color` or `gene`, numeric columns as values.
    public func colouring(color: String?, gene: String?, layer: String = "measured") throws(RenderError) -> MapColouring {
        if let gene {
            if layer == "imputed" {
                guard let v = extra?.floats["imputed:" + gene] else {
                    let have = keys.imputedGenes
                    throw .invalid(parameter: "gene", reason: "'\(gene)' has no imputed values here; \(have.isEmpty ? "this source holds no imputed genes (run impute)" : "imputed genes: " + have.prefix(8).joined(separator: ", ") + (have.count > 8 ? "…" : ""))")
                }
                return .values(key: gene + " (imputed)", values: v)
            }
            guard layer == "measured" else { throw .invalid(parameter: "layer", reason: "'\(layer)'; give measured or imputed") }
            guard let j = geneIndex(gene) else {
                let near = dataset.geneSymbols.filter { $0.lowercased().hasPrefix(String(gene.lowercased().prefix(2))) }.prefix(5)
                throw .invalid(parameter: "gene", reason: "'\(gene)' is not a measured gene of '\(dataset.name)'\(near.isEmpty ? "" : "; similar: " + near.joined(separator: ", ")) (GET …/keys lists them)")
            }
            return .values(key: dataset.geneSymbols[j], values: expression(gene: j))
        }
        guard let color else { throw .invalid(parameter: "color", reason: "give color=COLUMN or gene=GENE") }
        if let c = extra?.categories[color] { return .categories(key: color, codes: c.codes, names: c.names, colours: c.colours) }
        if let v = extra?.floats[color] { return .values(key: color, values: v) }
        guard let v = dataset.obs[color] else {
            let names = keys.columns.map(\.name)
            throw .invalid(parameter: "color", reason: "'\(color)' is not a column here; choose one of \(names.prefix(20).joined(separator: ", "))\(names.count > 20 ? "…" : ""), or gene=GENE")
        }
        switch v {
        case .categorical(let c): return .categories(key: color, codes: c.codes, names: c.categories, colours: nil)
        case .string: throw .invalid(parameter: "color", reason: "'\(color)' is a free-text column; colour by a categorical or numeric column")
        default: return .values(key: color, values: (v.numericValues ?? []).map { Float($0) })
        }
    }

    func geneIndex(_ g: String) -> Int? {
        if let j = dataset.geneSymbols.firstIndex(of: g), dataset.measured[j] { return j }
        let l = g.lowercased()
        return dataset.geneSymbols.indices.first { dataset.measured[$0] && (dataset.geneSymbols[$0].lowercased() == l || dataset.geneIDs[$0].lowercased() == l) }
    }

    /// log1p(count / cell total × 10,000) of gene column `j` for every cell (scanpy's normalise_total + log1p).
    public func expression(gene j: Int) -> [Float] {
        let m = dataset.counts
        var out = [Float](repeating: 0, count: m.rows)
        for i in 0..<m.rows {
            var total: Float = 0, v: Float = 0
            for e in m.indptr[i]..<m.indptr[i + 1] { total += m.values[e]; if Int(m.indices[e]) == j { v = m.values[e] } }
            out[i] = total > 0 ? log1p(v / total * 10_000) : 0
        }
        return out
    }

    /// The category (or value) of cell `i` under `colouring`, for hover text.
    public static func describe(_ colouring: MapColouring, cell i: Int) -> String {
        switch colouring {
        case .categories(_, let codes, let names, _): return codes[i] >= 0 && Int(codes[i]) < names.count ? names[Int(codes[i])] : "(none)"
        case .values(_, let v): return v[i].isFinite ? String(format: "%.4g", v[i]) : "NaN"
        }
    }
}
