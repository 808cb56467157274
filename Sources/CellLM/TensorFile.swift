import Foundation

/// Our named-tensor file, used for weights, checkpoints and golden fixtures (format version 1):
///
///     0   8  magic "TESSTNSR"
///     8   4  format version, UInt32 little-endian
///     12  4  header length H, UInt32 LE
///     16  H  header: UTF-8 JSON {"kind", "config", "meta", "tensors": [{"name","dtype","shape","offset","nbytes"}]}
///     …      zero padding to a multiple of 64; then the data region, each tensor at its 64-aligned offset,
///            little-endian, row-major. dtypes: f32, i32, u64.
///
/// `scripts/tessera_tensors.py` reads and writes the same format.
public struct TensorFile {
    public static let magic = Array("TESSTNSR".utf8)
    public static let version: UInt32 = 1

    public enum Values: Equatable {
        case f32([Float]), i32([Int32]), u64([UInt64])
        var dtype: String { switch self { case .f32: "f32"; case .i32: "i32"; case .u64: "u64" } }
        var count: Int { switch self { case .f32(let a): a.count; case .i32(let a): a.count; case .u64(let a): a.count } }
        var elementSize: Int { switch self { case .f32, .i32: 4; case .u64: 8 } }
    }

    public struct Entry: Equatable {
        public var name: String
        public var shape: [Int]
        public var values: Values
        public init(name: String, shape: [Int], values: Values) { self.name = name; self.shape = shape; self.values = values }
        public var floats: [Float]? { if case .f32(let a) = values { return a }; return nil }
    }

    public var kind: String
    /// JSON object of the model config (or nil).
    public var config: Data?
    /// JSON object of free-form metadata.
    public var meta: [String: Any]
    public var entries: [Entry]

    public init(kind: String, config: Data?, meta: [String: Any], entries: [Entry]) {
        self.kind = kind; self.config = config; self.meta = meta; self.entries = entries
    }

    public func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

    // MARK: writing

    /// Writes atomically (temporary file, then rename), so a crash never leaves a half-written file.
    public func write(to url: URL) throws {
        var tensors: [[String: Any]] = []
        var offset = 0
        for e in entries {
            let nbytes = e.values.count * e.values.elementSize
            tensors.append(["name": e.name, "dtype": e.values.dtype, "shape": e.shape, "offset": offset, "nbytes": nbytes])
            offset += (nbytes + 63) / 64 * 64
        }
        var header: [String: Any] = ["kind": kind, "meta": meta, "tensors": tensors]
        header["config"] = try config.map { try JSONSerialization.jsonObject(with: $0) } ?? NSNull()
        let json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        var out = Data(Self.magic)
        withUnsafeBytes(of: Self.version.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(Data(count: (64 - out.count % 64) % 64))
        out.reserveCapacity(out.count + offset)
        for e in entries {
            let start = out.count
            switch e.values {
            case .f32(let a): a.withUnsafeBytes { out.append(contentsOf: $0) }
            case .i32(let a): a.withUnsafeBytes { out.append(contentsOf: $0) }
            case .u64(let a): a.withUnsafeBytes { out.append(contentsOf: $0) }
            }
            out.append(Data(count: (64 - (out.count - start) % 64) % 64))
        }
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        do { try out.write(to: tmp) } catch {
            try? FileManager.default.removeItem(at: tmp)   // a full disk must not keep a half-written copy
            throw error
        }
        // rename(2) replaces an existing file atomically (FileManager.replaceItemAt fails on Linux here).
        guard rename(tmp.path, url.path) == 0 else {
            let why = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path, NSLocalizedDescriptionKey: "cannot rename \(tmp.path) to \(url.path): \(why)"])
        }
    }

    // MARK: reading

    public static func read(_ url: URL) throws(CellLMError) -> TensorFile {
        let file = url.path
        func fail(_ problem: String, _ fix: String = "The file is damaged or not a Tessera tensor file; re-create or re-convert it.") -> CellLMError {
            .tensorFile(file: file, problem: problem, fix: fix)
        }
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) }
        catch { throw fail("cannot be read (\(error.localizedDescription))", "Check the path and permissions.") }
        guard data.count >= 16, Array(data.prefix(8)) == magic else {
            throw fail("does not start with the TESSTNSR magic number",
                       "A CellPLM .ckpt must be converted first: python scripts/cellplm_import.py --ckpt FILE --config CONFIG --out model.tsr")
        }
        let version = data.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) }
        guard version == Self.version else {
            throw fail("has format version \(version); this build reads version \(Self.version)", "Use the Tessera version that wrote it, or re-convert the weights.")
        }
        let hlen = Int(data.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 12, as: UInt32.self)) })
        guard 16 + hlen <= data.count,
              let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 16..<(16 + hlen))) as? [String: Any],
              let kind = header["kind"] as? String, let list = header["tensors"] as? [[String: Any]] else {
            throw fail("has a header that is not valid JSON with kind and tensors")
        }
        let base = (16 + hlen + 63) / 64 * 64
        var entries: [Entry] = []
        for t in list {
            guard let name = t["name"] as? String, let dtype = t["dtype"] as? String, let shape = t["shape"] as? [Int],
                  let offset = t["offset"] as? Int, let nbytes = t["nbytes"] as? Int else {
                throw fail("lists a tensor without name, dtype, shape, offset and nbytes")
            }
            let size = dtype == "u64" ? 8 : 4
            // Checked arithmetic throughout: a damaged header must give this error, not an overflow trap.
            var count: Int? = shape.allSatisfy({ $0 >= 0 }) ? 1 : nil
            for dim in shape { count = count.flatMap { c in let (v, o) = c.multipliedReportingOverflow(by: dim); return o ? nil : v } }
            let bytes = count.flatMap { c -> Int? in let (v, o) = c.multipliedReportingOverflow(by: size); return o ? nil : v }
            let end = offset >= 0 && nbytes >= 0 && offset <= data.count && nbytes <= data.count ? base + offset + nbytes : Int.max
            guard ["f32", "i32", "u64"].contains(dtype), let bytes, bytes == nbytes, end <= data.count else {
                throw fail("tensor '\(name)' (\(dtype) \(shape), \(nbytes) bytes at \(offset)) does not fit the file of \(data.count) bytes")
            }
            let range = (base + offset)..<(base + offset + nbytes)
            let values: Values = data.subdata(in: range).withUnsafeBytes { raw in
                switch dtype {
                case "f32": return .f32(Array(raw.bindMemory(to: Float.self)))
                case "i32": return .i32(Array(raw.bindMemory(to: Int32.self)))
                default: return .u64(Array(raw.bindMemory(to: UInt64.self)))
                }
            }
            entries.append(Entry(name: name, shape: shape, values: values))
        }
        let config = (header["config"] as? [String: Any]).flatMap { try? JSONSerialization.data(withJSONObject: $0) }
        return TensorFile(kind: kind, config: config, meta: header["meta"] as? [String: Any] ?? [:], entries: entries)
    }
}
