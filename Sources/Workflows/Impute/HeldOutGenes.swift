import Foundation
import SpatialData
import Tensor

/// The panel genes an evaluation run hides from the query and then predicts, chosen as CellPLM's imputation
/// protocol does (cellplm.md §5.2): stratified by sparsity, seeded.
///
/// Eligible genes are the query's measured genes that the reference also measures (a gene the reference
/// lacks cannot be predicted) and that are non-zero in at least two query cells (a constant truth has no
/// Pearson correlation). Each gene's zero rate over the query cells puts it in one of the bins
/// [0, 0.75], (0.75, 0.9], (0.9, 0.95], (0.95, 1]; every bin is shuffled with the seed, then genes are
/// taken round-robin, one per non-empty bin in bin order, until `count` are chosen. That is CellPLM's
/// "up to N per bin" with the quota spread evenly, and bins that run out leave their share to the others.
public enum HeldOutGenes {
    /// Upper edges of the sparsity bins (zero rate).
    public static let binEdges: [Double] = [0.75, 0.9, 0.95, 1.0]

    public struct Selection: Sendable, Equatable {
        /// Column indices into the query dataset, ascending.
        public var columns: [Int]
        /// Their gene names (symbols, ids where the symbol is empty), in column order.
        public var genes: [String]
        /// How many eligible genes each sparsity bin held, and how many were taken from it.
        public var binSizes: [Int]
        public var binTaken: [Int]
    }

    /// Query columns that may be held out (see the type's comment).
    public static func eligible(query: Dataset, reference: Dataset) -> [Int] {
        let inReference = referenceKeys(reference)
        let nonZeroCells = nonZeroCellCounts(query)
        return (0..<query.geneCount).filter { j in
            query.measured[j] && nonZeroCells[j] >= 2 && keys(query, j).contains(where: inReference.contains)
        }
    }

    /// How many genes `amount` asks for: a fraction of the eligible genes when below 1 (rounded, at least 1),
    /// else a count.
    public static func count(_ amount: Double, eligible: Int) -> Int {
        amount < 1 ? max(1, Int((amount * Double(eligible)).rounded())) : Int(amount.rounded())
    }

    /// Chooses `count` eligible genes stratified by sparsity with `seed`. `excluding` removes columns from
    /// consideration (e.g. genes already used for validation). Throws when fewer than `count` are eligible.
    public static func select(query: Dataset, reference: Dataset, count: Int, seed: UInt64,
                              excluding: Set<Int> = []) throws(WorkflowError) -> Selection {
        let pool = eligible(query: query, reference: reference).filter { !excluding.contains($0) }
        guard count >= 1 else {
            throw .invalidParameter(name: "heldout_genes", message: "asks for \(count) genes; hold out at least 1")
        }
        guard count <= pool.count else {
            throw .invalidParameter(name: "heldout_genes",
                message: "asks for \(count) genes but only \(pool.count) panel genes can be held out (measured by the reference and non-zero in at least 2 cells); ask for at most \(pool.count)")
        }
        let zeroRate = zeroRates(query)
        var bins = [[Int]](repeating: [], count: binEdges.count)
        for j in pool {
            let b = binEdges.firstIndex { zeroRate[j] <= $0 } ?? binEdges.count - 1
            bins[b].append(j)
        }
        var rng = SeededRNG(seed: seed ^ 0x4E1D_0075)
        for b in bins.indices { SeededShuffle.shuffle(&bins[b], &rng) }
        var taken = [Int](repeating: 0, count: bins.count), chosen: [Int] = []
        while chosen.count < count {
            for b in bins.indices where chosen.count < count && taken[b] < bins[b].count {
                chosen.append(bins[b][taken[b]]); taken[b] += 1
            }
        }
        chosen.sort()
        return Selection(columns: chosen, genes: chosen.map { name(query, $0) }, binSizes: bins.map(\.count), binTaken: taken)
    }

    /// Fraction of cells with a zero count, per gene.
    public static func zeroRates(_ ds: Dataset) -> [Double] {
        let nz = nonZeroCellCounts(ds)
        let n = Double(max(ds.cellCount, 1))
        return nz.map { 1 - Double($0) / n }
    }

    static func nonZeroCellCounts(_ ds: Dataset) -> [Int] {
        var nz = [Int](repeating: 0, count: ds.geneCount)
        for (z, j) in ds.counts.indices.enumerated() where ds.counts.values[z] != 0 { nz[Int(j)] += 1 }
        return nz
    }

    /// A gene's display name: its symbol, or its id when the symbol is empty.
    public static func name(_ ds: Dataset, _ j: Int) -> String { ds.geneSymbols[j].isEmpty ? ds.geneIDs[j] : ds.geneSymbols[j] }

    static func keys(_ ds: Dataset, _ j: Int) -> [String] {
        [ds.geneIDs[j], ds.geneSymbols[j]].filter { !$0.isEmpty }.map(GeneHarmonizer.normalizedKey)
    }

    static func referenceKeys(_ ds: Dataset) -> Set<String> {
        var s = Set<String>()
        for j in 0..<ds.geneCount where ds.measured[j] { s.formUnion(keys(ds, j)) }
        return s
    }
}
