import Foundation
import Tensor

/// Reads AnnData `.h5ad` files of every on-disk layout anndata has written (0.5 through today) into a
/// `Dataset`, following the anndata spec: dispatch on each element's encoding-type / encoding-version.
///
/// Mapping onto `Dataset`: the counts come from the element chosen by `Options.counts`; obs columns named
/// sample / fov / batch / platform fill those fields; `obsm["spatial"]` (dense, or a dataframe with x/y
/// columns) gives coordinates; a `var` column of Ensembl ids (gene_ids, gene_id, ensembl_id) gives gene ids.
public enum H5ADReader {
    /// Which matrix holds raw counts.
    public enum CountsSource: Sendable, Equatable {
        /// `layers["counts"]` when present, otherwise `X`, otherwise `raw/X`.
        case auto
        case x
        case raw
        case layer(String)
    }

    public struct Options: Sendable {
        public var counts: CountsSource
        public init(counts: CountsSource = .auto) { self.counts = counts }
    }

    public static func read(path: String, options: Options = Options()) throws -> Dataset {
        let f = try H5File.open(path)
        return try withHDF5 { try read(f, options: options) }
    }

    static let sampleKeys = ["sample", "sample_id", "library_id", "section"]
    static let fovKeys = ["fov", "FOV", "fov_name", "field_of_view"]
    static let geneIDKeys = ["gene_ids", "gene_id", "ensembl_id", "ensembl", "feature_id"]
    static let symbolKeys = ["gene_symbols", "gene_symbol", "symbol", "feature_name", "gene_name", "name"]

    static func read(_ f: H5File, options: Options) throws -> Dataset {
        let root = f.root, path = f.path
        let name = (path as NSString).lastPathComponent
        guard root.has("obs"), root.has("var") else {
            throw ImportError(.missingField, file: path, field: root.has("obs") ? "var" : "obs",
                              problem: "this HDF5 file is not an AnnData file (it has no obs/var tables)",
                              fix: "pass an .h5ad written by anndata/scanpy; for 10x matrices pass the .h5 to the 10x reader")
        }
        let legacy = !root.hasAttribute("encoding-type")
        let uns = root.kind(of: "uns") == .group ? try root.group("uns") : nil
        let obs = try H5ADFrameReader.read(root, "obs", expected: nil, legacyCategories: uns)
        let nCells = obs.index.count
        // Check cell ids on another core while this one reads the matrix.
        final class IDCheck: @unchecked Sendable { var error: Error? }   // written by the task, read after wait()
        let idCheck = IDCheck(), idGroup = DispatchGroup()
        let cellIDs = obs.index
        DispatchQueue.global().async(group: idGroup) {
            do { try Dataset.checkCellIDs(cellIDs, file: path) } catch { idCheck.error = error }
        }
        defer { idGroup.wait() }

        // Choose the counts element and the var table that goes with it.
        let rawX = root.kind(of: "raw") == .group ? "raw/X" : (root.has("raw.X") ? "raw.X" : nil)
        let rawVar = root.kind(of: "raw") == .group ? "raw/var" : (root.has("raw.var") ? "raw.var" : nil)
        var element: String?
        switch options.counts {
        case .auto:
            if root.has("layers/counts") { element = "layers/counts" }
            else if root.has("X") { element = "X" }
            else if let rawX, root.has(rawX) { element = rawX }
        case .x: element = "X"
        case .raw: element = rawX ?? "raw/X"
        case .layer(let l): element = "layers/\(l)"
        }
        if let e = element, !root.has(e) {
            let layers = root.kind(of: "layers") == .group ? (try root.group("layers")).children() : []
            throw ImportError(.missingField, file: path, field: e, problem: "the requested counts matrix is not in the file",
                              fix: "choose one that exists: \((["X"].filter { root.has($0) } + (rawX.map { [$0] } ?? []) + layers.map { "layers/\($0)" }).joined(separator: ", ").ifEmpty("none: the file holds no matrix"))")
        }
        let useRaw = element != nil && element == rawX
        let varName = useRaw ? (rawVar ?? "raw/var") : "var"
        let varFrame = try H5ADFrameReader.read(root, varName, expected: nil, legacyCategories: uns)
        let nGenes = varFrame.index.count

        var counts: CSRMatrix
        var vars = varFrame
        if let e = element {
            counts = try matrix(root, e, rows: nCells, cols: nGenes)
            // Auto mode: X holding scaled or log values with negatives is not counts; raw/X usually is.
            if options.counts == .auto, e == "X", let rawX, let rawVar, root.has(rawX),
               counts.values.contains(where: { !($0 >= 0) }) {
                let rv = try H5ADFrameReader.read(root, rawVar, expected: nil, legacyCategories: uns)
                counts = try matrix(root, rawX, rows: nCells, cols: rv.index.count)
                vars = rv
                element = rawX
            }
        } else {
            // anndata allows X = None (e.g. a file of annotations only): an all-zero matrix, flagged.
            counts = .zeros(rows: nCells, cols: nGenes)
        }

        var obsCols = obs.columns, varCols = vars.columns
        var metadata: [String: String] = [
            "source.format": "h5ad",
            "source.file": path,
            "source.layout": legacy ? "anndata<0.8 (\(root.has("obs") && root.kind(of: "obs") == .dataset ? "compound tables" : "dataframe 0.1.0"))" : "anndata 0.1.0 spec",
            "counts.element": element ?? "none (X absent)",
        ]
        let sample = take(&obsCols, sampleKeys)
        let fov = take(&obsCols, fovKeys)
        let batch = take(&obsCols, ["batch"])
        var platform = "unknown"
        if case .categorical(let c)? = obsCols["platform"], c.categories.count == 1 { platform = c.categories[0]; obsCols["platform"] = nil }
        else if case .string(let s)? = obsCols["platform"], let p = s.first, s.allSatisfy({ $0 == p }) { platform = p; obsCols["platform"] = nil }

        // Gene ids and symbols.
        var geneIDs = vars.index, symbols = vars.index
        if let k = geneIDKeys.first(where: { varCols[$0] != nil }), let ids = strings(varCols[k]!) {
            geneIDs = ids; varCols[k] = nil
        } else if vars.index.first?.hasPrefix("ENS") == true,
                  let k = symbolKeys.first(where: { varCols[$0] != nil }), let s = strings(varCols[k]!) {
            symbols = s; varCols[k] = nil
        }
        var measured: [Bool]? = nil
        if case .bool(let m)? = varCols["measured"] { measured = m; varCols["measured"] = nil }

        let tessera = uns.flatMap { u in u.kind(of: "tessera") == .group ? try? u.group("tessera") : nil }
        let coords = try H5ADSpatial.coordinates(root, uns: uns, tessera: tessera, obs: &obsCols, n: nCells)
        if let t = tessera {
            // Written by H5ADWriter: the platform and the provenance of the dataset this file came from.
            if t.kind(of: "platform") == .dataset, let p = try? t.dataset("platform").readStrings().first { platform = p }
            if t.kind(of: "metadata") == .group, let m = try? t.group("metadata") {
                for k in m.children() where metadata[k] == nil && m.kind(of: k) == .dataset {
                    if let v = try? m.dataset(k).readStrings().first { metadata[k] = v }
                }
            }
        }
        if let u = uns { H5ADSpatial.visiumScaleFactors(u, into: &metadata) }
        if let t = tessera, element == "X" { dropValuesFromLayer(t, vars: &varCols, counts: &counts, metadata: &metadata) }

        var notCarried: [String] = []
        var d = Dataset(name: name, counts: counts, cellIDs: obs.index, geneIDs: geneIDs, geneSymbols: symbols, measured: measured,
                        sample: sample, fov: fov, batch: batch, coordinates: coords, platform: platform,
                        obs: obsCols, vars: varCols, metadata: metadata)
        d.embeddings = H5ADCarried.embeddings(root, cells: nCells, notCarried: &notCarried)
        d.spatialLibraries = H5ADCarried.libraries(uns, notCarried: &notCarried)
        if !notCarried.isEmpty { d.metadata["h5ad.not_carried"] = notCarried.joined(separator: ", ") }
        idGroup.wait()
        if let e = idCheck.error { throw e }
        try d.validate(file: path, countsField: element ?? "X", cellIDsChecked: true)
        return d
    }

