import ArgumentParser
import Foundation
import SpatialData

@main
struct Tessera: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Tessera: a spatial-transcriptomics workbench.",
        discussion: "Commands that talk to the daemon (project … open) need `tesserad serve` running; the others work on files alone.",
        subcommands: [Inspect.self, Convert.self, Genes.self, Simulate.self, Demo.self, H5Probe.self,
                      ProjectCommand.self, DatasetCommand.self, SubmitCommand.self, JobsCommand.self, StatusCommand.self,
                      LogsCommand.self, CancelCommand.self, HistoryCommand.self, OpenCommand.self, MapCommand.self])
}

/// Exit status for input the user must fix (as opposed to a crash or a usage error).
let badInputExit: Int32 = 3

/// How to read inputs: options shared by `inspect` and `convert`.
struct ReadOptions: ParsableArguments {
    @Option(help: "h5ad counts matrix: X, raw, or a layer name (default: layers/counts, else X, else raw/X).") var counts: String?
    @Option(help: "Counts tables: a file of cell positions (x, y[, z]) to join.") var locations: String?
    @Option(help: "Counts tables: a file of per-cell annotations (sample, FOV, labels) to join.") var metadata: String?
    @Option(help: "Counts tables: cells-x-genes or genes-x-cells (default: sniffed).") var orientation: String?
    @Option(help: "Counts tables: which columns of the locations file hold x, y (and id, z, fov): x=2,y=3,id=0 (0-based numbers or header names).") var locationColumns: String?
    @Option(help: "Coordinate unit where the file does not state it: um or px.") var unit: String?
    @Option(help: "Micrometres per pixel where the file does not state it.") var micronsPerPixel: Double?

    func validate() throws {
        if let unit, CoordinateUnit(rawValue: unit) == nil || unit == "unknown" {
            throw ValidationError("--unit must be um or px, not '\(unit)'")
        }
        if let orientation, DelimitedCountsReader.Orientation(rawValue: orientation) == nil {
            throw ValidationError("--orientation must be cells-x-genes or genes-x-cells, not '\(orientation)'")
        }
        if let locationColumns, case .failure(let e) = DelimitedCountsReader.LocationColumns.parse(locationColumns) {
            throw ValidationError(e.description)
        }
    }

    var readerOptions: DatasetReader.Options {
        var o = DatasetReader.Options(counts: counts)
        o.locations = locations
        o.metadata = metadata
        if let orientation, let v = DelimitedCountsReader.Orientation(rawValue: orientation) { o.orientation = v }
        if let locationColumns, case .success(let c) = DelimitedCountsReader.LocationColumns.parse(locationColumns) {
            o.delimited.locationColumns = c
        }
        o.unit = unit.flatMap(CoordinateUnit.init(rawValue:))
        o.micronsPerPixel = micronsPerPixel
        return o
    }
}

/// Runs `body`, turning a typed import error into one line on stderr and exit status 3.
func reportingImportErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as ImportError {
        FileHandle.standardError.write(Data("error: \(e)\n".utf8))
        throw ExitCode(badInputExit)
    }
}

/// Reads one dataset; bad input ends the command with its error and exit status 3.
func readDataset(_ path: String, options: DatasetReader.Options = .init()) throws -> Dataset {
    try reportingImportErrors { try DatasetReader.read(path: path, options: options) }
}

/// Writes an h5ad; a failed write ends the command with its error and exit status 3.
func writeH5AD(_ d: Dataset, to path: String) throws {
    try reportingImportErrors { try H5ADWriter.write(d, to: path) }
}
