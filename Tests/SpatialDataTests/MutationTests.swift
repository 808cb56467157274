import Foundation
import Testing
import Tensor
@testable import SpatialData

/// Mutates the real files in ../shared/data (flipped bits, flipped header bytes, truncations, edited
/// fields) and asserts every read ends in a valid Dataset or a typed ImportError: no crash, no hang, no
/// other error. HDF5 inputs go through the crash-isolating probe, as in production.
@Suite(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data beside the checkout"))
struct MutationTests {
    /// One mutable input: the file that gets mutated and how to read the folder it sits in.
    struct Source: Sendable, CustomTestStringConvertible {
        let files: [String]            // relative to ../shared/data; files[0] is mutated, the rest copied as-is
        let read: @Sendable (String) throws -> Dataset   // given the copy of files[0]
        let mutations: Int
        var testDescription: String { files[0] }
    }

    /// Reads the Visium copy whose spatial/ holds the mutated file.
    @Sendable static func readVisium(_ mutated: String) throws -> Dataset {
        let spatial = (mutated as NSString).deletingLastPathComponent
        return try VisiumReader.read(matrix: (spatial as NSString).deletingLastPathComponent + "/filtered_feature_bc_matrix.h5", spatial: spatial)
    }

    static let sources: [Source] = [
        Source(files: ["osmfish/osmfish_valid_cells.h5ad"], read: { try DatasetReader.read(path: $0) }, mutations: 130),
        Source(files: ["osmfish-tissue-pair/tissue_scrna_reference.h5ad"], read: { try DatasetReader.read(path: $0) }, mutations: 80),
        Source(files: ["seqfish-tasic-pair/seqfish_cortex.h5ad"], read: { try DatasetReader.read(path: $0) }, mutations: 70),
        Source(files: ["anndata-archives/v0.5.0/adata.h5ad"], read: { try DatasetReader.read(path: $0) }, mutations: 70),
        Source(files: ["anndata-archives/v0.7.0/adata.h5ad"], read: { try DatasetReader.read(path: $0) }, mutations: 70),
        Source(files: ["anndata-archives/v0.11.4/adata.h5ad"], read: { try DatasetReader.read(path: $0) }, mutations: 50),
        Source(files: ["visium-10x-mini/test_data.h5ad"], read: { try DatasetReader.read(path: $0) }, mutations: 60),
        Source(files: ["visium-10x-mini/filtered_feature_bc_matrix.h5"], read: { try TenXH5Reader.read(path: $0) }, mutations: 80),
        Source(files: ["osmfish/osmFISH_SScortex_mouse_all_cells.loom"], read: { try LoomReader.read(path: $0) }, mutations: 70),
        Source(files: ["visium-10x-mini/spatial/tissue_positions_list.csv", "visium-10x-mini/filtered_feature_bc_matrix.h5",
                       "visium-10x-mini/spatial/scalefactors_json.json"],
               read: readVisium, mutations: 80),
        Source(files: ["visium-10x-mini/spatial/scalefactors_json.json", "visium-10x-mini/filtered_feature_bc_matrix.h5",
                       "visium-10x-mini/spatial/tissue_positions_list.csv"],
               read: readVisium, mutations: 40),
        Source(files: ["osmfish-tissue-pair/Locations.txt", "osmfish-tissue-pair/Spatial_count.txt"],
               read: { p in try DatasetReader.read(path: (p as NSString).deletingLastPathComponent + "/Spatial_count.txt",
                                                   options: { var o = DatasetReader.Options(); o.locations = p; return o }()) }, mutations: 70),
        Source(files: ["osmfish-tissue-pair/scRNA_count.txt"], read: { try DatasetReader.read(path: $0) }, mutations: 60),
        Source(files: ["giotto-mini/CosMx/Raw/Lung12_tx_file.csv"], read: { try CosMxTranscripts.aggregate(path: $0) }, mutations: 60),
        Source(files: ["giotto-mini/3D_starmap/starmap_cell_loc.txt", "giotto-mini/3D_starmap/starmap_expr.txt.gz"],
               read: { p in try DatasetReader.read(path: (p as NSString).deletingLastPathComponent + "/starmap_expr.txt.gz",
                                                   options: { var o = DatasetReader.Options(); o.locations = p; return o }()) }, mutations: 50),
        Source(files: ["giotto-mini/3D_starmap/starmap_expr.txt.gz", "giotto-mini/3D_starmap/starmap_cell_loc.txt"],
               read: { p in try DatasetReader.read(path: p,
                                                   options: { var o = DatasetReader.Options(); o.locations = (p as NSString).deletingLastPathComponent + "/starmap_cell_loc.txt"; return o }()) }, mutations: 40),
    ]

    enum Kind: CaseIterable { case flipAnywhere, flipHeader, truncate, editField }

    /// Applies one seeded mutation. Text files also get field edits (a number → text, negative, NaN,
    /// empty; a line dropped or duplicated).
    static func mutate(_ bytes: [UInt8], _ kind: Kind, _ rng: inout SeededRNG) -> [UInt8] {
        var b = bytes
        guard !b.isEmpty else { return b }
        switch kind {
        case .flipAnywhere:
            for _ in 0..<(1 + rng.int(below: 8)) { b[rng.int(below: b.count)] ^= UInt8(1 << rng.int(below: 8)) }
        case .flipHeader:
            let lim = min(b.count, 4096)
            for _ in 0..<(1 + rng.int(below: 4)) { b[rng.int(below: lim)] ^= UInt8(1 << rng.int(below: 8)) }
        case .truncate:
            b = Array(b.prefix(rng.int(below: b.count)))
        case .editField:
            var lines = String(decoding: b, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard lines.count > 2 else { return b }
            let i = 1 + rng.int(below: lines.count - 1)
            switch rng.int(below: 4) {
            case 0: lines.remove(at: i)
            case 1: lines.insert(lines[i], at: i)
            default:
                var fields = lines[i].split(separator: lines[i].contains("\t") ? "\t" : (lines[i].contains(",") ? "," : " "),
                                            omittingEmptySubsequences: false).map(String.init)
                guard !fields.isEmpty else { return b }
                fields[rng.int(below: fields.count)] = ["abc", "-3", "NaN", "", "1e999", "\"x"][rng.int(below: 6)]
                lines[i] = fields.joined(separator: lines[i].contains("\t") ? "\t" : (lines[i].contains(",") ? "," : " "))
            }
            b = Array(lines.joined(separator: "\n").utf8)
        }
        return b
    }

    @Test(arguments: sources)
    func everyMutationIsAnErrorOrAValidDataset(_ source: Source) throws {
        try #require(HDF5Probe.executable != nil, "the tessera executable must be built beside the test runner (swift build --build-tests)")
        setenv("TESSERA_HDF5_PROBE_TIMEOUT", "20", 1)
        let dir = TestEnv.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Keep the source's relative layout (Visium needs spatial/ beside the matrix).
        let base = (source.files[0] as NSString).deletingLastPathComponent
        func local(_ rel: String) -> String {
            dir + "/" + String(rel.dropFirst(base.split(separator: "/").count > 1 ? (base as NSString).deletingLastPathComponent.count + 1 : 0))
        }
        for rel in source.files {
            let dst = local(rel)
            try FileManager.default.createDirectory(atPath: (dst as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: dst) { try FileManager.default.copyItem(atPath: TestEnv.data(rel), toPath: dst) }
        }
        let target = local(source.files[0])
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TestEnv.data(source.files[0]))))
        let isText = !(target.hasSuffix(".h5ad") || target.hasSuffix(".h5") || target.hasSuffix(".loom") || target.hasSuffix(".gz"))
        let kinds: [Kind] = isText ? [.flipAnywhere, .truncate, .editField, .editField] : [.flipAnywhere, .flipHeader, .flipHeader, .truncate]
        // Seeded by the file name, so every run mutates the same way.
        var rng = SeededRNG(seed: source.files[0].utf8.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64($1)) &* 1099511628211 })
        var valid = 0, errors: [ImportError.Kind: Int] = [:]
        for k in 0..<source.mutations {
            let kind = kinds[k % kinds.count]
            let mutated = Self.mutate(original, kind, &rng)
            try Data(mutated).write(to: URL(fileURLWithPath: target))
            do {
                let d = try source.read(target)
                try d.validate(file: target)   // what a reader returns must already be valid
                valid += 1
            } catch let e as ImportError {
                errors[e.kind, default: 0] += 1
                #expect(!e.problem.isEmpty && !e.fix.isEmpty, "an error without a problem or fix: \(e)")
            } catch {
                Issue.record("mutation \(k) (\(kind)) of \(source.files[0]) raised a non-ImportError: \(error)")
            }
        }
        let summary = errors.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ")
        #expect(valid + errors.values.reduce(0, +) == source.mutations,
                "mutations of \(source.files[0]): \(source.mutations) tried, \(valid) valid datasets, errors: \(summary)")
    }

    /// The vendor formats with no real sample in ../shared/data (MERSCOPE, CosMx flat files, Xenium),
    /// from the readers' own test fixtures, through the same mutations.
    @Test(arguments: ["merscope-counts", "merscope-metadata", "cosmx-expr", "cosmx-meta", "xenium-cells"])
    func syntheticVendorFilesToo(_ which: String) throws {
        let dir: String, target: String, read: (String) throws -> Dataset
        switch which {
        case "merscope-counts", "merscope-metadata":
            dir = try MerscopeReaderTests().folder()
            target = dir + (which == "merscope-counts" ? "/cell_by_gene.csv" : "/cell_metadata.csv")
            read = { _ in try MerscopeReader.read(folder: dir) }
        case "cosmx-expr", "cosmx-meta":
            dir = try CosMxReaderTests().folder()
            target = dir + (which == "cosmx-expr" ? "/Lung5_Rep1_exprMat_file.csv" : "/Lung5_Rep1_metadata_file.csv")
            read = { _ in try CosMxReader.read(folder: dir) }
        default:
            dir = try XeniumReaderTests().folder()
            target = try #require(["/cells.csv.gz", "/cells.csv"].map { dir + $0 }.first { FileManager.default.fileExists(atPath: $0) })
            read = { _ in try XeniumReader.read(folder: dir) }
        }
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: target)))
        let kinds: [Kind] = target.hasSuffix(".gz") ? [.flipAnywhere, .truncate] : [.flipAnywhere, .truncate, .editField, .editField]
        var rng = SeededRNG(seed: which.utf8.reduce(UInt64(7)) { ($0 ^ UInt64($1)) &* 1099511628211 })
        var outcomes = 0
        for k in 0..<60 {
            try Data(Self.mutate(original, kinds[k % kinds.count], &rng)).write(to: URL(fileURLWithPath: target))
            do { try read(target).validate(file: target); outcomes += 1 }
            catch is ImportError { outcomes += 1 }
            catch { Issue.record("mutation \(k) of \(which) raised a non-ImportError: \(error)") }
        }
        #expect(outcomes == 60)
    }

    @Test func totalMutationsAtLeastOneThousand() {
        let total = Self.sources.map(\.mutations).reduce(0, +)
        #expect(total >= 1_000, "\(total) mutated inputs across \(Self.sources.count) real files")
    }
}
