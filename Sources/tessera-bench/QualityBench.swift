import Analysis
import ArgumentParser
import CellLM
import Foundation
import SpatialData
import Tensor
import Workflows

/// Clustering quality on real tissue (osmFISH, labels `ClusterName` and `Region`): every method's clusters are
/// scored by the same code (`ClusterEvaluation`) on the same split, in one invocation:
///
/// - **scanpy PCA+Leiden** (peer): `scripts/cluster_peer.py`, which imports
///   ../shared/bench/clustering_baselines.py and runs its protocol (normalize_total + log1p, PCA 32 comps,
///   neighbors 15, Leiden igraph over 0.1–1.4, k-means), returning the labels; its own sklearn summary over all
///   cells is printed beside ours as a cross-check of the scoring;
/// - **ours PCA+Leiden**: the same protocol on our PCA, kNN graph and Leiden;
/// - **zero-shot**: the latent mean of our model pretrained briefly on the training cells (no labels);
/// - **SupCon**: that model fine-tuned with SupCon on the training cells' labels;
///
/// the last two with the position embedding on and off (each pretrained and fine-tuned separately). The split
/// holds out `heldOut` of each class's cells (seeded, stratified), which no model sees. Columns: held-out
/// cells at the label-free resolution, all labelled cells at the label-free resolution, best over the grid
/// (for comparison with published numbers), k-means with k = class count. Nothing here is tuned on the
/// held-out cells: the workflow's defaults run unchanged.
public enum ClusterQuality {
    public struct Options: Sendable {
        public var data = "../shared/data/osmfish/osmfish_valid_cells.h5ad"
        public var labels = ["ClusterName", "Region"]
        public var quick = false
        public var heldOut = 0.2
        public var seed: UInt64 = 0
        /// 0 = the workflow defaults (400 pretraining, 1000 fine-tuning), or 150/300 with `quick`.
        public var pretrainSteps = 0
        public var steps = 0
        public var preset = "small"
        public var python = FileManager.default.currentDirectoryPath + "/.venv-bench/bin/python"
        public var peerScript = FileManager.default.currentDirectoryPath + "/scripts/cluster_peer.py"
        public var peer = true
        public init(quick: Bool = false) { self.quick = quick }
    }

    /// One row of the table.
    struct Row { var method: String; var s: [String: Double] }

