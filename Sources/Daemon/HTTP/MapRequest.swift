import Foundation
import Hummingbird
import Render

/// The query of a map request, parsed and bounded: what to colour (`color=COLUMN` or `gene=G` with
/// `layer=measured|imputed`), where (`basis=spatial|X_umap`, `fov=NAME`), and how (`dot` µm, `cmap`, `vmin`,
/// `vmax`, `pmin`, `pmax`, `zeros=grey`, `hide=CODE,CODE`). Every bad value is a 400 naming the parameter and its range.
struct MapRequest: Sendable {
    var color: String?
    var gene: String?
    var layer = "measured"
    var basis = "spatial"
    var fov: String?
    /// Draw a numeric column as categories (`as=categories`).
    var asCategories = false
    var style = MapStyle()
    /// Whole-map PNG: pixels on the long side (64...4096).
    var size = 1500

    static let known: Set<String> = ["color", "gene", "layer", "basis", "fov", "dot", "cmap", "vmin", "vmax", "pmin", "pmax",
                                     "zeros", "hide", "size", "grey", "as"]

    init(_ q: [String: String]) throws {
        func bad(_ name: String, _ why: String) -> APIError { APIError(status: .badRequest, code: "invalid_query", message: "\(name): \(why)") }
        if let unknown = q.keys.filter({ !Self.known.contains($0) }).sorted().first {
            throw bad(unknown, "unknown parameter; maps take \(Self.known.sorted().joined(separator: ", "))")
        }
        func number(_ name: String, _ range: ClosedRange<Double>) throws -> Double? {
            guard let s = q[name] else { return nil }
            guard let v = Double(s), v.isFinite, range.contains(v) else { throw bad(name, "'\(s)' must be a number in \(range.lowerBound)...\(range.upperBound)") }
            return v
        }
        color = q["color"].flatMap { $0.isEmpty ? nil : $0 }
        gene = q["gene"].flatMap { $0.isEmpty ? nil : $0 }
        if color == nil && gene == nil { throw bad("color", "give color=COLUMN (an obs or result column) or gene=GENE; GET …/keys lists both") }
        if color != nil && gene != nil { throw bad("gene", "give color or gene, not both") }
        layer = q["layer"] ?? "measured"
        guard ["measured", "imputed"].contains(layer) else { throw bad("layer", "'\(layer)'; give measured or imputed") }
        basis = q["basis"] ?? "spatial"
        fov = q["fov"]
        if let a = q["as"] {
            guard a == "categories" || a == "values" else { throw bad("as", "'\(a)'; give categories or values") }
            asCategories = a == "categories"
        }
        style.dotDiameter = try number("dot", 0.01...10_000).map(Float.init)
        if let c = q["cmap"] {
            guard ColorMap.names.contains(c) else { throw bad("cmap", "'\(c)'; choose one of \(ColorMap.names.joined(separator: ", "))") }
            style.colorMap = c
        }
        style.vmin = try number("vmin", -1e30...1e30).map(Float.init)
        style.vmax = try number("vmax", -1e30...1e30).map(Float.init)
        style.pmin = try number("pmin", 0...100) ?? 0
        style.pmax = try number("pmax", 0...100) ?? 99.5
        if let z = q["zeros"] {
            guard z == "grey" || z == "colour" else { throw bad("zeros", "'\(z)'; give grey or colour") }
            style.zerosGrey = z == "grey"
        }
        if let h = q["hide"], !h.isEmpty {
            var set = Set<Int>()
            for part in h.split(separator: ",") {
                guard let c = Int(part), (0...1023).contains(c) else { throw bad("hide", "'\(part)' is not a category code (0...1023)") }
                set.insert(c)
            }
            style.hidden = set
        }
        style.greyBeyondPalette = q["grey"] == "beyond"
        size = Int(try number("size", 64...Double(MapView.maxSide)) ?? 1500)
    }

    /// Everything that changes the prepared map (not the image size or tile).
    var dataKey: String { "c=\(color ?? "");g=\(gene ?? "");l=\(layer);b=\(basis);f=\(fov ?? "");a=\(asCategories);\(style.cacheKey)" }
}

extension Request {
    /// The query as a dictionary (last value wins).
    var mapQuery: [String: String] {
        var q: [String: String] = [:]
        for (k, v) in uri.queryParameters { q[String(k)] = String(v).removingPercentEncoding ?? String(v) }
        return q
    }
}
