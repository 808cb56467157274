import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import HummingbirdCore

/// Assembles the HTTP application: JSON errors, the bearer token, the API routes, job files under `/files`
/// and the viewer (`web-static/`) for every other GET.
public enum DaemonServer {
    public static func router(service: DaemonService) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.addMiddleware {
            JSONErrorMiddleware()
            RequestGuard(access: AccessPolicy(config: service.config))
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
        // Idle connections (and ones still sending their request head) are closed after `idleTimeoutSeconds`;
        // beyond `connectionCap` the server stops accepting until some close, so a flood of idle sockets
        // can never use up the daemon's file descriptors (which workers, the database and files need).
        let http1 = HTTP1Channel.Configuration(idleTimeout: .milliseconds(Int64(c.idleTimeoutSeconds * 1000)),
                                               httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 64 * 1024,
                                                                               maxHeaderFieldCount: 100))
        return Application(router: router(service: service), server: .http1(configuration: http1),
                           configuration: .init(address: .hostname(c.host, port: port ?? c.port), serverName: "tesserad",
                                                availableConnectionsDelegate: MaximumAvailableConnections(connectionCap(c))),
                           onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? c.port) })
    }

    /// The configured cap, or a quarter of the open-file limit (at most 512): the rest stays free for
    /// workers, the database, dataset registration and the files the daemon serves.
    static func connectionCap(_ c: DaemonConfig) -> Int {
        if c.maxConnections > 0 { return c.maxConnections }
        var lim = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0 else { return 256 }
        return max(16, min(512, Int(clamping: lim.rlim_cur) / 4))
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
        let notFound = APIError(status: .notFound, code: "not_found", message: "no such file")
        if path.hasPrefix("/files/") {
            // Only a job's artifacts/ folder is served: never job.json, logs or anything a symlink points at.
            let rest = String(path.dropFirst("/files/jobs/".count))
            let parts = rest.split(separator: "/", maxSplits: 2)
            guard path.hasPrefix("/files/jobs/"), parts.count == 3, parts[1] == "artifacts", Self.isJobID(parts[0]) else { throw notFound }
            let artifacts = StaticFolder(jobs.root.appendingPathComponent(String(parts[0])).appendingPathComponent("artifacts", isDirectory: true))
            guard let url = artifacts.file(forRawPath: String(parts[2])) else { throw notFound }
            return try StaticFolder.response(for: url)
        }
        guard let url = viewer.file(forRawPath: path) else { throw notFound }
        return try StaticFolder.response(for: url)
    }

    /// A job folder's name: letters, digits and dashes (ids are UUIDs).
    static func isJobID(_ s: Substring) -> Bool {
        (1...64).contains(s.count) && s.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" }
    }
}
