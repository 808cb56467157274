import Foundation
import Hummingbird
import SpatialData
@testable import Daemon
import Store
import Workflows

/// A daemon over a fresh data root with two test workflows whose workers are shell programs (fast and
/// deterministic): `ok` writes a metric, an artifact and a succeeded exit; `slow` runs until SIGTERM.
struct TestDaemon {
    let service: DaemonService
    let root: URL

    static let specs: [String: String] = [
        "ok": #"{"name": "ok", "version": "1", "description": "test", "maxAttempts": 2, "inputs": [{"role": "data", "kind": "any", "required": false}], "parameters": [{"name": "steps", "type": "integer", "default": 3, "minimum": 1, "maximum": 10}, {"name": "mode", "type": "string", "default": "a", "choices": ["a", "b"]}]}"#,
        "slow": #"{"name": "slow", "version": "1", "description": "test", "inputs": [{"role": "data", "kind": "spatial", "required": false}], "parameters": []}"#,
    ]
    static let scripts: [String: String] = [
        "ok": #"mkdir -p artifacts && echo result > artifacts/out.txt && echo '{"kind":"progress","at":"2026-01-01T00:00:00Z","step":1,"total":1,"values":{"loss":1.5}}' >> events.jsonl && echo '{"kind":"artifact","at":"2026-01-01T00:00:00Z","path":"artifacts/out.txt","text":"text"}' >> events.jsonl && printf '{"status":"succeeded","reason":"done","at":"2026-01-01T00:00:00Z"}' > exit.json"#,
        "slow": #"trap 'printf "{\"status\":\"cancelled\",\"reason\":\"stopped\",\"at\":\"2026-01-01T00:00:00Z\"}" > exit.json; exit 0' TERM; while true; do sleep 0.05; done"#,
    ]

    init(configure: (inout DaemonConfig) -> Void = { _ in }) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-api-\(UUID().uuidString)")
        let wf = root.appendingPathComponent("workflows"), web = root.appendingPathComponent("web")
        for d in [wf, web] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        for (n, s) in Self.specs { try Data(s.utf8).write(to: wf.appendingPathComponent("\(n).json")) }
        try Data("<html>viewer</html>".utf8).write(to: web.appendingPathComponent("index.html"))
        try Data("TOP-SECRET-CONTENT".utf8).write(to: root.appendingPathComponent("secret.txt"))
        var c = DaemonConfig(root: root.appendingPathComponent("data").path)
        c.workflows = wf.path; c.webStatic = web.path; c.maxBodyBytes = 64 * 1024; c.concurrency = 4
        configure(&c)
        let executor = LocalExecutor { folder in
            let wf = (try? folder.readSpec().workflow) ?? "ok"
            return (URL(fileURLWithPath: "/bin/sh"), ["-c", Self.scripts[wf] ?? "exit 3"])
        }
        service = try DaemonService(config: c, executor: executor)
    }

    /// Runs `body` against this daemon over loopback HTTP.
    func live(_ body: (TestHTTP) async throws -> Void) async throws { try await withLiveServer(service, body) }

    /// A small real dataset file (simulated tissue written as h5ad) to register.
    func datasetFile(spatial: Bool = true) throws -> String {
        var c = SimulationConfig.tiny
        c.cells = 300; c.referenceCells = 100
        let t = TissueSimulator.simulate(c)
        let path = root.appendingPathComponent(spatial ? "spatial.h5ad" : "reference.h5ad").path
        try H5ADWriter.write(spatial ? t.spatial : t.reference, to: path)
        return path
    }

    /// Ticks the queue until nothing is queued, running or retrying.
    func settle(seconds: Double = 30) async throws {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            try service.tick()
            let busy = try [JobState.queued, .running, .retrying].reduce(0) { $0 + (try service.store.jobs(state: $1).count) }
            if busy == 0 { return }
            try await Task.sleep(nanoseconds: 30_000_000)
        }
    }
}

/// The `error.code` of a JSON error body ("" when it is not one).
func errorCode(_ body: String) -> String {
    guard let o = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], let e = o["error"] as? [String: Any] else { return "" }
    return e["code"] as? String ?? ""
}

func jsonObject(_ body: String) -> [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
