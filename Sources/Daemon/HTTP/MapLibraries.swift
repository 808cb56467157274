import Foundation
import Hummingbird

/// Serves third-party browser libraries from their Debian packages, never from copies in the repository:
/// `/vendor/leaflet/…` from `/usr/share/javascript/leaflet` (`libjs-leaflet`, installed by `scripts/setup`).
struct MapLibraries<Context: RequestContext>: RouterMiddleware {
    static var folders: [String: String] { ["leaflet": ProcessInfo.processInfo.environment["TESSERA_LEAFLET"] ?? "/usr/share/javascript/leaflet"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard request.method == .get || request.method == .head, path.hasPrefix("/vendor/") else { return try await next(request, context) }
        let rest = path.dropFirst("/vendor/".count)
        let name = String(rest.prefix { $0 != "/" })
        guard let dir = Self.folders[name] else { throw APIError(status: .notFound, code: "not_found", message: "no library \(name)") }
        guard FileManager.default.fileExists(atPath: dir) else {
            throw APIError(status: .notFound, code: "not_found", message: "\(dir) is missing; install Debian's libjs-\(name) (scripts/setup does)")
        }
        guard let url = StaticFolder(URL(fileURLWithPath: dir, isDirectory: true)).file(forRawPath: String(rest.dropFirst(name.count))) else {
            throw APIError(status: .notFound, code: "not_found", message: "no file at \(path)")
        }
        return try StaticFolder.response(for: url)
    }
}
