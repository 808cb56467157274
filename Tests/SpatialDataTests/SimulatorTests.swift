import Foundation
import Testing
import Tensor
@testable import SpatialData

/// One tiny tissue shared by the tests that only read it (simulated once, lazily).
private let tiny = TissueSimulator.simulate(.tiny)


/// Codes of a categorical obs column.
private func codes(_ d: Dataset, _ column: String) -> [Int32] {
    guard case .categorical(let c)? = d.obs[column] else { Issue.record("obs/\(column) is not categorical"); return [] }
    return c.codes
}

private func floats(_ d: Dataset, _ column: String, vars: Bool = false) -> [Double] {
    (vars ? d.vars[column] : d.obs[column])?.numericValues ?? []
}

/// Mean of each column over the listed rows.
private func columnMeans(_ m: CSRMatrix, rows: [Int]) -> [Double] {
    var s = [Double](repeating: 0, count: m.cols)
    for r in rows { for k in m.indptr[r]..<m.indptr[r + 1] { s[Int(m.indices[k])] += Double(m.values[k]) } }
    return s.map { $0 / Double(max(1, rows.count)) }
}

private func pearson(_ a: [Double], _ b: [Double]) -> Double {
    let n = Double(a.count), ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for i in a.indices { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb) }
    return sab / (saa * sbb).squareRoot()
}

@Suite struct SimulatorTests {
    @Test func sameSeedGivesIdenticalDatasets() {
        let again = TissueSimulator.simulate(.tiny)
        #expect(again.spatial == tiny.spatial)
        #expect(again.spatialFull == tiny.spatialFull)
        #expect(again.reference == tiny.reference)
        #expect(again.heldOutGenes == tiny.heldOutGenes)
    }

    @Test func differentSeedGivesDifferentData() {
        var c = SimulationConfig.tiny
        c.seed = 1
        let other = TissueSimulator.simulate(c)
        #expect(other.spatial.counts != tiny.spatial.counts)
        #expect(other.reference.counts != tiny.reference.counts)
        #expect(other.spatial.coordinates != tiny.spatial.coordinates)
        #expect(other.spatial.metadata["simulation.seed"] == "1")
    }

