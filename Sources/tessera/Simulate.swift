import ArgumentParser
import Foundation
import SpatialData

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a seeded simulated tissue: spatial.h5ad (the panel), spatial_full.h5ad (all genes, truth) and reference.h5ad (scRNA).")

    @Option(help: "Cells in the spatial section.") var cells = 20_000
    @Option(help: "Genes in the full transcriptome (the spatial panel holds 90% of them).") var genes = 2_000
    @Option(help: "Fields of view.") var fovs = 20
    @Option(help: "Cell types (and layered domains).") var cellTypes = 8
    @Option(help: "Random seed: same seed, same tissue.") var seed: UInt64 = 0
    @Option(help: "Output folder.") var out = "simulated"

    func run() throws {
        var c = SimulationConfig(cells: cells, genes: genes, fovs: fovs, cellTypes: cellTypes, seed: seed)
        c.referenceCells = min(10_000, max(1_000, cells / 2))
        try writeSimulation(c, to: out)
    }
}

/// Simulates `config` and writes the three h5ad files into `folder`; prints what it wrote.
@discardableResult
func writeSimulation(_ config: SimulationConfig, to folder: String) throws -> SimulatedTissue {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let t = TissueSimulator.simulate(config)
    for (name, d) in [("spatial", t.spatial), ("spatial_full", t.spatialFull), ("reference", t.reference)] {
        let path = (folder as NSString).appendingPathComponent("\(name).h5ad")
        try writeH5AD(d, to: path)
        print("wrote \(path): \(d.cellCount) cells x \(d.geneCount) genes")
    }
    print("held-out panel genes (\(t.heldOutGenes.count)): \(t.heldOutGenes.prefix(8).joined(separator: ", "))\(t.heldOutGenes.count > 8 ? ", ..." : "")")
    return t
}
