import CellLM
import Foundation
import SpatialData
import Testing
@testable import Workflows

/// The runner end to end on a simulated tissue with the `tiny` preset: pretrain (spatial + scRNA) → checkpoint →
/// embed → h5ad read back; cancellation mid-training and a resumed rerun that ends bit for bit where an
/// uninterrupted run ends.
@Suite(.serialized) struct WorkflowRunnerTests {
    typealias T = WorkflowTestSupport

    static let pretrainParameters: [String: JSONValue] = [
        "preset": .string("tiny"), "steps": .number(150), "warmup_steps": .number(10), "checkpoint_every": .number(60),
        "lr": .number(0.003),
    ]

    @Test func pretrainThenEmbedWritesACheckpointAndAnH5adThatAnndataOpens() throws {
        let t = T.tissue
        let pre = try T.job("pretrain", inputs: ["spatial": t.spatial, "reference": t.reference], parameters: Self.pretrainParameters)
        let exit = try T.run(pre)
        #expect(exit.status == .succeeded, "\(exit.reason)")
        let ev = try T.events(pre)
        #expect(ev.first?.kind == .started && ev.last?.kind == .finished)
        let train = ev.filter { $0.kind == .progress && $0.phase == "train" }
        #expect(train.last?.step == 150 && train.last?.total == 150)
        #expect(train.dropFirst().contains { $0.values?["eta_s"] != nil && $0.values?["loss"] != nil })
        #expect(ev.filter { $0.kind == .checkpoint }.compactMap(\.step) == [60, 120, 150])
        #expect(ev.contains { $0.kind == .artifact && $0.path == "artifacts/model.tsr" && $0.text == "checkpoint" })
        #expect(ev.contains { $0.kind == .artifact && $0.path == "artifacts/metrics.json" && $0.text == "metrics" })

        // Learning: the training loss falls, and so does the held-out masked-gene NB loss.
        let m = try T.metrics(pre)
        #expect(m["genes"] == 120 && m["train_sequences"]! + m["heldout_sequences"]! >= 5 && m["heldout_sequences"]! >= 1)
        #expect(m["position_embedding"] == 1)
        #expect(m["loss_end"]! < m["loss_start"]! * 0.9, "training loss \(m["loss_start"]!) → \(m["loss_end"]!)")
        #expect(m["heldout_nll_end"]! < m["heldout_nll_start"]!, "held-out NLL \(m["heldout_nll_start"]!) → \(m["heldout_nll_end"]!)")
        let model = pre.artifacts.appendingPathComponent("model.tsr")
        let ckpt = try Checkpoint.read(model)
        #expect(ckpt.genes.count == 120 && ckpt.model.config.hidden == 32 && ckpt.model.config.positionEmbedding)

        let emb = try T.job("embed", inputs: ["data": t.spatial], parameters: ["checkpoint": .string(model.path), "label_column": .string("cell_type")])
        let e = try T.run(emb)
        #expect(e.status == .succeeded, "\(e.reason)")
        let em = try T.metrics(emb)
        #expect(em["cells"] == 1200 && em["embedding_dim"] == 16 && em["leiden_clusters"]! >= 2)
        let ev2 = try T.events(emb)
        #expect(ev2.contains { $0.kind == .artifact && $0.path == "artifacts/result.h5ad" && $0.text == "h5ad" })
        #expect(Set(ev2.compactMap(\.phase)).isSuperset(of: ["load", "embed", "cluster", "write"]))
        let result = emb.artifacts.appendingPathComponent("result.h5ad").path
        let back = try DatasetReader.read(path: result)
        #expect(back.cellCount == 1200 && back.cellIDs == t.sim.spatial.cellIDs && back.counts == t.sim.spatial.counts)
        guard case .categorical(let leiden)? = back.obs["leiden"] else { Issue.record("obs['leiden'] missing"); return }
        #expect(leiden.categories.count == Int(em["leiden_clusters"]!))

        if T.hasAnndata {
            let out = try T.runPython("""
            import sys, json, anndata as ad, numpy as np
            a = ad.read_h5ad(sys.argv[1])
            x = a.obsm["X_tessera"]
            print(json.dumps({"shape": list(x.shape), "dtype": str(x.dtype), "finite": bool(np.isfinite(x).all()),
              "spread": float(x.std(axis=0).mean()), "leiden_cat": str(a.obs["leiden"].dtype) == "category",
              "clusters": int(a.obs["leiden"].nunique()), "workflow": str(a.uns["tessera"]["workflow"]),
              "parameters": json.loads(str(a.uns["tessera"]["parameters"])), "spatial": list(a.obsm["spatial"].shape)}))
            """, [result])
            struct R: Decodable {
                let shape: [Int]; let dtype: String; let finite: Bool; let spread: Double; let leiden_cat: Bool; let clusters: Int
                let workflow: String; let parameters: JSONValue; let spatial: [Int]
            }
            let r = try JSONDecoder().decode(R.self, from: Data(out.utf8))
            #expect(r.shape == [1200, 16] && r.dtype == "float32" && r.finite && r.spread > 0)
            #expect(r.leiden_cat && r.clusters == Int(em["leiden_clusters"]!) && r.workflow == "embed" && r.spatial == [1200, 2])
            guard case .object(let doc) = r.parameters, case .object(let p)? = doc["parameters"] else { Issue.record("uns parameters"); return }
            #expect(p["checkpoint"] == .string(model.path) && p["resolution"] == .number(1) && doc["workflow"] == .string("embed"))
        }
        if T.hasScanpy {
            // ARI/NMI against the label column as scikit-learn computes them on the written columns, and the file
            // works in scanpy's QC and rank_genes_groups.
            let out = try T.runPython("""
            import sys, anndata as ad
            from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
            a = ad.read_h5ad(sys.argv[1])
            print(adjusted_rand_score(a.obs["cell_type"], a.obs["leiden"]), normalized_mutual_info_score(a.obs["cell_type"], a.obs["leiden"]))
            """, [result]).split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            #expect(out.count == 2 && abs(out[0] - em["ari"]!) < 1e-9 && abs(out[1] - em["nmi"]!) < 1e-9, "sklearn \(out), ours \(em["ari"] ?? .nan) \(em["nmi"] ?? .nan)")
            #expect(try T.runPython(T.scanpyCheck, [result, "leiden"]).contains("scanpy ok"))
        }
    }

