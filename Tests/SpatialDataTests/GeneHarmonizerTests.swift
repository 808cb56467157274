import Foundation
import Testing
import Tensor
@testable import SpatialData

/// A CSR matrix from dense rows (zeros dropped).
private func csr(_ rows: [[Float]]) -> CSRMatrix {
    var p = [0], idx = [Int32](), val = [Float]()
    for r in rows {
        for (c, v) in r.enumerated() where v != 0 { idx.append(Int32(c)); val.append(v) }
        p.append(val.count)
    }
    return CSRMatrix(rows: rows.count, cols: rows.first?.count ?? 0, indptr: p, indices: idx, values: val)
}

private func dense(_ m: CSRMatrix) -> [[Float]] {
    (0..<m.rows).map { r in (0..<m.cols).map { m[r, $0] } }
}

private let pairFolder = TestEnv.data("osmfish-tissue-pair")

@Suite struct GeneHarmonizerTests {
    @Test func ensemblIDsAndVersions() {
        #expect(GeneHarmonizer.isEnsemblID("ENSG00000141510"))
        #expect(GeneHarmonizer.isEnsemblID("ENSG00000141510.16"))
        #expect(GeneHarmonizer.isEnsemblID("ensmusg00000020914.3"))
        #expect(GeneHarmonizer.isEnsemblID("ENST00000269305"))
        #expect(!GeneHarmonizer.isEnsemblID("Gad2"))
        #expect(!GeneHarmonizer.isEnsemblID("ENSG001"))          // too few digits
        #expect(!GeneHarmonizer.isEnsemblID("ENSG00000141510."))  // dangling dot
        #expect(!GeneHarmonizer.isEnsemblID("ENS00000141510"))    // no feature letter
        #expect(GeneHarmonizer.strippingEnsemblVersion("ENSG00000141510.16") == "ENSG00000141510")
        #expect(GeneHarmonizer.strippingEnsemblVersion(" ENSMUSG00000020914.3 ") == "ENSMUSG00000020914")
        #expect(GeneHarmonizer.strippingEnsemblVersion("Hla.A") == "Hla.A")  // not Ensembl: dots stay
        #expect(GeneHarmonizer.normalizedKey("ensg00000141510.2") == "ENSG00000141510")
        #expect(GeneHarmonizer.normalizedKey("Gad2") == "GAD2")
    }

    @Test func caseInsensitiveAndEnsemblMatching() {
        let r = GeneHarmonizer.overlap(
            panelSymbols: ["Gad2", "TP53", "Vip", "Nope", "Sst"],
            panelIDs: ["Gad2", "ENSG00000141510.16", "Vip", "Nope", "Sst"],
            referenceSymbols: ["SST", "p53", "GAD2", "Vip", "Actb"],
            referenceIDs: ["ENSG1x", "ENSG00000141510.17", "g", "v", "a"])
        #expect(r.matchKinds == [.caseInsensitive, .ensemblID, .exact, .missing, .caseInsensitive])
        #expect(r.referenceIndexForPanel == [2, 1, 3, -1, 0])
        #expect(r.matchedCount == 4 && r.exactCount == 1)
        #expect(r.fractionMatched == 0.8)
        #expect(r.missing == ["Nope"])
        #expect(r.caseOnlyMatches == [GenePair(panel: "Gad2", reference: "GAD2"), GenePair(panel: "Sst", reference: "SST")])
        #expect(r.ensemblMatches == [GenePair(panel: "TP53", reference: "p53")])
        #expect(r.panelIndex == [0, 1, 2, 4] && r.referenceIndex == [2, 1, 3, 0])
        #expect(r.description.contains("matched 4 of 5 panel genes (80.0%)"))
        #expect(r.description.contains("Gad2 ~ GAD2"))
        // An Ensembl id written as the symbol matches a reference id too.
        let bySymbol = GeneHarmonizer.overlap(panelSymbols: ["ENSMUSG00000026787.9"], referenceSymbols: ["Gad2"],
                                              referenceIDs: ["ENSMUSG00000026787.3"])
        #expect(bySymbol.matchKinds == [.ensemblID] && bySymbol.referenceIndex == [0])
        // Exact symbol wins over a case-folded one when both exist (the reference then has duplicates).
        let both = GeneHarmonizer.overlap(panelSymbols: ["Vip"], referenceSymbols: ["VIP", "Vip"])
        #expect(both.matchKinds == [.exact] && both.referenceIndex == [1])
        #expect(both.referenceDuplicates == [DuplicateGene(key: "VIP", names: ["VIP", "Vip"], indices: [0, 1])])
    }

