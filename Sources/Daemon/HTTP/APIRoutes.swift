import Foundation
import Hummingbird
import Store
import Workflows

/// The HTTP API over a `DaemonService`. Every route answers JSON; errors are `APIError`s. The route table
/// is also the source of the paths in `openapi.json` (a test checks they agree).
public struct APIRoutes: Sendable {
    public let service: DaemonService

    public init(service: DaemonService) { self.service = service }

    /// (method, path) of every route, as registered.
    public static let table: [(String, String)] = [
        ("GET", "/api/health"), ("GET", "/api/openapi.json"), ("GET", "/api/workflows"), ("GET", "/api/workflows/{name}"),
        ("GET", "/api/projects"), ("POST", "/api/projects"), ("GET", "/api/projects/{project}"),
        ("GET", "/api/projects/{project}/datasets"), ("POST", "/api/projects/{project}/datasets"),
        ("GET", "/api/projects/{project}/history"), ("GET", "/api/projects/{project}/notes"), ("POST", "/api/projects/{project}/notes"),
        ("GET", "/api/jobs"), ("POST", "/api/jobs"), ("GET", "/api/jobs/{job}"), ("POST", "/api/jobs/{job}/cancel"),
        ("GET", "/api/jobs/{job}/events"), ("GET", "/api/jobs/{job}/events/stream"), ("GET", "/api/jobs/{job}/metrics"),
        ("GET", "/api/jobs/{job}/artifacts"), ("GET", "/api/jobs/{job}/artifacts/{artifact}"), ("GET", "/api/jobs/{job}/log"),
    ] + MapRoutes.table