    /// Cancelled after some steps: a checkpoint at the step reached, exit `cancelled`; the rerun resumes from that
    /// step (not 0) and ends with exactly the weights of an uninterrupted run.
    @Test func cancelThenResumeContinuesFromTheCheckpointBitForBit() throws {
        let t = T.tissue
        var params = Self.pretrainParameters
        params["steps"] = .number(40); params["checkpoint_every"] = .number(15)
        let inputs = ["spatial": t.spatial, "reference": t.reference]
        let whole = try T.job("pretrain", inputs: inputs, parameters: params)
        #expect(try T.run(whole).status == .succeeded)

        let job = try T.job("pretrain", inputs: inputs, parameters: params)
        let first = try T.run(job, cancelled: T.CancelAfter(25).flag)
        #expect(first.status == .cancelled && first.retryable == true)
        #expect(!FileManager.default.fileExists(atPath: job.artifacts.appendingPathComponent("model.tsr").path))
        guard let saved = TrainingCheckpoints(job).latest() else { Issue.record("no checkpoint after cancel"); return }
        #expect(saved.step > 15 && saved.step < 40)
        let before = try T.events(job).count
        #expect(try T.events(job).contains { $0.kind == .checkpoint && $0.step == saved.step })

        let second = try T.run(job)
        #expect(second.status == .succeeded, "\(second.reason)")
        let again = try T.events(job).dropFirst(before)
        #expect(again.contains { $0.kind == .message && $0.step == saved.step })
        #expect(again.first { $0.kind == .progress && $0.phase == "train" }?.step == saved.step + 1)
        let a = try Checkpoint.read(whole.artifacts.appendingPathComponent("model.tsr"))
        let b = try Checkpoint.read(job.artifacts.appendingPathComponent("model.tsr"))
        #expect(a.model.params.values.array == b.model.params.values.array)
        #expect(try T.metrics(job)["loss_end"] == T.metrics(whole)["loss_end"])
    }
}
