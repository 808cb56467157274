import Foundation

/// Placeholder dispatch until the vendor readers land: h5ad, 10x h5 and loom.
public enum DatasetReader {
    public struct Options: Sendable {
        public var counts: String?
        public init(counts: String? = nil) { self.counts = counts }
    }
    public static func read(path: String, options: Options = Options()) throws -> Dataset {
        let lower = path.lowercased()
        if lower.hasSuffix(".h5ad") {
            let src: H5ADReader.CountsSource = switch options.counts {
            case nil: .auto
            case "X"?, "x"?: .x
            case "raw"?, "raw/X"?: .raw
            case let l?: .layer(l.hasPrefix("layers/") ? String(l.dropFirst(7)) : l)
            }
            return try H5ADReader.read(path: path, options: .init(counts: src))
        }
        if lower.hasSuffix(".h5") { return try TenXH5Reader.read(path: path) }
        if lower.hasSuffix(".loom") { return try LoomReader.read(path: path) }
        throw ImportError(.unsupported, file: path, field: "", problem: "unknown format", fix: "pass .h5ad, .h5 or .loom")
    }
}