    public func register(on router: Router<BasicRequestContext>) {
        let s = service, limit = service.config.maxBodyBytes
        let api = router.group("api").add(middleware: RouteAuthMiddleware(access: AccessPolicy(config: s.config)))

        api.get("health") { _, _ in
            let running = try s.store.count(state: .running), queued = try s.store.count(state: .queued)
            return try API.json(API.Health(service: "tesserad", version: TesseraVersion.string, root: s.config.rootURL.path,
                                           queued: queued, running: running, workflows: s.catalog.specs.map(\.name)))
        }
        api.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        api.get("workflows") { _, _ in try API.json(s.catalog.specs) }
        api.get("workflows/:name") { _, c in try API.json(s.catalog.spec(named: try c.pathParameter("name"))) }

        // Projects, datasets, notes, history
        api.get("projects") { _, _ in try API.json(s.store.projects().map(API.project)) }
        api.post("projects") { req, _ in
            let body = try await req.decodeJSON(API.NewProject.self, limit: limit)
            return try API.json(API.project(s.createProject(name: body.name, description: body.description ?? "")), status: .created)
        }
        api.get("projects/:project") { _, c in try API.json(API.project(s.store.project(try c.pathParameter("project")))) }
        api.get("projects/:project/datasets") { _, c in
            try API.json(s.store.datasets(project: try c.pathParameter("project")).map(API.dataset))
        }
        api.post("projects/:project/datasets") { req, c in
            let body = try await req.decodeJSON(API.NewDataset.self, limit: limit)
            let project = try c.pathParameter("project")
            let request = RegistrationRequest(path: body.path, locations: body.locations, metadata: body.metadata, orientation: body.orientation)
            // Registration waits on a child process: keep it off the event loop.
            let (d, same) = try await Task.detached { try s.registerDataset(project: project, request: request, name: body.name) }.value
            return try API.json(API.registered(d, sameContentAs: same), status: .created)
        }
        api.get("projects/:project/notes") { _, c in
            try API.json(s.store.notes(project: try c.pathParameter("project")).map { API.NoteBody(id: $0.id, text: $0.text, createdAt: $0.createdAt) })
        }
        api.post("projects/:project/notes") { req, c in
            let body = try await req.decodeJSON(API.NewNote.self, limit: limit)
            guard !body.text.isEmpty else { throw APIError(status: .unprocessableContent, code: "invalid_field", message: "text: must not be empty") }
            let n = try s.store.addNote(project: try c.pathParameter("project"), text: body.text)
            return try API.json(API.NoteBody(id: n.id, text: n.text, createdAt: n.createdAt), status: .created)
        }
        api.get("projects/:project/history") { req, c in
            let q = req.uri.queryParameters
            var f = HistoryFilter()
            f.workflow = q["workflow"].map(String.init)
            if let st = q["state"] { f.state = try Self.state(String(st)) }
            if let d = q["dataset"] { f.datasetID = try s.store.dataset(String(d), project: try c.pathParameter("project")).id }
            f.since = try q["since"].map { try Self.date(String($0), field: "since") }
            f.until = try q["until"].map { try Self.date(String($0), field: "until") }
            let entries = try s.store.history(project: try c.pathParameter("project"), f)
            return try API.json(entries.map { API.HistoryBody(at: $0.at, kind: $0.kind.rawValue, subject: $0.subject, workflow: $0.workflow,
                                                              state: $0.state?.rawValue, text: $0.text) })
        }

        // Jobs
        api.post("jobs") { req, _ in
            let body = try await req.decodeJSON(DaemonService.Submission.self, limit: limit)
            let (job, reused) = try s.submit(body)
            return try API.json(API.Submitted(job: API.job(job), reused: reused), status: reused ? .ok : .created)
        }
        api.get("jobs") { req, _ in
            let q = req.uri.queryParameters
            var query = JobQuery()
            query.project = q["project"].map(String.init)
            query.workflow = q["workflow"].map(String.init)
            if let st = q["state"] { query.state = try Self.state(String(st)) }
            query.limit = try Self.int(q["limit"], field: "limit", range: 1...100_000) ?? 100
            query.offset = try Self.int(q["offset"], field: "offset", range: 0...Int.max) ?? 0
            let (jobs, total) = try s.store.jobs(query)
            return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: JobListJSON.page(jobs, total: total, limit: query.limit, offset: query.offset,
                                                                                       executorStates: try s.store.lastExecutorStates(jobs: jobs.filter { $0.executor != "local" }.map(\.id))))))
        }
        api.get("jobs/:job") { _, c in
            let j = try s.store.job(matching: try c.pathParameter("job"))
            return try API.json(API.job(j, progress: s.lastProgress(job: j.id), transitions: try s.store.transitions(job: j.id),
                                        executorStates: try s.store.executorStates(job: j.id)))
        }
        api.post("jobs/:job/cancel") { _, c in try API.json(API.job(s.cancel(try c.pathParameter("job")))) }
        api.get("jobs/:job/events") { req, c in
            let q = req.uri.queryParameters
            let after = UInt64(try Self.int(q["after"], field: "after", range: 0...Int.max) ?? 0)
            let wait = Double(q["wait"].map(String.init) ?? "0") ?? 0
            let r = try await s.events(job: try c.pathParameter("job"), after: after, wait: wait)
            return try API.json(API.EventPage(events: r.events, next: r.next, state: r.job.state.rawValue, terminal: r.job.state.isTerminal))
        }
        api.get("jobs/:job/events/stream") { req, c in try EventStream.response(service: s, job: try c.pathParameter("job"), request: req) }
        api.get("jobs/:job/metrics") { req, c in
            let j = try s.store.job(matching: try c.pathParameter("job"))
            let ms = try s.store.metrics(job: j.id, name: req.uri.queryParameters["name"].map(String.init))
            return try API.json(ms.map { API.MetricBody(step: $0.step, name: $0.name, value: $0.value, at: $0.at) })
        }
        api.get("jobs/:job/artifacts") { _, c in
            let j = try s.store.job(matching: try c.pathParameter("job"))
            return try API.json(try s.store.artifacts(job: j.id).map {
                API.ArtifactBody(id: $0.id, kind: $0.kind, path: $0.path, hash: $0.hash, size: $0.size, createdAt: $0.createdAt,
                                 url: "/api/jobs/\(j.id)/artifacts/\($0.id)")
            })
        }
        api.get("jobs/:job/artifacts/:artifact") { _, c in
            let j = try s.store.job(matching: try c.pathParameter("job"))
            let a = try s.store.artifact(try c.pathParameter("artifact"))
            // Served from the job's artifacts/ or checkpoints/ only, as a regular file.
            let folder = s.queue.folder(j.id), parts = a.path.split(separator: "/", maxSplits: 1)
            let base = parts.first == "checkpoints" ? folder.checkpoints : folder.artifacts
            guard a.jobId == j.id, parts.count == 2, parts[0] == "artifacts" || parts[0] == "checkpoints",
                  let url = StaticFolder(base).file(forRawPath: String(parts[1]).addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "") else {
                throw APIError(status: .notFound, code: "not_found", message: "job \(j.id) has no artifact \(a.id) on disk")
            }
            return try StaticFolder.response(for: url, download: true)
        }
        api.get("jobs/:job/log") { _, c in
            let j = try s.store.job(matching: try c.pathParameter("job"))
            let url = s.queue.folder(j.id).url.appendingPathComponent("worker.log")
            let data = (try? Data(contentsOf: url)) ?? Data()
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data.suffix(1 << 20))))
        }
    }

    static func state(_ s: String) throws -> JobState {
        guard let st = JobState(rawValue: s) else {
            throw APIError(status: .badRequest, code: "invalid_query", message: "state: '\(s)' is not one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return st
    }

    static func int(_ v: Substring?, field: String, range: ClosedRange<Int>) throws -> Int? {
        guard let v else { return nil }
        guard let n = Int(v), range.contains(n) else {
            throw APIError(status: .badRequest, code: "invalid_query", message: "\(field): '\(v)' must be an integer in \(range.lowerBound)...\(range.upperBound == Int.max ? "" : String(range.upperBound))")
        }
        return n
    }

    static func date(_ v: String, field: String) throws -> Date {
        let f = ISO8601DateFormatter()
        if let d = f.date(from: v) { return d }
        f.formatOptions = [.withFullDate]
        if let d = f.date(from: v) { return d }
        throw APIError(status: .badRequest, code: "invalid_query", message: "\(field): '\(v)' is not an ISO 8601 date (2026-11-22 or 2026-11-22T08:00:00Z)")
    }
}

extension RequestContext {
    /// A path parameter, percent-decoded once (`my%20project` → `my project`).
    func pathParameter(_ name: String) throws -> String {
        let raw = try parameters.require(name)
        guard let decoded = raw.removingPercentEncoding, !decoded.isEmpty, decoded.utf8.count <= 512 else {
            throw APIError(status: .badRequest, code: "invalid_path", message: "\(name): not a valid percent-encoded name")
        }
        return decoded
    }
}

/// The daemon's version, reported by /api/health.
public enum TesseraVersion { public static let string = "0.4.0" }
