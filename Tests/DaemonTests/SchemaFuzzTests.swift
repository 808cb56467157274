import Foundation
import Testing

/// Property-based fuzzing of the API from its own OpenAPI document (schemathesis, from the test venv), against
/// a real paused `tesserad` with a project in it: a bounded number of generated requests per operation, and
/// none may answer 5xx, hang, or answer with a status, content type, header or body the document does not
/// describe.
@Suite(.serialized) struct SchemaFuzzTests {
    @Test func openAPIFuzzingFindsNoServerErrors() throws {
        let st = FileManager.default.currentDirectoryPath + "/.venv-test/bin/schemathesis"
        guard FileManager.default.isExecutableFile(atPath: st) else {
            print("skipped: \(st) is missing; `scripts/setup --test-venv` installs schemathesis into .venv-test")
            return
        }
        let d = try RealDaemon(root: RealDaemon.tempRoot("fuzz"), extraArguments: ["--paused"])
        defer { d.stop() }
        #expect(try d.send("POST", "/api/projects", json: #"{"name": "p"}"#).0 == 201)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: st)
        p.arguments = ["run", "http://127.0.0.1:\(d.port)/api/openapi.json", "--max-examples", "25", "--request-timeout", "10",
                       "--generation-deterministic", "--no-color",
                       "-c", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance"]
        p.currentDirectoryURL = URL(fileURLWithPath: d.root)   // its example database stays out of the checkout
        let out = Pipe()
        p.standardOutput = out; p.standardError = out
        var env = ProcessInfo.processInfo.environment
        env["SCHEMATHESIS_HOOKS"] = nil
        p.environment = env
        try p.run()
        let box = OutputCollector(out.fileHandleForReading)
        // A hang in the daemon shows as a run that does not end: stop it after 5 minutes.
        let end = Date().addingTimeInterval(300)
        while p.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.2) }
        let hung = p.isRunning
        if hung { p.terminate() }
        p.waitUntilExit()
        let text = box.text()
        #expect(!hung, "schemathesis did not finish within 5 minutes")
        #expect(p.terminationStatus == 0, "schemathesis found failures:\n\(text.suffix(6000))")
        #expect(d.process.isRunning, "the daemon survived the fuzzing")
        if let line = text.split(separator: "\n").first(where: { $0.contains(" generated, ") }) { print("schemathesis: \(line.trimmingCharacters(in: .whitespaces))") }
    }
}

/// Reads a pipe to its end on a thread of its own, so a chatty child never blocks on a full pipe.
final class OutputCollector: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in data = handle.readDataToEndOfFile(); done.signal() }
    }
    func text() -> String { done.wait(); return String(decoding: data, as: UTF8.self) }
}
