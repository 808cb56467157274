import Foundation
import Testing
import CellLM
import SpatialData
import Tensor
@testable import Workflows

/// The imputation core on simulated tissue (TissueSimulator: a spatial panel, an scRNA reference with every
/// gene, and the all-gene truth).
@Suite(.serialized) struct ImputeTests {
    /// 1,600 cells × 160 genes in 4 FOVs, 4 types, 1,000 reference cells: a few seconds of fine-tuning.
    static let tissue: SimulatedTissue = {
        var c = SimulationConfig.tiny
        c.cells = 1_600; c.genes = 160
        c.meanLibrarySize = 80
        return TissueSimulator.simulate(c)
    }()

    static func settings(steps: Int) -> ImputationSettings {
        var s = ImputationSettings()
        s.preset = "tiny"; s.steps = steps; s.warmupSteps = 20; s.learningRate = 3e-3; s.seed = 5
        return s
    }

    @Test func heldOutGenesAreStratifiedAndSeeded() throws {
        let t = Self.tissue
        let a = try HeldOutGenes.select(query: t.spatial, reference: t.reference, count: 24, seed: 11)
        let b = try HeldOutGenes.select(query: t.spatial, reference: t.reference, count: 24, seed: 11)
        let c = try HeldOutGenes.select(query: t.spatial, reference: t.reference, count: 24, seed: 12)
        #expect(a == b, "same seed, same genes")
        #expect(a.columns != c.columns, "another seed draws other genes")
        #expect(a.columns.count == 24 && Set(a.columns).count == 24)
        // Round-robin over the sparsity bins: bins that did not run out contribute equally (±1).
        let open = a.binTaken.indices.filter { a.binTaken[$0] < a.binSizes[$0] }.map { a.binTaken[$0] }
        #expect((open.max() ?? 0) - (open.min() ?? 0) <= 1, "taken \(a.binTaken) of \(a.binSizes)")
        #expect(a.binSizes.filter { $0 > 0 }.count >= 2, "the simulated panel spans several sparsity bins: \(a.binSizes)")
        let zero = HeldOutGenes.zeroRates(t.spatial)
        for (k, j) in a.columns.enumerated() {
            let bin = HeldOutGenes.binEdges.firstIndex { zero[j] <= $0 }!
            #expect(a.binTaken[bin] > 0, "gene \(a.genes[k]) comes from a bin that was sampled")
        }
        #expect(throws: WorkflowError.self) { try HeldOutGenes.select(query: t.spatial, reference: t.reference, count: 100_000, seed: 1) }
    }

    /// Evaluation: held-out panel genes predicted by the fine-tuned model (read from latent neighbours or from
    /// the decoder) correlate with the truth better than the reference mean profile scaled to each cell's depth.
    @Test(arguments: ImputationSettings.Transfer.allCases)
    func imputationBeatsMeanProfile(transfer: ImputationSettings.Transfer) throws {
        let t = Self.tissue
        let plan = try ImputePlan.make(query: t.spatial, reference: t.reference, mode: .evaluation, heldOut: 16, genes: nil, seed: 3)
        #expect(plan.targetGenes.count == 16 && plan.visibleQuery.geneCount == t.spatial.geneCount - 16)
        var settings = Self.settings(steps: 300)
        settings.transfer = transfer
        let imputer = try Imputer(query: plan.visibleQuery, reference: t.reference, settings: settings)
        #expect(imputer.vocabulary.count == t.reference.geneCount, "vocabulary is the union: the reference holds every gene")
        for s in 0..<300 { try imputer.train(step: s) }
        let pred = try imputer.predict(genes: plan.targetGenes)
        let truth = t.spatial.denseColumns(plan.heldOutQueryColumns)
        let lib = plan.visibleQuery.counts.rowSums()
        let ours = ImputationMetrics.score(genes: plan.targetGenes, truth: truth, prediction: pred.values, truthLibrary: lib, predictionLibrary: lib)
        let base = ImputationMetrics.score(genes: plan.targetGenes, truth: truth,
                                           prediction: MeanProfileBaseline.predict(query: plan.visibleQuery, reference: t.reference,
                                                                                  targetReferenceColumns: plan.targetReferenceColumns),
                                           truthLibrary: lib, predictionLibrary: lib)
        #expect(ours.pearsonMean > base.pearsonMean + 0.05, "Pearson mean: ours \(ours.pearsonMean), mean profile \(base.pearsonMean)")
        #expect(ours.pearsonMedian > base.pearsonMedian, "Pearson median: ours \(ours.pearsonMedian), mean profile \(base.pearsonMedian)")
        #expect(pred.values.data.allSatisfy { $0.isFinite && $0 >= 0 })
    }

