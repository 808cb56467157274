import Foundation
import Testing
import SpatialData
import Tensor
@testable import Workflows

/// `annotate` end to end through `WorkflowRunner` on a small simulated tissue: evaluation scores on test cells,
/// predictions for unlabelled cells and for a query dataset, the h5ad columns scanpy reads, and refusals of bad
/// label columns and of a query that shares too few genes, before any compute.
@Suite(.serialized) struct AnnotateWorkflowTests {
    typealias T = WorkflowTestSupport

    /// 600 cells, 3 types; every 7th cell unlabelled; a copy with only a third of the genes as a bad query.
    static let input: (data: String, narrow: String, cells: Int, tissue: Dataset) = {
        var c = SimulationConfig.tiny
        c.cells = 600; c.genes = 60; c.fovs = 3; c.cellTypes = 3; c.domains = 3; c.seed = 4
        let t = TissueSimulator.simulate(c)
        var ds = t.spatial
        ds.obs["label"] = .string((0..<ds.cellCount).map { $0 % 7 == 0 ? "Unknown" : ds.obs["cell_type"]!.text($0)! })
        ds.obs["area"] = .float((0..<ds.cellCount).map { Double($0) * 0.37 + 1.5 })
        ds.obs["cell_id_copy"] = .string(ds.cellIDs)
        ds.obs["tissue"] = .string([String](repeating: "brain", count: ds.cellCount))
        let dir = T.tempDir("annotate-inputs")
        let p = dir.appendingPathComponent("data.h5ad").path, n = dir.appendingPathComponent("narrow.h5ad").path
        try! H5ADWriter.write(ds, to: p)
        var narrow = ds
        narrow.measured = (0..<ds.geneCount).map { $0 < ds.geneCount / 3 }
        try! H5ADWriter.write(narrow, to: n)
        return (p, n, ds.cellCount, ds)
    }()

    static func job(_ parameters: [String: JSONValue], query: String? = nil) throws -> JobFolder {
        var p: [String: JSONValue] = ["label_column": .string("label"), "preset": .string("tiny"), "pretrain_steps": .integer(30),
                                      "steps": .integer(30), "cells_per_step": .integer(128)]
        p.merge(parameters) { $1 }
        var inputs = ["data": input.data]
        if let query { inputs["query"] = query }
        return try T.job("annotate", inputs: inputs, parameters: p)
    }

    @Test func evaluationScoresTestCellsAndWritesPredictions() throws {
        let f = try Self.job(["mode": .string("evaluation")], query: Self.input.data)
        defer { try? FileManager.default.removeItem(at: f.url) }
        let exit = try T.run(f)
        #expect(exit.status == .succeeded, "\(exit.reason)")
        let m = try T.metrics(f)
        for key in ["heldout_accuracy", "heldout_macro_f1", "heldout_ari", "heldout_unknown_fraction", "validation_cells", "query_accuracy"] {
            #expect(m[key] != nil, "metrics.json lacks \(key)")
        }
        // Three well-separated simulated types: far above chance (1/3) on cells never trained on.
        #expect(m["heldout_accuracy"]! > 0.6 && m["heldout_macro_f1"]! > 0.5, "\(m)")
        #expect(m["heldout_cells"]! >= 90 && m["validation_cells"]! >= 40)
        let out = try DatasetReader.read(path: f.artifacts.appendingPathComponent("result.h5ad").path)
        guard case .categorical(let pred)? = out.obs["predicted_label"], case .float(let conf)? = out.obs["predicted_label_confidence"],
              case .categorical(let split)? = out.obs["annotate_split"] else {
            Issue.record("result.h5ad lacks the prediction columns: \(out.obs.names)"); return
        }
        #expect(pred.codes.count == Self.input.cells && conf.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(Set(split.categories) == ["train", "validation", "test", "unlabelled"])
        // Unlabelled cells (every 7th) got a prediction from the classes, or Unknown.
        let unlabelled = (0..<Self.input.cells).filter { $0 % 7 == 0 }
        #expect(unlabelled.allSatisfy { pred.codes[$0] >= 0 })
        #expect(FileManager.default.fileExists(atPath: f.artifacts.appendingPathComponent("query.h5ad").path))
        if T.hasScanpy {
            let ok = try T.runPython(T.scanpyCheck, [f.artifacts.appendingPathComponent("result.h5ad").path, "cell_type"])
            #expect(ok.contains("scanpy ok"), "\(ok)")
        }
        // The seed given as a parameter is the one the run used, exactly.
        let seeded = try Self.job(["mode": .string("evaluation"), "steps": .integer(2), "pretrain_steps": .integer(2),
                                   "seed": .integer(9_007_199_254_740_991)])
        defer { try? FileManager.default.removeItem(at: seeded.url) }
        #expect(try T.run(seeded).status == .succeeded)
        let doc = try String(contentsOf: seeded.artifacts.appendingPathComponent("metrics.json"), encoding: .utf8)
        #expect(doc.contains("\"seed\" : 9007199254740991"), "\(doc.prefix(400))")
    }

