import ArgumentParser
import Foundation
import SpatialData

/// The child side of HDF5Probe: walks one HDF5 file in a separate process so a libhdf5 crash on a
/// damaged file cannot take the caller down. Prints the ImportError as JSON and exits 3 on a problem.
struct H5Probe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__h5probe", abstract: "internal: check an HDF5 file's structure", shouldDisplay: false)
    @Argument var path: String

    func run() throws {
        if let e = HDF5Probe.runChild(path) {
            print(String(decoding: try JSONEncoder().encode(e), as: UTF8.self))
            throw ExitCode(badInputExit)
        }
    }
}
