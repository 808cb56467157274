import Foundation
import Tensor

/// Non-causal Flow-Attention (Wu et al. 2022) exactly as CellPLM's `Flow_Attention` (cellplm.md §3.3): sigmoid
/// feature maps, ε = 1e-6 added to both operands of every dot product, the conserved source clamped to
/// [−1, 1], an N-scaled softmax competition over cells and a sigmoid allocation. Cost and memory are linear in
/// the number of cells N: per head two dh×dh reductions and N-long vectors.
///
/// Layout: `qkv` is N×3d with columns [q | k | v], head h owning columns h·dh..<(h+1)·dh of each block.
/// The forward replaces q and k by σ(q), σ(k) in place (the backward needs only the sigmoid outputs).
public enum FlowAttention {
    public static let eps: Float = 1e-6

    /// Per-head state saved by the forward for the backward.
    public final class Saved {
        public let inc = Buffer(), outgoing = Buffer(), alloc = Buffer(), comp = Buffer(), coRaw = Buffer()
        public let kSum = Buffer(), qSum = Buffer(), kOut = Buffer(), qIn = Buffer(), kv = Buffer()
        /// Scratch: N×d for the forward, 3 × N×d for the backward.
        public let scratch = Buffer()
        /// Backward per-head temporaries: dKV (dh²), dqI, dkO, dkS, dqS (dh each), dAlloc, dInc, dco (N each).
        let backwardTemp = Buffer()
        public init() {}

        func prepare(n: Int, heads: Int, dh: Int) {
            for b in [inc, outgoing, alloc, comp, coRaw] { b.resize(n * heads) }
            for b in [kSum, qSum, kOut, qIn] { b.resize(heads * dh) }
            kv.resize(heads * dh * dh)
        }
    }

    /// qkv: N×3d (q, k turned into σ(q), σ(k)); out: N×d, the concatenated heads before the output projection.
    ///
    /// The reductions run row by row over all heads at once (each row's q, k, v are contiguous), in five passes,
    /// on every core; only the two dh×dh products per head are per-head GEMMs.
    public static func forward(out: UnsafeMutablePointer<Float>, qkv: UnsafeMutablePointer<Float>, saved: Saved,
                               n: Int, d: Int, heads: Int) {
        let dh = d / heads, ld = 3 * d, e = eps
        saved.prepare(n: n, heads: heads, dh: dh)
        let vt = saved.scratch.resize(n * d)
        let inc = saved.inc.pointer, outg = saved.outgoing.pointer, alloc = saved.alloc.pointer
        let comp = saved.comp.pointer, coRaw = saved.coRaw.pointer
        let kS = saved.kSum.pointer, qS = saved.qSum.pointer, kO = saved.kOut.pointer, qI = saved.qIn.pointer
        // Pass 1: σ on q and k, column sums qS, kS.
        columnSums(n: n, width: 2 * d, into: [qS, kS]) { r, acc in
            let row = qkv + r * ld
            FastMath.map(row, row, 2 * d) { FastMath.sigmoid($0) }
            for j in 0..<(2 * d) { acc[j] += row[j] }
        }
        // Pass 2: incoming / outgoing flows per row and head; column sums of inc·Q (qI) and out·K (kO).
        columnSums(n: n, width: 2 * d, into: [qI, kO]) { r, acc in
            let q = qkv + r * ld, k = q + d
            for h in 0..<heads {
                var a: Float = 0, b: Float = 0
                for m in (h * dh)..<((h + 1) * dh) { a += (q[m] + e) * (kS[m] + e); b += (k[m] + e) * (qS[m] + e) }
                let ia = 1 / a, ib = 1 / b
                inc[h * n + r] = ia; outg[h * n + r] = ib
                for m in (h * dh)..<((h + 1) * dh) { acc[m] += ia * q[m]; acc[d + m] += ib * k[m] }
            }
        }
        // Pass 3: conserved sink → allocation; conserved source (clamped) → competition logits.
        Parallel.forEach(n, grain: 64) { rows in
            for r in rows {
                let q = qkv + r * ld, k = q + d
                for h in 0..<heads {
                    var cs: Float = 0, co: Float = 0
                    for m in (h * dh)..<((h + 1) * dh) { cs += (q[m] + e) * (kO[m] + e); co += (k[m] + e) * (qI[m] + e) }
                    alloc[h * n + r] = FastMath.sigmoid(cs)
                    coRaw[h * n + r] = co
                    comp[h * n + r] = min(max(co, -1), 1)
                }
            }
        }
        // Competition: N·softmax over cells, per head.
        Parallel.forEach(heads, grain: 1) { hs in
            for h in hs {
                let c = comp + h * n
                var mx = -Float.infinity
                for i in 0..<n { mx = max(mx, c[i]) }
                var z: Float = 0
                FastMath.map(c, c, n) { FastMath.exp($0 - mx) }
                for i in 0..<n { z += c[i] }
                let scale = Float(n) / z
                for i in 0..<n { c[i] *= scale }
            }
        }
        // Pass 4: Ṽ = comp∘V.
        Parallel.forEach(n, grain: 64) { rows in
            for r in rows {
                let v = qkv + r * ld + 2 * d, t = vt + r * d
                for h in 0..<heads {
                    let c = comp[h * n + r]
                    for m in (h * dh)..<((h + 1) * dh) { t[m] = c * v[m] }
                }
            }
        }
        // Per head: KV = Kᵀ·Ṽ (dh×dh), out = Q·KV.
        forEachHead(heads) { h in
            let kv = saved.kv.pointer + h * dh * dh
            BLAS.gemm(transA: true, m: dh, n: dh, k: n, a: qkv + d + h * dh, lda: ld, b: vt + h * dh, ldb: d, c: kv, ldc: dh)
            BLAS.gemm(m: n, n: dh, k: dh, a: qkv + h * dh, lda: ld, b: kv, ldb: dh, c: out + h * dh, ldc: d)
        }
        // Pass 5: scale each head's output by alloc·inc.
        Parallel.forEach(n, grain: 64) { rows in
            for r in rows {
                let o = out + r * d
                for h in 0..<heads {
                    let sc = alloc[h * n + r] * inc[h * n + r]
                    for m in (h * dh)..<((h + 1) * dh) { o[m] *= sc }
                }
            }
        }
    }

