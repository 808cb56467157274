import Foundation

/// The formats `DatasetReader` recognises.
public enum DatasetFormat: String, Sendable, CaseIterable {
    case h5ad
    case tenxH5 = "10x-h5"
    case loom
    case visium
    case xenium
    case merscope
    case cosmx
    case cosmxTranscripts = "cosmx-transcripts"
    case delimited

    /// What the user points at for this format.
    public var expects: String {
        switch self {
        case .h5ad: return "an AnnData .h5ad file"
        case .tenxH5: return "a 10x feature-barcode matrix .h5 (Cell Ranger, Space Ranger, Xenium)"
        case .loom: return "a .loom file"
        case .visium: return "a Space Ranger output folder holding spatial/ and filtered_feature_bc_matrix.h5"
        case .xenium: return "a Xenium output folder holding cell_feature_matrix.h5 and cells.csv.gz"
        case .merscope: return "a MERSCOPE folder (or its cell_by_gene.csv) with cell_metadata.csv"
        case .cosmx: return "a CosMx flat-file folder (or its *_exprMat_file.csv) with *_metadata_file.csv"
        case .cosmxTranscripts: return "a CosMx *_tx_file.csv transcript table"
        case .delimited: return "a counts table in .txt/.tsv/.csv (optionally .gz), with optional locations and metadata files"
        }
    }
}

/// One entry point for every supported input: finds the format from the path (extension or folder contents)
/// and calls the matching reader. The result has passed `Dataset.validate`.
public enum DatasetReader {
    /// Settings that only some formats use.
    public struct Options: Sendable {
        /// Forces a format instead of detecting it.
        public var format: DatasetFormat? = nil
        /// For delimited counts: the locations and metadata files, the orientation and the rest.
        public var locations: String? = nil
        public var metadata: String? = nil
        public var orientation: DelimitedCountsReader.Orientation = .sniff
        public var delimited = DelimitedCountsReader.Options()
        /// For h5ad: which matrix holds raw counts ("X", "raw", or a layer name; nil = automatic).
        public var counts: String? = nil
        /// States the coordinate unit (and µm per pixel) where the file does not say it.
        public var unit: CoordinateUnit? = nil
        public var micronsPerPixel: Double? = nil
        public init(counts: String? = nil) { self.counts = counts }

        var h5adCounts: H5ADReader.CountsSource {
            switch counts {
            case nil: return .auto
            case "X"?, "x"?: return .x
            case "raw"?, "raw/X"?, "raw.X"?: return .raw
            case let l?: return .layer(l.hasPrefix("layers/") ? String(l.dropFirst(7)) : l)
            }
        }
    }

    /// Reads the dataset at `path` (a file or a vendor output folder).
    public static func read(path: String, options: Options = Options()) throws -> Dataset {
        var d = try readDetected(path: path, options: options)
        if var c = d.coordinates {
            if let u = options.unit, c.unit == .unknown { c.unit = u }
            if let m = options.micronsPerPixel, c.micronsPerPixel == nil {
                guard m > 0, m.isFinite else {
                    throw ImportError(.invalidValue, file: path, field: "microns per pixel", problem: "\(m) is not a pixel size",
                                      fix: "give a positive number of micrometres per pixel")
                }
                c.micronsPerPixel = m
            }
            d.coordinates = c
        }
        return d
    }

    static func readDetected(path: String, options: Options) throws -> Dataset {
        let format = try options.format ?? detect(path: path)
        switch format {
        case .h5ad: return try H5ADReader.read(path: path, options: .init(counts: options.h5adCounts))
        case .loom: return try LoomReader.read(path: path)
        case .tenxH5:
            let folder = (path as NSString).deletingLastPathComponent
            let platform = (path as NSString).lastPathComponent == "cell_feature_matrix.h5" ? "xenium"
                : (VendorTable.isDirectory((folder as NSString).appendingPathComponent("spatial")) ? "visium" : "scrna")
            return try TenXH5Reader.read(path: path, platform: platform)
        case .visium: return try VisiumReader.read(folder: folderOf(path))
        case .xenium: return try XeniumReader.read(folder: folderOf(path))
        case .merscope:
            if VendorTable.isDirectory(path) { return try MerscopeReader.read(folder: path) }
            guard let meta = MerscopeReader.metadataFile(near: path) else {
                throw ImportError(.missingField, file: path, field: "cell_metadata.csv",
                                  problem: "no cell_metadata.csv next to this cell_by_gene.csv, so the cells have no positions",
                                  fix: "copy cell_metadata.csv from the same MERSCOPE region into this folder")
            }
            return try MerscopeReader.read(cellByGene: path, cellMetadata: meta)
        case .cosmx:
            if VendorTable.isDirectory(path) { return try CosMxReader.read(folder: path) }
            return try CosMxReader.read(exprMat: path, metadata: CosMxReader.metadataFile(near: path))
        case .cosmxTranscripts:
            if VendorTable.isDirectory(path),
               let tx = VendorTable.find(in: path, suffixes: ["_tx_file.csv", "_tx_file.csv.gz"]) {
                return try CosMxTranscripts.aggregate(path: tx)
            }
            return try CosMxTranscripts.aggregate(path: path)
        case .delimited:
            return try DelimitedCountsReader.read(counts: path, locations: options.locations, metadata: options.metadata,
                                                  orientation: options.orientation, options: options.delimited)
        }
    }

