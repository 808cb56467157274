import ArgumentParser
import Foundation
import SpatialData

/// The child side of HDF5Probe: walks one HDF5 file in a separate process so a libhdf5 crash on a
/// damaged file cannot take the caller down. Prints the ImportError as JSON and exits 3 on a problem.
struct H5Probe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__h5probe", abstract: "internal: check an HDF5 file's structure", shouldDisplay: false)
    @Argument var path: String

    func run() throws {
        let status = HDF5Probe.runChild(path, out: FileHandle.standardOutput)
        if status != 0 { throw ExitCode(status) }
    }
}
