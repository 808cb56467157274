import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The outside attack on the daemon's HTTP surface, replayed against a real `tesserad` (issue 14): path
/// spellings around the token, foreign Host and cross-origin requests, a flood of idle connections, and a
/// token that must not show in `ps`.
@Suite(.serialized) struct AttackHTTPTests {
    static let token = "attack-suite-token-0123456789"

    /// Every spelling of a route with or without the token's check: none creates or cancels anything.
    @Test func tokenCannotBeBypassedBySpelling() throws {
        // 127.0.0.2 is a non-loopback bind as far as the daemon knows (it needs a token there).
        let d = try RealDaemon(root: RealDaemon.tempRoot("bypass"), host: "127.0.0.2", env: ["TESSERAD_TOKEN": Self.token], token: Self.token)
        defer { d.stop() }
        let cmdline = (try? String(contentsOfFile: "/proc/\(d.pid)/cmdline", encoding: .utf8)) ?? ""
        #expect(!cmdline.contains(Self.token), "the token must not be on the command line (ps shows it)")
        let auth = ["Authorization": "Bearer \(Self.token)"]
        #expect(try d.send("POST", "/api/projects", headers: auth, json: #"{"name": "owned"}"#).0 == 201)
        let spellings = ["//api/projects", "/api//projects", "///api/projects", "/./api/projects", "/api/./projects", "/api/../api/projects",
                         "/%61pi/projects", "/api/%70rojects", "/API/projects", "/api/projects/", "/api/projects?x=1", "//api//projects/",
                         "/api/projects%2f", "/api%2fprojects", "/files/../api/projects", "/%2fapi/projects", "/api/projects/.", "/api/projects/%2e",
                         "/api/projects;x", "/api/projects%00", "/ api/projects", "/api/projects/..;/projects"]
        var tried = 0
        for path in spellings {
            for headers in [[:], ["Authorization": "Bearer wrong"], ["Authorization": "bearer"], ["Authorization": "Basic \(Self.token)"]] {
                let (st, body) = (try? d.send("POST", path, headers: headers, json: #"{"name": "x\#(tried)"}"#)) ?? (0, "")
                #expect(!(200..<300).contains(st), "POST \(path) with \(headers) answered \(st): \(body.prefix(200))")
                let (gst, gbody) = (try? d.send("GET", path, headers: headers)) ?? (0, "")
                #expect(!(200..<300).contains(gst) || !gbody.contains("owned"), "GET \(path) leaked the project list")
                tried += 2
            }
        }
        let (_, list) = try d.send("GET", "/api/projects", headers: auth)
        let names = ((try? JSONSerialization.jsonObject(with: Data(list.utf8))) as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(names == ["owned"], "\(tried) refused requests created nothing: \(names)")
        // The scheme is case-insensitive (RFC 7235).
        #expect(try d.send("GET", "/api/projects", headers: ["Authorization": "bearer \(Self.token)"]).0 == 200)
        // The viewer's page itself stays public, and nothing else does.
        #expect(try d.send("GET", "/api/health").0 == 401)
        #expect(try d.send("GET", "/files/jobs/x/artifacts/y").0 == 401)
    }

    /// DNS rebinding (a foreign Host) and other web pages (Origin, Sec-Fetch-Site, text/plain bodies) cannot
    /// drive a loopback daemon without a token.
    @Test func foreignHostAndOtherOriginsAreRefused() throws {
        let d = try RealDaemon(root: RealDaemon.tempRoot("origin"))
        defer { d.stop() }
        let me = "127.0.0.1:\(d.port)"
        var refused = 0
        for (headers, host, body, json) in [
            (["Origin": "http://evil.example", "Content-Type": "text/plain"], me, #"{"name": "a"}"#, false),
            (["Content-Type": "text/plain"], me, #"{"name": "b"}"#, false),
            (["Content-Type": "application/x-www-form-urlencoded"], me, "name=c", false),
            (["Origin": "http://evil.example"], me, #"{"name": "d"}"#, true),
            (["Origin": "null"], me, #"{"name": "e"}"#, true),
            (["Sec-Fetch-Site": "cross-site"], me, #"{"name": "f"}"#, true),
            (["Sec-Fetch-Site": "same-site"], me, #"{"name": "g"}"#, true),
            (["Origin": "http://127.0.0.1:1"], me, #"{"name": "h"}"#, true),
            ([:], "evil.example", #"{"name": "i"}"#, true),
            ([:], "evil.example:\(d.port)", #"{"name": "j"}"#, true),
        ] as [([String: String], String, String, Bool)] {
            let (st, resp) = json ? try d.send("POST", "/api/projects", headers: headers, json: body, hostHeader: host)
                                  : try d.send("POST", "/api/projects", headers: headers, body: body, hostHeader: host)
            #expect([403, 415].contains(st), "\(headers) Host \(host) → \(st) \(resp.prefix(200))")
            refused += 1
        }
        for host in ["evil.example", "evil.example:\(d.port)", "127.0.0.1.evil.example", ""] {
            #expect(try d.send("GET", "/api/projects", hostHeader: host).0 == 403, "GET with Host '\(host)' must be refused")
            #expect(try d.send("GET", "/", hostHeader: host).0 == 403)
            refused += 2
        }
        let (_, list) = try d.send("GET", "/api/projects")
        #expect(list == "[]", "\(refused) refused requests stored nothing")
        // The daemon's own pages and the CLI still work: same origin, loopback names.
        #expect(try d.send("POST", "/api/projects", headers: ["Origin": "http://\(me)", "Sec-Fetch-Site": "same-origin"], json: #"{"name": "mine"}"#).0 == 201)
        #expect(try d.send("GET", "/api/projects", hostHeader: "localhost:\(d.port)").0 == 200)
    }

    /// 1,100 idle connections against a daemon whose open-file limit is 1,024: it keeps serving (new requests
    /// wait at most for idle ones to time out) and stays alive with descriptors to spare.
    @Test func idleConnectionFloodIsBounded() throws {
        let d = try RealDaemon(root: RealDaemon.tempRoot("flood"), config: ["idleTimeoutSeconds": 2], openFiles: 1024)
        defer { d.stop() }
        var flood: [Int32] = []
        defer { for fd in flood { close(fd) } }
        for _ in 0..<1_100 {
            guard let fd = try? RealDaemon.connectSocket(host: "127.0.0.1", port: d.port, timeout: 1, blocking: false) else { break }
            flood.append(fd)
        }
        #expect(flood.count >= 1_000, "opened \(flood.count) connections")
        Thread.sleep(forTimeInterval: 1)
        let t0 = Date()
        let (st, _) = try d.send("GET", "/api/health", timeout: 60)
        let waited = Date().timeIntervalSince(t0)
        #expect(st == 200, "health during the flood")
        #expect(waited < 45, "health answered after \(waited) s")
        #expect(d.process.isRunning)
        #expect(d.openFiles() < 1_000, "the daemon holds \(d.openFiles()) descriptors of its 1,024")
        for fd in flood { close(fd) }
        flood.removeAll()
        Thread.sleep(forTimeInterval: 0.5)
        let t1 = Date()
        #expect(try d.send("GET", "/api/health").0 == 200)
        #expect(Date().timeIntervalSince(t1) < 5)
        // A slow client that never finishes its request head is closed too.
        let slow = try RealDaemon.connectSocket(host: "127.0.0.1", port: d.port, timeout: 10)
        defer { close(slow) }
        _ = "GET /api/health HTTP/1.1\r\nHost: 127".withCString { Glibc.send(slow, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var buf = [UInt8](repeating: 0, count: 16)
        let t2 = Date()
        _ = recv(slow, &buf, buf.count, 0)
        #expect(Date().timeIntervalSince(t2) < 9, "a half-sent request head is closed after the idle timeout (2 s)")
        #expect(d.process.isRunning)
    }
}
