import Foundation

/// Coordinates and scale facts stored in an h5ad: `obsm["spatial"]` (the squidpy convention), falling back
/// to obs columns; units from Tessera's own `uns/tessera` block or from Visium scale factors.
enum H5ADSpatial {
    static let xyColumnPairs = [("x", "y"), ("X", "Y"), ("x_centroid", "y_centroid"), ("center_x", "center_y"),
                                ("CenterX_global_px", "CenterY_global_px"), ("x_um", "y_um"), ("sdimx", "sdimy")]

    static func coordinates(_ root: H5Group, uns: H5Group?, tessera: H5Group?, obs: inout ObsTable, n: Int) throws -> Coordinates? {
        let file = root.file.path
        var x: [Double]?, y: [Double]?, z: [Double]?
        if root.kind(of: "obsm") == .group, let obsm = try? root.group("obsm"), obsm.has("spatial") {
            if obsm.kind(of: "spatial") == .dataset {
                let d = try obsm.dataset("spatial")
                guard d.shape.count == 2, d.shape[0] == n, d.shape[1] >= 2 else {
                    throw ImportError(.shapeMismatch, file: file, field: "obsm/spatial",
                                      problem: "has shape \(d.shape), expected (\(n), 2) or (\(n), 3)",
                                      fix: "store one x, y (and z) row per cell in obsm['spatial']")
                }
                let v = try d.readDoubles(), k = d.shape[1]
                x = (0..<n).map { v[$0 * k] }; y = (0..<n).map { v[$0 * k + 1] }
                if k >= 3 { z = (0..<n).map { v[$0 * k + 2] } }
            } else {
                // obsm may hold a dataframe (anndata ≥ 0.7): take its x/y(/z) columns.
                let frame = try H5ADFrameReader.readGroup(try obsm.group("spatial"), expected: n)
                let cols = frame.columns
                for (a, b) in xyColumnPairs + [("0", "1")] {
                    if let xa = cols[a]?.numericValues, let yb = cols[b]?.numericValues { x = xa; y = yb; break }
                }
                z = (cols["z"] ?? cols["Z"])?.numericValues
                if x == nil {
                    throw ImportError(.missingField, file: file, field: "obsm/spatial",
                                      problem: "the spatial dataframe has no x/y columns (it has \(cols.names.joined(separator: ", ")))",
                                      fix: "name its coordinate columns x and y")
                }
            }
        } else {
            for (a, b) in xyColumnPairs {
                if let xa = obs[a]?.numericValues, let yb = obs[b]?.numericValues { x = xa; y = yb; break }
            }
        }
        guard let x, let y else { return nil }
        var unit = CoordinateUnit.unknown
        var mpp: Double?
        if let t = tessera, t.kind(of: "coordinate_unit") == .dataset,
           let u = try? t.dataset("coordinate_unit").readStrings().first, let cu = CoordinateUnit(rawValue: u) {
            unit = cu
            if t.kind(of: "microns_per_pixel") == .dataset { mpp = try? t.dataset("microns_per_pixel").readDoubles().first }
        } else if let u = uns, let spot = visiumSpotDiameter(u) {
            unit = .pixel; mpp = 55.0 / spot
        }
        return Coordinates(x: x, y: y, z: z, unit: unit, micronsPerPixel: mpp)
    }

    /// `uns/spatial/<library>/scalefactors/spot_diameter_fullres` as scanpy's read_visium writes it.
    static func visiumSpotDiameter(_ uns: H5Group) -> Double? {
        guard uns.kind(of: "spatial") == .group, let sp = try? uns.group("spatial") else { return nil }
        for lib in sp.children() {
            let p = "\(lib)/scalefactors/spot_diameter_fullres"
            if sp.kind(of: p) == .dataset, let v = try? sp.dataset(p).readDoubles().first, v > 0 { return v }
        }
        return nil
    }

    static func visiumScaleFactors(_ uns: H5Group, into metadata: inout [String: String]) {
        guard uns.kind(of: "spatial") == .group, let sp = try? uns.group("spatial") else { return }
        for lib in sp.children() where sp.kind(of: "\(lib)/scalefactors") == .group {
            guard let sf = try? sp.group("\(lib)/scalefactors") else { continue }
            for k in sf.children() {
                if let v = try? sf.dataset(k).readDoubles().first { metadata["visium.\(lib).\(k)"] = String(v) }
            }
        }
    }
}