    @Test func badLabelColumnsAndNarrowQueriesAreRefusedBeforeCompute() throws {
        for (params, query, needle) in [
            (["label_column": JSONValue.string("area")], nil, "continuous"),
            (["label_column": .string("cell_id_copy")], nil, "more than half as many classes as cells"),
            (["label_column": .string("nope")], nil, "obs columns are"),
            ([:], Self.input.narrow, "genes the model reads (from 'data'); at least 50% must be shared"),
            (["heldout_fraction": .number(0.7), "validation_fraction": .number(0.3), "mode": .string("evaluation")], nil, "at most 0.9"),
        ] as [([String: JSONValue], String?, String)] {
            let f = try Self.job(params, query: query)
            defer { try? FileManager.default.removeItem(at: f.url) }
            let exit = try T.run(f)
            #expect(exit.status == .failed && exit.retryable == false && exit.reason.contains(needle), "\(params): \(exit.reason)")
            #expect(try !T.events(f).contains { $0.kind == .progress && $0.phase == "train" }, "\(params) computed before refusing")
        }
        let oneClass = try Self.job(["label_column": .string("tissue")])
        defer { try? FileManager.default.removeItem(at: oneClass.url) }
        let e = try T.run(oneClass)
        #expect(e.status == .failed && e.reason.contains("single class"), "\(e.reason)")
    }

    /// Log-normalised input: a warning event names the input and the choice; `input_transform=log_normalized`
    /// reads it back as expression (expm1) and warns no more.
    @Test func nonIntegerInputIsWarnedAboutAndCanBeReadAsLogNormalised() throws {
        var d = Self.input.tissue
        d.counts.values = d.counts.values.map { Foundation.log1p($0) }
        let path = T.tempDir("lognorm").appendingPathComponent("lognorm.h5ad").path
        try H5ADWriter.write(d, to: path)
        func run(_ transform: String) throws -> (JobFolder, [JobEvent]) {
            let f = try T.job("annotate", inputs: ["data": path], parameters: [
                "label_column": .string("label"), "preset": .string("tiny"), "pretrain_steps": .integer(2), "steps": .integer(2),
                "cells_per_step": .integer(64), "input_transform": .string(transform)])
            #expect(try T.run(f).status == .succeeded)
            return (f, try T.events(f))
        }
        let (a, warned) = try run("counts")
        defer { try? FileManager.default.removeItem(at: a.url) }
        #expect(warned.contains { $0.kind == .message && ($0.text ?? "").contains("warning: input 'data'") && ($0.text ?? "").contains("input_transform=log_normalized") })
        let (b, quiet) = try run("log_normalized")
        defer { try? FileManager.default.removeItem(at: b.url) }
        #expect(!quiet.contains { ($0.text ?? "").hasPrefix("warning") })
        let context = WorkflowContext(folder: b, spec: try b.readSpec(), parameters: ["input_transform": .string("log_normalized")],
                                      events: try JobEventWriter(folder: b), cancelled: { false })
        let back = try context.dataset("data").counts.values
        #expect(zip(back, Self.input.tissue.counts.values).allSatisfy { abs($0 - $1) < 1e-3 * max(1, $1) })
    }

    /// A query without coordinates cannot use the niche: it is labelled with the best-validated method it has
    /// features for (never a crash), and scored when it carries the label column.
    @Test func queryWithoutCoordinatesIsLabelledWithoutTheNiche() throws {
        var q = Self.input.tissue
        q.coordinates = nil
        let path = T.tempDir("flat").appendingPathComponent("flat.h5ad").path
        try H5ADWriter.write(q, to: path)
        let f = try Self.job(["classifier": .string("linear"), "steps": .integer(5), "pretrain_steps": .integer(5)], query: path)
        defer { try? FileManager.default.removeItem(at: f.url) }
        let exit = try T.run(f)
        #expect(exit.status == .succeeded, "\(exit.reason)")
        #expect(try T.metrics(f)["query_accuracy"] != nil)
        let out = try DatasetReader.read(path: f.artifacts.appendingPathComponent("query.h5ad").path)
        #expect(out.obs["predicted_label"] != nil && out.coordinates == nil)
    }

    /// A cluster-supcon job's model.tsr is reused as it is (steps 0: no pretraining, no fine-tuning).
    @Test func reusesAClusterSupConCheckpoint() throws {
        let sc = try T.job("cluster-supcon", inputs: ["data": Self.input.data], parameters: [
            "label_column": .string("label"), "preset": .string("tiny"), "pretrain_steps": .integer(20), "steps": .integer(20),
            "cells_per_step": .integer(128), "resolution_step": .number(0.5)])
        defer { try? FileManager.default.removeItem(at: sc.url) }
        #expect(try T.run(sc).status == .succeeded)
        let f = try Self.job(["checkpoint": .string(sc.artifacts.appendingPathComponent("model.tsr").path), "steps": .integer(0),
                              "mode": .string("evaluation")])
        defer { try? FileManager.default.removeItem(at: f.url) }
        let exit = try T.run(f)
        #expect(exit.status == .succeeded, "\(exit.reason)")
        let m = try T.metrics(f)
        #expect(m["pretrain_steps"] == 0 && m["finetune_steps"] == 0 && m["heldout_macro_f1"] != nil)
        #expect(try !T.events(f).contains { $0.kind == .progress && $0.phase == "train" && ($0.step ?? 0) > 0 })
    }
}