    @discardableResult
    public static func run(_ o: Options) throws -> String {
        var out = ""
        func say(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)); out += s + "\n" }
        let ds = try DatasetReader.read(path: o.data)
        let pre = o.pretrainSteps > 0 ? o.pretrainSteps : (o.quick ? 150 : 400)
        let steps = o.steps > 0 ? o.steps : (o.quick ? 300 : 1000)
        let grid = ClusterEvaluation.grid(min: 0.1, max: 1.4, step: 0.1)
        say("quality-cluster: \(ds.name) \(ds.cellCount) cells × \(ds.geneCount) genes; held out \(Int(o.heldOut * 100))% per class (seed \(o.seed)); ours: \(o.preset) model, \(pre) pretraining + \(steps) SupCon steps; load \(loadAverage())")

        // Peer labels (independent of the split), once.
        var peer: (leiden: [[Int]], kmeans: [Int: [Int]], summary: [String: Any])?
        if o.peer {
            let ks = o.labels.compactMap { try? SupervisedLabels.make(ds, column: $0, heldOutFraction: o.heldOut, seed: o.seed).classes.count }
            let t0 = Date()
            let json = try runProcess(o.python, [o.peerScript, "--data", o.data, "--k"] + ks.map(String.init) + ["--label"] + o.labels)
            guard let doc = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
                  let cells = doc["cells"] as? [String], let lei = doc["leiden"] as? [String: [Int]], let km = doc["kmeans"] as? [String: [Int]] else {
                throw ValidationError("\(o.peerScript) printed no usable JSON")
            }
            guard cells == ds.cellIDs else { throw ValidationError("the peer read the cells in another order than we did; cannot score on the same split") }
            let leiden = grid.map { r in lei[String(format: "%.1f", r)] ?? [] }
            guard leiden.allSatisfy({ $0.count == ds.cellCount }) else { throw ValidationError("the peer's Leiden grid is not 0.1…1.4") }
            peer = (leiden, Dictionary(uniqueKeysWithValues: km.compactMap { k, v in Int(k).map { ($0, v) } }), doc["summary"] as? [String: Any] ?? [:])
            say(String(format: "peer (scanpy, clustering_baselines protocol) done in %.0f s", Date().timeIntervalSince(t0)))
        }

        // Our PCA (the peer's protocol), once.
        let pcaX = try PCA(components: min(50, ds.geneCount - 1)).fit(normalizedLog(ds)).scores
        let pcaGraph = try EmbeddingGraph(pcaX, neighbors: 15, seed: 0)
        let pcaLeiden = try grid.map { r throws -> [Int] in try pcaGraph.leiden(resolution: r, seed: 0).labels }

        for column in o.labels {
            var settings = ClusterSupConSettings(labelColumn: column)
            settings.heldOutFraction = o.heldOut; settings.seed = o.seed; settings.preset = o.preset
            settings.pretrainSteps = pre; settings.steps = steps
            let labels = try SupervisedLabels.make(ds, column: column, heldOutFraction: o.heldOut, seed: o.seed)
            let k = labels.classes.count
            func score(_ partitions: [[Int]], _ kmeans: [Int]) throws -> [String: Double] {
                try ClusterEvaluation.score(partitions: partitions, resolutions: grid, kmeans: kmeans, truth: labels.codes,
                                            heldOut: labels.heldOut, classCount: k).scores
            }
            var rows: [Row] = []
            if let peer, let km = peer.kmeans[k] { rows.append(Row(method: "scanpy PCA+Leiden (peer)", s: try score(peer.leiden, km))) }
            rows.append(Row(method: "ours PCA+Leiden", s: try score(pcaLeiden, try KMeans(k: k, restarts: 10, seed: 0).fit(pcaX).labels)))
            for pe in [true, false] {
                settings.positionEmbedding = pe
                let t0 = Date()
                let r = try ClusterSupCon.run(ds, settings: settings)
                let secs = Date().timeIntervalSince(t0)
                let tag = pe ? "PE on" : "PE off"
                for (name, x) in [("zero-shot embed (\(tag))", r.zeroShot), ("SupCon (\(tag))", r.fineTuned),
                                  ("SupCon latent (\(tag))", r.fineTunedLatent)] {
                    let ev = try ClusterEvaluation.run(embedding: x, truth: labels.codes, heldOut: labels.heldOut, classCount: k,
                                                       resolutions: grid, neighbors: 15, seed: 0)
                    rows.append(Row(method: name, s: ev.scores))
                }
                let last = r.fineTuneLoss.suffix(20), first = r.fineTuneLoss.prefix(20)
                say(String(format: "  %@ %@: pretrain + SupCon + 2 embeddings %.0f s; SupCon loss %.3f → %.3f (means of first/last 20 steps)",
                           column, tag, secs, first.reduce(0, +) / Float(max(first.count, 1)), last.reduce(0, +) / Float(max(last.count, 1))))
            }
            say("")
            say("\(column): \(k) classes, \(labels.labelledCount) labelled cells, \(labels.heldOutCount) held out")
            say("held-out cells (never trained on): Leiden at the label-free resolution (stability across seeds; the peer: closest to the class count) and k-means (k = classes)")
            say("method                      | Leiden ARI  NMI | k-means ARI  NMI | res (n) | Leiden at class-count res ARI")
            for row in rows {
                let s = row.s
                say(String(format: "%@ |  %.3f  %.3f  |  %.3f  %.3f   | %.1f (%2.0f) | %.3f",
                           row.method.padding(toLength: 27, withPad: " ", startingAt: 0), s["ari_heldout"]!, s["nmi_heldout"]!,
                           s["ari_kmeans_heldout"]!, s["nmi_kmeans_heldout"]!, s["resolution_label_free"]!, s["clusters_label_free"]!,
                           s["ari_heldout_class_count"]!))
            }
            say("all labelled cells, training cells included (for comparison with published numbers only)")
            say("method                      | label-free ARI  NMI | best over grid ARI  NMI | k-means ARI  NMI")
            for row in rows {
                let s = row.s
                say(String(format: "%@ |    %.3f  %.3f    |      %.3f  %.3f      |   %.3f  %.3f",
                           row.method.padding(toLength: 27, withPad: " ", startingAt: 0), s["ari_label_free_incl_training"]!,
                           s["nmi_label_free_incl_training"]!, s["ari_best_incl_training"]!, s["nmi_best_incl_training"]!,
                           s["ari_kmeans_incl_training"]!, s["nmi_kmeans_incl_training"]!))
            }
            let base = rows.first { $0.method.hasPrefix("scanpy") } ?? rows.first { $0.method.hasPrefix("ours PCA") }!
            for pe in ["PE on", "PE off"] {
                let sup = rows.first { $0.method == "SupCon (\(pe))" }!.s["ari_heldout"]!
                let b = base.s["ari_heldout"]!
                say(String(format: "bar (%@): SupCon held-out ARI %.3f − %@ held-out ARI %.3f = %+.3f (needs ≥ +0.15): %@", pe, sup,
                           base.method, b, sup - b, sup - b >= 0.15 ? "met" : "NOT met"))
            }
            if let p = peer?.summary[column] as? [String: Any] {
                let r1 = p["leiden_res1.0"] as? [String: Any], ck = p["leiden_closestK"] as? [String: Any]
                let ours = rows.first { $0.method.hasPrefix("scanpy") }?.s
                say(String(format: "cross-check, peer's own sklearn scoring over all cells: res 1.0 ARI %.4f (ours on the same labels %.4f), closest-K ARI %.4f (ours %.4f)",
                           (r1?["ARI"] as? Double) ?? .nan, ours?["ari_res1_incl_training"] ?? .nan, (ck?["ARI"] as? Double) ?? .nan, ours?["ari_label_free_incl_training"] ?? .nan))
            }
            say("")
        }
        return out
    }

    /// normalize_total(1e4) + log1p of the counts, dense N×G (what the peer feeds PCA).
    static func normalizedLog(_ ds: Dataset) -> Matrix {
        let n = ds.cellCount, g = ds.geneCount, c = ds.counts
        var x = Matrix(rows: n, cols: g)
        for i in 0..<n {
            let lo = c.indptr[i], hi = c.indptr[i + 1]
            var total: Float = 0
            for z in lo..<hi { total += c.values[z] }
            let f: Float = total > 0 ? 1e4 / total : 0
            for z in lo..<hi { x.data[i * g + Int(c.indices[z])] = log1pf(c.values[z] * f) }
        }
        return x
    }
}

