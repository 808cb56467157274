import Foundation
import Testing
import Tensor
@testable import Analysis

/// kNN and the linear head against a plain reference and on separable data.
@Suite struct ClassifierTests {
    /// Seeded Gaussian blobs: `classes` centres 4 apart in `dims` dimensions, unit noise.
    static func blobs(_ n: Int, classes: Int, dims: Int, seed: UInt64) -> (Matrix, [Int]) {
        var rng = SeededRNG(seed: seed)
        var x = Matrix(rows: n, cols: dims), y = [Int](repeating: 0, count: n)
        for i in 0..<n {
            y[i] = i % classes
            for j in 0..<dims { x.data[i * dims + j] = Float(rng.normal()) + (j % classes == y[i] ? 4 : 0) }
        }
        return (x, y)
    }

    /// The GEMM-based search picks the same neighbours as a naive double loop, so the vote shares agree.
    @Test func knnMatchesANaiveSearch() throws {
        let (train, y) = Self.blobs(300, classes: 3, dims: 6, seed: 1)
        var (query, _) = Self.blobs(40, classes: 3, dims: 6, seed: 2)
        query.data = query.data.map { $0 * 0.5 }   // ambiguous points, so votes are split
        let k = 7
        let p = try KNNClassifier(k: k).predict(train: train, labels: y, classes: 3, query: query)
        for i in 0..<query.rows {
            let d = (0..<train.rows).map { j in (0..<6).reduce(Float(0)) { s, t in
                let v = query.data[i * 6 + t] - train.data[j * 6 + t]; return s + v * v } }
            let nearest = d.indices.sorted { d[$0] < d[$1] }.prefix(k)
            var votes = [Float](repeating: 0, count: 3)
            for j in nearest { votes[y[j]] += 1 / Float(k) }
            for c in 0..<3 { #expect(abs(p.probabilities[i, c] - votes[c]) < 1e-5, "row \(i) class \(c)") }
            #expect(abs(p.confidence[i] - Double(votes.max()!)) < 1e-5)
        }
    }

    @Test func linearHeadSeparatesBlobsAndGivesProbabilities() throws {
        let (train, y) = Self.blobs(400, classes: 4, dims: 8, seed: 3)
        let (query, truth) = Self.blobs(200, classes: 4, dims: 8, seed: 4)
        let p = try LinearClassifier().fit(train, labels: y, classes: 4).predict(query)
        let acc = Double(zip(p.labels, truth).filter { $0 == $1 }.count) / 200
        #expect(acc > 0.97, "accuracy \(acc)")
        for i in 0..<p.probabilities.rows {
            let row = (0..<4).map { p.probabilities[i, $0] }
            #expect(abs(row.reduce(0, +) - 1) < 1e-4)
        }
        let knn = try KNNClassifier(k: 15).predict(train: train, labels: y, classes: 4, query: query)
        #expect(Double(zip(knn.labels, truth).filter { $0 == $1 }.count) / 200 > 0.97)
    }

    @Test func badInputNamesTheProblem() {
        let x = Matrix(rows: 3, cols: 2, data: [0, 0, 1, 1, 2, 2])
        #expect(throws: AnalysisError.self) { try KNNClassifier(k: 2).predict(train: x, labels: [0, 1, 2], classes: 2, query: x) }
        #expect(throws: AnalysisError.self) { try KNNClassifier(k: 5).predict(train: x, labels: [0, 1, 1], classes: 2, query: x) }
        #expect(throws: AnalysisError.self) { try LinearClassifier().fit(x, labels: [0, 1], classes: 2) }
        #expect(throws: AnalysisError.self) {
            try KNNClassifier(k: 1).predict(train: x, labels: [0, 1, 1], classes: 2, query: Matrix(rows: 1, cols: 3))
        }
    }

    /// The linear head converges to scikit-learn's LogisticRegression with the same objective (class-balanced
    /// weights, the same L2 strength: C = 1 / (l2 · n), standardised features, unpenalised intercept) on
    /// overlapping, imbalanced blobs: the same predictions and nearly the same probabilities.
    @Test(.enabled(if: ClassifierTests.testPython != nil, "needs .venv-test with scikit-learn (scripts/setup --test-venv)"))
    func linearHeadMatchesScikitLearnLogisticRegression() throws {
        var rng = SeededRNG(seed: 11)
        let n = 1500, d = 12, c = 6
        var x = Matrix(rows: n, cols: d), y = [Int](repeating: 0, count: n)
        for i in 0..<n {
            y[i] = min(c - 1, Int(Double(c) * pow(rng.uniform(), 1.8)))     // imbalanced classes
            for j in 0..<d { x.data[i * d + j] = Float(rng.normal() * 1.5) + (j % c == y[i] ? 1.2 : 0) + Float(j) }
        }
        let head = try LinearClassifier().fit(x, labels: y, classes: c)
        let ours = try head.predict(x)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-logreg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.json")
        try JSONSerialization.data(withJSONObject: ["x": x.data.map(Double.init), "y": y, "n": n, "d": d, "C": 1 / (Double(LinearClassifier().l2) * Double(n))]).write(to: input)
        let out = try Self.python("""
        import sys, json, numpy as np
        from sklearn.linear_model import LogisticRegression
        a = json.load(open(sys.argv[1])); X = np.array(a["x"]).reshape(a["n"], a["d"])
        X = (X - X.mean(0)) / X.std(0)
        m = LogisticRegression(C=a["C"], class_weight="balanced", max_iter=5000, tol=1e-8).fit(X, a["y"])
        print(json.dumps({"p": m.predict_proba(X).ravel().tolist()}))
        """, [input.path])
        struct R: Decodable { let p: [Double] }
        let p = try JSONDecoder().decode(R.self, from: Data(out.utf8)).p
        var agree = 0, diff = 0.0
        for i in 0..<n {
            let row = (0..<c).map { p[i * c + $0] }
            if row.firstIndex(of: row.max()!)! == ours.labels[i] { agree += 1 }
            for k in 0..<c { diff += abs(row[k] - Double(ours.probabilities[i, k])) }
        }
        let share = Double(agree) / Double(n), meanDiff = diff / Double(n * c)
        #expect(share > 0.98 && meanDiff < 0.01, "agreement \(share), mean |Δp| \(meanDiff)")
    }

    static var testPython: String? {
        let p = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".venv-test/bin/python").path
        return FileManager.default.isExecutableFile(atPath: p) ? p : nil
    }

    static func python(_ script: String, _ args: [String]) throws -> String {
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: testPython!)
        proc.arguments = ["-c", script] + args
        let out = Pipe(), err = Pipe()
        proc.standardOutput = out; proc.standardError = err
        try proc.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        proc.waitUntilExit()
        if proc.terminationStatus != 0 { throw NSError(domain: "python", code: 1, userInfo: [NSLocalizedDescriptionKey: String(decoding: e, as: UTF8.self)]) }
        return String(decoding: o, as: UTF8.self)
    }
}
