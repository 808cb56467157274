import Foundation
import Tensor

/// CellPLM's masking for the cell-language-model objective (cellplm.md §4.1), seeded:
/// 1. keep a random min(maxCells, ⌊(1 − dropCellRate)·N⌋) cells;
/// 2. choose ⌊maskCellRate·N⌋ of them to mask;
/// 3. give each chosen cell a rate r ~ Beta(5, 4/maskGeneRate − 3) capped at 0.9 (or maskGeneRate flat);
/// 4. mask each measured gene of a chosen cell with probability r: its count is zeroed in the input.
public struct MaskedSequence {
    /// Rows of the original sequence that were kept, in order.
    public var kept: [Int]
    /// Kept cells' counts (truth for the loss) and the masked copy fed to the embedder.
    public var counts: CSRMatrix
    public var masked: CSRMatrix
    /// N×G, 1 where an entry is masked (kept cells only).
    public var inputMask: [UInt8]
    public var maskedCells: Int

    public static func make(counts: CSRMatrix, measured: [Int32], config c: CellLMConfig, rng: inout SeededRNG) -> MaskedSequence {
        let n0 = counts.rows, g = counts.cols
        var order = Array(0..<n0)
        var kept = order
        if c.dropCellRate > 0 {
            shuffle(&order, &rng)
            let keep = min(c.maxCells, Int((Double(n0) * (1 - Double(c.dropCellRate))).rounded(.down)))
            kept = Array(order.prefix(max(1, keep))).sorted()
        }
        let sub = counts.selectingRows(kept)
        let n = sub.rows
        var mask = [UInt8](repeating: 0, count: n * g)
        var chosen = [Bool](repeating: false, count: n)
        var perm = Array(0..<n)
        shuffle(&perm, &rng)
        let nMask = Int((Double(n) * Double(c.maskCellRate)).rounded(.down))
        for i in perm.prefix(nMask) { chosen[i] = true }
        let alpha = 5.0, beta = 4 / Double(c.maskGeneRate) + 2 - alpha
        var maskedCells = 0
        for i in 0..<n where chosen[i] {
            var r = Double(c.maskGeneRate)
            if c.maskBeta {
                let a = rng.gamma(shape: alpha), b = rng.gamma(shape: beta)
                r = min(a / (a + b), 0.9)
            }
            var any = false
            // 32-bit uniforms, two per draw.
            let threshold = UInt64(r * 4_294_967_296.0)
            var k = 0
            var bits: UInt64 = 0
            for gene in measured {
                if k & 1 == 0 { bits = rng.next() } else { bits >>= 32 }
                k += 1
                if (bits & 0xFFFF_FFFF) <= threshold { mask[i * g + Int(gene)] = 1; any = true }
            }
            if any { maskedCells += 1 }
        }
        return MaskedSequence(kept: kept, counts: sub, masked: zeroing(sub, mask: mask), inputMask: mask, maskedCells: maskedCells)
    }

    /// `counts` with every entry whose N×G `mask` byte is set zeroed (the structure is kept).
    static func zeroing(_ counts: CSRMatrix, mask: [UInt8]) -> CSRMatrix {
        var masked = counts
        let g = counts.cols
        for i in 0..<counts.rows {
            for z in masked.indptr[i]..<masked.indptr[i + 1] where mask[i * g + Int(masked.indices[z])] != 0 {
                masked.values[z] = 0
            }
        }
        return masked
    }

    static func shuffle(_ a: inout [Int], _ rng: inout SeededRNG) {
        if a.count < 2 { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, rng.int(below: i + 1)) }
    }
}

extension CSRMatrix {
    /// The given rows, in the given order.
    public func selectingRows(_ rows: [Int]) -> CSRMatrix {
        var ip = [Int](repeating: 0, count: rows.count + 1)
        var ix: [Int32] = [], vs: [Float] = []
        for (k, r) in rows.enumerated() {
            ix.append(contentsOf: indices[indptr[r]..<indptr[r + 1]])
            vs.append(contentsOf: values[indptr[r]..<indptr[r + 1]])
            ip[k + 1] = vs.count
        }
        return CSRMatrix(rows: rows.count, cols: cols, indptr: ip, indices: ix, values: vs)
    }

    /// The transpose (CSC of self), used to scatter gradients by column without races.
    public func transposed() -> CSRMatrix {
        var counts = [Int](repeating: 0, count: cols + 1)
        for c in indices { counts[Int(c) + 1] += 1 }
        for c in 0..<cols { counts[c + 1] += counts[c] }
        var next = counts
        var ix = [Int32](repeating: 0, count: nnz), vs = [Float](repeating: 0, count: nnz)
        for r in 0..<rows {
            for z in indptr[r]..<indptr[r + 1] {
                let c = Int(indices[z]), p = next[c]
                ix[p] = Int32(r); vs[p] = values[z]; next[c] += 1
            }
        }
        return CSRMatrix(rows: cols, cols: rows, indptr: counts, indices: ix, values: vs)
    }

    /// Dense row-major copy into `out` (rows×cols).
    public func densify(into out: UnsafeMutablePointer<Float>) {
        out.update(repeating: 0, count: rows * cols)
        for r in 0..<rows { for z in indptr[r]..<indptr[r + 1] { out[r * cols + Int(indices[z])] += values[z] } }
    }
}
