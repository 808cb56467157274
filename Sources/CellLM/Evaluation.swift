import Foundation
import Tensor

/// Held-out evaluation of masked-gene reconstruction: mask a fixed, seeded fraction of each cell's measured
/// genes, run the model in inference mode on what is left, and score the masked counts by NB negative
/// log-likelihood (term B of §4.2: means rescaled per cell to the masked total). The same entries scored with
/// a per-gene mean profile give the baseline the model has to beat.
public enum MaskedEvaluation {
    public struct Result: Sendable {
        /// Mean over cells of the summed NLL of their masked entries.
        public var model: Double
        public var baseline: Double
        public var maskedEntries: Int
        public var cells: Int
    }

    /// A fixed mask: each measured gene of every cell with probability `rate`.
    public static func mask(_ seq: CellSequence, rate: Double, seed: UInt64) -> MaskedSequence {
        var rng = SeededRNG(seed: seed)
        let g = seq.counts.cols, n = seq.cells
        var mask = [UInt8](repeating: 0, count: n * g)
        for i in 0..<n { for gene in seq.measured where rng.uniform() < rate { mask[i * g + Int(gene)] = 1 } }
        return MaskedSequence(kept: Array(0..<n), counts: seq.counts, masked: MaskedSequence.zeroing(seq.counts, mask: mask),
                              inputMask: mask, maskedCells: n)
    }

    /// Summed masked-entry NB NLL (term B) of `mean` (N×G) against the sequence's counts, and how many cells
    /// had a masked entry.
    static func score(_ seq: CellSequence, _ m: MaskedSequence, mean: [Float], theta: [Float]) -> (sum: Double, cells: Int) {
        let n = seq.cells, g = seq.counts.cols
        var truth = [Float](repeating: 0, count: n * g)
        truth.withUnsafeMutableBufferPointer { seq.counts.densify(into: $0.baseAddress!) }
        var dmean = [Float](repeating: 0, count: n * g), dtheta = [Float](repeating: 0, count: g)
        let scored = (0..<n).filter { i in seq.measured.contains { m.inputMask[i * g + Int($0)] != 0 } }.count
        let loss = truth.withUnsafeBufferPointer { t in mean.withUnsafeBufferPointer { mp in theta.withUnsafeBufferPointer { tp in
            m.inputMask.withUnsafeBufferPointer { mk in dmean.withUnsafeMutableBufferPointer { dm in dtheta.withUnsafeMutableBufferPointer { dt in
                NBLoss.compute(truth: t.baseAddress!, mean: mp.baseAddress!, theta: tp.baseAddress!, n: n, genes: g,
                               measured: seq.measured, inputMask: mk.baseAddress!, objective: .maskedEntriesOnly,
                               dmean: dm.baseAddress!, dtheta: dt.baseAddress!)
            } } } } } }
        return (Double(loss) * Double(scored), scored)
    }

    /// `profile`: per-gene mean counts of the training cells (G); `baselineTheta`: the baseline's per-gene
    /// inverse dispersion (G), e.g. from `geneStatistics`.
    public static func evaluate(model: CellLM, sequences: [CellSequence], profile: [Float], baselineTheta: [Float],
                                rate: Double = 0.25, seed: UInt64 = 17) throws(CellLMError) -> Result {
        var modelSum = 0.0, baseSum = 0.0, cells = 0, entries = 0
        guard profile.count == model.config.genes, baselineTheta.count == model.config.genes else {
            throw .invalidInput(field: "profile", problem: "has \(profile.count) genes (θ \(baselineTheta.count)) for a vocabulary of \(model.config.genes)",
                                fix: "Compute it with geneStatistics on sequences in the model's vocabulary.")
        }
        for (k, seq) in sequences.enumerated() {
            let m = mask(seq, rate: rate, seed: seed &+ UInt64(k))
            var input = seq
            input.counts = m.masked
            let means = try model.reconstruct(input)
            let theta = model.thetaArray()
            let base = [Float]((0..<seq.cells).flatMap { _ in profile })
            let ours = score(seq, m, mean: means.data, theta: theta)
            modelSum += ours.sum
            baseSum += score(seq, m, mean: base, theta: baselineTheta).sum
            cells += ours.cells
            entries += m.inputMask.reduce(0) { $0 + Int($1) }
        }
        return Result(model: modelSum / Double(max(cells, 1)), baseline: baseSum / Double(max(cells, 1)),
                      maskedEntries: entries, cells: cells)
    }

