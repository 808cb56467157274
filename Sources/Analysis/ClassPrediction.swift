import Tensor

/// What a classifier on an embedding says about each query cell: the most likely class, its probability (the
/// cell's confidence) and the probabilities of every class. Classes are 0..<`classes`.
public struct ClassPrediction: Sendable, Equatable {
    /// Per query row: the class with the highest probability (ties → the lower class index).
    public var labels: [Int]
    /// Per query row: that class's probability, in [0, 1].
    public var confidence: [Double]
    /// N×C class probabilities, rows summing to 1.
    public var probabilities: Matrix

    /// Builds labels and confidences from the probability rows.
    public init(probabilities: Matrix) {
        self.probabilities = probabilities
        var labels = [Int](repeating: 0, count: probabilities.rows), conf = [Double](repeating: 0, count: probabilities.rows)
        let c = probabilities.cols
        for i in 0..<probabilities.rows {
            var best = 0
            for j in 1..<max(c, 1) where probabilities.data[i * c + j] > probabilities.data[i * c + best] { best = j }
            labels[i] = best; conf[i] = Double(probabilities.data[i * c + best])
        }
        self.labels = labels; self.confidence = conf
    }
}

/// Shared checks of the classifiers' inputs: shapes agree, labels are in 0..<classes, values are finite.
enum ClassifierInput {
    static func check(_ x: Matrix, labels: [Int], classes: Int) throws(AnalysisError) {
        if x.rows == 0 || x.cols == 0 { throw .empty(parameter: "training embedding") }
        try Check.same(x.rows, labels.count, "labels")
        if classes < 2 { throw .outOfRange(parameter: "classes", value: classes, allowed: 2...Int.max) }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw .invalid(parameter: "labels", reason: "label \(labels[bad]) at row \(bad) is outside 0..<\(classes); pass labelled rows only")
        }
        if let i = x.data.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(parameter: "training embedding", index: i) }
    }

    static func checkQuery(_ q: Matrix, dims: Int) throws(AnalysisError) {
        if q.cols != dims { throw .lengthMismatch(parameter: "query columns", expected: dims, actual: q.cols) }
        if let i = q.data.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(parameter: "query embedding", index: i) }
    }
}
