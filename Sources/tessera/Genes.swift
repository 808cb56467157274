import ArgumentParser
import Foundation
import SpatialData

/// Gene-name checks users run before a job: how much of a spatial panel a reference covers, and which
/// genes repeat. Matching is exact, then by version-stripped Ensembl id, then case-insensitive.
struct Genes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Gene-name checks: the overlap of a panel with a reference, duplicates.",
        subcommands: [Overlap.self, Duplicates.self])

    struct Overlap: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Report which panel genes a reference measures.")
        @Argument(help: "The spatial panel (any supported input).") var panel: String
        @Argument(help: "The reference (any supported input).") var reference: String
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() throws {
            let report = GeneHarmonizer.overlap(panel: try readDataset(panel), reference: try readDataset(reference))
            if json {
                let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try enc.encode(report), as: UTF8.self))
            } else {
                print(report.description)
            }
        }
    }

    struct Duplicates: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List genes whose names repeat (case-insensitively).")
        @Argument(help: "Any supported input.") var input: String
        @Option(help: "Write a copy with the duplicate columns summed to this .h5ad.") var merged: String?

        func run() throws {
            let d = try readDataset(input)
            let dups = GeneHarmonizer.duplicates(in: d)
            print(dups.isEmpty ? "\(d.name): no duplicate gene names among \(d.geneCount)"
                               : "\(d.name): \(dups.count) names repeat:\n" + dups.map { "  \($0.names.joined(separator: ", ")) (columns \($0.indices.map(String.init).joined(separator: ", ")))" }.joined(separator: "\n"))
            if let merged {
                let m = GeneHarmonizer.mergingDuplicates(d).dataset
                try writeH5AD(m, to: merged)
                print("wrote \(merged): \(m.geneCount) genes")
            }
        }
    }
}
