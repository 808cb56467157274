import Foundation
import Testing
@testable import SpatialData

/// The osmFISH loom (all 6,471 cells), checked against the h5ad of its valid cells.
@Suite(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data beside the checkout"))
struct LoomReaderTests {
    @Test func osmfishLoom() throws {
        let d = try LoomReader.read(path: TestEnv.data("osmfish/osmFISH_SScortex_mouse_all_cells.loom"), platform: "osmfish")
        #expect((d.cellCount, d.geneCount, d.counts.nnz) == (6471, 33, 146550))
        #expect(d.counts.values.reduce(0.0) { $0 + Double($1) } == 1_248_106)
        #expect(d.geneSymbols[0] == "Gad2" && d.platform == "osmfish")
        guard case .categorical(let cluster)? = d.obs["ClusterName"], case .categorical(let region)? = d.obs["Region"],
              case .int(let valid)? = d.obs["Valid"] else {
            Issue.record("loom columns missing: \(d.obs.names)"); return
        }
        #expect(cluster.categories.count == 32 && region.categories.count == 12)
        #expect(valid.filter { $0 == 1 }.count == 4839)
        #expect(d.coordinates != nil && d.coordinates?.count == 6471)

        // The valid cells are the h5ad's cells, with the same counts and positions.
        let h = try H5ADReader.read(path: TestEnv.data("osmfish/osmfish_valid_cells.h5ad"))
        let byID = Dictionary(uniqueKeysWithValues: d.cellIDs.enumerated().map { ($1, $0) })
        let ids = h.obs["CellID"].map { v in (0..<h.cellCount).map { v.text($0) ?? "" } } ?? []
        let rows = ids.compactMap { byID[$0] }
        #expect(rows.count == 4839)
        let sub = d.selectingCells(rows)
        #expect(sub.counts.toDense() == h.counts.toDense())
        #expect(sub.coordinates?.x == h.coordinates?.x && sub.coordinates?.y == h.coordinates?.y)
    }

    @Test func notALoomFile() throws {
        let path = TestEnv.tempDir() + "/x.loom"
        func write() throws { let f = try H5File.create(path); try f.root.writeInt32s("other", [1, 2, 3]) }
        try write()   // the file closes when `f` goes away
        do {
            _ = try LoomReader.read(path: path)
            Issue.record("expected a missing /matrix error")
        } catch let e as ImportError {
            #expect(e.kind == .missingField && e.field == "/matrix")
        }
    }
}
