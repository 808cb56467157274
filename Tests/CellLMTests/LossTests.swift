import Foundation
import Testing
import Tensor
@testable import CellLM

/// The supervised losses against finite differences and hand-computed values.
@Suite struct LossTests {
    @Test func supConGradientAndDefinition() {
        var rng = SeededRNG(seed: 8)
        let n = 10, d = 6
        let labels: [Int32] = [0, 0, 1, 1, 1, 2, -1, 2, 0, -1]
        let f = Buffer.random(n * d, &rng)
        let df = Buffer.zeros(n * d)
        func loss() -> Double { Double(SupervisedLoss.supCon(features: f.p, labels: labels, dim: d, dfeatures: df.p)) }
        let l0 = loss()
        let grad = Buffer(df.array)
        let r = GradientCheck.directional(f, grad: grad, h: 1e-3, f: loss)
        #expect(r.rel < 5e-3, "SupCon fd \(r.fd) vs \(r.analytic)")
        // Direct evaluation of the definition in double precision.
        var fh = [[Double]](repeating: [], count: n)
        for i in 0..<n {
            let row = (0..<d).map { Double(f[i * d + $0]) }
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            fh[i] = row.map { $0 / norm }
        }
        var total = 0.0, anchors = 0
        for i in 0..<n where labels[i] >= 0 {
            let s = (0..<n).map { j in j == i ? 0 : zip(fh[i], fh[j]).reduce(0) { $0 + $1.0 * $1.1 } / 0.07 }
            let lse = Foundation.log(s.reduce(0) { $0 + Foundation.exp($1) })
            let pos = (0..<n).filter { labels[$0] == labels[i] }
            total -= pos.reduce(0) { $0 + s[$1] - lse } / Double(pos.count)
            anchors += 1
        }
        #expect(abs(l0 - total / Double(anchors)) < 1e-4 * abs(total / Double(anchors)))
    }

    @Test func crossEntropyAndMSE() {
        var rng = SeededRNG(seed: 9)
        let n = 5, c = 4
        let logits = Buffer.random(n * c, &rng), d = Buffer.zeros(n * c)
        let labels: [Int32] = [1, -1, 3, 0, 2]
        func ce() -> Double { Double(SupervisedLoss.crossEntropy(logits: logits.p, labels: labels, classes: c, dlogits: d.p)) }
        _ = ce()
        let r = GradientCheck.directional(logits, grad: Buffer(d.array), h: 1e-3, f: ce)
        #expect(r.rel < 2e-3)
        let target = Buffer.random(n * c, &rng)
        func mse() -> Double { Double(SupervisedLoss.mse(pred: logits.p, target: target.p, count: n * c, dpred: d.p)) }
        _ = mse()
        let r2 = GradientCheck.directional(logits, grad: Buffer(d.array), h: 1e-3, f: mse)
        #expect(r2.rel < 2e-3)
    }

    /// NB loss: the reference formula evaluated in double on a small case, and its gradient w.r.t. the means.
    @Test func negativeBinomialMatchesTheFormula() {
        let n = 3, g = 4
        let x: [Float] = [0, 3, 1, 0, 7, 0, 0, 2, 1, 1, 40, 0]
        let mean = Buffer([0.5, 2, 1, 0.1, 3, 0.2, 0.4, 1, 2, 2, 30, 0.7])
        let theta = Buffer([0.7, 2, 5, 0.05])
        let dmean = Buffer.zeros(n * g), dtheta = Buffer.zeros(g)
        let measured: [Int32] = [0, 1, 2]
        func loss() -> Double {
            Double(x.withUnsafeBufferPointer { NBLoss.compute(truth: $0.baseAddress!, mean: mean.p, theta: theta.p, n: n, genes: g,
                                                               measured: measured, inputMask: nil, objective: .allCells,
                                                               dmean: dmean.p, dtheta: dtheta.p) })
        }
        let l = loss()
        // The formula in double precision, as a function of θ (for the θ gradient by central differences).
        func reference(_ th: [Double]) -> Double {
            var ref = 0.0
            for i in 0..<n {
                let tot = measured.reduce(0.0) { $0 + Double(x[i * g + Int($1)]) }, s = measured.reduce(0.0) { $0 + Double(mean[i * g + Int($1)]) }
                for gg in measured.map(Int.init) {
                    let xv = Double(x[i * g + gg]), mu = Double(mean[i * g + gg]) * tot / s, t = th[gg] + 1e-10
                    ref += Foundation.lgamma(t) + Foundation.lgamma(xv + 1) - Foundation.lgamma(xv + t) + (t + xv) * Foundation.log(1 + mu / t)
                        + xv * (Foundation.log(t) - Foundation.log(mu + 1e-10))
                }
            }
            return ref / Double(n)
        }
        let th = theta.array.map(Double.init)
        let ref = reference(th)
        #expect(abs(l - ref) < 1e-4 * abs(ref), "loss \(l) vs reference \(ref)")
        for gg in 0..<g {
            var up = th, down = th
            up[gg] += 1e-6; down[gg] -= 1e-6
            let fd = (reference(up) - reference(down)) / 2e-6
            #expect(abs(Double(dtheta[gg]) - fd) < 1e-3 * max(1, abs(fd)), "dθ[\(gg)] \(dtheta[gg]) vs \(fd)")
        }
        let r = GradientCheck.directional(mean, grad: Buffer(dmean.array), h: 1e-3, f: loss)
        #expect(r.rel < 5e-3, "d mean fd \(r.fd) vs \(r.analytic)")
    }

    /// Log-normalised MSE: the definition evaluated in double (the unmeasured gene and the cell without counts
    /// left out), zero gradient outside the measured genes, and the gradient against finite differences.
    @Test func logMSEMatchesTheDefinitionAndItsGradient() {
        let n = 4, g = 4
        let x: [Float] = [0, 3, 1, 9, 7, 0, 0, 2, 0, 0, 0, 5, 1, 40, 2, 0]     // cell 2 has no counts on the measured genes
        let mean = Buffer([0.5, 2, 1, 0.1, 3, 0.2, 0.4, 1, 2, 2, 30, 0.7, 0.3, 25, 4, 1])
        let dmean = Buffer.zeros(n * g)
        let measured: [Int32] = [0, 1, 2]
        func loss() -> Double {
            Double(x.withUnsafeBufferPointer { LogMSELoss.compute(truth: $0.baseAddress!, mean: mean.p, n: n, genes: g,
                                                                  measured: measured, dmean: dmean.p) })
        }
        let l = loss()
        var ref = 0.0
        for i in [0, 1, 3] {
            let t = measured.reduce(0.0) { $0 + Double(x[i * g + Int($1)]) }, s = measured.reduce(0.0) { $0 + Double(mean[i * g + Int($1)]) }
            for gg in 0..<3 {
                let e = Foundation.log1p(1e4 * Double(mean[i * g + gg]) / s) - Foundation.log1p(1e4 * Double(x[i * g + gg]) / t)
                ref += e * e
            }
        }
        ref /= 3 * 3
        #expect(abs(l - ref) < 1e-5 * ref, "loss \(l) vs definition \(ref)")
        #expect((0..<n).allSatisfy { dmean[$0 * g + 3] == 0 } && (0..<g).allSatisfy { dmean[2 * g + $0] == 0 },
                "no gradient to the unmeasured gene or the cell without counts")
        let r = GradientCheck.directional(mean, grad: Buffer(dmean.array), h: 1e-3, f: loss)
        #expect(r.rel < 5e-3, "d mean fd \(r.fd) vs \(r.analytic)")
    }
}
