import Foundation
@testable import SpatialData

/// Locations of shared fixtures and the Python used to cross-check files with anndata.
enum TestEnv {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sharedData: String = packageRoot.appendingPathComponent("../shared/data").standardized.path
    static var hasSharedData: Bool { FileManager.default.fileExists(atPath: sharedData + "/README.md") }
    static func data(_ relative: String) -> String { sharedData + "/" + relative }

    /// The test-only venv that `scripts/setup --test-venv` (run by `make test`) creates with anndata.
    static let python: String = packageRoot.appendingPathComponent(".venv-test/bin/python").path
    static var hasAnndata: Bool { FileManager.default.isExecutableFile(atPath: python) }
    /// Whether the test venv has scanpy (`scripts/setup --test-venv` installs it), found without starting Python.
    static var hasScanpy: Bool {
        let lib = packageRoot.appendingPathComponent(".venv-test/lib").path
        let pythons = (try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? []
        return pythons.contains { FileManager.default.fileExists(atPath: "\(lib)/\($0)/site-packages/scanpy/__init__.py") }
    }

    /// Runs a Python snippet in the test venv and returns its stdout; throws with stderr on failure.
    static func runPython(_ script: String, _ args: [String] = []) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            throw NSError(domain: "python", code: Int(p.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: String(decoding: e, as: UTF8.self)])
        }
        return String(decoding: o, as: UTF8.self)
    }

    /// A fresh temporary folder.
    static func tempDir() -> String {
        let d = NSTemporaryDirectory() + "tessera-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
}
