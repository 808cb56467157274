import Foundation
import Testing
@testable import CellLM

/// Rewriting an existing tensor file (a checkpoint saved again) replaces it in place.
@Suite struct TensorFileOverwriteTests {
    @Test func writingOverAnExistingFileReplacesIt() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-overwrite-\(UUID().uuidString).tsr")
        defer { try? FileManager.default.removeItem(at: url) }
        for v: Float in [1, 2] {
            try TensorFile(kind: "test", config: nil, meta: [:], entries: [.init(name: "w", shape: [3], values: .f32([v, v, v]))]).write(to: url)
        }
        let back = try TensorFile.read(url)
        guard case .f32(let vals)? = back.entries.first?.values else { Issue.record("no f32 entry"); return }
        #expect(vals == [2, 2, 2])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path).filter { $0.contains(url.lastPathComponent + ".tmp") }
        #expect(leftovers.isEmpty)
    }
}
