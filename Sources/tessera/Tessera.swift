import ArgumentParser
import Foundation
import SpatialData

@main
struct Tessera: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Tessera: a spatial-transcriptomics workbench.",
        subcommands: [Inspect.self, Convert.self, Simulate.self, Demo.self, H5Probe.self])
}

/// Exit status for input the user must fix (as opposed to a crash or a usage error).
let badInputExit: Int32 = 3

/// Reads one dataset, turning typed import errors into a message on stderr and exit status 3.
func readDataset(_ path: String, counts: String?, unit: String? = nil, micronsPerPixel: Double? = nil) throws -> Dataset {
    do {
        var o = DatasetReader.Options(counts: counts)
        if let unit {
            guard let u = CoordinateUnit(rawValue: unit), u != .unknown else {
                FileHandle.standardError.write(Data("error: --unit must be um or px, not '\(unit)'\n".utf8))
                throw ExitCode(badInputExit)
            }
            o.unit = u
        }
        o.micronsPerPixel = micronsPerPixel
        return try DatasetReader.read(path: path, options: o)
    } catch let e as ImportError {
        FileHandle.standardError.write(Data("error: \(e)\n".utf8))
        throw ExitCode(badInputExit)
    }
}
