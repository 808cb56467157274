import Foundation

/// Reads a 10x Xenium Onboard Analysis output folder: `cell_feature_matrix.h5` (10x layout; control probes
/// and codewords are set aside, only "Gene Expression" features kept) joined by `cell_id` with
/// `cells.csv.gz` / `cells.csv` (centroids `x_centroid`, `y_centroid` in µm; every other column becomes
/// a per-cell annotation). `experiment.xenium`, when present, adds the image pixel size and run facts to the
/// metadata.
public enum XeniumReader {
    /// Reads the output folder at `folder`.
    public static func read(folder: String) throws -> Dataset {
        guard let matrix = VendorTable.find(in: folder, names: ["cell_feature_matrix.h5"]) else {
            let hasOther = VendorTable.find(in: folder, names: ["cell_feature_matrix.zarr.zip", "cell_feature_matrix"]) != nil
            throw ImportError(hasOther ? .unsupported : .missingField, file: folder, field: "cell_feature_matrix.h5",
                              problem: hasOther ? "only the Zarr / MEX copies of the cell-feature matrix are present; this build reads the HDF5 copy"
                                                : "the folder has no cell_feature_matrix.h5",
                              fix: "pass the Xenium output folder unchanged (it holds cell_feature_matrix.h5 and cells.csv.gz)")
        }
        guard let cells = VendorTable.find(in: folder, names: ["cells.csv.gz", "cells.csv"]) else {
            let parquet = VendorTable.find(in: folder, names: ["cells.parquet"])
            throw ImportError(parquet != nil ? .unsupported : .missingField, file: parquet ?? folder, field: "cells.csv.gz",
                              problem: parquet != nil ? "only cells.parquet is present; Parquet cannot be read by this build"
                                                      : "the folder has no cells.csv.gz with the cell centroids",
                              fix: parquet != nil ? "convert it, e.g. pandas.read_parquet('cells.parquet').to_csv('cells.csv.gz', index=False)"
                                                  : "pass the Xenium output folder unchanged")
        }
        let experiment = VendorTable.find(in: folder, names: ["experiment.xenium"])
        var d = try read(matrix: matrix, cells: cells, experiment: experiment)
        d.name = (folder as NSString).lastPathComponent
        return d
    }

    /// Reads the matrix and the cells table given separately; `experiment` is the optional manifest.
    public static func read(matrix: String, cells: String, experiment: String? = nil) throws -> Dataset {
        var d = try TenXH5Reader.read(path: matrix, platform: "xenium")
        let t = try DelimitedTable(path: cells, delimiter: .comma, header: .present)
        let idCol = try t.requireColumn("cell_id", "cell", "cellid", what: "cell id")
        let xCol = try t.requireColumn("x_centroid", "x", "center_x", what: "x centroid (µm)")
        let yCol = try t.requireColumn("y_centroid", "y", "center_y", what: "y centroid (µm)")
        let ids = try t.strings(idCol)
        let index = try VendorTable.index(ids, file: cells, field: VendorTable.columnName(t, idCol), lines: { t.firstLine + $0 })
        let rows = try VendorTable.join(d.cellIDs, in: index, file: cells, field: VendorTable.columnName(t, idCol),
                                        from: "the matrix \((matrix as NSString).lastPathComponent)")
        let x = try t.numbers(xCol), y = try t.numbers(yCol)
        d.coordinates = Coordinates(x: rows.map { x[$0] }, y: rows.map { y[$0] }, unit: .micrometre)
        for c in (t.header ?? []).indices where c != idCol && c != xCol && c != yCol {
            d.obs[VendorTable.columnName(t, c)] = try VendorTable.obsColumn(t, column: c, rows: rows)
        }
        d.metadata["source.format"] = "xenium"
        d.metadata["xenium.cells_file"] = cells
        if ids.count != rows.count { d.metadata["xenium.cells_without_counts"] = String(ids.count - rows.count) }
        if let e = experiment {
            let manifest = try VendorTable.jsonObject(e)
            for (k, v) in manifest {
                if let n = v as? NSNumber { d.metadata["xenium.\(k)"] = VendorTable.format(n.doubleValue) }
                else if let s = v as? String { d.metadata["xenium.\(k)"] = s }
            }
        }
        try d.validate(file: cells, countsField: "/matrix/data")
        return d
    }
}