    static func matrix(_ root: H5Group, _ element: String, rows: Int, cols: Int) throws -> CSRMatrix {
        let parts = element.split(separator: "/", maxSplits: 1).map(String.init)
        let parent = parts.count == 2 ? try root.group(parts[0]) : root
        return try H5ADMatrixReader.read(parent, parts[parts.count - 1], rows: rows, cols: cols)
    }

    /// Removes the first of `keys` present in `table` and returns it as a categorical.
    static func take(_ table: inout ObsTable, _ keys: [String]) -> Categorical? {
        for k in keys {
            guard let v = table[k] else { continue }
            table[k] = nil
            if case .categorical(let c) = v { return c }
            return Categorical(labels: (0..<v.count).map { v.text($0) ?? "NA" }, sorted: true)
        }
        return nil
    }

    static func strings(_ v: ObsValues) -> [String]? {
        switch v {
        case .string(let s): return s
        case .categorical(let c): return (0..<c.count).map { c.label($0) ?? "" }
        default: return nil
        }
    }
}

extension String {
    func ifEmpty(_ other: String) -> String { isEmpty ? other : self }
}

extension H5ADReader {
    /// X values that H5ADWriter copied from a layer (`uns['tessera']['x_from_layer']` names the layer and the
    /// bool var column marking its genes: imputed values, not counts) are dropped, with that column, so the
    /// dataset holds counts only; `metadata['counts.dropped_from_layer']` says how many.
    static func dropValuesFromLayer(_ tessera: H5Group, vars: inout ObsTable, counts: inout CSRMatrix, metadata: inout [String: String]) {
        guard tessera.kind(of: "x_from_layer") == .dataset, let name = try? tessera.dataset("x_from_layer").readStrings().first,
              case .bool(let from)? = vars[name], from.count == counts.cols, counts.structuralProblem() == nil else { return }
        vars[name] = nil
        var indptr = [0], indices: [Int32] = [], values: [Float] = []
        for i in 0..<counts.rows {
            for z in counts.indptr[i]..<counts.indptr[i + 1] where !from[Int(counts.indices[z])] {
                indices.append(counts.indices[z]); values.append(counts.values[z])
            }
            indptr.append(indices.count)
        }
        guard values.count < counts.nnz else { return }
        metadata["counts.dropped_from_layer"] = "\(counts.nnz - values.count) values of \(from.filter { $0 }.count) genes with var['\(name)'] true (layer '\(name)' copied into X, not counts)"
        counts = CSRMatrix(rows: counts.rows, cols: counts.cols, indptr: indptr, indices: indices, values: values)
    }
}
