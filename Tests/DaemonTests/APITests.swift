import Foundation
import Hummingbird
import Testing
@testable import Daemon
import Store
import Workflows

/// The HTTP API over real loopback HTTP (`withLiveServer`), against a daemon whose workers are shell programs.
@Suite(.serialized) struct APITests {
    @Test func projectDatasetJobRoundTrip() async throws {
        let d = try TestDaemon()
        let file = try d.datasetFile()
        try await d.live { c in
            var (st, body) = try await c.call(.post, "/api/projects", json: #"{"name": "lab", "description": "mouse brain"}"#)
            #expect(st == .created)
            (st, body) = try await c.call(.post, "/api/projects/lab/datasets", json: #"{"path": "\#(file)", "name": "sec1"}"#)
            #expect(st == .created, "\(body)")
            let ds = jsonObject(body)
            #expect(ds["cells"] as? Int == 300)
            #expect((ds["contentHash"] as? String)?.count == 64)
            (st, body) = try await c.call(.post, "/api/jobs", json: #"{"project": "lab", "workflow": "ok", "inputs": {"data": "sec1"}, "parameters": {"steps": 5}}"#)
            #expect(st == .created, "\(body)")
            let id = try #require((jsonObject(body)["job"] as? [String: Any])?["id"] as? String)
            try await d.settle()
            (st, body) = try await c.call(.get, "/api/jobs/\(id.prefix(8))")
            let job = jsonObject(body)
            #expect(job["state"] as? String == "succeeded")
            #expect((job["parameters"] as? [String: Any])?["mode"] as? String == "a", "defaults are filled in")
            #expect((job["transitions"] as? [[String: Any]])?.map { $0["to"] as? String } == ["queued", "running", "succeeded"])
            (_, body) = try await c.call(.get, "/api/jobs/\(id)/metrics?name=loss")
            #expect(body.contains("1.5"))
            (_, body) = try await c.call(.get, "/api/jobs/\(id)/events")
            #expect(jsonObject(body)["terminal"] as? Bool == true)
            #expect((jsonObject(body)["events"] as? [Any])?.count == 2)
            (_, body) = try await c.call(.get, "/api/jobs/\(id)/artifacts")
            let arts = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]])
            #expect(arts.count == 1)
            let url = try #require(arts.first?["url"] as? String)
            (st, body) = try await c.call(.get, url)
            #expect(st == .ok && body == "result\n")
            (st, body) = try await c.call(.get, "/files/jobs/\(id)/artifacts/out.txt")
            #expect(st == .ok && body == "result\n")
            (_, body) = try await c.call(.get, "/api/projects/lab/history?workflow=ok")
            #expect(body.contains("succeeded"))
            (_, body) = try await c.call(.get, "/api/projects/lab/history?dataset=sec1")
            #expect(body.contains("registered sec1"))
            (_, body) = try await c.call(.get, "/api/jobs?project=lab&state=succeeded")
            #expect(jsonObject(body)["total"] as? Int == 1)
            (st, body) = try await c.call(.get, "/")
            #expect(st == .ok && body.contains("viewer"))
        }
    }

