import Foundation
import Hummingbird
import Render
import Workflows

/// The map API, under `/api/maps/{datasets|jobs}/{id}/…` (so the same token rules apply as to the rest of `/api`):
///
/// - `keys`: the obs/result columns (type, categories, counts), measured and imputed genes, embeddings;
/// - `image`: the whole map as a PNG (`size` px on its long side, ≤ 4096), cached on disk with an ETag;
/// - `tiles/{z}/{x}/{y}`: 256-px XYZ tiles, drawn on demand, cached on disk with ETags; outside the pyramid: 404;
/// - `legend`: the legend, colour bar, extent, dot size and the pyramid's geometry as JSON;
/// - `points`: x/y and the coloured value of every cell as little-endian Float32 (hover and selection);
/// - `cells/{i}`: one cell's id, position and label or value (hover text).
///
/// Drawing runs off the event loop; bad keys and parameters are 4xx JSON errors naming the fix.
struct MapRoutes: Sendable {
    let service: DaemonService
    let sources: MapSources
    let cache: MapCache

    init(service: DaemonService) {
        self.service = service
        sources = MapSources(service: service)
        cache = MapCache(root: service.config.rootURL)
    }

    static let paths = ["keys", "image", "tiles/{z}/{x}/{y}", "legend", "points", "cells/{cell}"]
    static var table: [(String, String)] {
        ["datasets", "jobs"].flatMap { kind in
            paths.map { ("GET", "/api/maps/\(kind)/{\(kind == "datasets" ? "dataset" : "job")}/\($0)") }
        }
    }

    func register(on router: Router<BasicRequestContext>) {
        for kind in ["datasets", "jobs"] {
            // The token again on the matched route, as for every /api route.
            let g = router.group("api/maps/\(kind)").add(middleware: RouteAuthMiddleware(access: AccessPolicy(config: service.config)))
            let param = kind == "datasets" ? "dataset" : "job"
            g.get(":\(param)/keys") { _, c in
                let s = try sources.source(kind: kind, id: try c.parameters.require(param))
                return try API.json(try await Self.off { try sources.data(s).keys })
            }
            g.get(":\(param)/legend") { req, c in
                let s = try sources.source(kind: kind, id: try c.parameters.require(param))
                let r = try MapRequest(req.mapQuery)
                let m = try await Self.off { try sources.prepared(s, r) }
                return try API.json(LegendBody(legend: m.map.legend, pyramid: m.pyramid, tileSize: TilePyramid.tileSize))
            }
            g.get(":\(param)/image") { req, c in
                let s = try sources.source(kind: kind, id: try c.parameters.require(param))
                let r = try MapRequest(req.mapQuery)
                let key = SHA256.hex("image|\(s.hash)|\(r.dataKey)|\(r.size)")
                if let d = cache.get(key) { return MapCache.response(d, etag: key, request: req, cache: "private, max-age=3600") }
                let png = try await Self.off { try sources.prepared(s, r).map.drawWhole(longSide: r.size).png() }
                cache.put(key, png)
                return MapCache.response(Data(png), etag: key, request: req, cache: "private, max-age=3600")
            }
            g.get(":\(param)/tiles/:z/:x/:y") { req, c in
                let s = try sources.source(kind: kind, id: try c.parameters.require(param))
                let r = try MapRequest(req.mapQuery)
                func int(_ n: String) throws -> Int {
                    let v = try c.parameters.require(n)
                    guard let i = Int(v.hasSuffix(".png") ? String(v.dropLast(4)) : v), (0...1 << 20).contains(i) else {
                        throw APIError(status: .badRequest, code: "invalid_tile", message: "\(n): '\(v)' is not a tile coordinate (a whole number ≥ 0)")
                    }
                    return i
                }
                let (z, x, y) = (try int("z"), try int("x"), try int("y"))
                let key = SHA256.hex("tile|\(s.hash)|\(r.dataKey)|\(z)/\(x)/\(y)")
                if let d = cache.get(key) { return MapCache.response(d, etag: key, request: req, cache: "private, max-age=3600") }
                let png = try await Self.off {
                    let m = try sources.prepared(s, r)
                    return try m.map.tile(z: z, x: x, y: y, pyramid: m.pyramid, index: m.index, summary: m.summary).png()
                }
                cache.put(key, png)
                return MapCache.response(Data(png), etag: key, request: req, cache: "private, max-age=3600")
            }
            g.get(":\(param)/points") { req, c in
                let s = try sources.source(kind: kind, id: try c.parameters.require(param))
                let r = try MapRequest(req.mapQuery)
                let bytes = try await Self.off { Self.points(try sources.prepared(s, r)) }
                return Response(status: .ok, headers: [.contentType: "application/octet-stream", .cacheControl: "private, max-age=3600"],
                                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
            }
            g.get(":\(param)/cells/:cell") { req, c in
                let s = try sources.source(kind: kind, id: try c.parameters.require(param))
                let r = try MapRequest(req.mapQuery)
                let m = try await Self.off { try sources.prepared(s, r) }
                let v = try c.parameters.require("cell")
                guard let i = Int(v), i >= 0, i < m.cellIDs.count else {
                    throw APIError(status: .notFound, code: "not_found", message: "cell \(v): give an index in 0..<\(m.cellIDs.count)")
                }
                return try API.json(CellBody(index: i, id: m.cellIDs[i], x: m.map.x[i], y: m.map.y[i], key: m.colouring.key,
                                             value: MapData.describe(m.colouring, cell: i)))
            }
        }
    }

    struct LegendBody: Encodable { let legend: MapLegend; let pyramid: TilePyramid; let tileSize: Int }
    struct CellBody: Encodable { let index: Int; let id: String; let x: Float; let y: Float; let key: String; let value: String }

    /// "TPTS" · UInt32 version 1 · UInt32 n · UInt32 kind (0 categorical, 1 continuous) · x[n] · y[n] · value[n]
    /// (Float32, little-endian; categorical values are codes, NaN = missing).
    static func points(_ m: MapSources.PreparedMap) -> [UInt8] {
        let n = m.map.x.count
        var out = [UInt8]("TPTS".utf8)
        var kind: UInt32 = 1
        var values: [Float]
        switch m.colouring {
        case .categories(_, let codes, _, _): kind = 0; values = codes.map { $0 < 0 ? .nan : Float($0) }
        case .values(_, let v): values = v
        }
        for v in [UInt32(1), UInt32(n), kind] { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        for col in [m.map.x, m.map.y, values] { col.withUnsafeBytes { out += $0 } }
        return out
    }

    /// Runs CPU work off the event loop; render errors become 4xx with their message.
    static func off<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        do { return try await Task.detached(priority: .userInitiated) { try body() }.value } catch let e as RenderError {
            switch e {
            case .tileOutside: throw APIError(status: .notFound, code: "tile_outside", message: e.description)
            case .badFile, .png: throw APIError(status: .internalServerError, code: "render_failed", message: e.description)
            default: throw APIError(status: .unprocessableContent, code: "invalid_map", message: e.description)
            }
        }
    }
}