    /// Column sums of per-row contributions: `body(row, acc)` adds into a thread-private `width` accumulator;
    /// the partials are then summed into `into` (split evenly: into[0] gets columns 0..<width/k, …).
    static func columnSums(n: Int, width: Int, into: [UnsafeMutablePointer<Float>],
                           _ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
        let parts = min(Parallel.cores, max(1, n / 64))
        var partial = [Float](repeating: 0, count: parts * width)
        partial.withUnsafeMutableBufferPointer { pb in
            let base = pb.baseAddress!
            Parallel.run(parts) { p in
                let lo = n * p / parts, hi = n * (p + 1) / parts
                for r in lo..<hi { body(r, base + p * width) }
            }
            let per = width / into.count
            for (k, dst) in into.enumerated() {
                for j in 0..<per {
                    var s: Float = 0
                    for p in 0..<parts { s += base[p * width + k * per + j] }
                    dst[j] = s
                }
            }
        }
    }

    /// dOut: N×d → dqkv: N×3d (gradient w.r.t. the raw q, k, v projections). qkv as left by the forward.
    public static func backward(dqkv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                qkv: UnsafePointer<Float>, saved: Saved, n: Int, d: Int, heads: Int) {
        let dh = d / heads
        let scratch = saved.scratch.resize(3 * n * d)
        let per = dh * dh + 4 * dh + 3 * n
        let temp = saved.backwardTemp.resize(heads * per)
        temp.update(repeating: 0, count: heads * per)
        forEachHead(heads) { h in
            headBackward(h: h, dqkv: dqkv, dOut: dOut, qkv: qkv, saved: saved,
                         scratch: scratch + 3 * h * dh, sld: 3 * d, temp: temp + h * per, n: n, d: d, dh: dh)
        }
        // Through the sigmoids: dq ← dq·σ(1−σ), dk likewise.
        let ld = 3 * d
        Parallel.forEach(n, grain: 64) { rows in
            for r in rows {
                let g = dqkv + r * ld, s = qkv + r * ld
                for j in 0..<(2 * d) { g[j] *= s[j] * (1 - s[j]) }
            }
        }
    }

    /// Heads run in parallel (their GEMMs are dh-sized, below BLAS.gemm's splitting threshold up to ~2k cells).
    static func forEachHead(_ heads: Int, _ body: (Int) -> Void) {
        if Parallel.cores == 1 || heads == 1 { for h in 0..<heads { body(h) }; return }
        Parallel.run(heads, body)
    }

