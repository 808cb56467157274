import Foundation
import Testing
@testable import Daemon

/// The map API over real HTTP on a registered simulated tissue: keys, legend, whole-map PNG with ETag and 304,
/// tiles (and a tile outside the pyramid), points, hover cells, the disk cache, the token, and bad input as 4xx
/// JSON naming the fix.
struct MapRoutesTests {
    /// Status, headers (lower-cased names) and raw body bytes.
    static func raw(_ port: Int, _ path: String, headers: [String: String] = [:]) async throws -> (Int, [String: String], Data) {
        var req = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (k, v) in headers { req += "\(k): \(v)\r\n" }
        let bytes = Data((req + "\r\n").utf8)
        let data: Data = try await withCheckedThrowingContinuation { cont in
            Thread.detachNewThread { do { cont.resume(returning: try TestHTTP.exchange(bytes, port: port)) } catch { cont.resume(throwing: error) } }
        }
        let end = try #require(data.range(of: Data("\r\n\r\n".utf8)))
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        var h: [String: String] = [:]
        for line in head.dropFirst() { if let c = line.firstIndex(of: ":") { h[line[..<c].lowercased()] = line[line.index(after: c)...].trimmingCharacters(in: .whitespaces) } }
        var body = Data(data[end.upperBound...])
        if h["transfer-encoding"]?.contains("chunked") == true {
            var out = Data(), rest = body[...]
            while let le = rest.range(of: Data("\r\n".utf8)) {
                let n = Int(String(decoding: rest[..<le.lowerBound], as: UTF8.self), radix: 16) ?? 0
                if n == 0 { break }
                out.append(rest[le.upperBound..<rest.index(le.upperBound, offsetBy: n)]); rest = rest[rest.index(le.upperBound, offsetBy: n + 2)...]
            }
            body = out
        }
        return (Int(head[0].split(separator: " ")[1]) ?? 0, h, body)
    }

