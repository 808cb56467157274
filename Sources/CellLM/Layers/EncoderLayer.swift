import Tensor

/// One pre-LN Flowformer layer (cellplm.md §3.3), d = hidden:
///   U = LN1(H);  H ← H + Drop_p(Drop_0.01(Wo·FlowAttn(U) + bo))
///   U = LN2(H);  H ← H + Drop_p(W2·Drop_p(GELU(W1·U + b1)) + b2)      (d → 2d → d)
public struct EncoderLayer {
    public let prefix: String
    public let d: Int, heads: Int

    /// Activations of one layer for one sequence, kept for the backward. Grows with N, never shrinks.
    public final class Cache {
        let ln1Mean = Buffer(), ln1Rstd = Buffer(), u1 = Buffer(), qkv = Buffer(), att = Buffer()
        let attnMask = Buffer(), mid = Buffer(), ln2Mean = Buffer(), ln2Rstd = Buffer(), u2 = Buffer()
        let f1 = Buffer(), g1 = Buffer(), mask1 = Buffer(), mask2 = Buffer(), tmp = Buffer(), dg1 = Buffer()
        let flow = FlowAttention.Saved()
        public init() {}
    }

    public init(index: Int, d: Int, heads: Int) {
        prefix = "encoder.layers.\(index)."
        self.d = d; self.heads = heads
    }

    /// Parameter layout; q, k, v weights (then biases) are adjacent so one GEMM makes all three.
    public static func layout(index l: Int, d: Int) -> [(String, [Int], Int)] {
        let p = "encoder.layers.\(l)."
        return [
            (p + "norm1.weight", [d], 0), (p + "norm1.bias", [d], 0),
            (p + "self_attn.query_projection.weight", [d, d], 0),
            (p + "self_attn.key_projection.weight", [d, d], 0),
            (p + "self_attn.value_projection.weight", [d, d], 0),
            (p + "self_attn.query_projection.bias", [d], 0),
            (p + "self_attn.key_projection.bias", [d], 0),
            (p + "self_attn.value_projection.bias", [d], 0),
            (p + "self_attn.out_projection.weight", [d, d], 0), (p + "self_attn.out_projection.bias", [d], 0),
            (p + "norm2.weight", [d], 0), (p + "norm2.bias", [d], 0),
            (p + "_ff_block.0.weight", [2 * d, d], 0), (p + "_ff_block.0.bias", [2 * d], 0),
            (p + "_ff_block.3.weight", [d, 2 * d], 0), (p + "_ff_block.3.bias", [d], 0),
        ]
    }

