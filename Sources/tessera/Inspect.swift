import ArgumentParser
import Foundation
import SpatialData

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise datasets: cells, genes, FOVs, coordinates, obs columns, sparsity, totals.",
        discussion: "Reads .h5ad, 10x .h5, .loom, Visium/Xenium/MERSCOPE/CosMx folders and tab-separated counts.")

    @Argument(help: "Files or folders to inspect.") var paths: [String]
    @Flag(help: "Print JSON instead of text.") var json = false
    @OptionGroup var read: ReadOptions

    func run() throws {
        var summaries: [DatasetSummary] = []
        var failed = false
        // Files that share a name (sample/outs/filtered_feature_bc_matrix.h5 from several runs) are told apart
        // by their paths.
        let names = paths.map { (URL(fileURLWithPath: $0).standardizedFileURL.lastPathComponent) }
        let repeated = Set(names.filter { n in names.filter { $0 == n }.count > 1 })
        for (p, n) in zip(paths, names) {
            do {
                let d = try readDataset(p, options: read.readerOptions)
                let s = DatasetSummary(d)
                if json { summaries.append(s) } else {
                    if repeated.contains(n) { print("== \(URL(fileURLWithPath: p).standardizedFileURL.path)") }
                    print(s.text)
                }
            } catch let e as ExitCode where e.rawValue == badInputExit {
                failed = true
            }
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try enc.encode(summaries.count == 1 && paths.count == 1 ? AnyEncodable(summaries[0]) : AnyEncodable(summaries))
            print(String(decoding: data, as: UTF8.self))
        }
        if failed { throw ExitCode(badInputExit) }
    }
}

struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ v: any Encodable) { value = v }
    func encode(to encoder: Encoder) throws { try value.encode(to: encoder) }
}
