import Foundation
import Tensor

/// The batch-aware negative-binomial decoder (`nbmlp` with two layers, cellplm.md §3.5), latentDim → G:
///   h = GN4(Drop_p(PReLU(z·W1ᵀ + b1)))                                          N×dh
///   h += GN4_c(PReLU_c(E_c[label]))  for each covariate c ∈ {batch, dataset} with a table; an unknown label
///        (−1) uses the sum of all rows, detached (PReLU and GN are scale-invariant, so this is the mean row)
///   u = ReLU(h·Wn1ᵀ + bn1)                                                       N×128
///   mean = clamp(exp(u·Wn2ᵀ + bn2), 1e-5, 1e6)                                   N×G
///   θ = clamp(exp(disp), 1e-4, 1e4)                                              G, per-gene inverse dispersion
public struct NBDecoder {
    public let dz: Int, dh: Int, bottleneck: Int, genes: Int
    public let covariates: [(name: String, count: Int)]

    public final class Cache {
        let pre = Buffer(), act = Buffer(), mask = Buffer(), gnMean = Buffer(), gnRstd = Buffer(), h = Buffer()
        let u = Buffer(), mean = Buffer(), theta = Buffer(), dh = Buffer(), du = Buffer(), dz = Buffer()
        /// Per covariate: the distinct labels of this sequence and, per label, the PReLU input/output and GN stats.
        var cov: [[(label: Int, e: [Float], act: [Float], m: [Float], rs: [Float])]] = []
        var labels: [[Int32]] = []
        public init() {}
        public var meanPointer: UnsafeMutablePointer<Float> { mean.pointer }
        public var thetaPointer: UnsafeMutablePointer<Float> { theta.pointer }
    }

    public init(config c: CellLMConfig) {
        dz = c.latentDim; dh = c.decoderHidden; bottleneck = c.decoderBottleneck; genes = c.genes
        var cv: [(String, Int)] = []
        if c.batchCount > 0 { cv.append(("batch", c.batchCount)) }
        if c.datasetCount > 0 { cv.append(("dataset", c.datasetCount)) }
        covariates = cv
    }

    public static func layout(_ c: CellLMConfig) -> [(String, [Int], Int)] {
        let h = c.decoderHidden
        var l: [(String, [Int], Int)] = [
            ("decoder.layers.0.0.weight", [h, c.latentDim], 0), ("decoder.layers.0.0.bias", [h], 0),
            ("decoder.layers.0.1.weight", [1], 0),
            ("decoder.layers.0.3.weight", [h], 0), ("decoder.layers.0.3.bias", [h], 0)]
        for (name, count) in [("batch", c.batchCount), ("dataset", c.datasetCount)] where count > 0 {
            let p = "decoder.covariate_layers.0.\(name)."
            l += [(p + "0.weight", [count, h], 0), (p + "1.weight", [1], 0), (p + "2.weight", [h], 0), (p + "2.bias", [h], 0)]
        }
        l += [("decoder.out_layer.dec_1.weight", [c.decoderBottleneck, h], 0), ("decoder.out_layer.dec_1.bias", [c.decoderBottleneck], 0),
              ("decoder.out_layer.dec_mean.0.weight", [c.genes, c.decoderBottleneck], 0),
              ("decoder.out_layer.dec_mean.0.bias", [c.genes], 0),
              ("decoder.out_layer.dec_disp", [c.genes], 0)]
        return l
    }

