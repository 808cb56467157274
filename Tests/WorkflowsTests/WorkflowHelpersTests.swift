import CellLM
import Foundation
import SpatialData
import Tensor
import Testing
@testable import Workflows

/// The helpers workflows share: gene-union vocabularies, checkpoint files, the training loop, progress ETA and
/// metrics.json.
@Suite struct WorkflowHelpersTests {
    typealias T = WorkflowTestSupport

    static func dataset(_ ids: [String], symbols: [String], measured: [Bool]? = nil) -> Dataset {
        Dataset(name: "d", counts: CSRMatrix(dense: Matrix(rows: 1, cols: ids.count, data: [Float](repeating: 1, count: ids.count))),
                cellIDs: ["c"], geneIDs: ids, geneSymbols: symbols, measured: measured)
    }

    @Test func geneUnionMatchesByIdOrSymbolAndSkipsUnmeasuredGenes() {
        let a = Self.dataset(["ENSG00000000001.2", "ENSG00000000002", "ENSG00000000009"], symbols: ["Gad1", "Sst", "Vip"], measured: [true, true, false])
        let b = Self.dataset(["gad1", "ENSG00000000002.7", "Pvalb"], symbols: ["gad1", "ENSG00000000002.7", "Pvalb"])
        #expect(GeneVocabulary.union([a, b]) == ["Gad1", "Sst", "Pvalb"])
        #expect(GeneVocabulary.sharedCount(a, b) == 2 && GeneVocabulary.sharedCount(b, a) == 2)
        #expect(GeneVocabulary.coverage(b, of: ["GAD1", "Vip", "Pvalb"]) == 2)
        let c = Self.dataset(["X1"], symbols: ["X1"])
        #expect(GeneVocabulary.sharedCount(a, c) == 0)
    }

