import Foundation
import Tensor

/// The SupCon projection head of CellPLM's SupCon fine-tuning (cellplm.md §6.1): an MLP over the latent with
/// layer sizes [latentDim, hidden, out], Dropout(p) before each Linear and ReLU in between, no activation on
/// the output:
///
///     x0 = Dropout_p(z)                 N×in
///     a  = ReLU(x0·W0ᵀ + b0)            N×hidden
///     a1 = Dropout_p(a)                 N×hidden
///     f  = a1·W1ᵀ + b1                  N×out     (the features the SupCon loss L2-normalises)
///
/// CellPLM builds it as [512, dec_hid 1024, out_dim] where out_dim is inherited from the checkpoint (the gene
/// count); `SupConHead.cellPLMShape` gives the same shape for our configs. Its parameters live in their own
/// store (the model's store has a fixed layout), with their own dropout generator; both go into the head's
/// checkpoint file so fine-tuning resumes exactly.
public final class SupConHead {
    public let inDim: Int, hidden: Int, outDim: Int
    public var dropout: Float
    public let params: ParameterStore
    /// Draws the head's dropout masks.
    public var rng: SeededRNG

    let x0 = Buffer(), mask0 = Buffer(), a = Buffer(), a1 = Buffer(), mask1 = Buffer(), out = Buffer()
    let da = Buffer()
    /// Gradient buffers the model's SupCon step uses: dL/df (N×out) and dL/dz (N×in).
    let df = Buffer(), dz = Buffer()

    static let names = ["head.mlp.0.weight", "head.mlp.0.bias", "head.mlp.1.weight", "head.mlp.1.bias"]

    /// A head with PyTorch's default Linear initialisation U(±1/√fan_in), seeded.
    public init(inDim: Int, hidden: Int, outDim: Int, dropout: Float, seed: UInt64) throws(CellLMError) {
        for (name, v) in [("inDim", inDim), ("hidden", hidden), ("outDim", outDim)] where !(1...65_536).contains(v) {
            throw .invalidConfig(field: "SupConHead.\(name)", value: "\(v)", allowed: "1...65536")
        }
        if !(dropout >= 0 && dropout < 1) { throw .invalidConfig(field: "SupConHead.dropout", value: "\(dropout)", allowed: "0 <= p < 1") }
        self.inDim = inDim; self.hidden = hidden; self.outDim = outDim; self.dropout = dropout
        params = ParameterStore(layout: [(Self.names[0], [hidden, inDim], 0), (Self.names[1], [hidden], 0),
                                         (Self.names[2], [outDim, hidden], 0), (Self.names[3], [outDim], 0)])
        rng = SeededRNG(seed: seed)
        var r = SeededRNG(seed: seed ^ 0x5C0C_4EAD)
        for (name, fanIn) in zip(Self.names, [inDim, inDim, hidden, hidden]) {
            let p = params.value(name), bound = 1 / Float(fanIn).squareRoot()
            for i in 0..<params.info(name).count { p[i] = Float(r.uniform() * 2 - 1) * bound }
        }
    }

    /// The head CellPLM's SupCon pipeline builds for `config`: [latentDim, decoderHidden, genes], dropout as the
    /// model's.
    public static func cellPLMShape(_ config: CellLMConfig, seed: UInt64) throws(CellLMError) -> SupConHead {
        try SupConHead(inDim: config.latentDim, hidden: config.decoderHidden, outDim: config.genes,
                       dropout: config.dropout, seed: seed)
    }

    /// z: N×in → f: N×out (the returned buffer is reused by the next call). Training draws dropout masks.
    func forward(z: UnsafePointer<Float>, n: Int, train: Bool) -> UnsafeMutablePointer<Float> {
        let p: Float = train ? dropout : 0
        let x0 = self.x0.resize(n * inDim), a = self.a.resize(n * hidden), a1 = self.a1.resize(n * hidden)
        Dropout.forward(x0, z, mask: mask0.resize(n * inDim), p: p, n: n * inDim, rng: &rng)
        Linear.forward(y: a, x: x0, w: params.value(Self.names[0]), b: params.value(Self.names[1]), n: n, inDim: inDim, outDim: hidden)
        Activation.reluForward(a, a, n * hidden)
        Dropout.forward(a1, a, mask: mask1.resize(n * hidden), p: p, n: n * hidden, rng: &rng)
        let f = out.resize(n * outDim)
        Linear.forward(y: f, x: a1, w: params.value(Self.names[2]), b: params.value(Self.names[3]), n: n, inDim: hidden, outDim: outDim)
        return f
    }

