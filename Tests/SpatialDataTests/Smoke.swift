import Testing
import Foundation
@testable import SpatialData

@Suite struct Smoke {
    @Test func tenx() throws {
        let d = try TenXH5Reader.read(path: "../shared/data/visium-10x-mini/filtered_feature_bc_matrix.h5")
        print(d.cellCount, d.geneCount, d.counts.nnz, d.cellIDs.prefix(2), d.geneSymbols.prefix(3), d.metadata)
    }
}
