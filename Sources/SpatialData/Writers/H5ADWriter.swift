import Foundation
import Tensor

/// Writes a `Dataset` as an AnnData `.h5ad` (on-disk spec 0.1.0, as anndata ≥ 0.8 writes it) that scanpy
/// and anndata open directly:
/// - `X`: csr_matrix (float32 data, int32 indices; int32 indptr when the non-zeros fit in int32, as anndata and
///   scipy write it: scipy refuses mixed index types in `sc.pp.calculate_qc_metrics` and `sc.tl.rank_genes_groups`
///   with "Output dtype not compatible with inputs"; int64 for both beyond 2^31 − 1 non-zeros);
/// - `obs`: index = cell ids; columns sample, batch, fov (when present), platform, then every obs column;
/// - `var`: index = gene symbols, `gene_ids` when ids differ from symbols, `measured` when a panel is partial,
///   and with `extras.xFromLayer` a column of that name marking genes whose X values are the layer's;
/// - `obsm["spatial"]`: x, y (and z) per cell;
/// - `uns["tessera"]`: coordinate unit, microns per pixel, platform and provenance metadata;
/// - the dataset's own `embeddings` in `obsm` and its Visium `spatialLibraries` in `uns["spatial"]` (images and
///   scale factors, as `sc.read_visium` lays them out), so converted files and workflow results keep them;
/// - with `extras` (`H5ADExtras`): more `obsm` matrices, obs columns, layers with their own gene lists, `uns`.
/// The file is written beside the target and renamed into place, so a failed write leaves nothing half-done.
public enum H5ADWriter {
    public static func write(_ d: Dataset, to path: String, extras: H5ADExtras = H5ADExtras()) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir.isEmpty ? "." : dir) + "/.\((path as NSString).lastPathComponent).tmp-\(getpid())"
        do {
            try writeFile(d, tmp, extras: extras)
            // rename(2) replaces an existing file atomically: readers see the old file or the new one.
            guard rename(tmp, path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot rename \(tmp) to \(path): \(String(cString: strerror(errno)))"])
            }
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            if let e = error as? ImportError { throw ImportError(e.kind, file: path, field: e.field, row: e.row, problem: e.problem, fix: e.fix) }
            throw ImportError(.unreadable, file: path, field: "", problem: "cannot write the file (\(error.localizedDescription))",
                              fix: "check free disk space and that the folder is writable")
        }
    }

    static let dict: [(String, H5AttributeValue)] = [("encoding-type", .string("dict")), ("encoding-version", .string("0.1.0"))]
    static let array: [(String, H5AttributeValue)] = [("encoding-type", .string("array")), ("encoding-version", .string("0.2.0"))]
    static let stringArray: [(String, H5AttributeValue)] = [("encoding-type", .string("string-array")), ("encoding-version", .string("0.2.0"))]

    static func writeFile(_ original: Dataset, _ path: String, extras: H5ADExtras) throws {
        try original.validate(file: original.name)
        try extras.validate(cells: original.cellCount, file: original.name)
        // Genes of layers that the dataset lacks join var (see H5ADExtras).
        var (d, layerColumns) = withLayerGenes(original, extras.layers)
        var filledFromLayer: [Bool]? = nil
        if let name = extras.xFromLayer, let k = extras.layers.firstIndex(where: { $0.name == name }) {
            let (x, filled) = counts(d, filledFrom: extras.layers[k], columns: layerColumns[k])
            d.counts = x; filledFromLayer = filled
        }
        let f = try H5File.create(path)
        let root = f.root
        try root.setAttribute("encoding-type", .string("anndata"))
        try root.setAttribute("encoding-version", .string("0.1.0"))

        // X
        let x = try root.createGroup("X", attributes: [("encoding-type", .string("csr_matrix")), ("encoding-version", .string("0.1.0")),
                                                        ("shape", .ints([Int64(d.cellCount), Int64(d.geneCount)]))])
        try x.writeFloats("data", d.counts.values)
        try writeIndex(x, indices: d.counts.indices, indptr: d.counts.indptr.map { Int64($0) })

        // obs
        var obs = ObsTable()
        obs["sample"] = .categorical(d.sample)
        if d.batch != d.sample { obs["batch"] = .categorical(d.batch) }
        if let fov = d.fov { obs["fov"] = .categorical(fov) }
        obs["platform"] = .categorical(.constant(d.platform, count: d.cellCount))
        for (n, v) in d.obs.columns where obs[n] == nil { obs[n] = v }
        for (n, v) in extras.obs.columns { obs[n] = v }
        try writeFrame(root, "obs", index: d.cellIDs, columns: obs)

        // var
        var vars = ObsTable()
        // gene_ids when ids differ from symbols, and always for 10x sources (feature_types present), as
        // sc.read_10x_h5 / sc.read_visium write it.
        if d.geneIDs != d.geneSymbols || d.vars["feature_types"] != nil { vars["gene_ids"] = .string(d.geneIDs) }
        if d.measured.contains(false) { vars["measured"] = .bool(d.measured) }
        // Which genes' X values come from a layer (xFromLayer), replacing a dataset column of that name.
        if let filled = filledFromLayer { vars[extras.xFromLayer!] = .bool(filled) }
        for (n, v) in d.vars.columns where vars[n] == nil { vars[n] = v }
        try writeFrame(root, "var", index: d.geneSymbols, columns: vars)

        // obsm
        let obsm = try root.createGroup("obsm", attributes: dict)
        if let c = d.coordinates {
            let k = c.z == nil ? 2 : 3
            var flat = [Double](repeating: 0, count: d.cellCount * k)
            for i in 0..<d.cellCount {
                flat[i * k] = c.x[i]; flat[i * k + 1] = c.y[i]
                if let z = c.z { flat[i * k + 2] = z[i] }
            }
            try obsm.writeDoubles("spatial", flat, shape: [d.cellCount, k], attributes: array)
        }
        for (name, m) in extras.obsm { try obsm.writeFloats(name, m.data, shape: [m.rows, m.cols], attributes: array) }
        // The dataset's own embeddings (an input's X_pca, X_umap…), unless a result replaces one of that name.
        for (name, m) in d.embeddings.sorted(by: { $0.key < $1.key })
        where name != "spatial" && !extras.obsm.contains(where: { $0.name == name }) && m.rows == d.cellCount {
            try obsm.writeFloats(name.replacingOccurrences(of: "/", with: "_"), m.data, shape: [m.rows, m.cols], attributes: array)
        }
        let layers = try root.createGroup("layers", attributes: dict)
        for (l, cols) in zip(extras.layers, layerColumns) { try writeLayer(layers, l, columns: cols, genes: d.geneCount) }
        for g in ["obsp", "varm", "varp"] { try root.createGroup(g, attributes: dict) }

        // uns
        let uns = try root.createGroup("uns", attributes: dict)
        let t = try uns.createGroup("tessera", attributes: dict)
        let scalar: [(String, H5AttributeValue)] = [("encoding-type", .string("string")), ("encoding-version", .string("0.2.0"))]
        try t.writeScalarString("platform", d.platform, attributes: scalar)
        try t.writeScalarString("name", d.name, attributes: scalar)
        if let c = d.coordinates {
            try t.writeScalarString("coordinate_unit", c.unit.rawValue, attributes: scalar)
            if let m = c.micronsPerPixel {
                try t.writeScalarDouble("microns_per_pixel", m, attributes: [("encoding-type", .string("numeric-scalar")), ("encoding-version", .string("0.2.0"))])
            }
        }
        let meta = try t.createGroup("metadata", attributes: dict)
        for (k, v) in d.metadata.sorted(by: { $0.key < $1.key }) {
            try meta.writeScalarString(k.replacingOccurrences(of: "/", with: "_"), v, attributes: scalar)
        }
        for (k, v) in extras.tessera { try writeUns(t, k, v) }
        // Tells our reader which X values are a layer's, not counts (it drops them).
        if let name = extras.xFromLayer { try t.writeScalarString("x_from_layer", name, attributes: scalar) }
        for l in extras.layers { try writeUns(uns, "\(l.name)_genes", .strings(l.genes)) }
        if !extras.uns.contains(where: { $0.name == "spatial" }) { try writeLibraries(uns, d.spatialLibraries) }
        for (k, v) in extras.uns { try writeUns(uns, k, v) }
        f.flush()
    }

    /// Writes a CSR matrix's `indices` and `indptr` with one integer type, as scipy keeps them: int32 while the
    /// non-zero count fits in int32, else int64 for both. Mixed types (int32 indices, int64 indptr) read in
    /// anndata but break scipy's sparse kernels that scanpy calls.
    static func writeIndex(_ g: H5Group, indices: [Int32], indptr: [Int64]) throws {
        if (indptr.last ?? 0) <= Int64(Int32.max) {
            try g.writeInt32s("indices", indices)
            try g.writeInt32s("indptr", indptr.map { Int32($0) })
        } else {
            try g.writeInt64s("indices", indices.map { Int64($0) })
            try g.writeInt64s("indptr", indptr)
        }
    }

    /// Writes a dataframe 0.2.0 group.
    static func writeFrame(_ root: H5Group, _ name: String, index: [String], columns: ObsTable) throws {
        let names = elementNames(columns.names)
        let g = try root.createGroup(name, attributes: [
            ("_index", .string("_index")), ("column-order", .strings(names)),
            ("encoding-type", .string("dataframe")), ("encoding-version", .string("0.2.0")),
        ])
        try g.writeStrings("_index", index, attributes: stringArray)
        for ((_, v), n) in zip(columns.columns, names) { try writeColumn(g, n, v) }
    }

    /// Column names as HDF5 element names: "/" would nest groups (anndata refuses such keys), "" and "."
    /// are not names, and `_index` is the index itself; each is replaced, keeping names unique.
    static func elementNames(_ names: [String]) -> [String] {
        var used = Set<String>(["_index"]), out: [String] = []
        for n in names {
            var base = n.replacingOccurrences(of: "/", with: "_")
            if base.isEmpty || base == "." || base == "_index" { base = "column_\(out.count + 1)" }
            var name = base, k = 2
            while used.contains(name) { name = "\(base)_\(k)"; k += 1 }
            used.insert(name); out.append(name)
        }
        return out
    }

    static func writeColumn(_ g: H5Group, _ c: String, _ v: ObsValues) throws {
        switch v {
        case .categorical(let cat):
            let cg = try g.createGroup(c, attributes: [("encoding-type", .string("categorical")), ("encoding-version", .string("0.2.0")),
                                                       ("ordered", .bool(cat.ordered))])
            try cg.writeStrings("categories", cat.categories, attributes: stringArray)
            if cat.categories.count < 128 {
                try cg.writeInt8s("codes", cat.codes.map { Int8($0) }, attributes: array)
            } else {
                try cg.writeInt32s("codes", cat.codes, attributes: array)
            }
        case .float(let x): try g.writeDoubles(c, x, attributes: array)
        case .int(let x): try g.writeInt64s(c, x, attributes: array)
        case .bool(let x): try g.writeBools(c, x, attributes: array)
        case .string(let x): try g.writeStrings(c, x, attributes: stringArray)
        case .nullableInt(let x, let m):
            let ng = try g.createGroup(c, attributes: [("encoding-type", .string("nullable-integer")), ("encoding-version", .string("0.1.0"))])
            try ng.writeInt64s("values", x); try ng.writeBools("mask", m)
        case .nullableBool(let x, let m):
            let ng = try g.createGroup(c, attributes: [("encoding-type", .string("nullable-boolean")), ("encoding-version", .string("0.1.0"))])
            try ng.writeBools("values", x); try ng.writeBools("mask", m)
        }
    }
}
