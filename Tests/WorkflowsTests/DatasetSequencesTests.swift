import Foundation
import Testing
import CellLM
import SpatialData
import Tensor
@testable import Workflows

@Suite struct DatasetSequencesTests {
    static func dataset() -> Dataset {
        // 4 cells × 3 genes, two FOVs.
        let counts = CSRMatrix(rows: 4, cols: 3, indptr: [0, 2, 3, 5, 6], indices: [0, 2, 1, 0, 1, 2], values: [1, 4, 2, 3, 5, 6])
        return Dataset(name: "d", counts: counts, cellIDs: ["a", "b", "c", "d"],
                       geneIDs: ["ENSG00000141510.17", "ENSG00000012048.2", "ENSG00000139618"],
                       geneSymbols: ["TP53", "BRCA1", "BRCA2"], measured: [true, true, false],
                       fov: Categorical(labels: ["f1", "f2", "f1", "f2"]))
    }

    /// Ids match without their Ensembl version and symbols case-insensitively (GeneHarmonizer's key); counts
    /// land in vocabulary order, unmeasured genes are left out of `measured`, and cells are grouped by FOV.
    @Test func alignsAndGroups() throws {
        let ds = Self.dataset()
        #expect(DatasetSequences.align(ds, to: ["brca2", "ENSG00000141510", "MYC", "BRCA1"]) == [2, 0, nil, 1])
        let set = try DatasetSequences.make(ds, vocabulary: ["BRCA1", "TP53", "BRCA2"], batchBase: 0)
        #expect(set.names == ["f1", "f2"] && set.rows == [[0, 2], [1, 3]])
        let f1 = set.sequences[0]
        #expect(f1.measured == [0, 1])                   // BRCA2 is not measured by this panel
        #expect(f1.counts.indices == [1, 2, 0, 1] && f1.counts.values == [1, 4, 5, 3])
        #expect(f1.batch == [0, 0] && set.sequences[1].batch == [1, 1])
    }

    @Test func noSharedGeneIsAnError() {
        #expect(throws: CellLMError.self) { try DatasetSequences.make(Self.dataset(), vocabulary: ["MYC", "GAPDH"]) }
    }
}