    /// z: N×dz; labels: [batch, dataset] per-cell labels (−1 = unknown), each nil when all are unknown.
    public func forward(z: UnsafePointer<Float>, n: Int, labels: [[Int32]?], params ps: ParameterStore, cache c: Cache,
                        dropout p: Float, train: Bool, rng: inout SeededRNG) {
        let nh = n * dh
        let pre = c.pre.resize(nh), act = c.act.resize(nh), h = c.h.resize(nh)
        Linear.forward(y: pre, x: z, w: ps.value("decoder.layers.0.0.weight"), b: ps.value("decoder.layers.0.0.bias"),
                       n: n, inDim: dz, outDim: dh)
        Activation.preluForward(act, pre, slope: ps.value("decoder.layers.0.1.weight")[0], nh)
        if train { Dropout.forward(act, act, mask: c.mask.resize(nh), p: p, n: nh, rng: &rng) }
        GroupNorm.forward(y: h, mean: c.gnMean.resize(n * 4), rstd: c.gnRstd.resize(n * 4), x: act,
                          gamma: ps.value("decoder.layers.0.3.weight"), beta: ps.value("decoder.layers.0.3.bias"),
                          n: n, c: dh, groups: 4)
        c.cov = []; c.labels = []
        for cov in covariates {
            let pfx = "decoder.covariate_layers.0.\(cov.name)."
            // labels is [batch, dataset]; only covariates with a table are in `covariates`, so index by name.
            let which = cov.name == "batch" ? 0 : 1
            let lab = (which < labels.count ? labels[which] : nil) ?? [Int32](repeating: -1, count: n)
            c.labels.append(lab)
            let table = ps.value(pfx + "0.weight"), slope = ps.value(pfx + "1.weight")[0]
            var entries: [(label: Int, e: [Float], act: [Float], m: [Float], rs: [Float])] = []
            var slot: [Int32: Int] = [:]
            for l in lab where slot[l] == nil {
                var e = [Float](repeating: 0, count: dh)
                if l >= 0 { for j in 0..<dh { e[j] = table[Int(l) * dh + j] } }
                else { for r in 0..<cov.count { for j in 0..<dh { e[j] += table[r * dh + j] } } }
                var a = [Float](repeating: 0, count: dh), out = [Float](repeating: 0, count: dh)
                var m: [Float] = [0, 0, 0, 0], rs: [Float] = [0, 0, 0, 0]
                e.withUnsafeBufferPointer { eb in a.withUnsafeMutableBufferPointer { ab in
                    Activation.preluForward(ab.baseAddress!, eb.baseAddress!, slope: slope, dh)
                    out.withUnsafeMutableBufferPointer { ob in m.withUnsafeMutableBufferPointer { mb in rs.withUnsafeMutableBufferPointer { rb in
                        GroupNorm.forward(y: ob.baseAddress!, mean: mb.baseAddress!, rstd: rb.baseAddress!, x: ab.baseAddress!,
                                          gamma: ps.value(pfx + "2.weight"), beta: ps.value(pfx + "2.bias"), n: 1, c: dh, groups: 4)
                    } } }
                } }
                slot[l] = entries.count
                entries.append((Int(l), e, a, m, rs))
                for i in 0..<n where lab[i] == l {
                    let hr = h + i * dh
                    for j in 0..<dh { hr[j] += out[j] }
                }
            }
            c.cov.append(entries)
        }
        let u = c.u.resize(n * bottleneck), mean = c.mean.resize(n * genes), theta = c.theta.resize(genes)
        Linear.forward(y: u, x: h, w: ps.value("decoder.out_layer.dec_1.weight"), b: ps.value("decoder.out_layer.dec_1.bias"),
                       n: n, inDim: dh, outDim: bottleneck)
        Activation.reluForward(u, u, n * bottleneck)
        Linear.forward(y: mean, x: u, w: ps.value("decoder.out_layer.dec_mean.0.weight"),
                       b: ps.value("decoder.out_layer.dec_mean.0.bias"), n: n, inDim: bottleneck, outDim: genes)
        Parallel.forEach(n * genes, grain: 16_384) { r in
            FastMath.map(mean + r.lowerBound, mean + r.lowerBound, r.count) {
                let e = FastMath.exp($0)
                return e.replacing(with: 1e-5, where: e .< 1e-5).replacing(with: 1e6, where: e .> 1e6)
            }
        }
        let disp = ps.value("decoder.out_layer.dec_disp")
        for g in 0..<genes { theta[g] = min(max(expf(disp[g]), 1e-4), 1e4) }
    }

