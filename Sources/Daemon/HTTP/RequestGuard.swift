import Foundation
import Hummingbird

/// The first thing every request meets, before routing. It decides on the request's canonical form, never on
/// the raw path, and denies by default:
/// - the path must be canonical (no empty, `.` or `..` segments, no encoded `/` or `\`): `//api/projects` and
///   `/api/./jobs` are 404, so no spelling reaches a route that a prefix check would not see;
/// - the `Host` header must name this daemon (DNS rebinding: a page on `evil.example` resolving to 127.0.0.1);
/// - a state-changing request from another origin (`Origin`, `Sec-Fetch-Site`) is refused, as Jupyter does,
///   and a POST body must be JSON, so a `text/plain` form post from a web page cannot drive the daemon;
/// - with a token configured, everything but the viewer's own static files needs it.
/// Routes under `/api` check the token again after the router matched them (`RouteAuthMiddleware`).
struct RequestGuard<Context: RequestContext>: RouterMiddleware {
    let access: AccessPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let path = AccessPolicy.canonicalPath(request.uri.path) else {
            throw APIError(status: .notFound, code: "not_found", message: "no such path; paths have no empty, '.' or '..' segments")
        }
        // HTTP/1.1's Host header arrives as the request's authority.
        let host = request.head.authority
        try access.checkHost(host)
        let publicPath = AccessPolicy.isPublic(method: request.method, canonicalPath: path)
        try access.checkOrigin(method: request.method, origin: request.headers[.origin],
                               fetchSite: request.headers.first(where: { $0.name.canonicalName == "sec-fetch-site" })?.value, host: host,
                               publicPath: publicPath)
        if request.method == .post || request.method == .put || request.method == .patch {
            try AccessPolicy.checkJSONBody(contentType: request.headers[.contentType], length: request.headers[.contentLength])
        }
        if !publicPath {
            try access.checkToken(request.headers[.authorization])
        }
        return try await next(request, context)
    }
}

/// The token check again on every `/api` route, run by the router after it matched the route: whatever
/// spelling reached a handler, the handler only runs with the token.
struct RouteAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: AccessPolicy
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try access.checkToken(request.headers[.authorization])
        return try await next(request, context)
    }
}

/// Who may talk to the daemon: the token, the host names it answers to, same-origin writes.
public struct AccessPolicy: Sendable {
    public let token: String?
    /// Lower-cased host names (without port) the `Host` header may carry; nil accepts any (a wildcard bind,
    /// where the token protects every route).
    public let hosts: Set<String>?

    public init(config: DaemonConfig) {
        token = config.token
        let loopback: Set<String> = ["127.0.0.1", "localhost", "::1", "[::1]"]
        if ["0.0.0.0", "::", "[::]"].contains(config.host) && config.token != nil && config.allowedHosts.isEmpty {
            hosts = nil
        } else {
            hosts = loopback.union([config.host.lowercased()]).union(config.allowedHosts.map { $0.lowercased() })
        }
    }

    /// The decoded path when the raw path is canonical, else nil.
    static func canonicalPath(_ raw: String) -> String? {
        guard raw.hasPrefix("/"), !raw.contains("\\") else { return nil }
        let lowered = raw.lowercased()
        if lowered.contains("%2f") || lowered.contains("%5c") || lowered.contains("%00") { return nil }
        guard let decoded = raw.removingPercentEncoding else { return nil }
        if decoded.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { return nil }
        if decoded == "/" { return decoded }
        var segments = decoded.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        if segments.last == "" { segments.removeLast() }   // one trailing slash is fine (a folder)
        guard !segments.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else { return nil }
        return decoded
    }

    /// The viewer's static pages hold no data: they alone are served without the token.
    static func isPublic(method: HTTPRequest.Method, canonicalPath p: String) -> Bool {
        guard method == .get || method == .head else { return false }
        let lower = p.lowercased()
        return !(lower == "/api" || lower.hasPrefix("/api/") || lower == "/files" || lower.hasPrefix("/files/"))
    }

    func checkHost(_ header: String?) throws {
        guard let hosts else { return }
        guard let header, let name = Self.hostName(header), hosts.contains(name) else {
            throw APIError(status: .forbidden, code: "forbidden_host",
                           message: "the Host header does not name this daemon; open it as http://127.0.0.1:PORT, or add the name to \"allowedHosts\" in tesserad.json")
        }
    }

    /// `example.org:7878` → `example.org`; `[::1]:7878` → `[::1]`.
    static func hostName(_ header: String) -> String? {
        let h = header.trimmingCharacters(in: .whitespaces).lowercased()
        guard !h.isEmpty, h.count <= 255 else { return nil }
        if h.hasPrefix("[") { return h.firstIndex(of: "]").map { String(h[...$0]) } }
        return h.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
    }

    /// Browsers send `Origin` (and `Sec-Fetch-Site`) with cross-origin writes; the daemon's own viewer is
    /// same-origin and the CLI sends neither. Reads of data (`/api`, `/files`; `publicPath` false) are held to
    /// the same rule: a browser cannot read another origin's answer, but an `<img>` or `<script>` on another
    /// site could still make a token-less loopback daemon draw maps or list jobs for it. The viewer's static
    /// pages stay open to links from anywhere.
    func checkOrigin(method: HTTPRequest.Method, origin: String?, fetchSite: String?, host: String?, publicPath: Bool) throws {
        let read = method == .get || method == .head || method == .options
        guard !(read && publicPath) else { return }
        let refuse = APIError(status: .forbidden, code: "cross_origin",
                              message: read ? "data is read by the daemon's own pages or the CLI, not by another web site"
                                            : "requests that change state must come from the daemon's own pages or the CLI, not from another web site")
        if let site = fetchSite?.lowercased(), site != "same-origin", site != "none" { throw refuse }
        if let origin {
            guard let host, origin.lowercased() == "http://\(host.lowercased())" || origin.lowercased() == "https://\(host.lowercased())" else { throw refuse }
        }
    }

    /// A body the API reads is JSON; anything else (a `text/plain` or form post from a web page) is refused.
    static func checkJSONBody(contentType: String?, length: String?) throws {
        if length == nil || length == "0", contentType == nil { return }
        let type = (contentType ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard type == "application/json" else {
            throw APIError(status: .unsupportedMediaType, code: "unsupported_media_type",
                           message: "request bodies must be JSON: send Content-Type: application/json")
        }
    }

    func checkToken(_ header: String?) throws {
        guard let token else { return }
        guard let header, Self.bearer(header).map({ Self.constantTimeEqual($0, token) }) == true else {
            throw APIError(status: .unauthorized, code: "unauthorized",
                           message: "this daemon requires a bearer token; pass --token-file or set TESSERA_TOKEN")
        }
    }

    /// The credentials of `Bearer X` (the scheme is case-insensitive, RFC 7235).
    static func bearer(_ header: String) -> String? {
        let parts = header.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<min(x.count, y.count) { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
