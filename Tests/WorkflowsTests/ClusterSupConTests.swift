import Foundation
import Testing
import Analysis
import CellLM
import SpatialData
import Tensor
@testable import Workflows

/// cluster-supcon's pieces without a job folder: the label column and its stratified split, refusals of bad
/// input before compute, the three-way scoring, and the point of it all: SupCon fine-tuning raises the ARI of
/// held-out cells over the zero-shot embedding of the same model on simulated tissue with known cell types.
@Suite struct ClusterSupConTests {
    /// Simulated tissue whose types are hard to separate from expression alone (few, weak markers, shallow
    /// counts), so a briefly pretrained model's zero-shot clusters are imperfect.
    static let tissue: SimulatedTissue = {
        var c = SimulationConfig.tiny
        c.cells = 1_600; c.genes = 120; c.fovs = 4; c.cellTypes = 5; c.domains = 5
        c.markerGenesPerType = 3; c.markerLogFoldChange = 0.9; c.meanLibrarySize = 40; c.classEffectSD = 0.4
        c.seed = 3
        return TissueSimulator.simulate(c)
    }()

    @Test func labelsAndStratifiedSplit() throws {
        var ds = Self.tissue.spatial
        // Make a quarter of the cells unlabelled in several spellings.
        var text = (0..<ds.cellCount).map { ds.obs["cell_type"]!.text($0)! }
        for i in stride(from: 0, to: text.count, by: 4) { text[i] = ["Unknown", "", "NA", "nan"][(i / 4) % 4] }
        ds.obs["partial"] = .string(text)
        let a = try SupervisedLabels.make(ds, column: "partial", heldOutFraction: 0.25, seed: 9)
        let b = try SupervisedLabels.make(ds, column: "partial", heldOutFraction: 0.25, seed: 9)
        let c = try SupervisedLabels.make(ds, column: "partial", heldOutFraction: 0.25, seed: 10)
        #expect(a == b && a.heldOut != c.heldOut, "the split is a function of the seed")
        #expect(a.classes == ["type1", "type2", "type3", "type4", "type5"])
        #expect(a.labelledCount == ds.cellCount - (ds.cellCount + 3) / 4)
        for i in stride(from: 0, to: ds.cellCount, by: 4) { #expect(a.codes[i] == -1 && !a.heldOut[i]) }
        for k in 0..<a.classes.count {
            let members = a.codes.indices.filter { a.codes[$0] == Int32(k) }
            let held = members.filter { a.heldOut[$0] }.count
            #expect(held == Int((0.25 * Double(members.count)).rounded()), "class \(k): \(held) of \(members.count) held out")
        }
    }

    /// The message of the error `body` throws, nil when it throws none.
    static func refusal(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch { return "\(error)" }
    }

    @Test func badInputIsRefusedBeforeCompute() throws {
        var ds = Self.tissue.spatial
        let missing = Self.refusal { _ = try ClusterSupConData.prepare(ds, settings: .init(labelColumn: "celltype"), vocabulary: nil) }
        #expect(missing?.contains("'celltype'") == true && missing?.contains("cell_type, domain") == true,
                "the message lists the columns there are: \(missing ?? "accepted")")
        ds.obs["one"] = .string((0..<ds.cellCount).map { $0 % 3 == 0 ? "Unknown" : "neuron" })
        let single = Self.refusal { _ = try ClusterSupConData.prepare(ds, settings: .init(labelColumn: "one"), vocabulary: nil) }
        #expect(single?.contains("single class ('neuron')") == true, "\(single ?? "accepted")")
        var s = ClusterSupConSettings(labelColumn: "cell_type")
        s.heldOutFraction = 0.95
        let settings = s
        #expect(Self.refusal { _ = try ClusterSupConData.prepare(ds, settings: settings, vocabulary: nil) }?.contains("heldout_fraction") == true)
        var t = ClusterSupConSettings(labelColumn: "cell_type"); t.temperature = 0
        #expect(Self.refusal { try t.validate() }?.contains("temperature") == true)
        var r = ClusterSupConSettings(labelColumn: "cell_type"); r.resolutions = []
        #expect(Self.refusal { try r.validate() }?.contains("resolution") == true)
        let noGenes = Self.refusal { _ = try ClusterSupConData.prepare(ds, settings: .init(labelColumn: "cell_type"), vocabulary: ["NOPE1", "NOPE2"]) }
        #expect(noGenes?.contains("shares no measured gene") == true, "\(noGenes ?? "accepted")")
    }

