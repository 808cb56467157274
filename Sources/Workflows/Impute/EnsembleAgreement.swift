import Analysis
import Foundation
import Tensor

/// A per-gene confidence for imputed genes without truth (production mode): how far an ensemble's members,
/// fine-tuned from different seeds, agree on the gene. For each gene, the Pearson correlation across cells
/// between two members' predictions on the scoring scale (log1p(1e4 · value / the cell's panel library)),
/// averaged over all member pairs. A gene the members predict alike is one the data determine; one they
/// disagree on is mostly seed noise. NaN with one member (nothing to compare) or where a member is constant.
public enum EnsembleAgreement {
    public static func perGene(members: [Matrix], library: [Double]) -> [Double] {
        guard members.count >= 2, let first = members.first else { return [Double](repeating: .nan, count: members.first?.cols ?? 0) }
        let n = first.rows, t = first.cols
        let logged: [Matrix] = members.map { m in
            var x = m
            for i in 0..<n {
                let f = library[i] > 0 ? 1e4 / library[i] : 0
                for j in 0..<t { x.data[i * t + j] = Float(Foundation.log1p(Double(m.data[i * t + j]) * f)) }
            }
            return x
        }
        return (0..<t).map { j in
            let columns = logged.map { m in (0..<n).map { m.data[$0 * t + j] } }
            var sum = 0.0, pairs = 0
            for a in columns.indices { for b in columns.indices where b > a {
                guard let r = try? Metrics.pearson(columns[a], columns[b]), r.isFinite else { continue }
                sum += r; pairs += 1
            } }
            return pairs == 0 ? .nan : sum / Double(pairs)
        }
    }

    /// Spearman rank correlation of two equally long lists over the entries finite in both (how well the
    /// confidence orders genes by their evaluation score).
    public static func spearman(_ a: [Double], _ b: [Double]) -> Double {
        let keep = a.indices.filter { a[$0].isFinite && b[$0].isFinite }
        guard keep.count >= 3 else { return .nan }
        func ranks(_ v: [Double]) -> [Double] {
            let order = v.indices.sorted { v[$0] < v[$1] }
            var r = [Double](repeating: 0, count: v.count), i = 0
            while i < order.count {
                var j = i
                while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
                for k in i...j { r[order[k]] = Double(i + j) / 2 }
                i = j + 1
            }
            return r
        }
        return (try? Metrics.pearson(ranks(keep.map { a[$0] }), ranks(keep.map { b[$0] }))) ?? .nan
    }
}
