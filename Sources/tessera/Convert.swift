import ArgumentParser
import Foundation
import SpatialData

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Import any supported format and write it as an .h5ad that scanpy opens.")

    @Argument(help: "Input file or folder.") var input: String
    @Argument(help: "Output .h5ad path.") var output: String
    @OptionGroup var read: ReadOptions

    func run() throws {
        let d = try readDataset(input, options: read.readerOptions)
        try writeH5AD(d, to: output)
        print("wrote \(output): \(d.cellCount) cells x \(d.geneCount) genes")
    }
}
