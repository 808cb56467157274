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
/// predict the same test cells: logistic regression on log-normalised expression (plain and class-balanced),
/// kNN on PCA, logistic regression on PCA plus the mean PCA of each cell's 10 spatial neighbours, and scanpy's
/// `sc.tl.ingest`. Every candidate of ours is also scored on the test cells, as information: the one that
/// counts is the one validation chose.
public enum AnnotateQuality {
    public struct Options: Sendable {
        public var data = "../shared/data/osmfish/osmfish_valid_cells.h5ad"
        public var labels = ["ClusterName", "Region"]
        public var quick = false
        public var seed: UInt64 = 0
        public var pretrainSteps = 0
        public var steps = 0
        public var positionEmbedding = true
        public var python = FileManager.default.currentDirectoryPath + "/.venv-bench/bin/python"
        public var peerScript = FileManager.default.currentDirectoryPath + "/scripts/annotate_peer.py"
        public var peer = true
        public init() {}
    }

    @discardableResult
    public static func run(_ o: Options) throws -> String {
        var out = ""
        func say(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)); out += s + "\n" }
        let ds = try DatasetReader.read(path: o.data)
        let pre = o.pretrainSteps > 0 ? o.pretrainSteps : (o.quick ? 150 : 400)
        let steps = o.steps > 0 ? o.steps : (o.quick ? 300 : 1000)
        say("quality-annotate: \(ds.name) \(ds.cellCount) cells × \(ds.geneCount) genes; per class 20% test + 10% validation held out (seed \(o.seed)); ours: small model, \(pre) pretraining + \(steps) SupCon steps, position embedding \(o.positionEmbedding ? "on" : "off"); load \(loadAverage())")
        for column in o.labels {
            var s = AnnotateWorkflow.Settings(labelColumn: column)
            s.evaluation = true
            s.supcon.heldOutFraction = s.heldOutFraction; s.supcon.seed = o.seed
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
            let testEmb = CellFeatures(latent: rows(ref.latent, testRows), projection: rows(ref.projection, testRows),
                                       expression: rows(ref.expression, testRows), niche: ref.niche.map { rows($0, testRows) })
            let chosen = try LabelTransfer.run(reference: ref, codes: labels.codes, train: train, validation: valRows, query: testEmb,
                                               classes: labels.classes.count)
            let secs = Date().timeIntervalSince(t0)
            var table: [(String, [String: Double], String)] = []
            table.append(("ours: annotate (\(chosen.method.rawValue), chosen on validation)",
                          try LabelTransfer.scores(truth: truth, predicted: chosen.argmax, thresholded: chosen.labels), String(format: "%.0f s", secs)))
            for m in LabelTransfer.Method.allCases where m != chosen.method {
                let p = try LabelTransfer.run(reference: ref, codes: labels.codes, train: train + valRows, validation: [], query: testEmb,
                                              classes: labels.classes.count, methods: [m])
                table.append(("  ours, \(m.rawValue) (not chosen; info)", try LabelTransfer.scores(truth: truth, predicted: p.argmax, thresholded: p.labels), ""))
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
                    table.append(("peer: \(name)", try LabelTransfer.scores(truth: truth, predicted: pred, thresholded: pred),
                                  String(format: "%.1f s", seconds[name] ?? .nan)))
                }
            }
            say("")
            say("\(column): \(labels.classes.count) classes; \(train.count) training, \(valRows.count) validation, \(testRows.count) test cells (held out of everything)")
            say("method                                              | test macro-F1 | accuracy |  ARI  | ours: Unknown share (conf < 0.5), accuracy of the rest | time")
            for (name, sc, t) in table {
                say(String(format: "%@ |     %.3f     |  %.3f   | %.3f | %@ | %@", name.padding(toLength: 51, withPad: " ", startingAt: 0),
                           sc["macro_f1"]!, sc["accuracy"]!, sc["ari"]!,
                           name.hasPrefix("peer") ? "—" : String(format: "%.3f, %.3f", sc["unknown_fraction"]!, sc["accuracy_confident"] ?? .nan), t))
            }
            let ours = table[0].1["macro_f1"]!
            let bestPeer = table.filter { $0.0.hasPrefix("peer") }.max { $0.1["macro_f1"]! < $1.1["macro_f1"]! }
            if let b = bestPeer {
                say(String(format: "target (ours highest macro-F1): ours %.3f vs best peer %@ %.3f: %@", ours, b.0, b.1["macro_f1"]!, ours > b.1["macro_f1"]! ? "met" : "NOT met"))
            }
            let v = chosen.validationMacroF1.sorted { $0.key.rawValue < $1.key.rawValue }.map { String(format: "%@ %.3f", $0.key.rawValue, $0.value) }
            say("validation macro-F1 that chose the classifier: " + v.joined(separator: ", "))
        }
        return out
    }

    static func rows(_ x: Matrix, _ r: [Int]) -> Matrix {
        var out = Matrix(rows: r.count, cols: x.cols)
        for (i, row) in r.enumerated() { for j in 0..<x.cols { out.data[i * x.cols + j] = x.data[row * x.cols + j] } }
        return out
    }
}
