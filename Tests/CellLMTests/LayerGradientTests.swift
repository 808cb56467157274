import Foundation
import Testing
import Tensor
@testable import CellLM

/// Every layer's backward against central finite differences on random (never zero) inputs and parameters.
@Suite struct LayerGradientTests {
    /// A scalar probe: L = Σ w ∘ y with fixed random weights w, so dL/dy = w.
    static func probe(_ y: Buffer, _ w: Buffer) -> Double {
        var s = 0.0
        for i in 0..<w.count { s += Double(y[i]) * Double(w[i]) }
        return s
    }

    @Test func linear() {
        var rng = SeededRNG(seed: 1)
        let n = 7, i = 5, o = 4
        let x = Buffer.random(n * i, &rng), w = Buffer.random(o * i, &rng), b = Buffer.random(o, &rng)
        let pw = Buffer.random(n * o, &rng), y = Buffer.zeros(n * o)
        func f() -> Double {
            Linear.forward(y: y.p, x: x.p, w: w.p, b: b.p, n: n, inDim: i, outDim: o)
            return Self.probe(y, pw)
        }
        _ = f()
        let dx = Buffer.zeros(n * i), dw = Buffer.zeros(o * i), db = Buffer.zeros(o)
        Linear.backward(dx: dx.p, dw: dw.p, db: db.p, dy: pw.p, x: x.p, w: w.p, n: n, inDim: i, outDim: o)
        for (name, v, g) in [("x", x, dx), ("w", w, dw), ("b", b, db)] {
            let r = GradientCheck.directional(v, grad: g, f: f)
            #expect(r.rel < 1e-3, "d\(name): fd \(r.fd) vs analytic \(r.analytic)")
        }
    }

    @Test(arguments: ["layer", "group"]) func norms(kind: String) {
        var rng = SeededRNG(seed: 2)
        let n = 6, c = 16
        let x = Buffer.random(n * c, &rng, scale: 2), gamma = Buffer.random(c, &rng), beta = Buffer.random(c, &rng)
        let pw = Buffer.random(n * c, &rng), y = Buffer.zeros(n * c), mean = Buffer.zeros(n * 4), rstd = Buffer.zeros(n * 4)
        func f() -> Double {
            if kind == "layer" { LayerNorm.forward(y: y.p, mean: mean.p, rstd: rstd.p, x: x.p, gamma: gamma.p, beta: beta.p, n: n, c: c) }
            else { GroupNorm.forward(y: y.p, mean: mean.p, rstd: rstd.p, x: x.p, gamma: gamma.p, beta: beta.p, n: n, c: c, groups: 4) }
            return Self.probe(y, pw)
        }
        _ = f()
        let dx = Buffer.zeros(n * c), dg = Buffer.zeros(c), dbeta = Buffer.zeros(c)
        if kind == "layer" {
            LayerNorm.backward(dx: dx.p, dgamma: dg.p, dbeta: dbeta.p, dy: pw.p, x: x.p, mean: mean.p, rstd: rstd.p, gamma: gamma.p, n: n, c: c, accumulate: false)
        } else {
            GroupNorm.backward(dx: dx.p, dgamma: dg.p, dbeta: dbeta.p, dy: pw.p, x: x.p, mean: mean.p, rstd: rstd.p, gamma: gamma.p, n: n, c: c, groups: 4, accumulate: false)
        }
        let rx = GradientCheck.directional(x, grad: dx, h: 1e-3, f: f)
        let rg = GradientCheck.directional(gamma, grad: dg, f: f)
        let rb = GradientCheck.directional(beta, grad: dbeta, f: f)
        #expect(rx.rel < 5e-3, "dx fd \(rx.fd) analytic \(rx.analytic)")
        #expect(rg.rel < 1e-3 && rb.rel < 1e-3, "dgamma \(rg) dbeta \(rb)")
    }

    @Test func geluAndPrelu() {
        var rng = SeededRNG(seed: 3)
        let n = 50
        let x = Buffer.random(n, &rng, scale: 2), pw = Buffer.random(n, &rng), y = Buffer.zeros(n)
        func fg() -> Double { Activation.geluForward(y.p, x.p, n); return Self.probe(y, pw) }
        let dx = Buffer(pw.array)
        Activation.geluBackward(dx.p, dx.p, input: x.p, n)
        let r = GradientCheck.directional(x, grad: dx, h: 1e-3, f: fg)
        #expect(r.rel < 2e-3, "gelu fd \(r.fd) analytic \(r.analytic)")
        let slope = Buffer([0.3])
        func fp() -> Double { Activation.preluForward(y.p, x.p, slope: slope[0], n); return Self.probe(y, pw) }
        let d2 = Buffer(pw.array)
        let ds = Activation.preluBackward(d2.p, input: x.p, slope: slope[0], n)
        let rs = GradientCheck.directional(slope, grad: Buffer([ds]), f: fp)
        let rx = GradientCheck.directional(x, grad: d2, h: 1e-3, f: fp)
        #expect(rs.rel < 1e-3 && rx.rel < 2e-3, "prelu slope \(rs) x \(rx)")
    }

    /// Flow attention: the whole qkv input, then q, k and v blocks one at a time so one cannot hide another.
    @Test(arguments: [12, 300]) func flowAttention(n: Int) {
        var rng = SeededRNG(seed: 4)
        let d = 16, heads = 4
        let raw = Buffer.random(n * 3 * d, &rng, scale: 1.5), pw = Buffer.random(n * d, &rng)
        let saved = FlowAttention.Saved(), out = Buffer.zeros(n * d), work = Buffer.zeros(n * 3 * d)
        func f() -> Double {
            work.pointer.update(from: raw.pointer, count: raw.count)
            FlowAttention.forward(out: out.p, qkv: work.p, saved: saved, n: n, d: d, heads: heads)
            return Self.probe(out, pw)
        }
        _ = f()
        let clamped = (0..<(n * heads)).filter { abs(saved.coRaw[$0]) > 1 }.count
        let dqkv = Buffer.zeros(n * 3 * d)
        FlowAttention.backward(dqkv: dqkv.p, dOut: pw.p, qkv: work.p, saved: saved, n: n, d: d, heads: heads)
        let r = GradientCheck.directional(raw, grad: dqkv, h: 1e-3, f: f)
        #expect(r.rel < 5e-3, "flow attention N=\(n) (\(clamped) clamped sources): fd \(r.fd) analytic \(r.analytic)")
        for block in 0..<3 {
            let idx = (0..<(n * d)).map { ($0 / d) * 3 * d + block * d + $0 % d }
            let sub = Buffer(idx.map { raw[$0] }), subGrad = Buffer(idx.map { dqkv[$0] })
            let rb = GradientCheck.directional(sub, grad: subGrad, h: 1e-3) {
                for (z, k) in idx.enumerated() { raw[k] = sub[z] }
                return f()
            }
            for (z, k) in idx.enumerated() { raw[k] = sub[z] }
            #expect(rb.rel < 5e-3, "N=\(n) block \(["q", "k", "v"][block]): fd \(rb.fd) analytic \(rb.analytic)")
        }
    }
}