    @Test func trainingLoopCheckpointsReportsAndStopsOnCancel() throws {
        let f = try T.job("embed", inputs: [:], parameters: [:])
        let writer = try JobEventWriter(folder: f)
        let flag = T.CancelAfter(7)
        let ctx = WorkflowContext(folder: f, spec: try f.readSpec(), parameters: ["steps": .number(10)], events: writer, cancelled: flag.flag)
        var saved: [Int] = [], ran: [Int] = []
        #expect(throws: WorkflowError.cancelled) {
            try TrainingLoop(ctx, total: 10, checkpointEvery: 3).run(from: 0, step: { s in ran.append(s); return ["loss": Double(10 - s)] },
                                                                      save: { saved.append($0) })
        }
        // Steps 0…6 ran; saved after 3 and 6, and at the cancel point 7.
        #expect(ran == Array(0..<7) && saved == [3, 6, 7])
        let progress = try T.events(f).filter { $0.kind == .progress }
        #expect(progress.first?.step == 1 && progress.allSatisfy { $0.phase == "train" && $0.total == 10 })
        #expect(progress.dropFirst().allSatisfy { $0.values?["eta_s"] != nil })
        // Resumed from 7 with nothing cancelled: steps 7…9 and a final save.
        saved = []; ran = []
        let ctx2 = WorkflowContext(folder: f, spec: try f.readSpec(), parameters: [:], events: writer, cancelled: { false })
        let history = try TrainingLoop(ctx2, total: 10, checkpointEvery: 3).run(from: 7, step: { s in ran.append(s); return ["loss": 1] },
                                                                                 save: { saved.append($0) })
        #expect(ran == [7, 8, 9] && saved == [9, 10] && history.count == 3)
        #expect(try ctx.int("steps") == 10)
        #expect(throws: WorkflowError.self) { try ctx.string("steps") }
        #expect(throws: WorkflowError.self) { try ctx.int("missing") }
    }

    /// `choice` maps a string parameter to its enum case; a value the enum lacks names the parameter and the
    /// allowed values instead of falling back to a default.
    @Test func choiceNamesTheAllowedValues() throws {
        let f = try T.job("impute", inputs: [:], parameters: [:])
        let ctx = WorkflowContext(folder: f, spec: try f.readSpec(), parameters: ["loss": .string("nb"), "mode": .string("train")],
                                  events: try JobEventWriter(folder: f), cancelled: { false })
        #expect(try ctx.choice("loss", as: ReconstructionLoss.self) == .nb)
        #expect(throws: WorkflowError.invalidParameter(name: "mode", message: "is 'train'; allowed: evaluation, production")) {
            try ctx.choice("mode", as: ImputePlan.Mode.self)
        }
        #expect(throws: WorkflowError.self) { try ctx.choice("transfer", as: ImputationSettings.Transfer.self) }
    }

    @Test func checkpointFilesKeepTheNewestAndMetricsAreWritten() throws {
        let f = try T.job("embed", inputs: [:], parameters: [:])
        let ctx = WorkflowContext(folder: f, spec: try f.readSpec(), parameters: ["k": .bool(true)], events: try JobEventWriter(folder: f), cancelled: { false })
        let store = TrainingCheckpoints(f, keep: 2)
        #expect(store.latest() == nil)
        let model = try CellLM(config: .tiny(genes: 4), seed: 1)
        for s in [5, 10, 15] { try store.save(Checkpoint(model: model, genes: ["A", "B", "C", "D"]), step: s, context: ctx) }
        #expect(store.all().map(\.step) == [10, 15] && store.latest()?.step == 15)
        #expect(try Checkpoint.read(store.url(step: 15)).progress["step"] == 15)
        #expect(try T.events(f).filter { $0.kind == .checkpoint }.map(\.path) == ["checkpoints/step-00000005.tsr", "checkpoints/step-00000010.tsr", "checkpoints/step-00000015.tsr"])
        try ctx.writeMetrics(["ari": 0.5, "bad": .nan], details: ["genes": .array([.string("A")])])
        #expect(try T.metrics(f) == ["ari": 0.5])
        let ev = try T.events(f)
        #expect(ev.contains { $0.kind == .metric && $0.values == ["ari": 0.5] })
        #expect(ev.contains { $0.kind == .artifact && $0.path == "artifacts/metrics.json" && $0.text == "metrics" })
    }

    /// The ETA covers steps that follow at the same pace (an impute ensemble's later members): with 10 of 20
    /// steps done and 40 to follow, 50 remain, five times the 10 of the phase alone.
    @Test func etaCoversFollowingSteps() throws {
        let f = try T.job("embed", inputs: [:], parameters: [:])
        let context = WorkflowContext(folder: f, spec: try f.readSpec(), parameters: [:], events: try JobEventWriter(folder: f), cancelled: { false })
        let alone = ProgressReporter(context, phase: "train", total: 20)
        let ensemble = ProgressReporter(context, phase: "train 1/3", total: 20, followingSteps: 40)
        Thread.sleep(forTimeInterval: 0.05)
        let a = alone.eta(step: 10)!, e = ensemble.eta(step: 10)!
        #expect(a > 0 && abs(e / a - 5) < 0.5, "eta \(a) alone, \(e) with the ensemble")
    }

    /// Whole numbers keep every digit (a seed above 2^53), `.integer` equals the same `.number`, and the seed
    /// parameter overrides the job's seed; without it the job-id seed is reduced to 53 bits so it can be given back.
    @Test func integersAreExactAndTheSeedParameterWins() throws {
        let big = try JSONDecoder().decode(JSONValue.self, from: Data("9007199254740993".utf8))
        #expect(big == .integer(9_007_199_254_740_993) && big.int64Value == 9_007_199_254_740_993)
        #expect(String(decoding: try JSONEncoder().encode(big), as: UTF8.self) == "9007199254740993")
        #expect(JSONValue.integer(3) == .number(3) && JSONValue.number(2.5) != .integer(2))
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("2.5".utf8)) == .number(2.5))
        let f = try T.job("embed", inputs: [:], parameters: [:], seed: UInt64.max)
        let spec = try f.readSpec()
        let w = try JobEventWriter(folder: f)
        let given = WorkflowContext(folder: f, spec: spec, parameters: ["seed": .integer(9_007_199_254_740_991)], events: w, cancelled: { false })
        #expect(given.seed == 9_007_199_254_740_991)
        let derived = WorkflowContext(folder: f, spec: spec, parameters: [:], events: w, cancelled: { false })
        #expect(derived.seed == UInt64.max & WorkflowContext.seedMask)
        let seed = try T.catalog().spec(named: "annotate").parameter(named: "seed")!
        #expect(throws: WorkflowError.self) { try seed.check(.number(1.5)) }
        #expect(throws: WorkflowError.self) { try seed.check(.integer(-1)) }
        try seed.check(.integer(9_007_199_254_740_991))
        for s in try T.catalog().specs { #expect(s.parameter(named: "seed") != nil, "\(s.name) has no seed parameter") }
    }
}
