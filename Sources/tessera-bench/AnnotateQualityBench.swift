import Analysis
import ArgumentParser
import Foundation
import SpatialData
import Tensor
import Workflows

/// Label-transfer quality on real tissue (osmFISH, `ClusterName` and `Region`), ours against supervised peers on
/// the same test cells, scored by the same code (`LabelTransfer.scores`), in one invocation.
///
/// The split is the annotate workflow's evaluation split (`AnnotateWorkflow.split`): per class, seeded and
/// stratified, 20% test cells and 10% validation cells, both held out of SupCon fine-tuning and of the brief
/// pretraining; ours chooses its classifier on the validation cells only and is refit on training + validation
/// cells. The peers (`scripts/annotate_peer.py`, .venv-bench) train on the same training + validation cells and
/// predict the same test cells: logistic regression on log-normalised expression (plain, class-balanced, and
/// balanced with C chosen by 5-fold cross-validation), kNN on PCA, logistic regression on PCA plus the mean PCA of
/// each cell's 10 spatial neighbours, and scanpy's `sc.tl.ingest`. Every candidate of ours is also scored on the
/// test cells, as information: the one that counts is the one validation chose. With several seeds each is one
/// split (its own draw and model), and a summary gives each method's mean ± sd and ours' wins.
public enum AnnotateQuality {
    public struct Options: Sendable {
        public var data = "../shared/data/osmfish/osmfish_valid_cells.h5ad"
        public var labels = ["ClusterName", "Region"]
        public var quick = false
        public var seed: UInt64 = 0
        /// Several splits (seeds) with a summary over them; empty = `seed` only.
        public var seeds: [UInt64] = []
        public var pretrainSteps = 0
        public var steps = 0
        public var positionEmbedding = true
        public var python = FileManager.default.currentDirectoryPath + "/.venv-bench/bin/python"
        public var peerScript = FileManager.default.currentDirectoryPath + "/scripts/annotate_peer.py"
        public var peer = true
        /// A folder to write each column's features and split to (`features-<column>-seed<N>.h5ad`), for
        /// trying classifiers outside the bench; nil = none.
        public var dump: String?
        public init() {}
    }

    /// One method's scores on one split.
    struct Row { var name: String; var scores: [String: Double]; var time: String }