    /// Per-gene mean and method-of-moments NB inverse dispersion θ = μ²/(σ² − μ) of library-size-normalised
    /// counts (clamped to CellPLM's [1e-4, 1e4]), over the given sequences' cells.
    public static func geneStatistics(_ sequences: [CellSequence]) -> (mean: [Float], theta: [Float]) {
        guard let g = sequences.first?.counts.cols else { return ([], []) }
        var s = [Double](repeating: 0, count: g), s2 = s, n = 0.0
        var libs: [Double] = []
        for seq in sequences { for i in 0..<seq.cells { libs.append(Double(seq.counts.values[seq.counts.indptr[i]..<seq.counts.indptr[i + 1]].reduce(0, +))) } }
        guard !libs.isEmpty else { return ([Float](repeating: 1e-6, count: g), [Float](repeating: 1e4, count: g)) }
        let medianLib = libs.sorted()[libs.count / 2]
        for seq in sequences {
            for i in 0..<seq.cells {
                let lo = seq.counts.indptr[i], hi = seq.counts.indptr[i + 1]
                let lib = Double(seq.counts.values[lo..<hi].reduce(0, +))
                let f = lib > 0 ? medianLib / lib : 1
                for z in lo..<hi { let v = Double(seq.counts.values[z]) * f; s[Int(seq.counts.indices[z])] += v; s2[Int(seq.counts.indices[z])] += v * v }
                n += 1
            }
        }
        var mean = [Float](repeating: 0, count: g), theta = mean
        for j in 0..<g {
            let mu = s[j] / n, v = s2[j] / n - mu * mu
            mean[j] = Float(max(mu, 1e-6))
            theta[j] = Float(v > mu ? min(max(mu * mu / (v - mu), 1e-4), 1e4) : 1e4)
        }
        return (mean, theta)
    }
}

extension CellLM {
    /// The decoder's per-gene inverse dispersion θ = clamp(exp(disp), 1e-4, 1e4).
    public func thetaArray() -> [Float] {
        params.array("decoder.out_layer.dec_disp").map { min(max(expf($0), 1e-4), 1e4) }
    }
}

extension CellLM {
    /// Data-dependent start for pretraining from scratch: sets the NB decoder's output bias to the log of each
    /// gene's mean count (relative to the mean over genes), so the first steps do not spend themselves learning
    /// the average expression profile. Genes without measurements keep their bias.
    public func initializeDecoderBias(from sequences: [CellSequence]) {
        guard let g = sequences.first?.counts.cols, g == config.genes else { return }
        var sum = [Double](repeating: 0, count: g), cells = [Double](repeating: 0, count: g)
        for seq in sequences {
            for gene in seq.measured { cells[Int(gene)] += Double(seq.cells) }
            for (z, j) in seq.counts.indices.enumerated() { sum[Int(j)] += Double(seq.counts.values[z]) }
        }
        let logs = (0..<g).map { cells[$0] > 0 ? Foundation.log(max(sum[$0] / cells[$0], 1e-3)) : Double.nan }
        let valid = logs.filter { $0.isFinite }
        guard !valid.isEmpty else { return }
        let center = valid.reduce(0, +) / Double(valid.count)
        let b = params.value("decoder.out_layer.dec_mean.0.bias")
        for j in 0..<g where logs[j].isFinite { b[j] = Float(logs[j] - center) }
    }
}

extension MaskedEvaluation {
    /// A non-parametric reference for the same task: each held-out cell's masked genes are predicted by the
    /// mean library-normalised profile of its k nearest training cells, neighbours found by cosine similarity of
    /// log1p counts over the genes left visible in that cell. Scored exactly like `evaluate` (term B, the given
    /// per-gene θ). Returns the mean NLL per scored cell.
    public static func nearestNeighbourBaseline(train: [CellSequence], test: [CellSequence], theta: [Float], k: Int = 15,
                                                rate: Double = 0.25, seed: UInt64 = 17) -> Double {
        guard let g = train.first?.counts.cols else { return .nan }
        // Training cells: log1p profile (for similarity) and library-normalised profile (for prediction).
        var logs: [[Float]] = [], norms: [[Float]] = []
        for seq in train {
            for i in 0..<seq.cells {
                var l = [Float](repeating: 0, count: g), p = l
                let lo = seq.counts.indptr[i], hi = seq.counts.indptr[i + 1]
                let lib = max(seq.counts.values[lo..<hi].reduce(0, +), 1)
                for z in lo..<hi { let j = Int(seq.counts.indices[z]); l[j] = log1pf(seq.counts.values[z]); p[j] = seq.counts.values[z] / lib }
                logs.append(l); norms.append(p)
            }
        }
        var total = 0.0, cells = 0
        for (t, seq) in test.enumerated() {
            let m = mask(seq, rate: rate, seed: seed &+ UInt64(t))
            let n = seq.cells
            var pred = [Float](repeating: 1e-6, count: n * g)
            for i in 0..<n {
                var q = [Float](repeating: 0, count: g)
                for z in seq.counts.indptr[i]..<seq.counts.indptr[i + 1] where m.inputMask[i * g + Int(seq.counts.indices[z])] == 0 {
                    q[Int(seq.counts.indices[z])] = log1pf(seq.counts.values[z])
                }
                let visible = seq.measured.filter { m.inputMask[i * g + Int($0)] == 0 }.map(Int.init)
                let qn = visible.reduce(Float(0)) { $0 + q[$1] * q[$1] }.squareRoot()
                var sims: [(Float, Int)] = []
                sims.reserveCapacity(logs.count)
                for (c, l) in logs.enumerated() {
                    var dot: Float = 0, ln: Float = 0
                    for j in visible { dot += q[j] * l[j]; ln += l[j] * l[j] }
                    sims.append((dot / max(qn * ln.squareRoot(), 1e-12), c))
                }
                sims.sort { $0.0 > $1.0 }
                for (_, c) in sims.prefix(k) { for j in 0..<g { pred[i * g + j] += norms[c][j] / Float(k) } }
            }
            let r = score(seq, m, mean: pred, theta: theta)
            total += r.sum; cells += r.cells
        }
        return total / Double(max(cells, 1))
    }
}