    /// A folder path, or the folder holding a file of the format.
    static func folderOf(_ path: String) -> String {
        VendorTable.isDirectory(path) ? path : (path as NSString).deletingLastPathComponent
    }

    /// The format of `path`, from its extension or, for a folder, its contents.
    public static func detect(path: String) throws -> DatasetFormat {
        let fm = FileManager.default
        guard fm.fileExists(atPath: path) else {
            throw ImportError(.unreadable, file: path, field: "", problem: "the path does not exist", fix: "check the path")
        }
        if VendorTable.isDirectory(path) { return try detectFolder(path) }
        let name = (path as NSString).lastPathComponent
        let lower = name.lowercased()
        if lower.hasSuffix(".h5ad") { return .h5ad }
        if lower.hasSuffix(".loom") { return .loom }
        if lower.hasSuffix(".h5") || lower.hasSuffix(".hdf5") { return .tenxH5 }
        if lower.hasSuffix("cell_by_gene.csv") || lower.hasSuffix("cell_by_gene.csv.gz") { return .merscope }
        if lower.hasSuffix("_exprmat_file.csv") || lower.hasSuffix("_exprmat_file.csv.gz") { return .cosmx }
        if lower.hasSuffix("_tx_file.csv") || lower.hasSuffix("_tx_file.csv.gz") { return .cosmxTranscripts }
        for ext in [".txt", ".tsv", ".csv", ".tab"] where lower.hasSuffix(ext) || lower.hasSuffix(ext + ".gz") { return .delimited }
        if lower.hasSuffix(".parquet") || lower.hasSuffix(".zarr") || lower.hasSuffix(".zarr.zip") || lower.hasSuffix(".rds") {
            throw unsupported(path, "\(name) is a Parquet / Zarr / R file, which this build cannot read")
        }
        throw unsupported(path, "the file type of \(name) is not recognised")
    }

    static func detectFolder(_ path: String) throws -> DatasetFormat {
        let has = { (n: String) in FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(n)) }
        let items = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let suffix = { (s: String) in items.contains { $0.hasSuffix(s) } }
        if VendorTable.isDirectory((path as NSString).appendingPathComponent("spatial")) { return .visium }
        if VendorTable.isDirectory((path as NSString).appendingPathComponent("outs/spatial")) { return .visium }
        if has("cell_feature_matrix.h5") && (has("cells.csv.gz") || has("cells.csv") || has("cells.parquet") || has("experiment.xenium")) {
            return .xenium
        }
        if has("experiment.xenium") { return .xenium }
        if suffix("cell_by_gene.csv") || suffix("cell_by_gene.csv.gz") { return .merscope }
        if suffix("_exprMat_file.csv") || suffix("_exprMat_file.csv.gz") { return .cosmx }
        if suffix("_tx_file.csv") || suffix("_tx_file.csv.gz") { return .cosmxTranscripts }
        throw unsupported(path, "the folder does not look like a Visium, Xenium, MERSCOPE or CosMx output (it holds \(items.sorted().prefix(8).joined(separator: ", "))\(items.count > 8 ? ", ..." : ""))")
    }

    static func unsupported(_ path: String, _ problem: String) -> ImportError {
        ImportError(.unsupported, file: path, field: "", problem: problem,
                    fix: "pass one of: " + DatasetFormat.allCases.map { $0.expects }.joined(separator: "; "))
    }
}
