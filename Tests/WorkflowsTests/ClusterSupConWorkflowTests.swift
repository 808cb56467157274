import Foundation
import Testing
import CellLM
import SpatialData
import Tensor
@testable import Workflows

/// The `cluster-supcon` workflow end to end through `WorkflowRunner`: the spec, events, artifacts, metrics,
/// refusals before compute, cancellation and resume across the pretraining/fine-tuning boundary.
@Suite(.serialized) struct ClusterSupConWorkflowTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let input: (path: String, cells: Int, genes: Int) = {
        var c = SimulationConfig.tiny
        c.cells = 600; c.genes = 60; c.fovs = 3; c.cellTypes = 3; c.domains = 3; c.seed = 2
        let t = TissueSimulator.simulate(c)
        var ds = t.spatial
        // Partially labelled: every 7th cell Unknown.
        ds.obs["label"] = .string((0..<ds.cellCount).map { $0 % 7 == 0 ? "Unknown" : ds.obs["cell_type"]!.text($0)! })
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-supcon-inputs-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let p = dir.appendingPathComponent("spatial.h5ad").path
        try! H5ADWriter.write(ds, to: p)
        return (p, ds.cellCount, ds.geneCount)
    }()

    static func job(_ parameters: [String: JSONValue]) throws -> JobFolder {
        let f = JobFolder(FileManager.default.temporaryDirectory.appendingPathComponent("tessera-supcon-job-\(UUID().uuidString)"))
        var p: [String: JSONValue] = ["label_column": .string("label"), "preset": .string("tiny"), "pretrain_steps": .number(10),
                                      "steps": .number(10), "cells_per_step": .number(128), "resolution_step": .number(0.3)]
        p.merge(parameters) { $1 }
        try f.create(spec: .init(jobID: "sc", workflow: "cluster-supcon", version: "2", parameters: p, inputs: ["data": input.path], seed: 3))
        return f
    }

    static func run(_ f: JobFolder, cancelAfter: Int? = nil) throws -> JobFolder.Exit {
        final class Counter: @unchecked Sendable { var n = 0; let lock = NSLock() }
        let counter = Counter()
        let catalog = WorkflowCatalog(specs: [try WorkflowCatalog.decode(file: repo.appendingPathComponent("workflows/cluster-supcon.json"))])
        return WorkflowRunner.run(folder: f, catalog: catalog, implementations: [ClusterSupConWorkflow.self]) {
            guard let k = cancelAfter else { return false }
            counter.lock.lock(); defer { counter.lock.unlock() }
            counter.n += 1
            return counter.n > k
        }
    }

    static func metrics(_ f: JobFolder) throws -> [String: JSONValue] {
        guard case .object(let doc) = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: f.artifacts.appendingPathComponent("metrics.json"))),
              case .object(let m)? = doc["metrics"] else { return [:] }
        return m
    }

    @Test func runWritesResultMetricsAndEvents() throws {
        let f = try Self.job([:])
        defer { try? FileManager.default.removeItem(at: f.url) }
        let exit = try Self.run(f)
        #expect(exit.status == .succeeded, "\(exit.reason)")
        let m = try Self.metrics(f)
        for key in ["ari_heldout", "nmi_heldout", "ari_kmeans_heldout", "ari_label_free_incl_training", "nmi_label_free_incl_training", "ari_best_incl_training", "nmi_best_incl_training", "ari_kmeans_incl_training", "nmi_kmeans_incl_training", "resolution_label_free"] {
            #expect(m[key] != nil, "metrics.json lacks \(key)")
        }
        let ev = try JobEventReader.read(f, from: 0).events
        #expect(ev.first?.kind == .started && ev.last?.kind == .finished)
        #expect(ev.contains { $0.kind == .progress && $0.phase == "train" && $0.values?["loss"] != nil && $0.values?["eta_s"] != nil })
        for phase in ["load", "embed", "cluster", "write"] { #expect(ev.contains { $0.kind == .progress && $0.phase == phase }, "no \(phase) progress") }
        #expect(ev.contains { $0.kind == .metric && $0.values?["ari_heldout"] != nil })
        #expect(ev.contains { $0.kind == .checkpoint })
        #expect(ev.contains { $0.kind == .artifact && $0.path == "artifacts/result.h5ad" && $0.text == "h5ad" })
        let out = try DatasetReader.read(path: f.artifacts.appendingPathComponent("result.h5ad").path)
        #expect(out.cellCount == Self.input.cells)
        for col in ["leiden", "leiden_best_incl_training", "kmeans", "supcon_heldout", "label"] { #expect(out.obs[col] != nil, "obs lacks \(col)") }
        if WorkflowTestSupport.hasScanpy {
            // X_tessera is the latent (the tiny preset's width), the head's projection has its own key.
            let path = f.artifacts.appendingPathComponent("result.h5ad").path
            let dims = try WorkflowTestSupport.runPython("""
            import sys, anndata as ad
            a = ad.read_h5ad(sys.argv[1]); print(a.obsm["X_tessera"].shape[1], a.obsm["X_tessera_supcon"].shape[1])
            """, [path]).split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            let latent = try Checkpoint.read(f.artifacts.appendingPathComponent("model.tsr")).model.config.latentDim
            #expect(dims.first == latent && dims.count == 2 && dims[1] != latent, "obsm widths \(dims), latent \(latent)")
            let ok = try WorkflowTestSupport.runPython(WorkflowTestSupport.scanpyCheck, [path, "leiden"])
            #expect(ok.contains("scanpy ok"), "\(ok)")
        }
        // The fine-tuned model opens as a checkpoint (for embed) and as a SupCon trainer.
        let model = f.artifacts.appendingPathComponent("model.tsr")
        #expect(try Checkpoint.read(model).genes.count == Self.input.genes)
        // A pretrained checkpoint is fine-tuned directly: no pretraining steps.
        let again = try Self.job(["checkpoint": .string(model.path), "steps": .number(4)])
        defer { try? FileManager.default.removeItem(at: again.url) }
        let second = try Self.run(again)
        #expect(second.status == .succeeded, "\(second.reason)")
        #expect(try Self.metrics(again)["pretrain_steps"] == .number(0))
        let bad = try Self.job(["checkpoint": .string(f.url.appendingPathComponent("missing.tsr").path)])
        defer { try? FileManager.default.removeItem(at: bad.url) }
        let refused = try Self.run(bad)
        #expect(refused.status == .failed && refused.retryable == false && refused.reason.contains("checkpoint"), "\(refused.reason)")
    }

    @Test func refusals() throws {
        for (params, needle) in [(["label_column": JSONValue.string("nope")], "obs columns are"),
                                 (["heldout_fraction": .number(0.95)], "heldout_fraction"),
                                 (["temperature": .number(0)], "temperature")] {
            let f = try Self.job(params)
            defer { try? FileManager.default.removeItem(at: f.url) }
            let exit = try Self.run(f)
            #expect(exit.status == .failed && exit.retryable == false && exit.reason.contains(needle), "\(params): \(exit.reason)")
            let ev = try JobEventReader.read(f, from: 0).events
            #expect(!ev.contains { $0.kind == .progress && $0.phase == "train" }, "\(params): compute started")
        }
    }

    /// Cancelled during pretraining, rerun: it resumes from the checkpoint and ends with the same scores as an
    /// uninterrupted run (same batches, same state).
    @Test func cancelAndResume() throws {
        let whole = try Self.job([:]), parts = try Self.job([:])
        defer { try? FileManager.default.removeItem(at: whole.url); try? FileManager.default.removeItem(at: parts.url) }
        #expect(try Self.run(whole).status == .succeeded)
        let first = try Self.run(parts, cancelAfter: 12)
        #expect(first.status == .cancelled, "\(first.reason)")
        #expect(!TrainingCheckpoints(parts).all().isEmpty)
        #expect(try Self.run(parts).status == .succeeded)
        // Same embeddings and partitions; NMI sums over dictionary order, so allow its last bits to differ.
        let a = try Self.metrics(whole), b = try Self.metrics(parts)
        for key in ["ari_heldout", "nmi_heldout", "ari_best_incl_training", "nmi_best_incl_training", "ari_kmeans_incl_training", "resolution_label_free"] {
            guard let x = a[key]?.doubleValue, let y = b[key]?.doubleValue else { Issue.record("\(key) missing"); continue }
            #expect(abs(x - y) < 1e-9, "\(key): uninterrupted \(x) vs resumed \(y)")
        }
    }
}
