import Foundation
import Hummingbird
import Store
import Workflows

/// The JSON shapes of the API (documented in `openapi.json`). Dates are ISO 8601 strings.
public enum API {
    public struct ProjectBody: Codable, Sendable { public var id: String; public var name: String; public var description: String; public var createdAt: Date }
    public struct NewProject: Codable, Sendable { public var name: String; public var description: String? }

    public struct DatasetBody: Codable, Sendable {
        public var id: String, project: String, name: String, path: String, contentHash: String, cells: Int, genes: Int
        public var summary: JSONValue
        public var registeredAt: Date
        /// Only in a registration's answer: other datasets of the project with the same content, and warnings
        /// about the data (counts that are not integers).
        public var sameContentAs: [String]? = nil
        public var warnings: [String]? = nil
    }
    public struct NewDataset: Codable, Sendable {
        public var path: String; public var name: String?
        /// Counts tables only: files joined to the counts, and their orientation (as `tessera inspect` takes them).
        public var locations: String?; public var metadata: String?; public var orientation: String?
    }

    public struct Progress: Codable, Sendable {
        public var phase: String?, step: Int?, total: Int?, epoch: Int?
        public var values: [String: Double]?
        public var at: Date
    }
    public struct Transition: Codable, Sendable { public var from: String?; public var to: String; public var reason: String; public var at: Date }
    /// A state the job's executor reported (Slurm: PENDING with its reason, RUNNING, TIMEOUT…).
    public struct ExecutorStateBody: Codable, Sendable { public var state: String; public var reason: String; public var externalId: String?; public var at: Date }

    public struct JobBody: Codable, Sendable {
        public var id: String, project: String, workflow: String, version: String
        public var parameters: JSONValue
        public var inputs: [String: String]
        public var state: String
        public var priority: Int, attempts: Int, maxAttempts: Int
        public var exitReason: String?
        public var createdAt: Date
        public var startedAt: Date?, finishedAt: Date?
        public var progress: Progress?
        public var transitions: [Transition]?
        /// "local" or "slurm", and the executor's id for the job (PID:START, the Slurm job id).
        public var executor: String
        public var externalId: String?
        /// Every state the executor reported (one job's view only).
        public var executorStates: [ExecutorStateBody]?
    }
    public struct Submitted: Codable, Sendable { public var job: JobBody; public var reused: Bool }
    public struct JobPage: Codable, Sendable { public var jobs: [JobBody]; public var total: Int; public var limit: Int; public var offset: Int }
    public struct EventPage: Codable, Sendable { public var events: [JobEvent]; public var next: UInt64; public var state: String; public var terminal: Bool }
    public struct MetricBody: Codable, Sendable { public var step: Int; public var name: String; public var value: Double; public var at: Date }
    public struct ArtifactBody: Codable, Sendable {
        public var id: String, kind: String, path: String, hash: String, size: Int64, createdAt: Date
        /// Where the browser can fetch it.
        public var url: String
    }
    public struct HistoryBody: Codable, Sendable {
        public var at: Date, kind: String, subject: String, workflow: String?, state: String?, text: String
    }
    public struct NoteBody: Codable, Sendable { public var id: Int64?; public var text: String; public var createdAt: Date }
    public struct NewNote: Codable, Sendable { public var text: String }
    public struct Health: Codable, Sendable {
        public var service: String, version: String, root: String
        public var queued: Int, running: Int
        public var workflows: [String]
    }

    static let encoder: JSONEncoder = { let e = JSONEncoder(); e.dateEncodingStrategy = .iso8601; e.outputFormatting = [.sortedKeys]; return e }()
    static let decoder: JSONDecoder = { let d = JSONDecoder(); d.dateDecodingStrategy = .iso8601; return d }()

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    static func project(_ p: Project) -> ProjectBody { ProjectBody(id: p.id, name: p.name, description: p.description, createdAt: p.createdAt) }

    static func dataset(_ d: DatasetRecord) -> DatasetBody {
        DatasetBody(id: d.id, project: d.projectId, name: d.name, path: d.path, contentHash: d.contentHash, cells: d.cells, genes: d.genes,
                    summary: (try? decoder.decode(JSONValue.self, from: Data(d.summary.utf8))) ?? .null, registeredAt: d.registeredAt)
    }

    static func registered(_ d: DatasetRecord, sameContentAs: [String]) -> DatasetBody {
        var b = dataset(d)
        b.sameContentAs = sameContentAs
        var warnings: [String] = []
        if case .object(let o)? = Optional(b.summary), case .bool(false)? = o["integerCounts"] {
            warnings.append("\(d.name): the counts are not all integers (normalised or log values?); every workflow models counts: register the raw counts where the file has them (an h5ad layer or raw/X), or if these are log1p of normalised values submit with --set input_transform=log_normalized")
        }
        if !sameContentAs.isEmpty {
            warnings.append("\(d.name) has the same content as \(sameContentAs.joined(separator: ", ")) in this project")
        }
        b.warnings = warnings
        return b
    }

    static func job(_ j: Job, progress: JobEvent? = nil, transitions: [JobTransition]? = nil, executorStates: [JobExecutorState]? = nil) -> JobBody {
        JobBody(id: j.id, project: j.projectId, workflow: j.workflow, version: j.workflowVersion,
                parameters: (try? decoder.decode(JSONValue.self, from: Data(j.parameters.utf8))) ?? .null,
                inputs: (try? decoder.decode([String: String].self, from: Data(j.inputs.utf8))) ?? [:],
                state: j.state.rawValue, priority: j.priority, attempts: j.attempts, maxAttempts: j.maxAttempts, exitReason: j.exitReason,
                createdAt: j.createdAt, startedAt: j.startedAt, finishedAt: j.finishedAt,
                progress: progress.map { Progress(phase: $0.phase, step: $0.step, total: $0.total, epoch: $0.epoch, values: $0.values, at: $0.at) },
                transitions: transitions?.map { Transition(from: $0.fromState?.rawValue, to: $0.toState.rawValue, reason: $0.reason, at: $0.at) },
                executor: j.executor, externalId: j.externalId,
                executorStates: executorStates?.map { ExecutorStateBody(state: $0.state, reason: $0.reason, externalId: $0.externalId, at: $0.at) })
    }
}

extension Request {
    /// The body decoded as `T`, refusing more than `limit` bytes (413) and malformed JSON (400).
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        let tooLarge = APIError(status: .contentTooLarge, code: "body_too_large",
                                message: "the request body is larger than the daemon's limit of \(limit) bytes (maxBodyBytes in tesserad.json)")
        if let length = headers[.contentLength].flatMap({ Int($0) }), length > limit { throw tooLarge }
        let body = self.body
        let buffer: ByteBuffer
        do { buffer = try await body.collect(upTo: limit) } catch {
            // NIO's NIOTooManyBytesError (a body without Content-Length that outgrows the limit).
            if String(describing: Swift.type(of: error)).contains("TooManyBytes") { throw tooLarge }
            throw error
        }
        guard buffer.readableBytes > 0 else { throw APIError(status: .badRequest, code: "malformed_json", message: "the request body is empty; send a JSON object") }
        do { return try API.decoder.decode(T.self, from: Data(buffer.readableBytesView)) }
        catch let e as DecodingError { throw APIError.from(e) }
        catch let e as APIError { throw e }
    }
}