    @Test func duplicatesAreReportedAndSummedExactly() throws {
        let d = Dataset(name: "dups",
                        counts: csr([[1, 2, 3, 0, 4],
                                     [0, 0, 5, 6, 0],
                                     [7, 0, 0, 0, 0]]),
                        cellIDs: ["a", "b", "c"],
                        geneIDs: ["id1", "id2", "id3", "id4", "id5"],
                        geneSymbols: ["Gad2", "Vip", "GAD2", "Sst", "vip"],
                        measured: [false, true, true, true, false])
        let dups = GeneHarmonizer.duplicates(in: d)
        #expect(dups == [DuplicateGene(key: "GAD2", names: ["Gad2", "GAD2"], indices: [0, 2]),
                         DuplicateGene(key: "VIP", names: ["Vip", "vip"], indices: [1, 4])])
        #expect(dups.map(\.occurrences) == [2, 2])
        #expect(GeneHarmonizer.duplicates(in: d, key: .id).isEmpty)
        let (m, found) = GeneHarmonizer.mergingDuplicates(d)
        #expect(found == dups)
        #expect(m.geneSymbols == ["Gad2", "Vip", "Sst"] && m.geneIDs == ["id1", "id2", "id4"])
        #expect(dense(m.counts) == [[4, 6, 0], [5, 0, 6], [7, 0, 0]])
        #expect(m.measured == [true, true, true])
        #expect(m.metadata["genes.merged_duplicates"] == "Gad2×2,Vip×2")
        try m.validate(file: "merged")
        // Three occurrences, and Ensembl ids that differ only by version.
        let e = Dataset(name: "e", counts: csr([[1, 1, 1, 2], [0, 3, 0, 0]]), cellIDs: ["x", "y"],
                        geneIDs: ["ENSG00000000003.1", "ENSG00000000003.2", "ENSG00000000005", "ensg00000000003"])
        let (em, edups) = GeneHarmonizer.mergingDuplicates(e, key: .id)
        #expect(edups.map(\.occurrences) == [3] && edups[0].indices == [0, 1, 3])
        #expect(dense(em.counts) == [[4, 1], [3, 0]] && em.geneIDs == ["ENSG00000000003.1", "ENSG00000000005"])
        // Nothing to merge: unchanged.
        let (same, none) = GeneHarmonizer.mergingDuplicates(m)
        #expect(none.isEmpty && same == m)
    }

    @Test func conflictsKeepPairsOneToOne() {
        let r = GeneHarmonizer.overlap(panelSymbols: ["Gad2", "GAD2", "Sst"], referenceSymbols: ["Gad2", "Sst"])
        #expect(r.referenceIndexForPanel == [0, 0, 1])
        #expect(r.panelIndex == [0, 2] && r.referenceIndex == [0, 1])
        #expect(r.conflicts == [GenePair(panel: "GAD2", reference: "Gad2")])
        #expect(r.panelDuplicates.count == 1 && r.matchedCount == 3)
        // The report survives a JSON round trip.
        let data = try? JSONEncoder().encode(r)
        #expect(data.flatMap { try? JSONDecoder().decode(GeneOverlapReport.self, from: $0) } == r)
    }

    @Test func simulatedPanelAgainstItsReference() {
        var c = SimulationConfig.tiny
        c.cells = 200; c.referenceCells = 100
        let t = TissueSimulator.simulate(c)
        let (panel, reference, report) = GeneHarmonizer.aligned(panel: t.spatial, reference: t.reference)
        #expect(report.matchedCount == t.spatial.geneCount && report.fractionMatched == 1 && report.missing.isEmpty)
        #expect(report.exactCount == t.spatial.geneCount)
        #expect(report.referenceIndex == t.panelGeneIndices)
        #expect(panel.geneSymbols == reference.geneSymbols)
        // Seen from the reference, the held-out genes are exactly what the panel lacks.
        let back = GeneHarmonizer.overlap(panel: t.reference, reference: t.spatial)
        #expect(back.missing == t.heldOutGenes)
    }

    @Test(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data beside the checkout"))
    func osmFISHPairSharesItsPanel() throws {
        let spatialPath = pairFolder + "/Spatial_count.txt", scrnaPath = pairFolder + "/scRNA_count.txt"
        let spatial = try DelimitedTable(path: spatialPath)       // genes are the header (cells x genes)
        let scrna = try DelimitedTable(path: scrnaPath)           // genes are the first column (genes x cells)
        let panel = try #require(spatial.header), referenceGenes = try scrna.strings(0)
        #expect(panel.count == 33 && referenceGenes.count == 33)
        let r = GeneHarmonizer.overlap(panelSymbols: panel, referenceSymbols: referenceGenes,
                                       panelName: "osmFISH", referenceName: "Allen scRNA")
        #expect(r.matchedCount == 33 && r.fractionMatched == 1 && r.missing.isEmpty && r.exactCount == 33)
        #expect(r.panelDuplicates.isEmpty && r.referenceDuplicates.isEmpty)
        #expect(r.panelIndex.map { panel[$0] } == r.referenceIndex.map { referenceGenes[$0] })
        // A reference written in upper case still matches, every gene as a case-only match.
        let upper = GeneHarmonizer.overlap(panelSymbols: panel, referenceSymbols: referenceGenes.map { $0.uppercased() })
        #expect(upper.matchedCount == 33 && upper.caseOnlyMatches.count == 33 && upper.exactCount == 0)
        // Against a reference lacking two genes.
        let fewer = GeneHarmonizer.overlap(panelSymbols: panel, referenceSymbols: referenceGenes.filter { $0 != "Gad2" && $0 != "Vip" })
        #expect(fewer.missing == ["Gad2", "Vip"] && fewer.matchedCount == 31)
    }
}
