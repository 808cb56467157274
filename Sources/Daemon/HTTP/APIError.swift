import Foundation
import Hummingbird
import Store
import Workflows

/// Every error the API returns, as JSON `{"error": {"code": "...", "message": "..."}}` with a 4xx/5xx status.
/// Messages name the field and the fix, and reach the CLI user verbatim.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String

    public init(status: HTTPResponse.Status, code: String, message: String) { self.status = status; self.code = code; self.message = message }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response { response() }

    public func response() -> Response {
        struct Body: Encodable { struct E: Encodable { let code: String; let message: String }; let error: E }
        // A message may quote what the client sent: never echo more than a screenful back.
        let text = message.count > 2000 ? String(message.prefix(2000)) + "… (truncated)" : message
        let data = (try? JSONEncoder().encode(Body(error: .init(code: code, message: text)))) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Maps any error thrown below the routes to its API form.
    public static func from(_ error: any Error) -> APIError {
        switch error {
        case let e as APIError: return e
        case let e as StoreError:
            switch e {
            case .notFound: return APIError(status: .notFound, code: "not_found", message: e.description)
            case .duplicate: return APIError(status: .conflict, code: "duplicate", message: e.description)
            case .invalidTransition: return APIError(status: .conflict, code: "invalid_state", message: e.description)
            case .invalid: return APIError(status: .unprocessableContent, code: "invalid_field", message: e.description)
            case .unusable: return APIError(status: .serviceUnavailable, code: "store_unusable", message: e.description)
            case .noSpace: return APIError(status: HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), code: "no_space", message: e.description)
            }
        case let e as WorkflowError:
            switch e {
            case .unknownWorkflow: return APIError(status: .notFound, code: "unknown_workflow", message: e.description)
            case .unknownParameter, .invalidParameter: return APIError(status: .unprocessableContent, code: "invalid_parameter", message: e.description)
            case .missingInput, .unknownInput, .badInput: return APIError(status: .unprocessableContent, code: "invalid_input", message: e.description)
            default: return APIError(status: .unprocessableContent, code: "invalid_request", message: e.description)
            }
        case let e as HTTPError:
            let code: String
            switch e.status {
            case .contentTooLarge: code = "body_too_large"
            case .notFound: code = "not_found"
            case .methodNotAllowed: code = "method_not_allowed"
            case .unauthorized: code = "unauthorized"
            default: code = e.status.code < 500 ? "bad_request" : "internal"
            }
            let message = e.status == .contentTooLarge ? "the request body is larger than the daemon's limit (maxBodyBytes in tesserad.json)"
                : (e.body ?? e.status.reasonPhrase)
            return APIError(status: e.status, code: code, message: message)
        case let e as DecodingError:
            return APIError(status: .badRequest, code: "malformed_json", message: "the request body is not the expected JSON: \(Self.describe(e))")
        default:
            if let e = StoreError.classify(error, path: "the daemon's database") { return from(e) }
            return APIError(status: .internalServerError, code: "internal", message: "\(error)")
        }
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String { keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") }
        switch e {
        case .keyNotFound(let k, let c): return "field '\(path(c.codingPath + [k]))' is missing"
        case .typeMismatch(let t, let c): return "field '\(path(c.codingPath))' should be \(t)"
        case .valueNotFound(let t, let c): return "field '\(path(c.codingPath))' is null, expected \(t)"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "invalid JSON" : "field '\(path(c.codingPath))': \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}

/// Turns every thrown error (including the router's 404 and the body-size limit) into the JSON error form.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do { return try await next(request, context) } catch {
            // The router answers 404 for a known path asked with a method it does not take: that is a 405.
            if let e = error as? HTTPError, e.status == .notFound, request.uri.path.hasPrefix("/api/") {
                let allowed = Self.methods(for: request.uri.path)
                if !allowed.isEmpty, !allowed.contains(request.method.rawValue) {
                    var r = APIError(status: .methodNotAllowed, code: "method_not_allowed",
                                     message: "\(request.method.rawValue) is not allowed here; use \(allowed.joined(separator: " or "))").response()
                    r.headers[.allow] = allowed.joined(separator: ", ")
                    return r
                }
            }
            return APIError.from(error).response()
        }
    }

    /// The methods of the routes whose template matches `path` (a `{name}` matches any one segment).
    static func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        return APIRoutes.table.filter { _, template in
            let t = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            return t.count == segments.count && zip(t, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }.map(\.0).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    }
}