    @Test func reuseAnswersFromCacheOnlyWhenAsked() async throws {
        let d = try TestDaemon()
        try await d.live { c in
            try await c.call(.post, "/api/projects", json: #"{"name": "p"}"#)
            let submit = #"{"project": "p", "workflow": "ok", "parameters": {"steps": 4}, "reuse": true}"#
            var (st, body) = try await c.call(.post, "/api/jobs", json: submit)
            #expect(st == .created)
            let first = (jsonObject(body)["job"] as? [String: Any])?["id"] as? String
            try await d.settle()
            (st, body) = try await c.call(.post, "/api/jobs", json: submit)
            #expect(st == .ok && jsonObject(body)["reused"] as? Bool == true)
            #expect((jsonObject(body)["job"] as? [String: Any])?["id"] as? String == first)
            // Explicit defaults give the same key as omitted ones.
            (_, body) = try await c.call(.post, "/api/jobs", json: #"{"project": "p", "workflow": "ok", "parameters": {"steps": 4, "mode": "a"}, "reuse": true}"#)
            #expect(jsonObject(body)["reused"] as? Bool == true)
            (st, _) = try await c.call(.post, "/api/jobs", json: #"{"project": "p", "workflow": "ok", "parameters": {"steps": 4}}"#)
            #expect(st == .created, "without reuse a new job runs")
            (st, body) = try await c.call(.post, "/api/jobs", json: #"{"project": "p", "workflow": "ok", "parameters": {"steps": 5}, "reuse": true}"#)
            #expect(st == .created, "other parameters: no cache hit")
        }
    }

    /// Each bad request gets a 4xx JSON error and leaves the store as it was.
    @Test func badRequestsAre4xxAndChangeNothing() async throws {
        let d = try TestDaemon()
        let file = try d.datasetFile(spatial: false)
        try await d.live { c in
            try await c.call(.post, "/api/projects", json: #"{"name": "p"}"#)
            try await c.call(.post, "/api/projects/p/datasets", json: #"{"path": "\#(file)", "name": "ref"}"#)
            func snapshot() throws -> [Int] {
                [try d.service.store.projects().count, try d.service.store.jobs(JobQuery()).total, try d.service.store.datasets(project: "p").count]
            }
            let before = try snapshot()
            let big = "{\"project\": \"p\", \"workflow\": \"ok\", \"parameters\": {\"x\": \"" + String(repeating: "a", count: 100_000) + "\"}}"
            let cases: [(String, HTTPRequest.Method, String, String?, HTTPResponse.Status, String)] = [
                ("malformed JSON", .post, "/api/jobs", "{\"project\": ", .badRequest, "malformed_json"),
                ("empty body", .post, "/api/jobs", nil, .badRequest, "malformed_json"),
                ("missing field", .post, "/api/jobs", #"{"workflow": "ok"}"#, .badRequest, "malformed_json"),
                ("unknown workflow", .post, "/api/jobs", #"{"project": "p", "workflow": "nope"}"#, .notFound, "unknown_workflow"),
                ("wrong parameter type", .post, "/api/jobs", #"{"project": "p", "workflow": "ok", "parameters": {"steps": "many"}}"#, .unprocessableContent, "invalid_parameter"),
                ("non-integer integer", .post, "/api/jobs", #"{"project": "p", "workflow": "ok", "parameters": {"steps": 2.5}}"#, .unprocessableContent, "invalid_parameter"),
                ("out of range", .post, "/api/jobs", #"{"project": "p", "workflow": "ok", "parameters": {"steps": 11}}"#, .unprocessableContent, "invalid_parameter"),
                ("not a choice", .post, "/api/jobs", #"{"project": "p", "workflow": "ok", "parameters": {"mode": "c"}}"#, .unprocessableContent, "invalid_parameter"),
                ("unknown parameter", .post, "/api/jobs", #"{"project": "p", "workflow": "ok", "parameters": {"stepz": 2}}"#, .unprocessableContent, "invalid_parameter"),
                ("missing dataset", .post, "/api/jobs", #"{"project": "p", "workflow": "ok", "inputs": {"data": "nope"}}"#, .unprocessableContent, "unknown_dataset"),
                ("unknown role", .post, "/api/jobs", #"{"project": "p", "workflow": "ok", "inputs": {"other": "ref"}}"#, .unprocessableContent, "invalid_input"),
                ("scRNA for a spatial role", .post, "/api/jobs", #"{"project": "p", "workflow": "slow", "inputs": {"data": "ref"}}"#, .unprocessableContent, "invalid_input"),
                ("unknown project", .post, "/api/jobs", #"{"project": "q", "workflow": "ok"}"#, .notFound, "not_found"),
                ("oversized body", .post, "/api/jobs", big, .contentTooLarge, "body_too_large"),
                ("duplicate project", .post, "/api/projects", #"{"name": "p"}"#, .conflict, "duplicate"),
                ("empty project name", .post, "/api/projects", #"{"name": "  "}"#, .unprocessableContent, "invalid_field"),
                ("dataset path missing", .post, "/api/projects/p/datasets", #"{"path": "/nonexistent/x.h5ad"}"#, .unprocessableContent, "invalid_field"),
                ("dataset path relative", .post, "/api/projects/p/datasets", #"{"path": "x.h5ad"}"#, .unprocessableContent, "invalid_field"),
                ("dataset not readable", .post, "/api/projects/p/datasets", #"{"path": "\#(d.root.path)/secret.txt"}"#, .unprocessableContent, "unreadable_dataset"),
                ("bad state filter", .get, "/api/jobs?state=done", nil, .badRequest, "invalid_query"),
                ("bad limit", .get, "/api/jobs?limit=-1", nil, .badRequest, "invalid_query"),
                ("bad date", .get, "/api/projects/p/history?since=yesterday", nil, .badRequest, "invalid_query"),
                ("unknown job", .get, "/api/jobs/0000000000", nil, .notFound, "not_found"),
                ("cancel unknown", .post, "/api/jobs/nope/cancel", nil, .notFound, "not_found"),
                ("unknown route", .get, "/api/nothing", nil, .notFound, "not_found"),
            ]
            for (what, method, uri, json, status, code) in cases {
                let (st, body) = try await c.call(method, uri, json: json)
                #expect(st == status, "\(what): \(st) \(body)")
                #expect(errorCode(body) == code, "\(what): \(body)")
                #expect(!(jsonObject(body)["error"] as? [String: Any] ?? [:]).isEmpty, "\(what): JSON error body")
            }
            #expect(try snapshot() == before)
        }
    }

    /// No path outside web-static/ or a job's artifacts is served, however it is spelled.
    @Test func pathTraversalIsRefused() async throws {
        let d = try TestDaemon()
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: d.service.config.root).appendingPathComponent("jobs/j1/artifacts"), withIntermediateDirectories: true)
        try Data("map".utf8).write(to: URL(fileURLWithPath: d.service.config.root).appendingPathComponent("jobs/j1/artifacts/map.png"))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: d.service.config.root).appendingPathComponent("jobs/j1/job.json"))
        // A symlink inside web-static pointing out of it.
        try FileManager.default.createSymbolicLink(atPath: d.service.config.webStatic + "/link.txt", withDestinationPath: d.root.path + "/secret.txt")
        try await d.live { c in
            for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/..%2fsecret.txt", "/..%2Fsecret.txt", "/%2e%2e%2fsecret.txt",
                         "/%252e%252e/secret.txt", "/..%5csecret.txt", "/..%5Csecret.txt", "/.%2e/secret.txt", "/link.txt", "/%00/secret.txt",
                         "/files/jobs/../tessera.sqlite", "/files/jobs/%2e%2e/tessera.sqlite", "/files/jobs/j1/job.json",
                         "/files/jobs/j1/artifacts/../job.json", "/files/jobs/j1/artifacts/..%2fjob.json", "/files/jobs/j1/artifacts/%2e%2e/job.json",
                         "/files/jobs/j1/artifacts/../../../secret.txt", "//etc/passwd", "/%2fetc/passwd"] {
                let (st, body) = try await c.call(.get, path)
                #expect(st == .notFound, "\(path) → \(st)")
                #expect(!body.contains("TOP-SECRET") && !body.contains("root:x:0"), "\(path) leaked")
            }
            var (st, body) = try await c.call(.get, "/files/jobs/j1/artifacts/map.png")
            #expect(st == .ok && body == "map")
            (st, body) = try await c.call(.get, "/index.html")
            #expect(st == .ok)
        }
    }

    @Test func nonLoopbackNeedsAToken() async throws {
        var c = DaemonConfig(root: "/tmp/x")
        c.host = "0.0.0.0"
        #expect(throws: DaemonError.self) { try c.validate() }
        do { try c.validate() } catch { #expect("\(error)".contains("requires a bearer token")) }
        c.token = "short"
        #expect(throws: DaemonError.self) { try c.validate() }
        c.token = "0123456789abcdef0123"
        try c.validate()

        let d = try TestDaemon { $0.token = "0123456789abcdef0123" }
        try await d.live { client in
            var (st, body) = try await client.call(.get, "/api/projects")
            #expect(st == .unauthorized && errorCode(body) == "unauthorized")
            (st, _) = try await client.call(.post, "/api/projects", json: #"{"name": "p"}"#, headers: ["Authorization": "Bearer wrong"])
            #expect(st == .unauthorized)
            #expect(try d.service.store.projects().isEmpty, "a refused request changes nothing")
            (st, _) = try await client.call(.get, "/api/projects", headers: ["Authorization": "Bearer 0123456789abcdef0123"])
            #expect(st == .ok)
            (st, _) = try await client.call(.get, "/")
            #expect(st == .ok, "the viewer's page itself is public")
        }
    }

    @Test func openAPIDocumentDescribesEveryRoute() async throws {
        let d = try TestDaemon()
        try await d.live { c in
            let (st, body) = try await c.call(.get, "/api/openapi.json")
            #expect(st == .ok)
            let doc = jsonObject(body)
            #expect(doc["openapi"] as? String == "3.1.0")
            let paths = try #require(doc["paths"] as? [String: [String: Any]])
            var documented = Set<String>()
            for (p, ops) in paths { for m in ops.keys { documented.insert("\(m.uppercased()) \(p)") } }
            let routed = Set(APIRoutes.table.map { "\($0.0) \($0.1)" })
            #expect(documented == routed)
            // Every route answers something other than the router's 404 (path parameters filled with real values).
            try await c.call(.post, "/api/projects", json: #"{"name": "p"}"#)
            let (_, sub) = try await c.call(.post, "/api/jobs", json: #"{"project": "p", "workflow": "ok"}"#)
            let job = try #require((jsonObject(sub)["job"] as? [String: Any])?["id"] as? String)
            try await d.settle()
            let (_, arts) = try await c.call(.get, "/api/jobs/\(job)/artifacts")
            let art = try #require((try JSONSerialization.jsonObject(with: Data(arts.utf8)) as? [[String: Any]])?.first?["id"] as? String)
            // (The map routes need a dataset or result with coordinates: MapRoutesTests calls each of them.)
            for (m, p) in APIRoutes.table where m == "GET" && !p.hasPrefix("/api/maps/") {
                let uri = p.replacingOccurrences(of: "{name}", with: "ok").replacingOccurrences(of: "{project}", with: "p")
                    .replacingOccurrences(of: "{job}", with: job).replacingOccurrences(of: "{artifact}", with: art)
                let (st, body) = try await c.call(.get, uri)
                #expect(st == .ok, "\(uri): \(st) \(body.prefix(200))")
            }
        }
    }

    @Test func cancelReachesTheWorkerAndStreamEnds() async throws {
        let d = try TestDaemon()
        try await d.live { c in
            try await c.call(.post, "/api/projects", json: #"{"name": "p"}"#)
            let (_, sub) = try await c.call(.post, "/api/jobs", json: #"{"project": "p", "workflow": "slow"}"#)
            let job = try #require((jsonObject(sub)["job"] as? [String: Any])?["id"] as? String)
            try d.service.tick()
            #expect(try d.service.store.job(job).state == .running)
            let (st, _) = try await c.call(.post, "/api/jobs/\(job)/cancel")
            #expect(st == .ok)
            try await d.settle(seconds: 10)
            #expect(try d.service.store.job(job).state == .cancelled)
            #expect(try d.service.store.job(job).exitReason == "stopped", "the worker's own cancelled exit")
            // The SSE stream of a finished job carries its state and closes.
            let (sst, stream) = try await c.call(.get, "/api/jobs/\(job)/events/stream")
            #expect(sst == .ok)
            #expect(stream.contains("event: state") && stream.contains("cancelled"))
            let (_, again) = try await c.call(.post, "/api/jobs/\(job)/cancel")
            #expect(errorCode(again) == "invalid_state")
        }
    }

    /// 200 submissions from 20 concurrent clients over real HTTP: none lost, none duplicated, every job runs
    /// to the end with a complete state history.
    @Test func concurrentSubmissions() async throws {
        let d = try TestDaemon()
        try await d.live { c in
            try await c.call(.post, "/api/projects", json: #"{"name": "p"}"#)
            let scheduler = Task { while !Task.isCancelled { try? d.service.tick(); try? await Task.sleep(nanoseconds: 20_000_000) } }
            let ids = try await withThrowingTaskGroup(of: [String].self) { group in
                for client in 0..<20 {
                    group.addTask {
                        var mine: [String] = []
                        for k in 0..<10 {
                            let (st, body) = try await c.call(.post, "/api/jobs", json: #"{"project": "p", "workflow": "ok", "priority": \#(k % 3), "parameters": {"steps": \#(1 + (client + k) % 10)}}"#)
                            guard st == .created, let id = (jsonObject(body)["job"] as? [String: Any])?["id"] as? String else { throw APIError(status: st, code: "test", message: body) }
                            mine.append(id)
                        }
                        return mine
                    }
                }
                var all: [String] = []
                for try await m in group { all += m }
                return all
            }
            scheduler.cancel()
            #expect(ids.count == 200 && Set(ids).count == 200)
            try await d.settle(seconds: 120)
            let (jobs, total) = try d.service.store.jobs(JobQuery(limit: 1000))
            #expect(total == 200 && Set(jobs.map(\.id)) == Set(ids))
            for j in jobs {
                #expect(j.state == .succeeded)
                let t = try d.service.store.transitions(job: j.id)
                #expect(t.map(\.toState) == [.queued, .running, .succeeded], "\(j.id)")
                #expect(zip(t.dropLast(), t.dropFirst()).allSatisfy { $0.toState == $1.fromState })
            }
            #expect(try d.service.store.integrityCheck() == "ok")
        }
    }
}

/// The hand-written job list has exactly the shape and values of the Codable `API.JobBody`.
@Suite struct JobListJSONTests {
    @Test func matchesTheCodableShape() throws {
        let s = try ProjectStore(path: nil)
        try s.createProject(name: "p")
        let j = try s.submitJob(project: "p", workflow: "w\"x", version: "1", parameters: #"{"a":1,"b":"two\nlines"}"#, inputs: [:], cacheKey: "k",
                                now: Date(timeIntervalSince1970: 1_790_000_000.75))
        try s.transition(job: j.id, to: .running, reason: "go")
        try s.transition(job: j.id, to: .failed, reason: "bad \"input\"\n\tline\u{1}")
        let jobs = try s.jobs(JobQuery()).jobs + [try s.submitJob(project: "p", workflow: "w", version: "2", parameters: "{}", inputs: [:], cacheKey: "q")]
        let fast = try JSONSerialization.jsonObject(with: Data(JobListJSON.page(jobs, total: 2, limit: 100, offset: 0).utf8)) as? NSDictionary
        let slow = try JSONSerialization.jsonObject(with: API.encoder.encode(API.JobPage(jobs: jobs.map { API.job($0) }, total: 2, limit: 100, offset: 0))) as? NSDictionary
        #expect(fast != nil && fast == slow)
    }
}
