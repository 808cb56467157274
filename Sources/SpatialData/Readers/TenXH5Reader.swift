import Tensor

/// Reads 10x Genomics HDF5 feature-barcode matrices: Cell Ranger ≥ 3 / Space Ranger (`/matrix`), Xenium's
/// `cell_feature_matrix.h5` (same layout) and legacy Cell Ranger 2 files (one group per genome).
/// The file stores genes × barcodes as CSC, which is cells × genes as CSR. Only "Gene Expression"
/// features are kept (Xenium control probes and antibody capture are set aside).
public enum TenXH5Reader {
    public static func read(path: String, platform: String = "visium") throws -> Dataset {
        let f = try H5File.open(path)
        let root = f.root
        let name = (path as NSString).lastPathComponent
        if root.kind(of: "matrix") == .group {
            return try readV3(try root.group("matrix"), file: path, name: name, platform: platform)
        }
        // Legacy: a single genome group holding barcodes/genes/gene_names/data/indices/indptr/shape.
        if let genome = root.children().first(where: { root.kind(of: $0) == .group && (try? root.group($0).has("gene_names")) == true }) {
            return try readLegacy(try root.group(genome), file: path, name: name, platform: platform)
        }
        throw ImportError(.missingField, file: path, field: "/matrix",
                          problem: "no /matrix group (Cell Ranger ≥ 3) and no legacy genome group with gene_names",
                          fix: "pass a 10x filtered_feature_bc_matrix.h5 or Xenium cell_feature_matrix.h5")
    }

    static func shape(_ g: H5Group, file: String) throws -> (genes: Int, cells: Int) {
        guard g.kind(of: "shape") == .dataset else {
            throw ImportError(.missingField, file: file, field: "\(g.path)/shape", problem: "the matrix has no shape", fix: "the file is incomplete; re-export it")
        }
        let s = try g.dataset("shape").readInt64s()
        guard s.count == 2, s[0] >= 0, s[1] >= 0 else {
            throw ImportError(.shapeMismatch, file: file, field: "\(g.path)/shape", problem: "shape is \(s), expected two non-negative numbers",
                              fix: "the file is damaged; re-export it")
        }
        return (Int(s[0]), Int(s[1]))
    }

    static func readV3(_ m: H5Group, file: String, name: String, platform: String) throws -> Dataset {
        let (nGenes, nCells) = try shape(m, file: file)
        let counts = try H5Sparse.read(m, major: nCells, minor: nGenes, field: "/matrix")
        let barcodes = try strings(m, "barcodes", count: nCells, file: file)
        guard m.kind(of: "features") == .group else {
            throw ImportError(.missingField, file: file, field: "/matrix/features", problem: "no features group",
                              fix: "pass a Cell Ranger ≥ 3 matrix; older files use a genome group")
        }
        let feats = try m.group("features")
        let ids = try strings(feats, "id", count: nGenes, file: file)
        let names = feats.has("name") ? try strings(feats, "name", count: nGenes, file: file) : ids
        // Probe-based (Flex) files store the gene id separately from the probe id.
        let geneIDs = feats.has("gene_id") ? try strings(feats, "gene_id", count: nGenes, file: file) : ids
        let types = feats.has("feature_type") ? try strings(feats, "feature_type", count: nGenes, file: file)
                                              : [String](repeating: "Gene Expression", count: nGenes)
        let keep = types.indices.filter { types[$0] == "Gene Expression" }
        var d = Dataset(name: name, counts: counts, cellIDs: barcodes, geneIDs: geneIDs, geneSymbols: names, platform: platform,
                        metadata: ["source.format": "10x-h5-v3", "source.file": file])
        // The var columns sc.read_10x_h5 / sc.read_visium keep (gene_ids is written from the ids).
        d.vars["feature_types"] = .categorical(Categorical(labels: types))
        if feats.has("genome") { d.vars["genome"] = .categorical(Categorical(labels: try strings(feats, "genome", count: nGenes, file: file))) }
        if keep.count != nGenes {
            var dropped: [String: Int] = [:]
            for t in types where t != "Gene Expression" { dropped[t, default: 0] += 1 }
            d.metadata["features.dropped"] = dropped.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            d = d.selectingGenes(keep)
        }
        try d.validate(file: file, countsField: "/matrix/data")
        return d
    }

    static func readLegacy(_ g: H5Group, file: String, name: String, platform: String) throws -> Dataset {
        let (nGenes, nCells) = try shape(g, file: file)
        let counts = try H5Sparse.read(g, major: nCells, minor: nGenes, field: g.path)
        let barcodes = try strings(g, "barcodes", count: nCells, file: file)
        let ids = try strings(g, "genes", count: nGenes, file: file)
        let names = try strings(g, "gene_names", count: nGenes, file: file)
        let d = Dataset(name: name, counts: counts, cellIDs: barcodes, geneIDs: ids, geneSymbols: names, platform: platform,
                        metadata: ["source.format": "10x-h5-legacy", "source.file": file, "source.genome": String(g.path.dropFirst())])
        try d.validate(file: file, countsField: "\(g.path)/data")
        return d
    }

    static func strings(_ g: H5Group, _ name: String, count: Int, file: String) throws -> [String] {
        guard g.kind(of: name) == .dataset else {
            throw ImportError(.missingField, file: file, field: "\(g.path)/\(name)", problem: "the dataset is missing",
                              fix: "the file is incomplete; re-export it")
        }
        let v = try g.dataset(name).readStrings()
        if v.count != count {
            throw ImportError(.shapeMismatch, file: file, field: "\(g.path)/\(name)",
                              problem: "has \(v.count) entries but the matrix shape says \(count)", fix: "the file is inconsistent; re-export it")
        }
        return v
    }
}

import Foundation