    /// With every reference cell as a neighbour, the neighbour transfer is the reference's mean panel-normalised
    /// profile times each cell's panel library, whatever the embedding: the plumbing (cell order, panel totals,
    /// target columns) checked against a direct computation.
    @Test func neighbourTransferWithAllCellsIsTheMeanProfile() throws {
        let t = Self.tissue
        let plan = try ImputePlan.make(query: t.spatial, reference: t.reference, mode: .evaluation, heldOut: 5, genes: nil, seed: 4)
        var settings = Self.settings(steps: 0)
        settings.transfer = .neighbours
        settings.transferNeighbours = t.reference.cellCount
        let imputer = try Imputer(query: plan.visibleQuery, reference: t.reference, settings: settings)
        let pred = try imputer.predict(genes: plan.targetGenes)
        let panel = Set(plan.visibleQuery.geneSymbols)
        let panelCols = t.reference.geneSymbols.indices.filter { panel.contains(t.reference.geneSymbols[$0]) }
        let ref = t.reference.denseColumns(Array(0..<t.reference.geneCount))
        var profile = [Double](repeating: 0, count: plan.targetGenes.count)
        var cells = 0
        for r in 0..<t.reference.cellCount {
            let total = panelCols.reduce(0.0) { $0 + Double(ref[r, $1]) }
            guard total > 0 else { continue }
            cells += 1
            for (k, c) in plan.targetReferenceColumns.enumerated() { profile[k] += Double(ref[r, c]) / total }
        }
        let library = plan.visibleQuery.counts.rowSums()
        var worst = 0.0
        for i in 0..<plan.visibleQuery.cellCount {
            for k in profile.indices {
                let expected = library[i] * profile[k] / Double(cells)
                worst = max(worst, abs(Double(pred.values[i, k]) - expected) / max(1e-6, expected))
            }
        }
        #expect(worst < 1e-3, "largest relative difference \(worst)")
        #expect(pred.panelLibrary == library)
    }

    /// Input harmonisation: the query's scaled panel genes have the reference's mean library-normalised
    /// expression.
    @Test func harmonizedQueryHasTheReferenceGeneMeans() throws {
        let t = Self.tissue
        var settings = Self.settings(steps: 0)
        settings.harmonizeInput = true
        settings.normalizeInput = true
        let imputer = try Imputer(query: t.spatial, reference: t.reference, settings: settings)
        func means(_ set: SequenceSet, scale: [Float]?) -> [Double] {
            var sum = [Double](repeating: 0, count: imputer.vocabulary.count)
            var n = 0
            for seq in set.sequences {
                for i in 0..<seq.cells {
                    let r = seq.counts.indptr[i]..<seq.counts.indptr[i + 1]
                    let total = r.filter { imputer.panel.contains(seq.counts.indices[$0]) }.reduce(0.0) { $0 + Double(seq.counts.values[$1]) }
                    guard total > 0 else { continue }
                    n += 1
                    for z in r where imputer.panel.contains(seq.counts.indices[z]) {
                        let g = Int(seq.counts.indices[z])
                        sum[g] += 1e4 * Double(seq.counts.values[z]) / total * Double(scale?[g] ?? 1)
                    }
                }
            }
            return sum.map { $0 / Double(n) }
        }
        let q = means(imputer.query, scale: imputer.queryGeneScale), r = means(imputer.reference, scale: nil)
        for g in imputer.panel.prefix(40) where r[Int(g)] > 0 {
            #expect(abs(q[Int(g)] - r[Int(g)]) / r[Int(g)] < 1e-3, "gene \(imputer.vocabulary[Int(g)]): query \(q[Int(g)]) vs reference \(r[Int(g)])")
        }
        // Without library normalisation the same factors (of count means) reach the model at inference too, as in
        // training.
        settings.normalizeInput = false
        let raw = try Imputer(query: t.spatial, reference: t.reference, settings: settings)
        let seq = raw.query.sequences[0], seen = raw.inferenceInput(seq)
        let scale = try #require(raw.queryGeneScale)
        #expect(scale.contains { abs($0 - 1) > 0.05 }, "the simulated platform has per-gene capture, so factors differ from 1")
        let mismatched = (0..<seq.counts.nnz).filter { seen.counts.values[$0] != seq.counts.values[$0] * scale[Int(seq.counts.indices[$0])] }
        #expect(mismatched.isEmpty, "\(mismatched.count) of \(seq.counts.nnz) inference inputs lack the gene factor")
    }

