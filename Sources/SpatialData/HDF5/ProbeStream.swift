import Foundation

/// The HDF5 probe's stdout, little-endian records:
/// - `C` extent: UInt32 path length, path, UInt64 offset, UInt64 bytes, UInt8 kind ('f' float, 'i' signed,
///   'u' unsigned), UInt8 element size — a large contiguous array the parent may read with pread;
/// - `P`: no more extents;
/// - `S` strings: UInt32 path length, path, UInt64 count, UInt64 byte length, the strings NUL-terminated;
/// - `K` (sound) or `E` (UInt32 length, the ImportError as JSON) ends the stream.
enum ProbeStream {
    struct Extent: Sendable {
        var path: String
        var offset: UInt64
        var bytes: Int
        var kind: UInt8
        var size: Int
    }

    struct Writer {
        let out: FileHandle

        init(_ out: FileHandle) { self.out = out }

        private func append<T: FixedWidthInteger>(_ d: inout Data, _ v: T) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        private func append(_ d: inout Data, path: String) { append(&d, UInt32(path.utf8.count)); d.append(contentsOf: path.utf8) }

        func extent(_ e: Extent) {
            var d = Data("C".utf8)
            append(&d, path: e.path); append(&d, e.offset); append(&d, UInt64(e.bytes)); append(&d, e.kind); append(&d, UInt8(e.size))
            out.write(d)
        }

        func endOfExtents() { out.write(Data("P".utf8)) }

        /// `body` holds `count` NUL-terminated strings back to back.
        func strings(path: String, count: Int, body: [UInt8]) {
            var d = Data("S".utf8)
            append(&d, path: path); append(&d, UInt64(count)); append(&d, UInt64(body.count))
            out.write(d); body.withUnsafeBytes { out.write(Data($0)) }
        }

        func finish(_ error: ImportError?) {
            if let error, let json = try? JSONEncoder().encode(error) {
                var d = Data("E".utf8); append(&d, UInt32(json.count)); d.append(json); out.write(d)
            } else {
                out.write(Data("K".utf8))
            }
        }
    }

    /// Reads records as they arrive; stops at the verdict, at end of stream, or at anything malformed
    /// (a child that died mid-record leaves no verdict, which the caller treats as a failure).
    struct Reader {
        let handle: FileHandle
        var buffer = Data()
        var start = 0

        init(_ handle: FileHandle) { self.handle = handle }

        mutating func bytes(_ n: Int) -> Data? {
            while buffer.count - start < n {
                let more = handle.availableData
                if more.isEmpty { return nil }
                if start > 1 << 20 { buffer.removeSubrange(0..<start); start = 0 }
                buffer.append(more)
            }
            let out = buffer.subdata(in: start..<start + n)
            start += n
            return out
        }

        mutating func int<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard let d = bytes(MemoryLayout<T>.size) else { return nil }
            var v: T = 0
            _ = withUnsafeMutableBytes(of: &v) { d.copyBytes(to: $0) }
            return T(littleEndian: v)
        }

        mutating func path() -> String? {
            guard let n = int(UInt32.self), n < 1 << 16, let d = bytes(Int(n)) else { return nil }
            return String(decoding: d, as: UTF8.self)
        }

        mutating func parse(onExtent: (Extent) -> Void, onStrings: (String, [String]) -> Void, onVerdict: (ImportError?) -> Void) {
            while let tag = bytes(1)?.first {
                switch tag {
                case UInt8(ascii: "C"):
                    guard let p = path(), let off = int(UInt64.self), let n = int(UInt64.self), let kind = int(UInt8.self),
                          let size = int(UInt8.self) else { return }
                    onExtent(Extent(path: p, offset: off, bytes: Int(clamping: n), kind: kind, size: Int(size)))
                case UInt8(ascii: "P"):
                    continue
                case UInt8(ascii: "S"):
                    guard let p = path(), let count = int(UInt64.self), let len = int(UInt64.self), len < 1 << 40,
                          let body = bytes(Int(len)) else { return }
                    var strings = [String](); strings.reserveCapacity(Int(clamping: count))
                    body.withUnsafeBytes { raw in
                        var s = 0
                        while s < raw.count {
                            var e = s
                            while e < raw.count && raw[e] != 0 { e += 1 }
                            strings.append(String(decoding: UnsafeRawBufferPointer(rebasing: raw[s..<e]), as: UTF8.self))
                            s = e + 1
                        }
                    }
                    if strings.count == Int(clamping: count) { onStrings(p, strings) }
                case UInt8(ascii: "K"):
                    onVerdict(nil); return
                case UInt8(ascii: "E"):
                    guard let n = int(UInt32.self), let json = bytes(Int(n)) else { return }
                    onVerdict((try? JSONDecoder().decode(ImportError.self, from: json))
                              ?? ImportError(.corrupt, file: "", field: "", problem: "the structure check failed", fix: "the file is damaged; copy it again"))
                    return
                default:
                    return
                }
            }
        }
    }
}
