import Foundation
import Tensor

/// What an h5ad carries beyond counts, cells and genes that Tessera keeps on its way through (`convert`, every
/// workflow's result): numeric 2-D `obsm` matrices (X_pca, X_umap…, not `spatial`, which is the coordinates) and
/// `uns['spatial'][library]` images and scale factors. Elements it cannot carry (dataframes in obsm, sparse obsm,
/// other uns entries) are left out and named in the dataset's metadata (`h5ad.not_carried`).
enum H5ADCarried {
    static func embeddings(_ root: H5Group, cells n: Int, notCarried: inout [String]) -> [String: Matrix] {
        guard root.kind(of: "obsm") == .group, let obsm = try? root.group("obsm") else { return [:] }
        var out: [String: Matrix] = [:]
        for name in obsm.children() where name != "spatial" {
            guard obsm.kind(of: name) == .dataset, let d = try? obsm.dataset(name), d.isNumeric, d.shape.count == 2, d.shape[0] == n,
                  let v = try? d.readFloats() else { notCarried.append("obsm/\(name)"); continue }
            out[name] = Matrix(rows: n, cols: d.shape[1], data: v)
        }
        return out
    }

    static func libraries(_ uns: H5Group?, notCarried: inout [String]) -> [SpatialLibrary] {
        guard let uns, uns.kind(of: "spatial") == .group, let sp = try? uns.group("spatial") else { return [] }
        var out: [SpatialLibrary] = []
        for id in sp.children() where sp.kind(of: id) == .group {
            guard let g = try? sp.group(id) else { continue }
            var lib = SpatialLibrary(id: id)
            if g.kind(of: "images") == .group, let im = try? g.group("images") {
                for res in im.children() {
                    guard let d = try? im.dataset(res), d.shape.count == 3, d.shape[2] >= 3, var v = try? d.readFloats() else {
                        notCarried.append("uns/spatial/\(id)/images/\(res)"); continue
                    }
                    let (h, w, c) = (d.shape[0], d.shape[1], d.shape[2])
                    if d.isInteger { v = v.map { $0 / 255 } }   // uint8 images (squidpy) on the [0, 1] scale
                    if c != 3 { v = (0..<(h * w * 3)).map { v[($0 / 3) * c + $0 % 3] } }
                    lib.images[res] = .init(height: h, width: w, pixels: v)
                }
            }
            if g.kind(of: "scalefactors") == .group, let sf = try? g.group("scalefactors") {
                for k in sf.children() { if let v = try? sf.dataset(k).readDoubles().first { lib.scalefactors[k] = v } }
            }
            out.append(lib)
        }
        return out
    }
}

extension H5ADWriter {
    /// `uns['spatial']` as `sc.read_visium` writes it: per library `images/{hires,lowres}` (H×W×3 float32) and
    /// `scalefactors` (numeric scalars).
    static func writeLibraries(_ uns: H5Group, _ libraries: [SpatialLibrary]) throws {
        guard !libraries.isEmpty else { return }
        let sp = try uns.createGroup("spatial", attributes: dict)
        for lib in libraries {
            let g = try sp.createGroup(lib.id.replacingOccurrences(of: "/", with: "_"), attributes: dict)
            let im = try g.createGroup("images", attributes: dict)
            for (res, img) in lib.images.sorted(by: { $0.key < $1.key }) {
                try im.writeFloats(res, img.pixels, shape: [img.height, img.width, 3], attributes: array)
            }
            let sf = try g.createGroup("scalefactors", attributes: dict)
            for (k, v) in lib.scalefactors.sorted(by: { $0.key < $1.key }) {
                try sf.writeScalarDouble(k, v, attributes: [("encoding-type", .string("numeric-scalar")), ("encoding-version", .string("0.2.0"))])
            }
        }
    }
}