    /// Fine-tuning from a checkpoint takes its vocabulary and weights; a gene outside it cannot be predicted.
    @Test func startsFromACheckpoint() throws {
        let t = Self.tissue
        let first = try Imputer(query: t.spatial, reference: t.reference, settings: Self.settings(steps: 10))
        for s in 0..<10 { try first.train(step: s) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-impute-\(UUID().uuidString).tsr")
        defer { try? FileManager.default.removeItem(at: url) }
        try first.checkpoint().write(to: url)
        var s = Self.settings(steps: 5)
        s.checkpoint = url
        let second = try Imputer(query: t.spatial, reference: t.reference, settings: s)
        #expect(second.vocabulary == first.vocabulary)
        #expect(second.model.params.array("decoder.out_layer.dec_mean.0.bias") == first.model.params.array("decoder.out_layer.dec_mean.0.bias"))
        for k in 0..<5 { try second.train(step: k) }
        let p = try second.predict(genes: Array(t.heldOutGenes.prefix(4)))
        #expect(p.values.rows == t.spatial.cellCount && p.values.data.allSatisfy { $0.isFinite && $0 >= 0 })
        #expect(throws: WorkflowError.self) { try second.predict(genes: ["NotInVocabulary"]) }
    }

    /// Production: the genes the panel lacks (the simulator's held-out genes) are the targets.
    @Test func productionPredictsGenesAbsentFromThePanel() throws {
        let t = Self.tissue
        let plan = try ImputePlan.make(query: t.spatial, reference: t.reference, mode: .production, heldOut: 0.2, genes: nil, seed: 0)
        #expect(Set(plan.targetGenes) == Set(t.heldOutGenes), "targets \(plan.targetGenes.prefix(5)) vs \(t.heldOutGenes.prefix(5))")
        let listed = try ImputePlan.make(query: t.spatial, reference: t.reference, mode: .production, heldOut: 0.2,
                                         genes: Array(t.heldOutGenes.prefix(3)), seed: 0)
        #expect(listed.targetGenes == Array(t.heldOutGenes.prefix(3)))
    }

    /// Per-gene scores on log1p(1e4·x/L) against values computed with numpy on the same 3 cells × 2 genes.
    @Test func metricsMatchNumpy() {
        let truth = Matrix(rows: 3, cols: 2, data: [0, 5, 2, 1, 4, 0]), pred = Matrix(rows: 3, cols: 2, data: [1, 4, 2, 2, 3, 0])
        let lib = [10.0, 20, 40]
        let s = ImputationMetrics.score(genes: ["a", "b"], truth: truth, prediction: pred, truthLibrary: lib, predictionLibrary: lib)
        let expected: [(Double, Double, Double, Double)] = [(-0.5, 0.8105968484830122, 3.9922200224025426, 2.3987013022887687),
                                                            (0.9942179904719778, 0.9979514783592124, 0.4198573291141035, 0.3050807469306749)]
        for (g, e) in zip(s.genes, expected) {
            #expect(abs(g.pearson! - e.0) < 1e-6 && abs(g.cosine - e.1) < 1e-6 && abs(g.rmse - e.2) < 1e-5 && abs(g.mae - e.3) < 1e-5, "\(g) vs \(e)")
        }
        #expect(abs(s.pearsonMean - (expected[0].0 + expected[1].0) / 2) < 1e-6)
        let constant = ImputationMetrics.score(genes: ["c"], truth: Matrix(rows: 3, cols: 1, data: [1, 2, 3]), prediction: Matrix(rows: 3, cols: 1, data: [2, 2, 2]))
        #expect(constant.genes[0].pearson == nil && constant.undefinedPearson == 1 && constant.pearsonMean == 0, "a constant prediction has no r and counts as 0")
    }

    @Test func badInputIsRefusedBeforeCompute() throws {
        let t = Self.tissue
        var alien = t.reference
        alien.geneIDs = alien.geneIDs.map { "X" + $0 }; alien.geneSymbols = alien.geneSymbols.map { "x" + $0 }
        #expect { try ImputePlan.make(query: t.spatial, reference: alien, mode: .evaluation, heldOut: 5, genes: nil, seed: 0) } throws: { e in
            guard case WorkflowError.badInput(let role, _, let m) = e else { return false }
            return role == "reference" && m.contains("shares no gene")
        }
        #expect { try ImputePlan.make(query: t.spatial, reference: t.reference, mode: .production, heldOut: 0.2, genes: ["NotAGene"], seed: 0) } throws: { e in
            guard case WorkflowError.invalidParameter(let n, let m) = e else { return false }
            return n == "genes" && m.contains("NotAGene") && m.contains("not a gene of the reference")
        }
        #expect { try ImputePlan.make(query: t.spatial, reference: t.reference, mode: .production, heldOut: 0.2, genes: [t.spatial.geneSymbols[0]], seed: 0) } throws: { e in
            guard case WorkflowError.invalidParameter(let n, let m) = e else { return false }
            return n == "genes" && m.contains("measured by the spatial panel")
        }
        for bad in [100_000.0, 2.5] {
            #expect { try ImputePlan.make(query: t.spatial, reference: t.reference, mode: .evaluation, heldOut: bad, genes: nil, seed: 0) } throws: { e in
                guard case WorkflowError.invalidParameter(let n, _) = e else { return false }
                return n == "heldout_genes"
            }
        }
    }
}
