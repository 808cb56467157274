/// The map routes' entries in `openapi.json` (see `MapRoutes`).
extension OpenAPIDocument {
    static var mapQuery: [(String, [String: Any], String)] { [
        ("color", ["type": "string"], "an obs or result column to colour by"), ("gene", ["type": "string"], "a gene to colour by (instead of color)"),
        ("layer", ["type": "string"], "measured (log1p counts per 10,000) or imputed"), ("basis", ["type": "string"], "spatial (default) or an embedding, e.g. X_umap"),
        ("fov", ["type": "string"], "only this FOV or sample"), ("dot", ["type": "number"], "dot diameter in µm (default: the cells' mean spacing)"),
        ("cmap", ["type": "string"], "colour map (viridis, magma, Reds…)"), ("vmin", ["type": "number"], "low end of the colour range"),
        ("vmax", ["type": "number"], "high end of the colour range"), ("pmin", ["type": "number"], "percentile for vmin (default 0)"),
        ("pmax", ["type": "number"], "percentile for vmax (default 99.5)"), ("zeros", ["type": "string"], "grey: draw zeros grey"),
        ("hide", ["type": "string"], "category codes not to draw, comma-separated"), ("grey", ["type": "string"], "beyond: draw > 102 categories grey instead of failing"),
        ("size", ["type": "integer"], "image: pixels on the long side, 64-4096 (default 1500)"),
        ("as", ["type": "string"], "categories: draw a numeric column as categories (≤ 102 distinct values)"),
    ] }

    static var mapOperations: [Operation] {
        ["datasets", "jobs"].flatMap { kind -> [Operation] in
            let base = "/api/maps/\(kind)/{\(kind == "datasets" ? "dataset" : "job")}"
            let png: [String: Any] = ["type": "string", "format": "binary", "contentMediaType": "image/png"]
            return [
                Operation(method: "GET", path: base + "/keys", summary: "Columns (with categories and counts), genes and embeddings a map can show", response: object),
                Operation(method: "GET", path: base + "/image", summary: "The whole map as a PNG (ETag; cached on disk)", query: mapQuery, response: png,
                          contentType: "image/png"),
                Operation(method: "GET", path: base + "/tiles/{z}/{x}/{y}", summary: "A 256-px XYZ tile (ETag; cached on disk); outside the pyramid: 404", query: mapQuery, response: png,
                          contentType: "image/png"),
                Operation(method: "GET", path: base + "/legend", summary: "Legend, colour bar, extent, dot size and pyramid geometry", query: mapQuery, response: object),
                Operation(method: "GET", path: base + "/points", summary: "x, y and value of every cell: \"TPTS\", version, n, kind, then Float32 columns", query: mapQuery,
                          response: ["type": "string", "format": "binary"], contentType: "application/octet-stream"),
                Operation(method: "GET", path: base + "/cells/{cell}", summary: "One cell's id, position and label or value (hover)", query: mapQuery, response: object),
            ]
        }
    }
}
