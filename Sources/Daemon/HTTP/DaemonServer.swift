import Foundation
import Hummingbird

/// Assembles the HTTP application: JSON errors, the bearer token, the API routes, job files under `/files`
/// and the viewer (`web-static/`) for every other GET.
public enum DaemonServer {
    public static func router(service: DaemonService) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.addMiddleware {
            JSONErrorMiddleware()
            BearerTokenMiddleware(token: service.config.token)
            MapLibraries()
            StaticMiddleware(viewer: StaticFolder(URL(fileURLWithPath: service.config.webStatic, isDirectory: true)),
                             jobs: StaticFolder(service.config.rootURL.appendingPathComponent("jobs", isDirectory: true)))
        }
        APIRoutes(service: service).register(on: router)
        MapRoutes(service: service).register(on: router)
        return router
    }

    /// The application; `port` overrides the configured port (0: any free port, for tests), and `onRunning`
    /// receives the port actually bound.
    public static func application(service: DaemonService, port: Int? = nil, onRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol {
        let c = service.config
        return Application(router: router(service: service),
                           configuration: .init(address: .hostname(c.host, port: port ?? c.port), serverName: "tesserad"),
                           onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? c.port) })
    }
}

/// GET outside `/api`: `/files/jobs/<id>/artifacts/…` from the data root (only job artifacts: maps, results),
/// anything else from the viewer folder. Both refuse paths that leave their folder.
struct StaticMiddleware<Context: RequestContext>: RouterMiddleware {
    let viewer: StaticFolder
    let jobs: StaticFolder

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard request.method == .get || request.method == .head, !path.hasPrefix("/api/"), path != "/api" else {
            return try await next(request, context)
        }
        let notFound = APIError(status: .notFound, code: "not_found", message: "no file at \(path)")
        if path.hasPrefix("/files/jobs/") {
            let rest = String(path.dropFirst("/files/jobs/".count))
            let parts = rest.split(separator: "/", maxSplits: 2)
            guard parts.count == 3, parts[1] == "artifacts", let url = jobs.file(forRawPath: rest) else { throw notFound }
            return try StaticFolder.response(for: url)
        }
        guard let url = viewer.file(forRawPath: path) else { throw notFound }
        return try StaticFolder.response(for: url)
    }
}
