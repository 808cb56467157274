import Foundation

/// Named per-cell columns stored beside a job's result for the map API: a second space (`X_umap`), cluster
/// labels, imputed genes. A small versioned binary so the daemon reads them without parsing an h5ad:
///
///     "TMAP" · UInt32 version (1) · UInt32 header length · header JSON · column payloads (little-endian)
///
/// The header lists each column's name, kind (`float`: Float32 per cell; `category`: Int32 code per cell with
/// its category names and optional colours) and byte offset from the start of the payloads.
public struct MapColumns: Sendable, Equatable {
    public static let version: UInt32 = 1
    public var cells: Int
    public private(set) var floats: [String: [Float]] = [:]
    public private(set) var categories: [String: (codes: [Int32], names: [String], colours: [String]?)] = [:]
    /// Column names in the order added.
    public private(set) var names: [String] = []

    public init(cells: Int) { self.cells = cells }

    public static func == (a: MapColumns, b: MapColumns) -> Bool {
        a.cells == b.cells && a.names == b.names && a.floats == b.floats &&
            a.categories.keys == b.categories.keys && a.categories.allSatisfy { k, v in
                let w = b.categories[k]!; return v.codes == w.codes && v.names == w.names && v.colours == w.colours
            }
    }

    public mutating func add(_ name: String, values: [Float]) throws(RenderError) {
        guard values.count == cells else { throw .lengthMismatch(column: name, expected: cells, actual: values.count) }
        if floats[name] == nil && categories[name] == nil { names.append(name) }
        floats[name] = values
    }

    public mutating func add(_ name: String, codes: [Int32], names cats: [String], colours: [String]? = nil) throws(RenderError) {
        guard codes.count == cells else { throw .lengthMismatch(column: name, expected: cells, actual: codes.count) }
        if let bad = codes.first(where: { $0 < -1 || Int($0) >= cats.count }) {
            throw .invalid(parameter: name, reason: "code \(bad) is outside its \(cats.count) categories")
        }
        if floats[name] == nil && categories[name] == nil { names.append(name) }
        categories[name] = (codes, cats, colours)
    }

    struct Header: Codable {
        struct Column: Codable { var name: String; var kind: String; var offset: Int; var categories: [String]?; var colours: [String]? }
        var cells: Int
        var columns: [Column]
    }

    /// The file's bytes.
    public func encoded() -> Data {
        var payload = Data(), columns: [Header.Column] = []
        for name in names {
            if let v = floats[name] {
                columns.append(.init(name: name, kind: "float", offset: payload.count))
                v.withUnsafeBytes { payload.append(contentsOf: $0) }
            } else if let c = categories[name] {
                columns.append(.init(name: name, kind: "category", offset: payload.count, categories: c.names, colours: c.colours))
                c.codes.withUnsafeBytes { payload.append(contentsOf: $0) }
            }
        }
        let encoder = JSONEncoder(); encoder.outputFormatting = [.sortedKeys]
        let header = (try? encoder.encode(Header(cells: cells, columns: columns))) ?? Data()
        var out = Data("TMAP".utf8)
        for v in [Self.version, UInt32(header.count)] { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        out.append(header); out.append(payload)
        return out
    }

    /// Writes atomically.
    public func write(to url: URL) throws { try encoded().write(to: url, options: .atomic) }

    /// Reads a file written by `write`; damaged or foreign files are `.badFile` with the reason.
    public static func read(_ url: URL) throws -> MapColumns {
        let data = try Data(contentsOf: url)
        func bad(_ why: String) -> RenderError { .badFile(path: url.path, reason: why + "; re-run the job's render step") }
        guard data.count >= 12, data.prefix(4) == Data("TMAP".utf8) else { throw bad("not a map columns file (no TMAP header)") }
        func u32(_ at: Int) -> UInt32 { data.subdata(in: at..<(at + 4)).withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) } }
        guard u32(4) == version else { throw bad("version \(u32(4)); this build reads version \(version)") }
        let hlen = Int(u32(8))
        guard 12 + hlen <= data.count, let header = try? JSONDecoder().decode(Header.self, from: data.subdata(in: 12..<(12 + hlen))) else {
            throw bad("header is not valid JSON")
        }
        let base = 12 + hlen, n = header.cells
        var m = MapColumns(cells: n)
        for c in header.columns {
            let lo = base + c.offset, hi = lo + 4 * n
            guard c.offset >= 0, hi <= data.count else { throw bad("column \(c.name) runs past the end of the file") }
            let bytes = data.subdata(in: lo..<hi)
            switch c.kind {
            case "float": try m.add(c.name, values: bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
            case "category": try m.add(c.name, codes: bytes.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }, names: c.categories ?? [], colours: c.colours)
            default: throw bad("column \(c.name) has unknown kind \(c.kind)")
            }
        }
        return m
    }
}