/// `tessera-bench quality`: clustering quality (osmFISH) and imputation quality (the two real pairs; helper
/// `ImputeQuality`), ours against the peers on the same splits.
struct QualityBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "quality",
        abstract: "Clustering (osmFISH: scanpy PCA+Leiden, ours, zero-shot, SupCon, position embedding on/off) and imputation quality on real tissue against the peers.")

    @Option(help: "cluster, impute, annotate or all.") var part = "all"
    @Flag(help: "Fewer training steps (a few minutes per part).") var quick = false
    @Option(help: "The shared data folder.") var sharedData = "../shared/data"
    @Option(help: "Fraction of each class's cells held out (cluster part).") var heldOut = 0.2
    @Option(help: "Seed of the split and the models.") var seed: UInt64 = 0
    @Option(help: "Pretraining steps (0 = 400, quick 150).") var pretrainSteps = 0
    @Option(help: "SupCon steps (0 = 1000, quick 300).") var steps = 0
    @Flag(help: "Skip the scanpy peer.") var noPeer = false
    @Option(help: "annotate: several seeds, comma-separated (one split each, then a summary); overrides --seed.") var seeds: String?
    @Option(help: "annotate: label columns, comma-separated.") var labels = "ClusterName,Region"
    @Option(help: "annotate: write each column's classifier features and split to this folder.") var dump: String?
    @Option(help: "Python of the peer venv.") var python = FileManager.default.currentDirectoryPath + "/.venv-bench/bin/python"

    func run() throws {
        guard ["cluster", "impute", "annotate", "all"].contains(part) else { throw ValidationError("--part is '\(part)'; use cluster, impute, annotate or all") }
        if part == "annotate" || part == "all" {
            var o = AnnotateQuality.Options()
            o.quick = quick; o.data = sharedData + "/osmfish/osmfish_valid_cells.h5ad"
            o.seed = seed; o.pretrainSteps = pretrainSteps; o.steps = steps; o.peer = !noPeer; o.python = python
            o.labels = labels.split(separator: ",").map(String.init); o.dump = dump
            o.seeds = try (seeds ?? "").split(separator: ",").map { guard let v = UInt64($0.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--seeds lists '\($0)'; give whole numbers, e.g. 0,1,2") }; return v }
            try AnnotateQuality.run(o)
        }
        if part == "cluster" || part == "all" {
            var o = ClusterQuality.Options(quick: quick)
            o.data = sharedData + "/osmfish/osmfish_valid_cells.h5ad"
            o.heldOut = heldOut; o.seed = seed; o.pretrainSteps = pretrainSteps; o.steps = steps; o.peer = !noPeer; o.python = python
            try ClusterQuality.run(o)
        }
        if part == "impute" || part == "all" {
            _ = try ImputeQuality.run(sharedData: URL(fileURLWithPath: sharedData), quick: quick)
        }
    }
}
