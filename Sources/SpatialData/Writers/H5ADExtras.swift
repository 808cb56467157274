import Foundation
import Tensor

/// Results written into an h5ad beside a dataset's own content (`H5ADWriter.write(_:to:extras:)`): what the
/// workflows add for scanpy users.
/// - `obsm`: per-cell matrices (embeddings: `obsm['X_tessera']`, N×d float32);
/// - `obs`: extra obs columns (clusters as categoricals, scores as numbers), replacing a dataset column of the
///   same name;
/// - `layers`: per-cell values for a gene list of their own (`layers['imputed']`). anndata needs layers shaped
///   like X, so genes absent from the dataset are appended to `var` (`var['measured']` false; X holds nothing
///   for them unless `xFromLayer` names the layer); the layer is a CSR matrix aligned to that `var` whose
///   stored entries are the layer's own genes only, and `uns['NAME_genes']` lists them (columns outside the
///   list read as 0 and mean "not computed");
/// - `xFromLayer`: the name of a layer whose values fill X for its genes the dataset does not measure (appended
///   ones included), so scanpy's X-based calls (plots, `rank_genes_groups`) see them; the bool var column of
///   the layer's name (`var['imputed']`) marks them. Measured genes keep their counts in X, whatever the layer
///   holds for them. `uns['tessera']['x_from_layer']` names the layer, and our reader drops those X values
///   again (they are not counts);
/// - `uns`: top-level entries; `tessera`: entries added to `uns['tessera']` (workflow, version, parameters).
public struct H5ADExtras: Sendable {
    public var obsm: [(name: String, values: Matrix)] = []
    public var obs = ObsTable()
    public var layers: [Layer] = []
    public var uns: [(name: String, value: UnsValue)] = []
    public var tessera: [(name: String, value: UnsValue)] = []
    public var xFromLayer: String?

    public init() {}

    /// A layer over its own genes: `values` is N×genes.count.
    public struct Layer: Sendable {
        public var name: String
        public var genes: [String]
        public var values: Matrix
        public init(name: String, genes: [String], values: Matrix) { self.name = name; self.genes = genes; self.values = values }
    }

    /// A value in `uns`: scalars, arrays, or a nested dict.
    public indirect enum UnsValue: Sendable {
        case string(String), number(Double), strings([String]), numbers([Double]), dict([(String, UnsValue)])
    }

    public var isEmpty: Bool { obsm.isEmpty && obs.isEmpty && layers.isEmpty && uns.isEmpty && tessera.isEmpty }

    /// Checks shapes against a dataset of `cells` cells: one row per cell everywhere, distinct names, finite
    /// values. Errors name the element.
    func validate(cells: Int, file: String) throws {
        func bad(_ field: String, _ problem: String, _ fix: String) -> ImportError {
            ImportError(.shapeMismatch, file: file, field: field, problem: problem, fix: fix)
        }
        for name in obsm.map(\.name) + layers.map(\.name) where name.isEmpty || name.contains("/") || name == "." {
            throw bad("obsm/layers '\(name)'", "is not a valid element name", "use a non-empty name without '/'")
        }
        var seen = Set<String>()
        for (name, m) in obsm {
            if name == "spatial" || !seen.insert(name).inserted { throw bad("obsm/\(name)", "is given twice (or clashes with obsm['spatial'])", "use distinct names") }
            if m.rows != cells { throw bad("obsm/\(name)", "has \(m.rows) rows for \(cells) cells", "give one row per cell") }
            if m.data.count != m.rows * m.cols { throw bad("obsm/\(name)", "holds \(m.data.count) values for \(m.rows)×\(m.cols)", "pass a consistent matrix") }
        }
        for (name, v) in obs.columns where v.count != cells {
            throw bad("obs/\(name)", "has \(v.count) values for \(cells) cells", "give one value per cell")
        }
        seen = []
        for l in layers {
            if !seen.insert(l.name).inserted { throw bad("layers/\(l.name)", "is given twice", "use distinct layer names") }
            if l.values.rows != cells || l.values.cols != l.genes.count {
                throw bad("layers/\(l.name)", "is \(l.values.rows)×\(l.values.cols) for \(cells) cells × \(l.genes.count) genes", "give one row per cell and one column per listed gene")
            }
            if Set(l.genes).count != l.genes.count { throw bad("layers/\(l.name)", "lists a gene twice", "list each gene once") }
        }
        if let x = xFromLayer, ["measured", "gene_ids"].contains(x) {
            throw bad("xFromLayer '\(x)'", "would replace the writer's own var column '\(x)'", "give the layer another name")
        }
        if let x = xFromLayer, !layers.contains(where: { $0.name == x }) {
            throw bad("xFromLayer '\(x)'", "names no layer (layers: \(layers.map(\.name).joined(separator: ", ")))", "name one of the layers, or leave xFromLayer nil")
        }
        var unsNames = Set(["tessera"] + layers.map { "\($0.name)_genes" })
        for (name, _) in uns where !unsNames.insert(name).inserted {
            throw bad("uns/\(name)", "clashes with another uns entry (tessera and NAME_genes of each layer are the writer's)", "rename it")
        }
        var tesseraNames = Set(["platform", "name", "coordinate_unit", "microns_per_pixel", "metadata", "x_from_layer"])
        for (name, _) in tessera where !tesseraNames.insert(name).inserted {
            throw bad("uns/tessera/\(name)", "clashes with another entry of uns['tessera']", "rename it")
        }
    }
}