    @Test func shapesNamesAndValidation() throws {
        let c = SimulationConfig.tiny
        let (s, f, r) = (tiny.spatial, tiny.spatialFull, tiny.reference)
        #expect(s.cellCount == c.cells && f.cellCount == c.cells && r.cellCount == c.referenceCells)
        #expect(f.geneCount == c.genes && r.geneCount == c.genes)
        #expect(s.geneCount == c.genes - c.heldOutCount)
        #expect(tiny.heldOutGenes.count == c.heldOutCount && c.heldOutCount == 20)
        #expect(s.cellIDs.first == "cell_0000001" && s.cellIDs.last == "cell_0002000")
        #expect(f.geneIDs.first == "GENE00001" && f.geneSymbols.first == "Gene1" && f.geneSymbols.last == "Gene200")
        #expect(r.cellIDs.first == "ref_0000001")
        #expect(s.platform == "simulated" && r.platform == "scrna")
        #expect(s.coordinates?.unit == .micrometre && s.coordinates?.count == c.cells && r.coordinates == nil)
        #expect(s.fov?.categories == ["fov01", "fov02", "fov03", "fov04"] && r.fov == nil)
        #expect(s.fov?.categoryCounts() == [500, 500, 500, 500])
        #expect(s.batch.categories == ["slide1", "slide2"] && r.batch.categories == ["donor1", "donor2"])
        #expect(s.measured.allSatisfy { $0 } && f.measured.allSatisfy { $0 })
        for d in [s, f, r] {
            #expect(codes(d, "cell_type").count == d.cellCount)
            if case .categorical(let ct)? = d.obs["cell_type"] { #expect(ct.categories == ["type1", "type2", "type3", "type4"]) }
            try d.validate(file: d.name)
        }
        #expect(codes(s, "domain").count == c.cells)
        // Coordinates: FOVs tile a 2 × 2 grid of 1000 µm squares; local coordinates lie inside the FOV.
        let xy = try #require(s.coordinates)
        #expect(xy.x.allSatisfy { $0 >= 0 && $0 < 2_000 } && xy.y.allSatisfy { $0 >= 0 && $0 < 2_000 })
        #expect(floats(s, "x_fov").allSatisfy { $0 >= 0 && $0 < c.fovSizeMicrons })
        // The panel is exactly the full matrix's panel columns.
        #expect(f.selectingGenes(tiny.panelGeneIndices).counts == s.counts)
        #expect(s.counts.values.allSatisfy { $0 > 0 && $0 == $0.rounded() })
    }

    @Test func heldOutGenesAbsentFromPanelPresentInReference() {
        let held = Set(tiny.heldOutGenes)
        #expect(held.count == tiny.heldOutGenes.count)
        #expect(tiny.spatial.geneSymbols.allSatisfy { !held.contains($0) })
        #expect(held.isSubset(of: Set(tiny.reference.geneSymbols)))
        #expect(held.isSubset(of: Set(tiny.spatialFull.geneSymbols)))
        #expect(tiny.spatial.metadata["simulation.held_out_genes"] == tiny.heldOutGenes.joined(separator: ","))
        #expect(tiny.heldOutGeneIndices.map { tiny.reference.geneSymbols[$0] } == tiny.heldOutGenes)
        #expect(tiny.spatialFull.vars["held_out"] == .bool(tiny.spatialFull.geneSymbols.map { held.contains($0) }))
        // Held-out genes come from the expressed genes: their reference mean beats the panel's.
        let means = columnMeans(tiny.reference.counts, rows: Array(0..<tiny.reference.cellCount))
        let heldMean = tiny.heldOutGeneIndices.map { means[$0] }.reduce(0, +) / Double(tiny.heldOutGeneIndices.count)
        let panelMean = tiny.panelGeneIndices.map { means[$0] }.reduce(0, +) / Double(tiny.panelGeneIndices.count)
        #expect(heldMean > 2 * panelMean)
        // The config travels with the data.
        let json = tiny.spatial.metadata["simulation.config"] ?? ""
        let decoded = try? JSONDecoder().decode(SimulationConfig.self, from: Data(json.utf8))
        #expect(decoded == SimulationConfig.tiny)
    }

    @Test func sparsityAndLibrarySizes() {
        let c = SimulationConfig.tiny
        let zeros = 1 - tiny.spatial.counts.density
        #expect(zeros > 0.80 && zeros < 0.95, "panel zero fraction \(zeros)")
        let lib = tiny.spatialFull.counts.rowSums()
        let mean = lib.reduce(0, +) / Double(lib.count)
        #expect(mean > 0.8 * c.meanLibrarySize && mean < 1.25 * c.meanLibrarySize, "mean library \(mean)")
        let sorted = lib.sorted()
        #expect(sorted[lib.count / 20] > 0.25 * mean && sorted[lib.count * 19 / 20] < 4 * mean)
        let refLib = tiny.reference.counts.rowSums()
        let refMean = refLib.reduce(0, +) / Double(refLib.count)
        #expect(refMean > 0.7 * c.referenceLibrarySize && refMean < 1.4 * c.referenceLibrarySize, "reference library \(refMean)")
        #expect(tiny.reference.counts.density > tiny.spatialFull.counts.density)
    }

    @Test func markerGenesAreHigherInTheirType() {
        let d = tiny.spatialFull
        let type = codes(d, "cell_type")
        for (k, markers) in tiny.markerGenes.enumerated() {
            #expect(markers.count == SimulationConfig.tiny.effectiveMarkersPerType)
            let inType = columnMeans(d.counts, rows: type.indices.filter { type[$0] == k })
            let others = columnMeans(d.counts, rows: type.indices.filter { type[$0] != k })
            let ratios = markers.map { (inType[$0] + 0.01) / (others[$0] + 0.01) }.sorted()
            #expect(ratios[ratios.count / 2] > 2.5, "type\(k + 1) median marker ratio \(ratios[ratios.count / 2])")
        }
        #expect(d.vars["is_marker"] == .bool((0..<d.geneCount).map { g in tiny.markerGenes.contains { $0.contains(g) } }))
    }

    /// Spill-over / ambient counts blur the spatial side only: markers lose most of their contrast there
    /// (a fraction a of the rates is the type average, so in-type / other-type ratios move towards 1), the
    /// reference is untouched.
    @Test func ambientFractionBlursOnlyTheSpatialSide() {
        var c = SimulationConfig.tiny
        c.spatialAmbientFraction = 0.6
        let blurred = TissueSimulator.simulate(c)
        #expect(blurred.reference.counts.values == tiny.reference.counts.values)
        func medianMarkerRatio(_ t: SimulatedTissue) -> Double {
            let d = t.spatialFull, type = codes(d, "cell_type")
            var ratios: [Double] = []
            for (k, markers) in t.markerGenes.enumerated() {
                let inType = columnMeans(d.counts, rows: type.indices.filter { type[$0] == k })
                let others = columnMeans(d.counts, rows: type.indices.filter { type[$0] != k })
                ratios += markers.map { (inType[$0] + 0.01) / (others[$0] + 0.01) }
            }
            return ratios.sorted()[ratios.count / 2]
        }
        let sharp = medianMarkerRatio(tiny), blur = medianMarkerRatio(blurred)
        #expect(blur > 1.2 && blur < 0.5 * sharp, "median marker ratio \(blur) with ambient 0.6, \(sharp) without")
    }

    @Test func domainsAreLayeredAlongYWithinEachFOV() throws {
        let s = tiny.spatial
        let domain = codes(s, "domain"), type = codes(s, "cell_type"), ly = floats(s, "y_fov")
        let fov = try #require(s.fov)
        for f in fov.categories.indices {
            let rows = fov.codes.indices.filter { fov.codes[$0] == f }
            let r = pearson(rows.map { Double(domain[$0]) }, rows.map { ly[$0] })
            #expect(r > 0.9, "FOV \(f): corr(domain, y) = \(r)")
            // The mean depth of each layer increases with the layer index.
            let meanY = (0..<SimulationConfig.tiny.domains).map { d -> Double in
                let ys = rows.filter { domain[$0] == d }.map { ly[$0] }
                return ys.reduce(0, +) / Double(max(1, ys.count))
            }
            #expect(meanY == meanY.sorted())
        }
        // And each layer is dominated by its own type.
        for d in 0..<SimulationConfig.tiny.domains {
            let rows = domain.indices.filter { domain[$0] == d }
            let dominant = Double(rows.filter { Int(type[$0]) == d % SimulationConfig.tiny.cellTypes }.count) / Double(rows.count)
            #expect(dominant > 0.6 && dominant < 0.95, "layer\(d + 1) dominant fraction \(dominant)")
        }
    }

    @Test func batchEffectIsPresentAndFollowsTheTruth() {
        var c = SimulationConfig.tiny
        c.batchEffectSD = 0.5
        c.cells = 4_000
        let t = TissueSimulator.simulate(c)
        let d = t.spatialFull
        let slide = d.batch.codes
        let m1 = columnMeans(d.counts, rows: slide.indices.filter { slide[$0] == 0 })
        let m2 = columnMeans(d.counts, rows: slide.indices.filter { slide[$0] == 1 })
        let f1 = floats(d, "batch_factor_slide1", vars: true), f2 = floats(d, "batch_factor_slide2", vars: true)
        let genes = (0..<d.geneCount).filter { m1[$0] > 0.2 && m2[$0] > 0.2 }
        #expect(genes.count > 20)
        let observed = genes.map { Foundation.log(m2[$0] / m1[$0]) }, truth = genes.map { Foundation.log(f2[$0] / f1[$0]) }
        let r = pearson(observed, truth)
        #expect(r > 0.7, "corr(observed, true) batch log ratio = \(r)")
        // Without a batch effect the factors are all one.
        var none = SimulationConfig.tiny
        none.batchEffectSD = 0
        let flat = TissueSimulator.simulate(none)
        #expect(floats(flat.spatialFull, "batch_factor_slide2", vars: true).allSatisfy { $0 == 1 })
    }

    @Test func negativeBinomialSamplerMatchesMoments() {
        var rng = SeededRNG(seed: 7)
        for (mu, theta) in [(0.1, 2.0), (2.0, 0.5), (15.0, 3.0), (60.0, 2.0)] {
            let n = 100_000
            var s = 0.0, s2 = 0.0
            for _ in 0..<n { let v = Double(sampleNegativeBinomial(mean: mu, theta: theta, rng: &rng)); s += v; s2 += v * v }
            let mean = s / Double(n), variance = s2 / Double(n) - mean * mean
            let want = mu + mu * mu / theta
            #expect(abs(mean - mu) < 0.03 * mu + 0.005, "mu \(mu) theta \(theta): mean \(mean)")
            #expect(abs(variance - want) < 0.08 * want, "mu \(mu) theta \(theta): variance \(variance) want \(want)")
        }
    }

    @Test func blocksDoNotChangeWithCellCountOfOtherFOVs() {
        // Block seeds depend on (seed, FOV, block), so one FOV's cells do not depend on the others':
        // the first FOV of a 1-FOV and of a 4-FOV tissue with the same cells per FOV have the same layout.
        var a = SimulationConfig.tiny; a.fovs = 1; a.cells = 500
        let one = TissueSimulator.simulate(a)
        let rows = Array(0..<500)
        #expect(one.spatial.coordinates == tiny.spatial.selectingCells(rows).coordinates)
        #expect(codes(one.spatial, "domain") == Array(codes(tiny.spatial, "domain")[0..<500]))
    }
}
