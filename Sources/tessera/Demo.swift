import ArgumentParser
import Foundation
import SpatialData

/// The main job of `make demo` until the daemon lands: simulate the demo tissue into the data root,
/// import it back through the h5ad reader and print its summary.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Simulate the demo tissue, import it and print its summary.")

    @Option(help: "Data root (database and job folders live here once the daemon exists).") var root = "storage"
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func run() throws {
        var c = SimulationConfig.small
        c.seed = seed
        let folder = (root as NSString).appendingPathComponent("demo")
        let start = Date()
        try writeSimulation(c, to: folder)
        let d = try readDataset((folder as NSString).appendingPathComponent("spatial.h5ad"))
        print("")
        print(DatasetSummary(d).text)
        print(String(format: "demo finished in %.1f s; files in %@", Date().timeIntervalSince(start), folder))
    }
}
