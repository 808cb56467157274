import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SpatialData
import Store
import Testing

/// The map routes (`/api/maps/…`, issue 13) and the viewer's vendored libraries (`/vendor/…`) under the outside
/// attack of issue 14, against a real `tesserad` with a token on a non-loopback bind: path spellings around the
/// token, other origins, hostile query values and tile coordinates, traversal out of `/vendor/`, and a `kill -9`
/// while maps are being drawn.
@Suite(.serialized) struct AttackMapTests {
    static let token = "attack-map-token-0123456789"

    @Test func mapRoutesHoldUnderAttack() throws {
        let data = RealDaemon.tempRoot("map-data")
        var c = SimulationConfig.tiny
        c.cells = 800
        try H5ADWriter.write(TissueSimulator.simulate(c).spatial, to: data + "/tissue.h5ad")
        let root = RealDaemon.tempRoot("map")
        var d = try RealDaemon(root: root, host: "127.0.0.2", env: ["TESSERAD_TOKEN": Self.token], token: Self.token)
        defer { d.stop() }
        let auth = ["Authorization": "Bearer \(Self.token)"]
        #expect(try d.send("POST", "/api/projects", headers: auth, json: #"{"name": "p"}"#).0 == 201)
        let (st, reg) = try d.send("POST", "/api/projects/p/datasets", headers: auth, json: #"{"path": "\#(data)/tissue.h5ad", "name": "tissue"}"#)
        #expect(st == 201, "\(reg)")
        let id = try #require((try JSONSerialization.jsonObject(with: Data(reg.utf8)) as? [String: Any])?["id"] as? String)
        let base = "/api/maps/datasets/\(id)"
        let (kst, keys) = try d.send("GET", base + "/keys", headers: auth)
        #expect(kst == 200, "\(keys)")
        let (lst, legend) = try d.send("GET", base + "/legend?color=cell_type", headers: auth)
        #expect(lst == 200, "\(legend.prefix(300))")
        #expect(try d.send("GET", base + "/tiles/0/0/0.png?color=cell_type", headers: auth).0 == 200)

        // 1. Spellings around the token: without it (or with a wrong one) nothing answers 2xx.
        let spellings = ["\(base)/keys", "/\(base)/keys", "/api//maps/datasets/\(id)/keys", "/api/maps/datasets//\(id)/keys",
                         "/%61pi/maps/datasets/\(id)/keys", "/api/maps/datasets/\(id)/keys/", "/api/maps/./datasets/\(id)/keys",
                         "/api/maps/datasets/\(id)/../\(id)/keys", "/api/maps%2fdatasets/\(id)/keys", "/API/maps/datasets/\(id)/keys",
                         "\(base)/tiles/0/0/0.png?color=cell_type", "\(base)/image?color=cell_type", "\(base)/points?color=cell_type",
                         "\(base)/cells/0?color=cell_type", "\(base)/legend?color=cell_type"]
        for path in spellings {
            for h in [[:], ["Authorization": "Bearer wrong"], ["Authorization": "Basic \(Self.token)"]] {
                let (s, body) = (try? d.send("GET", path, headers: h)) ?? (0, "")
                #expect(!(200..<300).contains(s), "GET \(path) with \(h) answered \(s): \(body.prefix(120))")
            }
        }

        // 2. Other origins (an <img> or fetch on another site) and a rebinding Host, even with the token: 403.
        for (h, host) in [(["Origin": "http://evil.example"], nil), (["Sec-Fetch-Site": "cross-site"], nil), ([:], "evil.example:\(d.port)")] as [([String: String], String?)] {
            let (s, _) = try d.send("GET", base + "/legend?color=cell_type", headers: auth.merging(h) { $1 }, hostHeader: host)
            #expect(s == 403, "\(h) \(host ?? "") answered \(s)")
        }
        // A link from another site still opens the viewer's pages (they hold no data).
        #expect(try d.send("GET", "/map.html", headers: ["Sec-Fetch-Site": "cross-site"]).0 == 200)

        // 3. Hostile values: each a 4xx naming the parameter, answered quickly, and the daemon stays up.
        let long = String(repeating: "a", count: 50_000)
        let hostile = ["/tiles/999999999999/0/0.png?color=cell_type", "/tiles/20/1048576/1048576.png?color=cell_type",
                       "/tiles/-1/0/0?color=cell_type", "/tiles/0/0/0.png?color=\(long)", "/image?color=cell_type&size=99999999",
                       "/image?color=cell_type&size=nan", "/legend?color=cell_type&vmin=1e400", "/legend?gene=\(long)",
                       "/legend?color=cell_type&hide=\((0..<5000).map(String.init).joined(separator: ","))",
                       "/cells/99999999999999999999?color=cell_type", "/cells/-1?color=cell_type", "/legend?color=cell_type&cmap=../../x",
                       "/legend", "/legend?color=cell_type&evil=1", "/points?color=cell_type&fov=%00"]
        for q in hostile {
            let t0 = Date()
            let (s, body) = (try? d.send("GET", base + q, headers: auth, timeout: 20)) ?? (0, "")
            #expect((400..<500).contains(s), "\(q.prefix(80)) answered \(s): \(body.prefix(160))")
            #expect(Date().timeIntervalSince(t0) < 10, "\(q.prefix(80)) took \(Date().timeIntervalSince(t0)) s")
            #expect(!body.contains(data), "\(q.prefix(80)) disclosed the data path")
        }
        #expect(try d.send("GET", base + "/legend?color=cell_type", headers: auth).0 == 200)

        // 4. Out of /vendor/ (public, no token): no spelling reaches a file outside it.
        for path in ["/vendor/../tessera.sqlite", "/vendor/%2e%2e/tessera.sqlite", "/vendor/..%2ftessera.sqlite",
                     "/vendor//etc/passwd", "/vendor/%2fetc%2fpasswd", "/vendor/../../../../etc/passwd"] {
            let (s, body) = (try? d.send("GET", path)) ?? (0, "")
            #expect(!(200..<300).contains(s) && !body.contains("root:") && !body.contains("SQLite format"), "\(path) answered \(s)")
        }

        // 5. kill -9 while maps are drawn (several in flight): a restart on the root answers maps again and the
        // store is intact.
        let port = d.port
        for k in 0..<6 {   // requests that never get their answer
            let request = "GET \(base)/image?color=cell_type&size=\(2000 + k) HTTP/1.1\r\nHost: 127.0.0.2:\(port)\r\nAuthorization: Bearer \(Self.token)\r\nConnection: close\r\n\r\n"
            Thread.detachNewThread { _ = try? TestHTTP.exchange(Data(request.utf8), port: port, host: "127.0.0.2", timeout: 30) }
        }
        Thread.sleep(forTimeInterval: 0.15)
        d.kill9()
        #expect(d.exitStatus(within: 10) != nil)
        d = try RealDaemon(root: root, host: "127.0.0.2", env: ["TESSERAD_TOKEN": Self.token], token: Self.token)
        #expect(try d.send("GET", base + "/image?color=cell_type&size=600", headers: auth).0 == 200)
        let (hs, health) = try d.send("GET", "/api/health", headers: auth)
        #expect(hs == 200, "\(health)")
        d.stop()
        #expect(try ProjectStore(path: root + "/tessera.sqlite").integrityCheck() == "ok")
    }
}
