import Foundation
import Hummingbird

/// Rendered PNGs on disk under `ROOT/cache/maps/`, named by the SHA-256 of (source content hash, request), which
/// is also the ETag: a browser that has a tile asks with `If-None-Match` and gets a 304 without any drawing.
struct MapCache: Sendable {
    let folder: URL

    init(root: URL) { folder = root.appendingPathComponent("cache/maps", isDirectory: true) }

    func url(_ key: String) -> URL { folder.appendingPathComponent(key + ".png") }

    /// The cached bytes for `key`, if any.
    func get(_ key: String) -> Data? { try? Data(contentsOf: url(key)) }

    /// Stores `bytes` atomically (a failed write only costs a redraw later).
    func put(_ key: String, _ bytes: [UInt8]) {
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try? Data(bytes).write(to: url(key), options: .atomic)
    }

    /// A PNG response with its ETag (and 304 when the client already holds it).
    static func response(_ data: Data, etag: String, request: Request, cache: String) -> Response {
        let tag = "\"\(etag)\""
        var headers: HTTPFields = [.eTag: tag, .cacheControl: cache]
        if let match = request.headers[.ifNoneMatch], match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == tag }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = "image/png"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
