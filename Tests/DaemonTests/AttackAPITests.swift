import Foundation
import SpatialData
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Daemon
import Store
import Workflows

/// The smaller holes of the outside attack (issue 14), against the daemon's HTTP application over loopback:
/// submissions refused before anything is stored, names with spaces, fields named in errors, bounded echoes,
/// artifact files contained to artifacts/, an uncapped health count and a complete OpenAPI document.
@Suite(.serialized) struct AttackAPITests {
    static let workflows = FileManager.default.currentDirectoryPath + "/workflows"

    /// Label columns that are missing or continuous, a dataset in two roles, a spatial dataset as the scRNA
    /// reference, pretrain with nothing bound: each a 422 naming the problem, and nothing stored.
    @Test func submissionsAreCheckedBeforeAnythingIsStored() async throws {
        let d = try TestDaemon { $0.workflows = Self.workflows }
        let spatial = try d.datasetFile(spatial: true), reference = try d.datasetFile(spatial: false)
        // A copy whose classes are stored as float codes (as R exports often are): classes, not values.
        var sim = SimulationConfig.tiny
        sim.cells = 300; sim.referenceCells = 100
        var coded = TissueSimulator.simulate(sim).spatial
        if case .categorical(let types)? = coded.obs["cell_type"] { coded.obs["type_code"] = .float(types.codes.map { Double($0) }) }
        let codedPath = d.root.appendingPathComponent("coded.h5ad").path
        try H5ADWriter.write(coded, to: codedPath)
        try await d.live { c in
            #expect(try await c.call(.post, "/api/projects", json: #"{"name": "p"}"#).0 == .created)
            #expect(try await c.call(.post, "/api/projects/p/datasets", json: #"{"path": "\#(spatial)", "name": "tissue"}"#).0 == .created)
            #expect(try await c.call(.post, "/api/projects/p/datasets", json: #"{"path": "\#(reference)", "name": "ref"}"#).0 == .created)
            #expect(try await c.call(.post, "/api/projects/p/datasets", json: #"{"path": "\#(codedPath)", "name": "coded"}"#).0 == .created)
            let cases: [(String, String)] = [
                (#"{"project": "p", "workflow": "cluster-supcon", "inputs": {"data": "tissue"}, "parameters": {"label_column": "no_such_column"}}"#, "no bound dataset has an obs column 'no_such_column'"),
                (#"{"project": "p", "workflow": "cluster-supcon", "inputs": {"data": "tissue"}, "parameters": {"label_column": "x_fov"}}"#, "continuous"),
                (#"{"project": "p", "workflow": "impute", "inputs": {"spatial": "tissue", "reference": "tissue"}}"#, "is spatial"),
                (#"{"project": "p", "workflow": "pretrain", "inputs": {"spatial": "tissue", "spatial.2": "tissue"}}"#, "bound to both"),
                (#"{"project": "p", "workflow": "pretrain"}"#, "needs at least 1 dataset"),
                (#"{"project": "p", "workflow": "pretrain", "inputs": {}}"#, "needs at least 1 dataset"),
                (#"{"project": "p", "workflow": "pretrain", "inputs": {"spatial": "tissue"}, "priority": 9223372036854775807}"#, "priority"),
                (#"{"project": "p", "workflow": "pretrain", "inputs": {"spatial": "tissue"}, "priority": 1.5}"#, "priority"),
                (#"{"project": "p", "workflow": "pretrain", "inputs": {"spatial": "tissue"}, "priority": "high"}"#, "priority"),
            ]
            for (body, expected) in cases {
                let (st, text) = try await c.call(.post, "/api/jobs", json: body)
                #expect(st == .unprocessableContent, "\(body) → \(st) \(text)")
                #expect(text.contains(expected), "\(body): \(text)")
            }
            #expect(try d.service.store.jobs(JobQuery()).total == 0, "\(cases.count) refused submissions stored nothing")
            // The valid ones still pass.
            #expect(try await c.call(.post, "/api/jobs", json: #"{"project": "p", "workflow": "cluster-supcon", "inputs": {"data": "tissue"}, "parameters": {"label_column": "cell_type"}}"#).0 == .created)
            #expect(try await c.call(.post, "/api/jobs", json: #"{"project": "p", "workflow": "impute", "inputs": {"spatial": "tissue", "reference": "ref"}}"#).0 == .created)
            let (cst, ctext) = try await c.call(.post, "/api/jobs", json: #"{"project": "p", "workflow": "cluster-supcon", "inputs": {"data": "coded"}, "parameters": {"label_column": "type_code"}}"#)
            #expect(cst == .created, "float class codes are classes: \(ctext)")
        }
    }

    /// Names with spaces and non-ASCII letters are usable in paths (percent-decoded once); echoes are bounded.
    @Test func encodedNamesAndBoundedEchoes() async throws {
        let d = try TestDaemon()
        try await d.live { c in
            #expect(try await c.call(.post, "/api/projects", json: #"{"name": "my project"}"#).0 == .created)
            #expect(try await c.call(.post, "/api/projects", json: #"{"name": "Gewebe ü"}"#).0 == .created)
            #expect(try await c.call(.get, "/api/projects/my%20project").0 == .ok)
            #expect(try await c.call(.get, "/api/projects/Gewebe%20%C3%BC").0 == .ok)
            #expect(try await c.call(.get, "/api/projects/my%20project/datasets").0 == .ok)
            let long = String(repeating: "v", count: 50_000)
            let (st, text) = try await c.call(.post, "/api/jobs", json: #"{"project": "my project", "workflow": "ok", "version": "\#(long)"}"#)
            #expect(st == .unprocessableContent && text.count < 3_000, "an over-long version is not echoed back (\(text.count) bytes)")
            let (st2, text2) = try await c.call(.get, "/api/jobs/" + String(repeating: "a", count: 500))
            #expect(st2 == .badRequest || st2 == .notFound)
            #expect(text2.count < 3_000)
        }
    }

    /// `/files` serves a job's artifacts/ only: not job.json through a symlink, not a FIFO (404, no path).
    @Test func filesAreContainedToArtifacts() async throws {
        let d = try TestDaemon()
        let jobs = URL(fileURLWithPath: d.service.config.root).appendingPathComponent("jobs/j1")
        try FileManager.default.createDirectory(at: jobs.appendingPathComponent("artifacts"), withIntermediateDirectories: true)
        try Data(#"{"secret": "job-spec"}"#.utf8).write(to: jobs.appendingPathComponent("job.json"))
        try FileManager.default.createSymbolicLink(atPath: jobs.path + "/artifacts/x", withDestinationPath: "../job.json")
        #expect(mkfifo(jobs.path + "/artifacts/pipe.png", 0o644) == 0)
        try Data("png".utf8).write(to: jobs.appendingPathComponent("artifacts/map.png"))
        try await d.live { c in
            for path in ["/files/jobs/j1/artifacts/x", "/files/jobs/j1/artifacts/pipe.png", "/files/jobs/j1/job.json", "/files/x"] {
                let (st, text) = try await c.call(.get, path)
                #expect(st == .notFound, "\(path) → \(st)")
                #expect(!text.contains("job-spec") && !text.contains(d.root.path), "\(path): \(text)")
            }
            let (st, text) = try await c.call(.get, "/files/jobs/j1/artifacts/map.png")
            #expect(st == .ok && text == "png")
        }
    }

    /// Health counts every queued job (it stopped at 1,000), and the OpenAPI document names the reuse answer
    /// and the content types of the stream, the log and downloads.
    @Test func healthCountsAndOpenAPIDetails() async throws {
        let d = try TestDaemon { $0.startsJobs = false }
        try d.service.store.createProject(name: "p")
        try await d.service.store.writer.write { db in
            for i in 0..<1_205 {
                try db.execute(sql: """
                    INSERT INTO job (id, projectId, workflow, workflowVersion, parameters, inputs, state, priority, attempts, maxAttempts,
                                     executor, cacheKey, createdAt, updatedAt)
                    SELECT ?, id, 'ok', '1', '{}', '{}', 'queued', 0, 0, 1, 'local', ?, ?, ? FROM project
                    """, arguments: ["job-\(i)", "k\(i)", Double(i), Double(i)])
            }
        }
        try await d.live { c in
            let (_, health) = try await c.call(.get, "/api/health")
            #expect(jsonObject(health)["queued"] as? Int == 1_205)
            let (_, doc) = try await c.call(.get, "/api/openapi.json")
            let paths = jsonObject(doc)["paths"] as? [String: [String: Any]] ?? [:]
            func responses(_ p: String, _ m: String) -> [String: Any] { (paths[p]?[m] as? [String: Any])?["responses"] as? [String: Any] ?? [:] }
            #expect(responses("/api/jobs", "post")["200"] != nil, "the reuse answer is documented")
            let stream = (responses("/api/jobs/{job}/events/stream", "get")["200"] as? [String: Any])?["content"] as? [String: Any]
            #expect(stream?["text/event-stream"] != nil)
            let log = (responses("/api/jobs/{job}/log", "get")["200"] as? [String: Any])?["content"] as? [String: Any]
            #expect(log?["text/plain"] != nil)
        }
    }
}