    /// dmean: N×G (gradient w.r.t. the clamped means; consumed), dtheta: G → returns dz: N×dz.
    public func backward(dmean: UnsafeMutablePointer<Float>, dtheta: UnsafePointer<Float>, z: UnsafePointer<Float>, n: Int,
                         params ps: ParameterStore, cache c: Cache) -> UnsafeMutablePointer<Float> {
        let mean = c.mean.pointer, theta = c.theta.pointer
        // Through the clamps: the gradient passes where exp(·) was inside [1e-5, 1e6] (inclusive, as torch.clamp).
        Parallel.forEach(n * genes, grain: 16_384) { r in
            for i in r {
                let m = mean[i]
                dmean[i] = (m > 1e-5 && m < 1e6) ? dmean[i] * m : 0
            }
        }
        let dd = ps.grad("decoder.out_layer.dec_disp")
        for g in 0..<genes where theta[g] > 1e-4 && theta[g] < 1e4 { dd[g] += dtheta[g] * theta[g] }
        let du = c.du.resize(n * bottleneck)
        Linear.backward(dx: du, dw: ps.grad("decoder.out_layer.dec_mean.0.weight"), db: ps.grad("decoder.out_layer.dec_mean.0.bias"),
                        dy: dmean, x: c.u.pointer, w: ps.value("decoder.out_layer.dec_mean.0.weight"), n: n,
                        inDim: bottleneck, outDim: genes)
        Activation.reluBackward(du, output: c.u.pointer, n * bottleneck)
        let nh = n * dh
        let dh_ = c.dh.resize(nh)
        Linear.backward(dx: dh_, dw: ps.grad("decoder.out_layer.dec_1.weight"), db: ps.grad("decoder.out_layer.dec_1.bias"),
                        dy: du, x: c.h.pointer, w: ps.value("decoder.out_layer.dec_1.weight"), n: n, inDim: dh, outDim: bottleneck)
        // Covariate branches: sum the gradient over each label's cells, then back through GN and PReLU.
        for (ci, cov) in covariates.enumerated() {
            let pfx = "decoder.covariate_layers.0.\(cov.name)."
            let lab = c.labels[ci]
            let slope = ps.value(pfx + "1.weight")[0]
            for entry in c.cov[ci] {
                var g = [Float](repeating: 0, count: dh)
                for i in 0..<n where lab[i] == Int32(entry.label) {
                    let src = dh_ + i * dh
                    for j in 0..<dh { g[j] += src[j] }
                }
                var da = [Float](repeating: 0, count: dh)
                g.withUnsafeBufferPointer { gb in da.withUnsafeMutableBufferPointer { db in
                    entry.act.withUnsafeBufferPointer { ab in entry.m.withUnsafeBufferPointer { mb in entry.rs.withUnsafeBufferPointer { rb in
                        GroupNorm.backward(dx: db.baseAddress!, dgamma: ps.grad(pfx + "2.weight"), dbeta: ps.grad(pfx + "2.bias"),
                                           dy: gb.baseAddress!, x: ab.baseAddress!, mean: mb.baseAddress!, rstd: rb.baseAddress!,
                                           gamma: ps.value(pfx + "2.weight"), n: 1, c: dh, groups: 4, accumulate: false)
                    } } }
                    entry.e.withUnsafeBufferPointer { eb in
                        ps.grad(pfx + "1.weight")[0] += Activation.preluBackward(db.baseAddress!, input: eb.baseAddress!, slope: slope, dh)
                    }
                } }
                if entry.label >= 0 {
                    let row = ps.grad(pfx + "0.weight") + entry.label * dh
                    for j in 0..<dh { row[j] += da[j] }
                }
            }
        }
        let dact = c.du.resize(max(nh, n * bottleneck))
        GroupNorm.backward(dx: dact, dgamma: ps.grad("decoder.layers.0.3.weight"), dbeta: ps.grad("decoder.layers.0.3.bias"),
                           dy: dh_, x: c.act.pointer, mean: c.gnMean.pointer, rstd: c.gnRstd.pointer,
                           gamma: ps.value("decoder.layers.0.3.weight"), n: n, c: dh, groups: 4, accumulate: false)
        Dropout.backward(dact, mask: c.mask.pointer, n: nh)
        ps.grad("decoder.layers.0.1.weight")[0] += Activation.preluBackward(dact, input: c.pre.pointer,
                                                                             slope: ps.value("decoder.layers.0.1.weight")[0], nh)
        let dz = c.dz.resize(n * self.dz)
        Linear.backward(dx: dz, dw: ps.grad("decoder.layers.0.0.weight"), db: ps.grad("decoder.layers.0.0.bias"), dy: dact,
                        x: z, w: ps.value("decoder.layers.0.0.weight"), n: n, inDim: self.dz, outDim: dh)
        return dz
    }
}
