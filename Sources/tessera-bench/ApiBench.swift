import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SpatialData

/// The daemon's API under load, on loopback: a real `tesserad` (paused, so the numbers are the API's and not
/// the workers'), 20 concurrent clients. Measures the latency of `POST /api/jobs` (validated submission, one
/// SQLite transaction) and of listing 10,000 jobs (`GET /api/jobs?limit=10000`), and prints p50 / p99.
struct ApiBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "api", abstract: "Submit and list latency of tesserad under concurrent clients (p50, p99).")

    @Option(help: "Concurrent clients.") var clients = 20
    @Option(help: "Jobs submitted in all (then listed).") var jobs = 10_000
    @Option(help: "List requests per client.") var lists = 5
    @Option(help: "Port for the benchmark daemon.") var port = 7999

    func run() async throws {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("tesserad").path
        guard FileManager.default.isExecutableFile(atPath: exe) else {
            throw ValidationError("\(exe) is missing; build it with `swift build -c release --product tesserad`")
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-apibench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: exe)
        daemon.arguments = ["serve", "--root", root, "--port", "\(port)", "--paused"]
        daemon.standardOutput = FileHandle.nullDevice; daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        defer { daemon.terminate(); daemon.waitUntilExit() }
        let base = "http://127.0.0.1:\(port)"
        let session = URLSession(configuration: .ephemeral)
        for _ in 0..<100 { if (try? await call(session, "GET", base + "/api/health")) != nil { break }; try await Task.sleep(nanoseconds: 100_000_000) }
        _ = try await call(session, "POST", base + "/api/projects", body: #"{"name": "bench"}"#)
        var sim = SimulationConfig.tiny
        sim.cells = 500; sim.referenceCells = 100
        try H5ADWriter.write(TissueSimulator.simulate(sim).spatial, to: root + "/tissue.h5ad")
        _ = try await call(session, "POST", base + "/api/projects/bench/datasets", body: #"{"path": "\#(root)/tissue.h5ad", "name": "tissue"}"#)

        print("tesserad api: \(clients) concurrent clients on loopback, \(jobs) submissions, then \(clients * lists) listings of all jobs; load \(loadAverage())")
        let perClient = jobs / clients
        let t0 = Date()
        let submit = try await withThrowingTaskGroup(of: [Double].self) { group in
            for c in 0..<clients {
                group.addTask {
                    var lat: [Double] = []
                    for k in 0..<perClient {
                        let body = #"{"project": "bench", "workflow": "embed", "inputs": {"data": "tissue"}, "parameters": {"checkpoint": "/dev/null", "resolution": \#(0.1 + Double((c * perClient + k) % 4900) / 1000)}}"#
                        let s = Date()
                        _ = try await call(session, "POST", base + "/api/jobs", body: body, expect: [201])
                        lat.append(Date().timeIntervalSince(s))
                    }
                    return lat
                }
            }
            var all: [Double] = []
            for try await l in group { all += l }
            return all
        }
        let submitWall = Date().timeIntervalSince(t0)
        let t1 = Date()
        let list = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var lat: [Double] = []
                    for _ in 0..<lists {
                        let s = Date()
                        let d = try await call(session, "GET", base + "/api/jobs?limit=\(jobs)")
                        lat.append(Date().timeIntervalSince(s))
                        if d.count < 1000 { throw ValidationError("listing returned \(d.count) bytes") }
                    }
                    return lat
                }
            }
            var all: [Double] = []
            for try await l in group { all += l }
            return all
        }
        let listWall = Date().timeIntervalSince(t1)
        let listed = try JSONSerialization.jsonObject(with: try await call(session, "GET", base + "/api/jobs?limit=1")) as? [String: Any]
        func ms(_ v: Double) -> String { String(format: "%.1f ms", v * 1000) }
        print("")
        print("| operation | requests | p50 | p99 | max | throughput |")
        print("|---|---|---|---|---|---|")
        print("| submit (validated, 1 transaction) | \(submit.count) | \(ms(quantile(submit, 0.5))) | \(ms(quantile(submit, 0.99))) | \(ms(submit.max() ?? .nan)) | \(String(format: "%.0f/s", Double(submit.count) / submitWall)) |")
        print("| list \(listed?["total"] as? Int ?? 0) jobs | \(list.count) | \(ms(quantile(list, 0.5))) | \(ms(quantile(list, 0.99))) | \(ms(list.max() ?? .nan)) | \(String(format: "%.1f/s", Double(list.count) / listWall)) |")
        print("(load after: \(loadAverage()); client and daemon share the machine's 2 cores)")
    }

    func quantile(_ v: [Double], _ q: Double) -> Double {
        let s = v.sorted()
        guard !s.isEmpty else { return .nan }
        return s[min(s.count - 1, Int((Double(s.count - 1) * q).rounded()))]
    }

    func call(_ s: URLSession, _ method: String, _ url: String, body: String? = nil, expect: Set<Int> = [200, 201]) async throws -> Data {
        var r = URLRequest(url: URL(string: url)!, timeoutInterval: 60)
        r.httpMethod = method
        if let body { r.httpBody = Data(body.utf8); r.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        let (d, resp) = try await s.data(for: r)
        let st = (resp as? HTTPURLResponse)?.statusCode ?? 0
        guard expect.contains(st) else { throw ValidationError("\(method) \(url) → \(st): \(String(decoding: d.prefix(300), as: UTF8.self))") }
        return d
    }
}