    static func headBackward(h: Int, dqkv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                             qkv: UnsafePointer<Float>, saved: Saved, scratch: UnsafeMutablePointer<Float>, sld: Int,
                             temp: UnsafeMutablePointer<Float>, n: Int, d: Int, dh: Int) {
        let ld = 3 * d
        let q = qkv + h * dh, k = qkv + d + h * dh, v = qkv + 2 * d + h * dh
        let dq = dqkv + h * dh, dk = dqkv + d + h * dh, dv = dqkv + 2 * d + h * dh
        let dO = dOut + h * dh
        let inc = saved.inc.pointer + h * n, outg = saved.outgoing.pointer + h * n
        let alloc = saved.alloc.pointer + h * n, comp = saved.comp.pointer + h * n, coRaw = saved.coRaw.pointer + h * n
        let kS = saved.kSum.pointer + h * dh, qS = saved.qSum.pointer + h * dh
        let kO = saved.kOut.pointer + h * dh, qI = saved.qIn.pointer + h * dh
        let kv = saved.kv.pointer + h * dh * dh
        // Three N×dh scratch slabs (row stride sld): P = Q·KV, then dP, then Ṽ / dṼ.
        let p = scratch, dP = scratch + dh, t = scratch + 2 * dh
        let e = eps
        // Zeroed per-head temporaries, preallocated in `saved` (see backward).
        let dKVp = temp, dqI = temp + dh * dh, dkO = dqI + dh, dkS = dkO + dh, dqS = dkS + dh
        let dAlloc = dqS + dh, dInc = dAlloc + n, dco = dInc + n

        BLAS.gemm(m: n, n: dh, k: dh, a: q, lda: ld, b: kv, ldb: dh, c: p, ldc: sld)
        for i in 0..<n {
            let pi = p + i * sld, gi = dO + i * d, dpi = dP + i * sld
            var s: Float = 0
            for m in 0..<dh { s += pi[m] * gi[m] }
            dAlloc[i] = inc[i] * s; dInc[i] = alloc[i] * s
            let c = alloc[i] * inc[i]
            for m in 0..<dh { dpi[m] = c * gi[m] }
        }
        // dQ = dP·KVᵀ ; dKV = Qᵀ·dP
        BLAS.gemm(transB: true, m: n, n: dh, k: dh, a: dP, lda: sld, b: kv, ldb: dh, c: dq, ldc: ld)
        do {
            let dkv = UnsafeMutableBufferPointer(start: dKVp, count: dh * dh)
            BLAS.gemm(transA: true, m: dh, n: dh, k: n, a: q, lda: ld, b: dP, ldb: sld, c: dkv.baseAddress!, ldc: dh)
            // Ṽ = comp∘V ; dK = Ṽ·dKVᵀ ; dṼ = K·dKV (into p, no longer needed)
            for i in 0..<n {
                let vi = v + i * ld, ti = t + i * sld, c = comp[i]
                for m in 0..<dh { ti[m] = c * vi[m] }
            }
            BLAS.gemm(transB: true, m: n, n: dh, k: dh, a: t, lda: sld, b: dkv.baseAddress!, ldb: dh, c: dk, ldc: ld)
            BLAS.gemm(m: n, n: dh, k: dh, a: k, lda: ld, b: dkv.baseAddress!, ldb: dh, c: p, ldc: sld)
        }
        // dV = comp∘dṼ ; dcomp_j = ⟨V_j, dṼ_j⟩ → through the N-scaled softmax and the clamp.
        var sDot: Float = 0
        for i in 0..<n {
            let vi = v + i * ld, dti = p + i * sld, dvi = dv + i * ld, c = comp[i]
            var s: Float = 0
            for m in 0..<dh { s += vi[m] * dti[m]; dvi[m] = c * dti[m] }
            dco[i] = s
            sDot += c * s
        }
        sDot /= Float(n)   // Σ_k softmax_k · dcomp_k
        for i in 0..<n {
            let raw = coRaw[i]
            dco[i] = (raw < -1 || raw > 1) ? 0 : comp[i] * (dco[i] - sDot)
        }
        // co_j = ⟨K_j+ε, qI+ε⟩ ; cs_i = ⟨Q_i+ε, kO+ε⟩ with alloc = σ(cs)
        for i in 0..<n {
            let ki = k + i * ld, qi = q + i * ld, dki = dk + i * ld, dqi = dq + i * ld
            let g = dco[i]
            let a = alloc[i], dcs = dAlloc[i] * a * (1 - a)
            for m in 0..<dh {
                dqI[m] += g * (ki[m] + e); dki[m] += g * (qI[m] + e)
                dkO[m] += dcs * (qi[m] + e); dqi[m] += dcs * (kO[m] + e)
            }
        }
        // qI = Σ inc_i Q_i ; kO = Σ out_j K_j ; then inc = 1/a, out = 1/b with a, b dot products against kS, qS.
        for i in 0..<n {
            let ki = k + i * ld, qi = q + i * ld, dki = dk + i * ld, dqi = dq + i * ld
            var sq: Float = 0, sk: Float = 0
            for m in 0..<dh { sq += qi[m] * dqI[m]; sk += ki[m] * dkO[m] }
            let di = dInc[i] + sq
            let a = inc[i], b = outg[i]
            let da = -a * a * di, db = -b * b * sk
            for m in 0..<dh {
                dqi[m] += a * dqI[m] + da * (kS[m] + e)
                dki[m] += b * dkO[m] + db * (qS[m] + e)
                dkS[m] += da * (qi[m] + e)
                dqS[m] += db * (ki[m] + e)
            }
        }
        for i in 0..<n {
            let dki = dk + i * ld, dqi = dq + i * ld
            for m in 0..<dh { dki[m] += dkS[m]; dqi[m] += dqS[m] }
        }
    }
}
