import Foundation

/// The per-step training loss of a pretraining job, kept in `checkpoints/loss.json` beside the checkpoints so
/// a resumed run reports the whole curve (truncated to the step it resumed from).
final class LossCurve {
    let url: URL
    private(set) var total: [Double] = []
    private(set) var reconstruction: [Double] = []

    init(_ folder: JobFolder) {
        url = folder.checkpoints.appendingPathComponent("loss.json")
        if let d = try? Data(contentsOf: url), let o = try? JSONDecoder().decode([String: [Double]].self, from: d) {
            total = o["total"] ?? []; reconstruction = o["reconstruction"] ?? []
            if reconstruction.count != total.count { total = []; reconstruction = [] }
        }
    }

    func truncate(to n: Int) {
        if total.count > n { total.removeLast(total.count - n); reconstruction.removeLast(reconstruction.count - n) }
    }

    func append(_ loss: Double, reconstruction r: Double) { total.append(loss); reconstruction.append(r) }

    func write() throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try JSONEncoder().encode(["total": total, "reconstruction": reconstruction]).write(to: url, options: .atomic)
    }

    /// Start and end of the curve (means of its first and last tenth, at least one step each) and a curve of at
    /// most 100 block means of the total loss for metrics.json.
    func summary() -> (metrics: [String: Double], curve: [Double]) {
        guard !total.isEmpty else { return ([:], []) }
        let w = max(1, total.count / 10)
        func mean(_ a: ArraySlice<Double>) -> Double { a.reduce(0, +) / Double(a.count) }
        let m = ["loss_start": mean(total.prefix(w)), "loss_end": mean(total.suffix(w)),
                 "reconstruction_start": mean(reconstruction.prefix(w)), "reconstruction_end": mean(reconstruction.suffix(w))]
        let blocks = min(100, total.count), size = Double(total.count) / Double(blocks)
        let curve = (0..<blocks).map { b in mean(total[Int(Double(b) * size)..<max(Int(Double(b) * size) + 1, Int(Double(b + 1) * size))]) }
        return (m, curve)
    }
}