    @Test func mapsOfARegisteredDataset() async throws {
        let d = try TestDaemon()
        _ = try d.service.createProject(name: "p", description: "")
        let ds = try d.service.registerDataset(project: "p", request: RegistrationRequest(path: try d.datasetFile()), name: "tissue").0
        let sc = try d.service.registerDataset(project: "p", request: RegistrationRequest(path: try d.datasetFile(spatial: false)), name: "sc").0
        try await d.live { c in
            let base = "/api/maps/datasets/\(ds.id)"
            let (st, keys) = try await c.call(.get, base + "/keys")
            #expect(st == .ok)
            let k = jsonObject(keys)
            #expect(k["cells"] as? Int == ds.cells && k["hasCoordinates"] as? Bool == true)
            let cols = (k["columns"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            let cat = try #require((k["columns"] as? [[String: Any]] ?? []).first { $0["kind"] as? String == "categorical" }?["name"] as? String)
            #expect(!cols.isEmpty)
            let gene = try #require((k["genes"] as? [String])?.first)

            let (sl, legend) = try await c.call(.get, base + "/legend?color=\(cat)")
            #expect(sl == .ok)
            let lg = jsonObject(legend)["legend"] as? [String: Any] ?? [:]
            let counts = (lg["categories"] as? [[String: Any]] ?? []).compactMap { $0["count"] as? Int }
            #expect(counts.reduce(0, +) + (lg["missing"] as? Int ?? 0) == ds.cells)
            #expect((jsonObject(legend)["pyramid"] as? [String: Any])?["maxZoom"] as? Int ?? -1 >= 0)

            // Whole map: PNG, ETag, 304 on a repeat, cached on disk; another colouring, another ETag.
            let (s1, h1, png) = try await Self.raw(c.port, base + "/image?color=\(cat)&size=256")
            #expect(s1 == 200 && h1["content-type"] == "image/png" && png.prefix(4) == Data([0x89, 0x50, 0x4e, 0x47]))
            let etag = try #require(h1["etag"])
            let (s2, _, _) = try await Self.raw(c.port, base + "/image?color=\(cat)&size=256", headers: ["If-None-Match": etag])
            #expect(s2 == 304)
            let (_, h3, _) = try await Self.raw(c.port, base + "/image?gene=\(gene)&size=256")
            #expect(h3["etag"] != nil && h3["etag"] != etag)
            let cached = try FileManager.default.contentsOfDirectory(atPath: d.service.config.rootURL.appendingPathComponent("cache/maps").path)
            #expect(cached.contains(etag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) + ".png"))

            // Tiles, and one outside the pyramid.
            let (t1, th, tile) = try await Self.raw(c.port, base + "/tiles/0/0/0?color=\(cat)")
            #expect(t1 == 200 && th["etag"] != nil && tile.count > 100)
            for bad in ["/tiles/0/1/0", "/tiles/40/0/0", "/tiles/2/9/1"] {
                let (sb, body) = try await c.call(.get, base + bad + "?color=\(cat)")
                #expect(sb == .notFound && errorCode(body) == "tile_outside", "\(bad): \(sb) \(body)")
            }
            let (sx, bx) = try await c.call(.get, base + "/tiles/a/0/0?color=\(cat)")
            #expect(sx == .badRequest && errorCode(bx) == "invalid_tile")

            // Points: "TPTS", version, n, kind, then x, y, value as Float32.
            let (sp, _, pts) = try await Self.raw(c.port, base + "/points?color=\(cat)")
            #expect(sp == 200 && pts.count == 16 + 12 * ds.cells && pts.prefix(4) == Data("TPTS".utf8))
            let (sc5, cell) = try await c.call(.get, base + "/cells/5?color=\(cat)")
            #expect(sc5 == .ok && (jsonObject(cell)["id"] as? String)?.isEmpty == false)
            let (sc9, _) = try await c.call(.get, base + "/cells/999999?color=\(cat)")
            #expect(sc9 == .notFound)

            // Bad input: 4xx JSON naming the thing.
            for (q, status, code) in [("gene=NOT_A_GENE", 422, "invalid_map"), ("color=no_such_column", 422, "invalid_map"), ("", 400, "invalid_query"),
                                      ("color=\(cat)&size=100000", 400, "invalid_query"), ("color=\(cat)&zoom=3", 400, "invalid_query"),
                                      ("color=\(cat)&cmap=rainbow2", 400, "invalid_query"), ("color=\(cat)&basis=X_umap", 422, "invalid_map"),
                                      ("color=\(cat)&vmin=nan", 400, "invalid_query"), ("color=\(cat)&fov=nope", 422, "invalid_query"),
                                      ("color=x_fov&as=categories", 422, "invalid_map"), ("gene=\(gene)&as=categories", 422, "invalid_map")] {
                let (s, body) = try await c.call(.get, base + "/legend?" + q)
                #expect(Int(s.code) == status && errorCode(body) == code, "\(q): \(s) \(body)")
                #expect(!body.isEmpty)
            }
            let (sn, bn) = try await c.call(.get, "/api/maps/datasets/\(sc.id)/legend?color=\(cat)")
            #expect(sn == .unprocessableContent && bn.contains("coordinates"), "\(bn)")
            let (sj, _) = try await c.call(.get, "/api/maps/jobs/0000dead/keys")
            #expect(sj == .notFound)
        }
    }

    @Test func mapRoutesNeedTheToken() async throws {
        let token = "map-token-0123456789abcdef"
        let d = try TestDaemon { $0.token = token }
        _ = try d.service.createProject(name: "p", description: "")
        let ds = try d.service.registerDataset(project: "p", request: RegistrationRequest(path: try d.datasetFile()), name: "tissue").0
        try await d.live { c in
            let (s0, b0) = try await c.call(.get, "/api/maps/datasets/\(ds.id)/keys")
            #expect(s0 == .unauthorized && errorCode(b0) == "unauthorized")
            let (s1, _) = try await c.call(.get, "/api/maps/datasets/\(ds.id)/tiles/0/0/0?color=x", headers: ["Authorization": "Bearer wrong"])
            #expect(s1 == .unauthorized)
            let (s2, _) = try await c.call(.get, "/api/maps/datasets/\(ds.id)/keys", headers: ["Authorization": "Bearer \(token)"])
            #expect(s2 == .ok)
        }
    }
}
