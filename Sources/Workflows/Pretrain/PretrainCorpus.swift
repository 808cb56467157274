import CellLM
import Foundation
import SpatialData
import Tensor

/// The pretraining corpus: every bound dataset (spatial roles `spatial`, `spatial.2`…, scRNA roles
/// `reference`, `reference.2`…) cut into sequences in one gene-union vocabulary. Each sequence carries its
/// dataset's measured-gene list, so the NB loss is computed on those genes only (CellSequence.measured), and
/// its own decoder batch label (one per FOV/sample) and dataset label. Spatial sections without FOVs are cut
/// into `tile_grid`² tiles by position. Some whole sequences are held out (seeded) to score masked-gene NB loss.
struct PretrainCorpus {
    var vocabulary: [String]
    /// Training sequences (batch labels 0..<batchCount).
    var train: [CellSequence]
    /// Held-out sequences (batch label −1: unseen, as new data would be).
    var heldOut: [CellSequence]
    var batchCount: Int
    var datasetCount: Int
    var hasCoordinates: Bool
    var cells: Int

    /// Reads and checks the inputs without training: at least one dataset, cells in each, genes shared between
    /// the datasets (a dataset sharing no gene with the others cannot be related to them).
    static func load(_ context: WorkflowContext) throws -> PretrainCorpus {
        let spatialRoles = context.roles("spatial"), referenceRoles = context.roles("reference")
        let roles = spatialRoles + referenceRoles
        if roles.isEmpty {
            throw WorkflowError.missingInput(role: "spatial", workflow: PretrainWorkflow.name)
        }
        let grid = try context.int("tile_grid")
        var datasets: [(role: String, ds: Dataset)] = []
        for role in roles {
            var ds = try context.dataset(role)
            let file = context.spec.inputs[role] ?? ds.name
            if ds.cellCount == 0 { throw WorkflowError.badInput(role: role, file: file, message: "holds no cells; bind a dataset with cells") }
            if !ds.measured.contains(true) { throw WorkflowError.badInput(role: role, file: file, message: "has no measured gene") }
            if referenceRoles.contains(role) { ds.coordinates = nil }
            else if ds.fov == nil { ds = DatasetSequences.tiled(ds, grid: grid) }
            datasets.append((role, ds))
        }
        if datasets.count > 1 {
            for (k, d) in datasets.enumerated() {
                let others = datasets.enumerated().filter { $0.offset != k }.map(\.element)
                let shared = others.map { GeneVocabulary.sharedCount(d.ds, $0.ds) }.max() ?? 0
                if shared == 0 {
                    throw WorkflowError.badInput(role: d.role, file: context.spec.inputs[d.role] ?? d.ds.name,
                        message: "shares no gene with any other input (\(others.map(\.role).joined(separator: ", "))); check that gene names use the same convention (symbols vs Ensembl ids, species) or pretrain on it alone")
                }
            }
        }
        let vocabulary = GeneVocabulary.union(datasets.map(\.ds))
        var all: [CellSequence] = []
        for (k, d) in datasets.enumerated() {
            do {
                let set = try DatasetSequences.make(d.ds, vocabulary: vocabulary, batchBase: Int32(all.count), datasetLabel: Int32(k))
                all += set.sequences
            } catch {
                throw WorkflowError.badInput(role: d.role, file: context.spec.inputs[d.role] ?? d.ds.name, message: error.description)
            }
        }
        // Held-out sequences: a seeded choice, none when fewer than 3 sequences (nothing to spare).
        let fraction = try context.double("heldout_fraction")
        var order = Array(all.indices)
        var rng = SeededRNG(seed: context.seed ^ 0x4E1D_0F57)
        SeededShuffle.shuffle(&order, &rng)
        let nHeld = all.count >= 3 ? min(all.count - 2, Int((Double(all.count) * fraction).rounded())) : 0
        let held = Set(order.prefix(nHeld))
        var train: [CellSequence] = [], heldOut: [CellSequence] = []
        for (i, s) in all.enumerated() {
            if held.contains(i) {
                var h = s
                h.batch = h.batch.map { [Int32](repeating: -1, count: $0.count) }
                heldOut.append(h)
            } else { train.append(s) }
        }
        return PretrainCorpus(vocabulary: vocabulary, train: train, heldOut: heldOut, batchCount: all.count,
                              datasetCount: datasets.count, hasCoordinates: datasets.contains { $0.ds.coordinates != nil },
                              cells: datasets.reduce(0) { $0 + $1.ds.cellCount })
    }

    /// The training sequence for step `s`: epochs of a seeded permutation (a function of the step, so a resumed
    /// run picks the same sequence the uninterrupted run would).
    func sequence(step s: Int, seed: UInt64) -> CellSequence {
        let epoch = s / train.count
        var order = Array(train.indices)
        var rng = SeededRNG(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(epoch + 1))
        SeededShuffle.shuffle(&order, &rng)
        return train[order[s % train.count]]
    }
}