    /// x: N×d input, y: N×d output (may not alias x). `train` draws dropout masks from `rng`.
    public func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int, params ps: ParameterStore,
                        cache c: Cache, dropout p: Float, attentionDropout pa: Float, train: Bool,
                        rng: inout SeededRNG) {
        let nd = n * d
        let u1 = c.u1.resize(nd), qkv = c.qkv.resize(3 * nd), att = c.att.resize(nd), mid = c.mid.resize(nd)
        let u2 = c.u2.resize(nd), f1 = c.f1.resize(2 * nd), g1 = c.g1.resize(2 * nd)
        Profile.measure("  norms") { LayerNorm.forward(y: u1, mean: c.ln1Mean.resize(n), rstd: c.ln1Rstd.resize(n), x: x,
                          gamma: ps.value(prefix + "norm1.weight"), beta: ps.value(prefix + "norm1.bias"), n: n, c: d) }
        Profile.measure("  qkv gemm") { Linear.forward(y: qkv, x: u1, w: ps.value(prefix + "self_attn.query_projection.weight"),
                       b: ps.value(prefix + "self_attn.query_projection.bias"), n: n, inDim: d, outDim: 3 * d) }
        Profile.measure("  flow attention") { FlowAttention.forward(out: att, qkv: qkv, saved: c.flow, n: n, d: d, heads: heads) }
        Profile.measure("  out gemm") { Linear.forward(y: mid, x: att, w: ps.value(prefix + "self_attn.out_projection.weight"),
                       b: ps.value(prefix + "self_attn.out_projection.bias"), n: n, inDim: d, outDim: d) }
        if train {
            // The two dropouts in a row (attention's own, then the block's) fold into one mask.
            let m = c.attnMask.resize(nd), tmp = c.tmp.resize(nd)
            Dropout.forward(mid, mid, mask: m, p: pa, n: nd, rng: &rng)
            Dropout.forward(mid, mid, mask: tmp, p: p, n: nd, rng: &rng)
            for i in 0..<nd { m[i] *= tmp[i] }
        }
        Parallel.forEach(nd, grain: 1 << 15) { r in for i in r { mid[i] += x[i] } }
        LayerNorm.forward(y: u2, mean: c.ln2Mean.resize(n), rstd: c.ln2Rstd.resize(n), x: mid,
                          gamma: ps.value(prefix + "norm2.weight"), beta: ps.value(prefix + "norm2.bias"), n: n, c: d)
        Profile.measure("  ffn gemms") { Linear.forward(y: f1, x: u2, w: ps.value(prefix + "_ff_block.0.weight"), b: ps.value(prefix + "_ff_block.0.bias"),
                       n: n, inDim: d, outDim: 2 * d) }
        Profile.measure("  gelu") { Activation.geluForward(g1, f1, 2 * nd) }
        if train { Dropout.forward(g1, g1, mask: c.mask1.resize(2 * nd), p: p, n: 2 * nd, rng: &rng) }
        Profile.measure("  ffn gemms") { Linear.forward(y: y, x: g1, w: ps.value(prefix + "_ff_block.3.weight"), b: ps.value(prefix + "_ff_block.3.bias"),
                       n: n, inDim: 2 * d, outDim: d) }
        if train { Dropout.forward(y, y, mask: c.mask2.resize(nd), p: p, n: nd, rng: &rng) }
        Parallel.forEach(nd, grain: 1 << 15) { r in for i in r { y[i] += mid[i] } }
    }

    /// dy: N×d (gradient w.r.t. the output; overwritten as scratch) → dx: N×d (overwritten). x is the forward input.
    public func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                         n: Int, params ps: ParameterStore, cache c: Cache) {
        let nd = n * d
        // FFN branch. dy is also the gradient reaching `mid` through the residual.
        let dff = c.tmp.resize(nd)
        let m2 = c.mask2.pointer
        Parallel.forEach(nd, grain: 1 << 15) { r in for i in r { dff[i] = dy[i] * m2[i] } }
        let dg1 = c.dg1.resize(2 * nd)
        Linear.backward(dx: dg1, dw: ps.grad(prefix + "_ff_block.3.weight"), db: ps.grad(prefix + "_ff_block.3.bias"),
                        dy: dff, x: c.g1.pointer, w: ps.value(prefix + "_ff_block.3.weight"), n: n, inDim: 2 * d, outDim: d)
        Dropout.backward(dg1, mask: c.mask1.pointer, n: 2 * nd)
        Activation.geluBackward(dg1, dg1, input: c.f1.pointer, 2 * nd)
        let du2 = c.tmp.pointer
        Linear.backward(dx: du2, dw: ps.grad(prefix + "_ff_block.0.weight"), db: ps.grad(prefix + "_ff_block.0.bias"),
                        dy: dg1, x: c.u2.pointer, w: ps.value(prefix + "_ff_block.0.weight"), n: n, inDim: d, outDim: 2 * d)
        // dmid = dy + LN2ᵀ(du2)
        LayerNorm.backward(dx: dy, dgamma: ps.grad(prefix + "norm2.weight"), dbeta: ps.grad(prefix + "norm2.bias"),
                           dy: du2, x: c.mid.pointer, mean: c.ln2Mean.pointer, rstd: c.ln2Rstd.pointer,
                           gamma: ps.value(prefix + "norm2.weight"), n: n, c: d, accumulate: true)
        // Attention branch: dmid flows to x directly and through the dropout, projection, attention and LN1.
        let dproj = c.tmp.pointer
        let am = c.attnMask.pointer
        Parallel.forEach(nd, grain: 1 << 15) { r in for i in r { dproj[i] = dy[i] * am[i] } }
        let datt = c.mid.pointer   // mid no longer needed
        Linear.backward(dx: datt, dw: ps.grad(prefix + "self_attn.out_projection.weight"),
                        db: ps.grad(prefix + "self_attn.out_projection.bias"), dy: dproj, x: c.att.pointer,
                        w: ps.value(prefix + "self_attn.out_projection.weight"), n: n, inDim: d, outDim: d)
        let dqkv = c.f1.resize(3 * nd)   // f1 (2·nd) no longer needed; grows to 3·nd
        FlowAttention.backward(dqkv: dqkv, dOut: datt, qkv: c.qkv.pointer, saved: c.flow, n: n, d: d, heads: heads)
        let du1 = c.att.pointer
        Linear.backward(dx: du1, dw: ps.grad(prefix + "self_attn.query_projection.weight"),
                        db: ps.grad(prefix + "self_attn.query_projection.bias"), dy: dqkv, x: c.u1.pointer,
                        w: ps.value(prefix + "self_attn.query_projection.weight"), n: n, inDim: d, outDim: 3 * d)
        dx.update(from: dy, count: nd)
        LayerNorm.backward(dx: dx, dgamma: ps.grad(prefix + "norm1.weight"), dbeta: ps.grad(prefix + "norm1.bias"),
                           dy: du1, x: x, mean: c.ln1Mean.pointer, rstd: c.ln1Rstd.pointer,
                           gamma: ps.value(prefix + "norm1.weight"), n: n, c: d, accumulate: true)
    }
}
