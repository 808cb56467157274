import Foundation
import SpatialData
import Tensor
import Workflows

/// A diagnostic pair built from the osmFISH pair's real scRNA reference alone (`--pairs reference-split`):
/// its cells are split in two halves; one half stays the reference, the other becomes the query after binomial
/// thinning of every count to `keep` (0.1: the reference's median of ~1,700 counts a cell becomes the
/// osmFISH cells' ~170), and 8 of its genes (stratified by sparsity, seeded) are held out and scored. Both
/// sides carry the real platform's noise and there is no platform gap, so it asks one question: does the
/// peers' lead on the osmFISH pair come from the real scRNA data, or from the gap between platforms? (The
/// former: they lead here too.)
///
/// It shares the osmFISH pair's genes (their reference expression, never the osmFISH counts). It started as
/// a diagnostic whose candidates the simulated suite had to confirm; with `--pairs tasic-split` (the same
/// on the seqFISH pair's Tasic reference) it became the judge of the fine-tuning loss, where the suite cannot
/// be: the suite draws its counts from an NB, so it favours the NB loss by construction, while both real
/// references favour log_mse (`ImputationSettings.loss`). Only reference cells are scored, never a spatial
/// pair's query.
extension ImputeQuality {
    /// `file`: the scRNA reference to split, under the shared data folder (the osmFISH pair's Allen reference, or
    /// the seqFISH pair's Tasic reference for `--pairs tasic-split`).
    static func referenceSplitPair(_ sharedData: URL, _ o: Options, _ settings: ImputationSettings, keep: Double = 0.1,
                                   file: String = "osmfish-tissue-pair/tissue_scrna_reference.h5ad", label: String = "reference split",
                                   _ say: (String) -> Void) throws {
        let al = try DatasetReader.read(path: sharedData.appendingPathComponent(file).path)
        let order = SeededShuffle.permutation(al.cellCount, seed: o.seed ^ 0x5B17)
        let half = al.cellCount / 2
        let reference = al.selectingCells(order[half...].sorted())
        var query = al.selectingCells(order[..<half].sorted())
        var rng = SeededRNG(seed: o.seed ^ 0x7415)
        var thinned = query.counts.toDense()
        for z in 0..<thinned.data.count {
            var k = 0
            for _ in 0..<max(0, Int(thinned.data[z].rounded())) where rng.uniform() < keep { k += 1 }
            thinned.data[z] = Float(k)
        }
        query.counts = CSRMatrix(dense: thinned)     // without the entries thinned to zero
        let held = try HeldOutGenes.select(query: query, reference: reference, count: 8, seed: o.seed).columns.sorted()
        let hidden = Set(held)
        let visible = query.selectingGenes((0..<query.geneCount).filter { !hidden.contains($0) })
        let lib = query.counts.rowSums().sorted()
        say(String(format: "\n%@: %d query cells (%@ thinned to %.0f%%, median %.0f a cell), %d reference cells, %d genes held out: %@",
                   label, query.cellCount, file, 100 * keep, lib[lib.count / 2], reference.cellCount, held.count,
                   held.map { query.geneSymbols[$0] }.joined(separator: ",")))
        _ = try scorePair(label: label, full: query, visible: visible, reference: reference, heldOut: held, peers: true,
                          sharedData, o, settings, say)
    }
}
