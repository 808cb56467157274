import Foundation

/// Reads Vizgen MERSCOPE output: `cell_by_gene.csv` (first column the cell id, one column per gene) joined
/// with `cell_metadata.csv` (`EntityID` or the first column as id, `fov`, `center_x`, `center_y` in global
/// µm, and volume, bounds, transcript counts and shape measures as per-cell annotations).
///
/// `Blank-*` columns are negative-control barcodes, not genes: they are set aside, their per-cell total
/// goes to obs `blank_counts` and their names to metadata `merscope.blank_genes`.
public enum MerscopeReader {
    /// Reads a folder holding `cell_by_gene.csv` and `cell_metadata.csv` (names may carry a region prefix).
    public static func read(folder: String) throws -> Dataset {
        guard let counts = VendorTable.find(in: folder, names: ["cell_by_gene.csv", "cell_by_gene.csv.gz"],
                                            suffixes: ["cell_by_gene.csv", "cell_by_gene.csv.gz"]) else {
            throw ImportError(.missingField, file: folder, field: "cell_by_gene.csv", problem: "the folder has no cell_by_gene.csv",
                              fix: "pass the MERSCOPE region folder that holds cell_by_gene.csv and cell_metadata.csv")
        }
        guard let meta = metadataFile(near: counts) else {
            throw ImportError(.missingField, file: folder, field: "cell_metadata.csv",
                              problem: "the folder has no cell_metadata.csv, so the cells have no positions",
                              fix: "copy cell_metadata.csv from the same MERSCOPE region next to cell_by_gene.csv")
        }
        var d = try read(cellByGene: counts, cellMetadata: meta)
        d.name = (folder as NSString).lastPathComponent
        return d
    }

    /// The `cell_metadata.csv` that belongs to a `cell_by_gene.csv` (same prefix), if present.
    static func metadataFile(near counts: String) -> String? {
        let folder = (counts as NSString).deletingLastPathComponent
        let name = (counts as NSString).lastPathComponent
        let sibling = name.replacingOccurrences(of: "cell_by_gene", with: "cell_metadata")
        return VendorTable.find(in: folder, names: [sibling, "cell_metadata.csv", "cell_metadata.csv.gz"],
                                suffixes: ["cell_metadata.csv", "cell_metadata.csv.gz"])
    }

    /// Reads the counts and the metadata files given separately.
    public static func read(cellByGene: String, cellMetadata: String) throws -> Dataset {
        let ct = try WideCountsTable.header(cellByGene)
        let header = ct.header ?? []
        let idCol = ct.column("cell", "EntityID", "cell_id") ?? 0
        let features = header.indices.filter { $0 != idCol }
        let blanks = features.filter { VendorTable.controlKind(header[$0]) != nil }
        let genes = features.filter { VendorTable.controlKind(header[$0]) == nil }
        guard !genes.isEmpty else {
            throw ImportError(.missingField, file: cellByGene, field: "gene columns",
                              problem: "the header has no gene columns besides the cell id",
                              fix: "pass MERSCOPE's cell_by_gene.csv (cell id, then one column per gene)")
        }
        let table = try WideCountsTable(path: cellByGene, header: header, keyColumns: [idCol], countColumns: genes,
                                        sumGroups: blanks.isEmpty ? [] : [blanks])
        guard !table.lines.isEmpty else {
            throw ImportError(.missingField, file: cellByGene, field: "rows", problem: "the file has a header but no cells",
                              fix: "check that the export completed")
        }
        let cellIDs = table.keys[0]
        _ = try VendorTable.index(cellIDs, file: cellByGene, field: VendorTable.columnName(ct, idCol), lines: { Int(table.lines[$0]) })
        let counts = table.counts

        let mt = try DelimitedTable(path: cellMetadata, delimiter: .comma, header: .present)
        let midCol = mt.column("EntityID", "cell", "cell_id") ?? 0
        let xCol = try mt.requireColumn("center_x", "x", what: "cell centre x (µm)")
        let yCol = try mt.requireColumn("center_y", "y", what: "cell centre y (µm)")
        let fovCol = mt.column("fov")
        let metaIDs = try mt.strings(midCol).map { $0.trimmingCharacters(in: .whitespaces) }
        let index = try VendorTable.index(metaIDs, file: cellMetadata, field: VendorTable.columnName(mt, midCol), lines: { mt.firstLine + $0 })
        let rows = try VendorTable.join(cellIDs, in: index, file: cellMetadata, field: VendorTable.columnName(mt, midCol),
                                        from: (cellByGene as NSString).lastPathComponent)
        let x = try mt.numbers(xCol), y = try mt.numbers(yCol)

        var obs = ObsTable()
        for c in (mt.header ?? []).indices where ![midCol, xCol, yCol, fovCol].contains(c) {
            obs[VendorTable.columnName(mt, c)] = try VendorTable.obsColumn(mt, column: c, rows: rows)
        }
        var metadata = ["source.format": "merscope", "source.file": cellByGene, "merscope.cell_metadata": cellMetadata]
        if !blanks.isEmpty {
            obs["blank_counts"] = .float(table.sums[0])
            metadata["merscope.blank_genes"] = blanks.map { header[$0] }.joined(separator: ",")
        }
        if metaIDs.count != cellIDs.count { metadata["merscope.metadata_cells_without_counts"] = String(metaIDs.count - cellIDs.count) }
        let fov = try fovCol.map { c in Categorical(labels: try rows.map { try mt.field($0, c).trimmingCharacters(in: .whitespaces) }, sorted: true) }
        let d = Dataset(name: ((cellByGene as NSString).deletingLastPathComponent as NSString).lastPathComponent,
                        counts: counts, cellIDs: cellIDs, geneIDs: genes.map { header[$0] }, fov: fov,
                        coordinates: Coordinates(x: rows.map { x[$0] }, y: rows.map { y[$0] }, unit: .micrometre),
                        platform: "merscope", obs: obs, metadata: metadata)
        try d.validate(file: cellByGene, countsField: "counts")
        return d
    }
}
