import ArgumentParser
import Foundation
import SpatialData

/// `tessera-bench simulate`: simulating and writing a tissue (spatial panel, all-gene truth, reference)
/// with our simulator against the peer `make_synth.py` at the same size, in the same run.
struct SimulateBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "simulate", abstract: "Tissue simulation + h5ad writing: ours vs make_synth.py.")

    @Option(help: "Spatial cells.") var cells = 20_000
    @Option(help: "Genes.") var genes = 2_000
    @Option(help: "FOVs.") var fovs = 20
    @Option(help: "Reference cells.") var referenceCells = 10_000
    @Option(help: "Scratch folder.") var data = "bench-data"
    @Option(help: "Python with the peer tools (../shared/bench/README.md).") var python = ".venv-bench/bin/python"
    @Option(help: "The peer script.") var script = "../shared/bench/make_synth.py"

    func run() throws {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ValidationError("no Python at \(python): create the peer venv with `bash ../shared/bench/install.sh .venv-bench`")
        }
        let ours = (data as NSString).appendingPathComponent("sim-tessera"), theirs = (data as NSString).appendingPathComponent("sim-peer")
        for d in [ours, theirs] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }

        var c = SimulationConfig(cells: cells, genes: genes, fovs: fovs)
        c.referenceCells = referenceCells
        let t0 = Date()
        let t = TissueSimulator.simulate(c)
        let simulated = Date().timeIntervalSince(t0)
        for (name, d) in [("spatial", t.spatial), ("spatial_full", t.spatialFull), ("reference", t.reference)] {
            try H5ADWriter.write(d, to: (ours as NSString).appendingPathComponent("\(name).h5ad"))
        }
        let oursTotal = Date().timeIntervalSince(t0)
        let oursRSS = peakRSS()

        let out = try runProcess(python, [script, "--n", String(cells), "--genes", String(genes), "--fovs", String(fovs),
                                   "--n-ref", String(referenceCells), "--out", theirs])
        guard let line = out.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let peer = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let peerWall = (peer["wall_s"] as? NSNumber)?.doubleValue else {
            throw ValidationError("make_synth.py printed no result line: \(out.suffix(500))")
        }
        let nnz = { (d: Dataset) in Double(d.counts.nnz) / (Double(d.cellCount) * Double(d.geneCount)) }
        print("")
        print("tissue simulation + writing 3 h5ad files, \(cells) cells x \(genes) genes, \(referenceCells) reference cells; load \(loadAverage())")
        print("| metric                    | tessera | make_synth.py | ratio |")
        print("|---------------------------|---------|---------------|-------|")
        print(String(format: "| wall time (simulate+write) | %.2f s | %.2f s | %.2fx |", oursTotal, peerWall, oursTotal / peerWall))
        print(String(format: "| of which simulating        | %.2f s | | |", simulated))
        print(String(format: "| all-gene non-zero fraction | %.3f | %.3f | |", nnz(t.spatialFull), (peer["spatial_nnz_frac"] as? NSNumber)?.doubleValue ?? .nan))
        print(String(format: "| reference non-zero fraction| %.3f | %.3f | |", nnz(t.reference), (peer["ref_nnz_frac"] as? NSNumber)?.doubleValue ?? .nan))
        print(String(format: "| peak RSS (ours)            | %.0f MB | | |", Double(oursRSS) / 1e6))
    }
}
