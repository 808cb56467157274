import Foundation
import Testing
@testable import SpatialData

/// The byte-level string reader against libhdf5's, on every plain-layout string dataset of the shared
/// files, and on damaged heaps.
@Suite struct GlobalHeapStringsTests {
    /// Every variable-length string dataset of a file, read both ways.
    func compareAll(_ path: String) throws -> Int {
        let f = try H5File.open(path, probe: false)
        var compared = 0
        func walk(_ g: H5Group) throws {
            for c in g.children() {
                switch g.kind(of: c) {
                case .group?: try walk(try g.group(c))
                case .dataset?:
                    let d = try g.dataset(c)
                    guard let fast = try GlobalHeapStrings.read(d) else { continue }
                    let reference = try withHDF5 { try H5Strings.read(dataset: d) }
                    #expect(fast == reference, "\(path) \(d.path)")
                    compared += 1
                default: break
                }
            }
        }
        try walk(f.root)
        return compared
    }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data beside the checkout"))
    func matchesLibhdf5OnSharedFiles() throws {
        var total = 0
        for p in ["seqfish-tasic-pair/seqfish_cortex.h5ad", "osmfish/osmfish_valid_cells.h5ad", "visium-10x-mini/test_data.h5ad",
                  "anndata-archives/v0.11.4/adata.h5ad", "anndata-archives/v0.7.8/adata.h5ad"] {
            total += try compareAll(TestEnv.data(p))
        }
        #expect(total >= 12)
    }

    @Test func matchesLibhdf5OnOurFiles() throws {
        let path = TestEnv.tempDir() + "/s.h5ad"
        var d = H5ADWriterTests.sample()
        d.cellIDs = ["", "ü-émoji-🧬", String(repeating: "x", count: 5000), "c4"]   // empty, multibyte, long
        d.obs["note"] = .string(["", "a", "b", ""])
        do {
            try H5ADWriter.write(d, to: path)
            Issue.record("an empty cell id must be refused")
        } catch {}
        d.cellIDs[0] = "c1"
        try H5ADWriter.write(d, to: path)
        #expect(try compareAll(path) >= 5)
        #expect(try H5ADReader.read(path: path).cellIDs == d.cellIDs)
    }

    @Test func damagedHeapIsCorruptNotACrash() throws {
        let path = TestEnv.tempDir() + "/s.h5ad"
        try H5ADWriter.write(H5ADWriterTests.sample(), to: path)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // Break every collection signature: GCOL → GCOX.
        for i in 0..<(bytes.count - 4) where bytes[i] == 0x47 && bytes[i + 1] == 0x43 && bytes[i + 2] == 0x4F && bytes[i + 3] == 0x4C {
            bytes[i + 3] = 0x58
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let f = try H5File.open(path, probe: false)
        let idx = try f.root.dataset("obs/_index")
        #expect(throws: ImportError.self) { try GlobalHeapStrings.read(idx) }
    }
}