    @discardableResult
    public static func run(_ o: Options) throws -> String {
        var out = ""
        func say(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)); out += s + "\n" }
        let ds = try DatasetReader.read(path: o.data)
        let pre = o.pretrainSteps > 0 ? o.pretrainSteps : (o.quick ? 150 : 400)
        let steps = o.steps > 0 ? o.steps : (o.quick ? 300 : 1000)
        let seeds = o.seeds.isEmpty ? [o.seed] : o.seeds
        say("quality-annotate: \(ds.name) \(ds.cellCount) cells × \(ds.geneCount) genes; per class 20% test + 10% validation held out (seeds \(seeds.map(String.init).joined(separator: ", "))); ours: small model, \(pre) pretraining + \(steps) SupCon steps, position embedding \(o.positionEmbedding ? "on" : "off"); load \(loadAverage())")
        for column in o.labels {
            var perSeed: [[Row]] = []
            for seed in seeds {
                let table = try split(ds, column: column, seed: seed, pre: pre, steps: steps, o, say: say)
                perSeed.append(table)
            }
            guard seeds.count > 1 else { continue }
            // Mean ± sd of test macro-F1 per method over the splits; ours counts a win where it beats every peer.
            say("")
            say("\(column), \(seeds.count) splits (seeds \(seeds.map(String.init).joined(separator: ", "))): test macro-F1 mean ± sd (min–max)")
            func key(_ n: String) -> String { n.replacingOccurrences(of: " (chosen)", with: "") }
            let names = perSeed[0].map { key($0.name) }.sorted { ($0.hasPrefix("ours") ? 0 : $0.hasPrefix("  ") ? 1 : 2, $0) < ($1.hasPrefix("ours") ? 0 : $1.hasPrefix("  ") ? 1 : 2, $1) }
            for name in names {
                let v = perSeed.compactMap { t in t.first { key($0.name) == name }?.scores["macro_f1"] }
                guard v.count == seeds.count else { continue }
                let m = v.reduce(0, +) / Double(v.count)
                let sd = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(max(1, v.count - 1))).squareRoot()
                say(String(format: "%@ | %.3f ± %.3f (%.3f–%.3f)", name.padding(toLength: 51, withPad: " ", startingAt: 0), m, sd, v.min()!, v.max()!))
            }
            let wins = perSeed.filter { t in
                let ours = t[0].scores["macro_f1"]!
                return t.filter { $0.name.hasPrefix("peer") }.allSatisfy { $0.scores["macro_f1"]! < ours }
            }.count
            say("ours highest macro-F1 in \(wins) of \(seeds.count) splits; chosen: " + perSeed.map { $0[0].time.components(separatedBy: " | ").last ?? "" }.joined(separator: "; "))
        }
        return out
    }

    /// One split: trains ours, scores ours (validation's choice, then every candidate as information) and the
    /// peers on the test cells, prints the table and returns its rows (ours first).
    static func split(_ ds: Dataset, column: String, seed: UInt64, pre: Int, steps: Int, _ o: Options, say: (String) -> Void) throws -> [Row] {
        var s = AnnotateWorkflow.Settings(labelColumn: column)
        s.evaluation = true
        s.supcon.heldOutFraction = s.heldOutFraction; s.supcon.seed = seed
        s.supcon.pretrainSteps = pre; s.supcon.steps = steps; s.supcon.positionEmbedding = o.positionEmbedding
        let t0 = Date()
        let r = try ClusterSupCon.run(ds, settings: s.supcon)
        let labels = r.data.labels
        let (validation, test) = AnnotateWorkflow.split(labels, s)
        let train = labels.codes.indices.filter { labels.codes[$0] >= 0 && !labels.heldOut[$0] }
        let valRows = labels.codes.indices.filter { validation[$0] }
        let testRows = labels.codes.indices.filter { test[$0] }
        let truth = testRows.map { Int(labels.codes[$0]) }
        let ref = try CellFeatures.make(ds, vocabulary: r.data.vocabulary, latent: r.fineTunedLatent, projection: r.fineTuned)
        let testEmb = CellFeatures(latent: ref.latent.selecting(rows: testRows), projection: ref.projection.selecting(rows: testRows),
                                   expression: ref.expression.selecting(rows: testRows), niche: ref.niche.map { $0.selecting(rows: testRows) })
        if let dir = o.dump { try dumpFeatures(ds, ref, zeroShot: r.zeroShot, labels: labels, validation: validation, test: test, column: column, seed: seed, dir: dir) }
        let chosen = try LabelTransfer.run(reference: ref, codes: labels.codes, train: train, validation: valRows, query: testEmb,
                                           classes: labels.classes.count)
        let secs = Date().timeIntervalSince(t0)
        var table: [Row] = []
        table.append(Row(name: "ours: annotate (chosen on validation)",
                         scores: try LabelTransfer.scores(truth: truth, predicted: chosen.argmax, thresholded: chosen.labels),
                         time: String(format: "%.0f s | %@", secs, chosen.selection.name)))
        // Every candidate on the same test cells, as information (the chosen one again, refit the same way).
        for sel in chosen.ranked {
            let p = try LabelTransfer.predict(sel, reference: ref, codes: labels.codes, rows: train + valRows, query: testEmb, classes: labels.classes.count)
            table.append(Row(name: "  candidate \(sel.methods.count > 1 ? "top-2 mean" : sel.name)\(sel == chosen.selection ? " (chosen)" : "")",
                             scores: try LabelTransfer.scores(truth: truth, predicted: p.argmax, thresholded: p.labels), time: sel.methods.count > 1 ? sel.name : ""))
        }
        if o.peer {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-annotate-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let split = dir.appendingPathComponent("split.json")
            try JSONSerialization.data(withJSONObject: ["column": column, "train": train + valRows, "test": testRows]).write(to: split)
            let json = try runProcess(o.python, [o.peerScript, "--data", o.data, "--split", split.path])
            guard let doc = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
                  let methods = doc["methods"] as? [String: [String]] else { throw ValidationError("\(o.peerScript) printed no usable JSON") }
            let seconds = doc["seconds"] as? [String: Double] ?? [:]
            let index = Dictionary(uniqueKeysWithValues: labels.classes.enumerated().map { ($1, $0) })
            for name in methods.keys.sorted() {
                let pred = methods[name]!.map { index[$0] ?? -1 }
                guard pred.count == truth.count else { throw ValidationError("peer \(name) returned \(pred.count) predictions for \(truth.count) test cells") }
                table.append(Row(name: "peer: \(name)", scores: try LabelTransfer.scores(truth: truth, predicted: pred, thresholded: pred),
                                 time: String(format: "%.1f s", seconds[name] ?? .nan)))
            }
        }
        say("")
        say("\(column), seed \(seed): \(labels.classes.count) classes; \(train.count) training, \(valRows.count) validation, \(testRows.count) test cells (held out of everything)")
        say("method                                              | test macro-F1 | accuracy |  ARI  | ours: Unknown share (conf < 0.5), accuracy of the rest | time")
        for row in table {
            let sc = row.scores
            say(String(format: "%@ |     %.3f     |  %.3f   | %.3f | %@ | %@", row.name.padding(toLength: 51, withPad: " ", startingAt: 0),
                       sc["macro_f1"]!, sc["accuracy"]!, sc["ari"]!,
                       row.name.hasPrefix("peer") ? "—" : String(format: "%.3f, %.3f", sc["unknown_fraction"]!, sc["accuracy_confident"] ?? .nan), row.time))
        }
        let ours = table[0].scores["macro_f1"]!
        if let b = table.filter({ $0.name.hasPrefix("peer") }).max(by: { $0.scores["macro_f1"]! < $1.scores["macro_f1"]! }) {
            say(String(format: "target (ours highest macro-F1): ours %.3f vs best peer %@ %.3f: %@", ours, b.name, b.scores["macro_f1"]!, ours > b.scores["macro_f1"]! ? "met" : "NOT met"))
        }
        let v = chosen.validationMacroF1.sorted { $0.key < $1.key }.map { String(format: "%@ %.3f", $0.key, $0.value) }
        say("validation macro-F1 that chose the classifier (\(chosen.selection.name)): " + v.joined(separator: ", "))
        return table
    }

    /// The dataset with the classifier's inputs in obsm (X_latent, X_projection, X_expression, X_niche, and the
    /// pretrained model's label-free latent X_zeroshot) and the
    /// split in obs['annotate_split'].
    static func dumpFeatures(_ ds: Dataset, _ f: CellFeatures, zeroShot: Matrix, labels: SupervisedLabels, validation: [Bool], test: [Bool],
                             column: String, seed: UInt64, dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var x = H5ADExtras()
        x.obsm = [("X_latent", f.latent), ("X_projection", f.projection), ("X_expression", f.expression), ("X_zeroshot", zeroShot)]
        if let n = f.niche { x.obsm.append(("X_niche", n)) }
        x.obs["annotate_split"] = .categorical(Categorical(labels: labels.codes.indices.map { i in
            labels.codes[i] < 0 ? "unlabelled" : validation[i] ? "validation" : test[i] ? "test" : "train" }))
        try H5ADWriter.write(ds, to: "\(dir)/features-\(column)-seed\(seed).h5ad", extras: x)
    }
}
