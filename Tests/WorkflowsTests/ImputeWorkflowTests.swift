import Foundation
import Testing
import CellLM
import SpatialData
import Tensor
@testable import Workflows

/// The `impute` workflow end to end through `WorkflowRunner`: spec validation, events, artifacts, refusals,
/// cancellation and resume.
@Suite(.serialized) struct ImputeWorkflowTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Simulated tissue (800 cells × 120 genes, 500 reference cells), made once.
    static let tissue: SimulatedTissue = {
        var c = SimulationConfig.tiny
        c.cells = 800; c.genes = 120; c.referenceCells = 500; c.meanLibrarySize = 80
        return TissueSimulator.simulate(c)
    }()

    /// A temporary folder with the tissue's spatial panel and reference as h5ad (the caller removes it).
    static func inputs() throws -> (dir: URL, spatial: String, reference: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-impute-inputs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let s = dir.appendingPathComponent("spatial.h5ad").path, r = dir.appendingPathComponent("reference.h5ad").path
        try H5ADWriter.write(tissue.spatial, to: s)
        try H5ADWriter.write(tissue.reference, to: r)
        return (dir, s, r)
    }

    static func catalog() throws -> WorkflowCatalog {
        WorkflowCatalog(specs: [try WorkflowCatalog.decode(file: repo.appendingPathComponent("workflows/impute.json"))])
    }

    /// A job folder inside `inputs.dir` (removed with it).
    static func job(_ inputs: (dir: URL, spatial: String, reference: String), _ parameters: [String: JSONValue],
                    reference: String? = nil, seed: UInt64 = 4) throws -> JobFolder {
        let f = JobFolder(inputs.dir.appendingPathComponent("job-\(UUID().uuidString)"))
        var p: [String: JSONValue] = ["preset": .string("tiny"), "steps": .number(12), "warmup_steps": .number(2), "checkpoint_every": .number(5),
                                      "ensemble": .number(1)]
        p.merge(parameters) { $1 }
        try f.create(spec: .init(jobID: "imp", workflow: "impute", version: "3", parameters: p,
                                 inputs: ["spatial": inputs.spatial, "reference": reference ?? inputs.reference], seed: seed))
        return f
    }

    static func run(_ f: JobFolder, cancelAfter: Int? = nil) throws -> JobFolder.Exit {
        final class Counter: @unchecked Sendable { var n = 0; let lock = NSLock() }
        let counter = Counter()
        return WorkflowRunner.run(folder: f, catalog: try catalog(), implementations: [ImputeWorkflow.self]) {
            guard let k = cancelAfter else { return false }
            counter.lock.lock(); defer { counter.lock.unlock() }
            counter.n += 1
            return counter.n > k
        }
    }

    static func events(_ f: JobFolder) throws -> [JobEvent] { try JobEventReader.read(f, from: 0).events }

    static func metrics(_ f: JobFolder) throws -> [String: JSONValue] {
        guard case .object(let doc) = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: f.artifacts.appendingPathComponent("metrics.json"))),
              case .object(let m)? = doc["metrics"] else { return [:] }
        return m
    }

    /// The per-gene query-scale factors of metrics.json's details, in target order.
    static func scaleFactors(_ f: JobFolder) throws -> [Double] {
        guard case .object(let doc) = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: f.artifacts.appendingPathComponent("metrics.json"))),
              case .object(let d)? = doc["details"], case .array(let a)? = d["scale_factors"] else { return [] }
        return a.compactMap(\.doubleValue)
    }

    @Test func evaluationWritesScoresResultAndEvents() throws {
        let inp = try Self.inputs()
        defer { try? FileManager.default.removeItem(at: inp.dir) }
        let f = try Self.job(inp, ["heldout_genes": .number(6)])
        let exit = try Self.run(f)
        #expect(exit.status == .succeeded, "\(exit.reason)")
        let m = try Self.metrics(f)
        for key in ["pearson_mean", "pearson_median", "cosine_mean", "rmse_mean", "mae_mean", "baseline_pearson_mean"] {
            #expect(m[key] != nil, "metrics.json lacks \(key)")
        }
        #expect(m["targets"] == .number(6))
        let ev = try Self.events(f)
        #expect(ev.first?.kind == .started && ev.last?.kind == .finished)
        #expect(ev.contains { $0.kind == .progress && $0.phase == "train" && $0.values?["loss"] != nil })
        #expect(ev.contains { $0.kind == .metric && $0.values?["pearson_mean"] != nil })
        #expect(ev.contains { $0.kind == .artifact && $0.path == "artifacts/result.h5ad" && $0.text == "h5ad" })
        let out = try DatasetReader.read(path: f.artifacts.appendingPathComponent("result.h5ad").path)
        #expect(out.cellCount == Self.tissue.spatial.cellCount && out.geneCount == Self.tissue.spatial.geneCount,
                "evaluation genes are panel genes: var is the panel")
        #expect(out.counts == Self.tissue.spatial.counts, "held-out genes keep their measured counts in X")
        #expect(out.metadata["counts.dropped_from_layer"] == nil, "no X value came from the layer")
    }

    @Test func productionImputesGenesAbsentFromThePanel() throws {
        let inp = try Self.inputs()
        defer { try? FileManager.default.removeItem(at: inp.dir) }
        let f = try Self.job(inp, ["mode": .string("production"), "ensemble": .integer(2)])
        let exit = try Self.run(f)
        #expect(exit.status == .succeeded, "\(exit.reason)")
        let t = Self.tissue
        let out = try DatasetReader.read(path: f.artifacts.appendingPathComponent("result.h5ad").path)
        #expect(out.geneCount == t.spatial.geneCount + t.heldOutGenes.count, "the imputed genes are appended to var")
        let added = Array(out.geneSymbols.suffix(t.heldOutGenes.count))
        #expect(Set(added) == Set(t.heldOutGenes))
        #expect(out.measured.suffix(t.heldOutGenes.count).allSatisfy { !$0 }, "appended genes are marked not measured")
        #expect(try Self.metrics(f)["pearson_mean"] == nil, "production has no truth to score")
        // A per-gene confidence from the two members' agreement, and a file scanpy's QC runs on (layer included).
        guard case .number(let c)? = try Self.metrics(f)["confidence_mean"] else { Issue.record("no confidence_mean"); return }
        #expect(c > -1 && c <= 1)
        if WorkflowTestSupport.hasScanpy {
            let path = f.artifacts.appendingPathComponent("result.h5ad").path
            let out = try WorkflowTestSupport.runPython("""
            import sys, anndata as ad, numpy as np
            a = ad.read_h5ad(sys.argv[1])
            c = np.asarray(a.uns["imputed_confidence"]); g = list(a.uns["imputed_genes"])
            assert len(c) == len(g) and ((c >= -1) & (c <= 1)).all(), c
            assert "query's scale" in str(a.uns["imputed_scale"])
            # imputed.h5ad: X holds the imputed genes (what sc.pl.spatial plots), equal to result.h5ad's layer.
            b = ad.read_h5ad(sys.argv[2])
            assert list(b.var_names) == g and b.n_obs == a.n_obs and list(b.obs_names) == list(a.obs_names)
            layer = a[:, g].layers["imputed"].toarray()
            assert np.allclose(b.X.toarray(), layer, rtol=1e-6, atol=1e-6) and (b.X.toarray() > 0).any()
            assert b.obsm["spatial"].shape == (a.n_obs, 2)
            # result.h5ad: X holds the imputed genes the query lacks (var['imputed']), equal to the layer; measured
            # genes keep the input's counts; the normalisation the uns text gives runs.
            imp, meas = a.var["imputed"].to_numpy(bool), a.var["measured"].to_numpy(bool)
            assert list(a.var_names[imp]) == g and (imp == ~meas).all(), (list(a.var_names[imp]), g)
            X = a[:, g].X.toarray()
            assert np.array_equal(X, layer) and (X > 0).mean() > 0.5, (X > 0).mean()
            q = ad.read_h5ad(sys.argv[3])
            assert np.array_equal(a[:, list(q.var_names)].X.toarray(), q.X.toarray())
            assert a.X.has_sorted_indices
            import scipy.sparse
            a.X = scipy.sparse.diags(1e4 / np.maximum(a[:, a.var['measured']].X.sum(1).A1, 1)) @ a.X
            assert np.allclose(a[:, a.var['measured']].X.sum(1).A1[q.X.sum(1).A1 > 0], 1e4, rtol=1e-4)
            print("ok")
            """, [path, f.artifacts.appendingPathComponent("imputed.h5ad").path, inp.spatial])
            #expect(out.contains("ok"))
            #expect(try WorkflowTestSupport.runPython(WorkflowTestSupport.scanpyCheck, [path, "cell_type"]).contains("scanpy ok"))
        }
    }

    @Test func refusesBadInputBeforeCompute() throws {
        let inp = try Self.inputs()
        defer { try? FileManager.default.removeItem(at: inp.dir) }
        let t = Self.tissue
        var alien = t.reference
        alien.geneIDs = alien.geneIDs.map { "X" + $0 }; alien.geneSymbols = alien.geneSymbols.map { "x" + $0 }
        let alienPath = inp.dir.appendingPathComponent("alien.h5ad").path
        try H5ADWriter.write(alien, to: alienPath)
        let cases: [([String: JSONValue], String?, String)] = [
            ([:], alienPath, "shares no gene"),
            (["mode": .string("production"), "genes": .array([.string("NoSuchGene")])], nil, "NoSuchGene"),
            (["heldout_genes": .number(5000)], nil, "heldout_genes"),
            (["steps": .number(0)], nil, "steps"),
            (["lr": .number(5)], nil, "lr"),
        ]
        for (params, ref, needle) in cases {
            let f = try Self.job(inp, params, reference: ref)
            let exit = try Self.run(f)
            #expect(exit.status == .failed && exit.retryable == false, "\(params): \(exit)")
            #expect(exit.reason.contains(needle), "\(params): \(exit.reason)")
            #expect(TrainingCheckpoints(f).latest() == nil, "refused before any training")
            #expect(!(try Self.events(f)).contains { $0.phase == "train" })
        }
    }

    /// A cancelled run leaves a checkpoint; the rerun resumes from it and ends with exactly the numbers of an
    /// uninterrupted run.
    @Test func cancelAndResumeMatchAnUninterruptedRun() throws {
        let inp = try Self.inputs()
        defer { try? FileManager.default.removeItem(at: inp.dir) }
        let whole = try Self.job(inp, ["heldout_genes": .number(6)])
        let parts = try Self.job(inp, ["heldout_genes": .number(6)])
        #expect(try Self.run(whole).status == .succeeded)
        let first = try Self.run(parts, cancelAfter: 8)
        #expect(first.status == .cancelled && first.retryable == true, "\(first)")
        #expect(TrainingCheckpoints(parts).latest() != nil)
        let second = try Self.run(parts)
        #expect(second.status == .succeeded, "\(second.reason)")
        #expect(try Self.events(parts).contains { $0.kind == .message && ($0.text ?? "").contains("resuming") })
        let a = try Self.metrics(whole), b = try Self.metrics(parts)
        for key in ["pearson_mean", "cosine_mean", "rmse_mean", "final_loss"] { #expect(a[key] == b[key], "\(key): \(String(describing: a[key])) vs \(String(describing: b[key]))") }
    }

    /// An ensemble's imputed layer is the mean of its members' (each the single model its member seed trains),
    /// members keep their own checkpoints, and a run cancelled part-way resumes to the uninterrupted numbers.
    @Test func ensembleAveragesItsMembersAndResumes() throws {
        let inp = try Self.inputs()
        defer { try? FileManager.default.removeItem(at: inp.dir) }
        let production: [String: JSONValue] = ["mode": .string("production")]
        let ensemble = try Self.job(inp, production.merging(["ensemble": .number(2)]) { $1 })
        let first = try Self.job(inp, production)
        var settings = ImputationSettings(); settings.seed = 4
        let second = try Self.job(inp, production, seed: settings.memberSeed(1))
        for f in [ensemble, first, second] { #expect(try Self.run(f).status == .succeeded) }
        // Each layer on the members' common scale: divided by its own per-gene query-scale factors (the ensemble's
        // come from the members' mean prediction, so they are not the members' factors' mean). The layer stores
        // every target in each row, in target order (the appended columns).
        func layer(_ f: JobFolder) throws -> [Float] {
            let h = try H5File.open(f.artifacts.appendingPathComponent("result.h5ad").path, probe: false)
            let factors = try Self.scaleFactors(f)
            #expect(factors.count == Self.tissue.heldOutGenes.count)
            return try h.root.group("layers").group("imputed").dataset("data").readFloats().enumerated().map { $1 / Float(factors[$0 % factors.count]) }
        }
        let e = try layer(ensemble), a = try layer(first), b = try layer(second)
        #expect(e.count == a.count && a.count == b.count && !e.isEmpty)
        let worst = e.indices.map { abs(e[$0] - (a[$0] + b[$0]) / 2) / max(1e-3, abs(e[$0])) }.max() ?? 1
        #expect(worst < 1e-4, "largest relative difference from the members' mean \(worst)")
        #expect(a != b, "members from different seeds differ")
        #expect(TrainingCheckpoints(ensemble, member: 1).latest()?.step == 12)
        #expect(try Self.metrics(ensemble)["ensemble"] == .number(2))

        let parts = try Self.job(inp, production.merging(["ensemble": .number(2)]) { $1 })
        let stopped = try Self.run(parts, cancelAfter: 18)
        #expect(stopped.status == .cancelled, "\(stopped)")
        #expect(try Self.run(parts).status == .succeeded)
        #expect(try layer(parts) == e, "the resumed ensemble ends with the uninterrupted one's values")
    }

    /// The spec's defaults are `ImputationSettings()`'s (the benches build settings directly, the queue from the
    /// spec: they must not drift apart).
    @Test func specDefaultsAreTheSettingsDefaults() throws {
        let f = try WorkflowTestSupport.job("impute", inputs: [:], parameters: [:], seed: 0)
        defer { try? FileManager.default.removeItem(at: f.url) }
        let spec = try WorkflowTestSupport.catalog().spec(named: "impute")
        let ctx = WorkflowContext(folder: f, spec: try f.readSpec(), parameters: try spec.resolve(parameters: [:]),
                                  events: try JobEventWriter(folder: f), cancelled: { false })
        #expect(try ImputeWorkflow.settings(ctx) == ImputationSettings())
    }

    /// The query-scale calibration: the global factor is the median measured/predicted ratio of the panel genes,
    /// the level fit a Theil–Sen line through their log ratios against log predicted level (checked by hand, one
    /// outlier ignored, no extrapolation past the panel's levels), and an evaluation run reports the scale error
    /// of the adopted level calibration beside the reference scale and the global factor. (Which is lowest is
    /// measured on real pairs by the quality bench, docs/impute.md; no direction is asserted on this tiny pair.)
    @Test func imputedGenesAreOnTheQueryScale() throws {
        #expect(abs(QueryScale.factor(observed: [10, 40, 0, 9], predicted: [20, 20, 5, 90]) - 0.5) < 1e-12)   // ratios 0.5, 2, —, 0.1
        #expect(QueryScale.factor(observed: [0], predicted: [1]) == 1)
        let truth = Matrix(rows: 2, cols: 2, data: [1, 10, 3, 30]), pred = Matrix(rows: 2, cols: 2, data: [4, 20, 12, 60])
        #expect(abs(QueryScale.medianAbsLogRatio(prediction: pred, truth: truth) - (log(4.0) + log(2.0)) / 2) < 1e-9)
        // log(observed / predicted) = 0.5 − 0.8 · log(predicted / 10 cells), but for one outlier (the 4th gene).
        let predicted: [Double] = [1, 5, 20, 80, 300, 2_000]
        var observed = predicted.map { $0 * exp(0.5 - 0.8 * log($0 / 10)) }
        observed[3] *= 50
        let fit = try #require(ScaleCalibration.levelFit(observed: observed, predicted: predicted, cells: 10))
        #expect(abs(fit.slope + 0.8) < 1e-9 && abs(fit.intercept - 0.5) < 1e-9 && fit.genes == 6)
        #expect(abs(fit.factor(mean: 3) - exp(0.5 - 0.8 * log(3.0))) < 1e-9)
        #expect(abs(fit.factor(mean: 1e6) - fit.factor(mean: 200)) < 1e-12, "clamped at the panel's highest level (2,000 / 10)")
        #expect(abs(fit.factor(mean: 1e6, above: true) - exp(0.5 - 0.8 * log(1e6))) < 1e-9, "level_above: the line extends upward")
        #expect(abs(fit.factor(mean: 1e-6, above: true) - fit.factor(mean: 0.1)) < 1e-12, "and stays clamped at the lowest level (1 / 10)")
        #expect(ScaleCalibration.level.factors(observed: observed, predicted: predicted, cells: 10, targetMeans: [3, 0]) == [fit.factor(mean: 3), QueryScale.factor(observed: observed, predicted: predicted)])
        // A whole-transcriptome panel (20,000 genes, 3% outliers): the slopes come from 1,000 genes spread over
        // the levels, so the fit stays bounded in memory and still finds the line.
        let many = (0..<20_000).map { 0.5 + Double($0) * 0.37 }
        var big = many.map { $0 * exp(0.5 - 0.8 * log($0 / 10)) }
        for g in stride(from: 0, to: big.count, by: 33) { big[g] *= 40 }
        let wide = try #require(ScaleCalibration.levelFit(observed: big, predicted: many, cells: 10))
        #expect(abs(wide.slope + 0.8) < 1e-6 && abs(wide.intercept - 0.5) < 1e-6 && wide.genes == 20_000, "\(wide)")
        let inp = try Self.inputs()
        defer { try? FileManager.default.removeItem(at: inp.dir) }
        let f = try Self.job(inp, ["mode": .string("evaluation")])
        #expect(try Self.run(f).status == .succeeded)
        let m = try Self.metrics(f)
        guard let after = m["scale_error"]?.doubleValue, let before = m["reference_scale_scale_error"]?.doubleValue,
              let global = m["global_factor_scale_error"]?.doubleValue, let slope = m["query_scale_slope"]?.doubleValue else {
            Issue.record("scale metrics missing: \(m.keys.sorted())"); return
        }
        #expect(after.isFinite && before.isFinite && global.isFinite && slope.isFinite, "scale error \(before) → \(after) (global \(global)), slope \(slope)")
        let factors = try Self.scaleFactors(f)
        #expect(factors.count == Int(m["targets"]?.doubleValue ?? -1) && !factors.isEmpty && factors.allSatisfy { $0 > 0 && $0.isFinite })
        // Pearson on log1p values changes with the factors; the reference-scale scores are reported beside.
        #expect(m["reference_scale_pearson_mean"] != nil && m["pearson_mean"] != nil)
    }
}