    /// The scoring on a hand-made case: labels recovered exactly at one resolution, partly elsewhere.
    @Test func threeWayScoring() throws {
        let truth: [Int32] = [0, 0, 0, 1, 1, 1, 2, 2, 2, -1]
        let held = [false, false, true, false, false, true, false, false, true, false]
        let coarse = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1], exact = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2], fine = [0, 1, 0, 2, 3, 2, 4, 5, 4, 5]
        let ev = try ClusterEvaluation.score(partitions: [coarse, exact, fine], resolutions: [0.2, 0.6, 1.0], kmeans: exact,
                                             truth: truth, heldOut: held, classCount: 3)
        #expect(ev.labelFreeIndex == 1 && ev.scores["resolution_label_free"] == 0.6)
        #expect(ev.scores["ari_label_free_incl_training"] == 1 && ev.scores["ari_heldout"] == 1 && ev.scores["ari_best_incl_training"] == 1)
        #expect(ev.scores["nmi_kmeans_incl_training"]! > 0.999 && ev.scores["heldout_cells"] == 3 && ev.scores["labelled_cells"] == 9)
        #expect(ev.scores["ari_res1_incl_training"]! < 0.6)
        #expect(ClusterEvaluation.grid(min: 0.1, max: 1.4, step: 0.1) == (1...14).map { Double($0) / 10 })
        #expect(ev.scores["label_free_rule"] == 1)   // no stability given: the class-count rule, and it says so
    }

    /// The label-free rule by stability never looks at labels: the most stable resolution, the finest within
    /// 0.01 of it; with stability given, the choice ignores the class count.
    @Test func labelFreeResolutionByStability() throws {
        #expect(ClusterEvaluation.mostStable([1.0, 0.95, 0.995, 0.7]) == 2)
        #expect(ClusterEvaluation.mostStable([0.6, 0.9, 0.8]) == 1)
        #expect(try ClusterEvaluation.meanPairwiseARI([[0, 0, 1, 1], [1, 1, 0, 0], [0, 0, 1, 1]]) == 1)
        #expect(try ClusterEvaluation.meanPairwiseARI([[0, 0, 1, 1], [0, 1, 0, 1]]) < 0)
        let truth: [Int32] = [0, 0, 0, 1, 1, 1, 2, 2, 2, -1]
        let held = [false, false, true, false, false, true, false, false, true, false]
        let coarse = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1], exact = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
        let ev = try ClusterEvaluation.score(partitions: [coarse, exact], resolutions: [0.2, 0.6], kmeans: exact, truth: truth,
                                             heldOut: held, classCount: 3, stability: [1.0, 0.8])
        #expect(ev.labelFreeIndex == 0 && ev.scores["label_free_rule"] == 0 && ev.scores["ari_heldout_class_count"] == 1)
        #expect(ev.scores["ari_heldout"]! < 1)
    }

    /// SupCon fine-tuning on the training cells' labels raises the held-out cells' ARI (label-free resolution)
    /// and their k-means ARI above the zero-shot embedding of the same pretrained model.
    @Test func supConBeatsZeroShotOnHeldOutCells() throws {
        var s = ClusterSupConSettings(labelColumn: "cell_type")
        s.preset = "tiny"; s.pretrainSteps = 150; s.steps = 300; s.cellsPerStep = 256; s.learningRate = 1e-3
        s.heldOutFraction = 0.3; s.seed = 5
        let out = try ClusterSupCon.run(Self.tissue.spatial, settings: s)
        #expect(out.fineTuneLoss.suffix(20).reduce(0, +) < out.fineTuneLoss.prefix(20).reduce(0, +), "SupCon loss did not fall")
        let args = (truth: out.data.labels.codes, held: out.data.labels.heldOut, k: out.data.labels.classes.count)
        let zero = try ClusterEvaluation.run(embedding: out.zeroShot, truth: args.truth, heldOut: args.held, classCount: args.k,
                                             resolutions: s.resolutions, seed: 1).scores
        let tuned = try ClusterEvaluation.run(embedding: out.fineTuned, truth: args.truth, heldOut: args.held, classCount: args.k,
                                              resolutions: s.resolutions, seed: 1).scores
        #expect(tuned["ari_heldout"]! > zero["ari_heldout"]! + 0.1, "held-out ARI: zero-shot \(zero["ari_heldout"]!) → SupCon \(tuned["ari_heldout"]!)")
        #expect(tuned["ari_kmeans_heldout"]! > zero["ari_kmeans_heldout"]!, "held-out k-means ARI: \(zero["ari_kmeans_heldout"]!) → \(tuned["ari_kmeans_heldout"]!)")
    }
}