    /// df: N×out → dz: N×in (overwritten); adds the parameter gradients to `params.grads`.
    func backward(df: UnsafePointer<Float>, dz: UnsafeMutablePointer<Float>, n: Int) {
        let da = self.da.resize(n * hidden)
        Linear.backward(dx: da, dw: params.grad(Self.names[2]), db: params.grad(Self.names[3]), dy: df, x: a1.pointer,
                        w: params.value(Self.names[2]), n: n, inDim: hidden, outDim: outDim)
        Dropout.backward(da, mask: mask1.pointer, n: n * hidden)
        Activation.reluBackward(da, output: a.pointer, n * hidden)
        Linear.backward(dx: dz, dw: params.grad(Self.names[0]), db: params.grad(Self.names[1]), dy: da, x: x0.pointer,
                        w: params.value(Self.names[0]), n: n, inDim: inDim, outDim: hidden)
        Dropout.backward(dz, mask: mask0.pointer, n: n * inDim)
    }

    /// Inference projection of latent rows (N×in → N×out), optionally L2-normalised per row (the geometry the
    /// SupCon loss sees).
    public func project(_ z: Matrix, normalize: Bool = true) throws(CellLMError) -> Matrix {
        guard z.cols == inDim else {
            throw .invalidInput(field: "latent", problem: "has \(z.cols) columns but the head takes \(inDim)", fix: "Project the latent of the model the head was trained with.")
        }
        let n = z.rows
        if n == 0 { return Matrix(rows: 0, cols: outDim) }
        let f = z.data.withUnsafeBufferPointer { forward(z: $0.baseAddress!, n: n, train: false) }
        var data = Array(UnsafeBufferPointer(start: f, count: n * outDim))
        if normalize {
            for i in 0..<n {
                var s: Float = 0
                for j in 0..<outDim { s += data[i * outDim + j] * data[i * outDim + j] }
                let inv = 1 / max(s.squareRoot(), 1e-12)
                for j in 0..<outDim { data[i * outDim + j] *= inv }
            }
        }
        return Matrix(rows: n, cols: outDim, data: data)
    }

    /// The head's tensors, its generator state and shape, for a checkpoint file.
    public func entries() -> [TensorFile.Entry] {
        params.infos.map { TensorFile.Entry(name: $0.name, shape: $0.shape, values: .f32(params.array($0.name))) }
            + [TensorFile.Entry(name: "head.rng", shape: [4], values: .u64(rng.state)),
               TensorFile.Entry(name: "head.shape", shape: [3], values: .i32([Int32(inDim), Int32(hidden), Int32(outDim)]))]
    }

    /// Restores a head written by `entries()`; a missing or misshapen tensor is an error naming it.
    public static func restore(from f: TensorFile, file: String, dropout: Float) throws(CellLMError) -> SupConHead {
        guard case .i32(let s)? = f.entry("head.shape")?.values, s.count == 3 else {
            throw .tensorFile(file: file, problem: "has no SupCon head (tensor 'head.shape')", fix: "Pass a checkpoint written by the cluster-supcon workflow, or delete it to start over.")
        }
        let head = try SupConHead(inDim: Int(s[0]), hidden: Int(s[1]), outDim: Int(s[2]), dropout: dropout, seed: 0)
        for info in head.params.infos {
            guard let e = f.entry(info.name), let v = e.floats else {
                throw .tensorFile(file: file, problem: "lacks the head tensor '\(info.name)'", fix: "Delete the file to start fine-tuning over.")
            }
            guard e.shape == info.shape else { throw .shapeMismatch(file: file, tensor: info.name, expected: info.shape, found: e.shape) }
            head.params.set(info.name, v)
        }
        if case .u64(let r)? = f.entry("head.rng")?.values, r.count == 4 { head.rng.state = r }
        return head
    }
}
