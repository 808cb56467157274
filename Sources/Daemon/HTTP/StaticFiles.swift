import Foundation
import Hummingbird

/// Serves files from one folder and never from outside it. The request path is percent-decoded once; a
/// decoded path holding `..` as a component, a backslash, a NUL or a control character is refused, and
/// the final file (after resolving symlinks) must still lie under the folder. Anything else is a 404 that
/// does not say whether the file exists.
public struct StaticFolder: Sendable {
    public let root: URL

    public init(_ root: URL) { self.root = root.standardizedFileURL.resolvingSymlinksInPath() }

    /// The file for `rawPath` (relative to the folder, still percent-encoded), or nil when it is not a
    /// regular file inside the folder. A folder resolves to its `index.html`.
    public func file(forRawPath rawPath: String) -> URL? {
        guard let decoded = rawPath.removingPercentEncoding else { return nil }
        if decoded.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\\" }) { return nil }
        let parts = decoded.split(separator: "/", omittingEmptySubsequences: true)
        if parts.contains(where: { $0 == ".." || $0 == "." }) { return nil }
        var url = root
        for p in parts { url.appendPathComponent(String(p)) }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else { return nil }
        if isDir.boolValue { url.appendPathComponent("index.html") }
        let resolved = url.resolvingSymlinksInPath().standardizedFileURL
        guard resolved.path.hasPrefix(root.path + "/") else { return nil }
        // A regular file only: a FIFO or device would block or never end the read.
        guard (try? FileManager.default.attributesOfItem(atPath: resolved.path)[.type] as? FileAttributeType) == .typeRegular else { return nil }
        return resolved
    }

    /// The response for a file, with its content type.
    public static func response(for url: URL, download: Bool = false) throws -> Response {
        guard let data = try? Data(contentsOf: url) else {
            throw APIError(status: .notFound, code: "not_found", message: "the file can no longer be read")
        }
        var headers: HTTPFields = [.contentType: contentType(url.pathExtension), .cacheControl: "no-cache"]
        if download { headers[.contentDisposition] = "attachment; filename=\"\(url.lastPathComponent)\"" }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func contentType(_ ext: String) -> String {
        switch ext.lowercased() {
        case "html": return "text/html; charset=utf-8"
        case "js": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "json": return "application/json"
        case "png": return "image/png"
        case "svg": return "image/svg+xml"
        case "txt", "log", "jsonl": return "text/plain; charset=utf-8"
        default: return "application/octet-stream"
        }
    }
}
