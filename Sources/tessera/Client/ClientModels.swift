import Foundation

/// The parts of the daemon's JSON the CLI prints (the daemon's openapi.json has the full shapes).
struct ProjectInfo: Decodable { let id: String; let name: String; let description: String; let createdAt: Date }
struct DatasetInfo: Decodable {
    let id: String; let name: String; let path: String; let cells: Int; let genes: Int; let contentHash: String; let registeredAt: Date
    /// The part of the stored `DatasetSummary` the CLI reads (absent from older daemons).
    let summary: SummaryBrief?
    /// Only in a registration's answer: datasets of the project with the same content.
    let sameContentAs: [String]?
    struct SummaryBrief: Decodable { let integerCounts: Bool? }
}
struct ProgressInfo: Decodable { let phase: String?; let step: Int?; let total: Int?; let epoch: Int?; let values: [String: Double]?; let at: Date }
struct TransitionInfo: Decodable { let from: String?; let to: String; let reason: String; let at: Date }
struct JobInfo: Decodable {
    let id: String, project: String, workflow: String, version: String, state: String
    let priority: Int, attempts: Int, maxAttempts: Int
    let exitReason: String?
    let createdAt: Date
    let startedAt: Date?, finishedAt: Date?
    let progress: ProgressInfo?
    let transitions: [TransitionInfo]?
    let inputs: [String: String]
    /// "local" or "slurm", the executor's id (Slurm job id), and what the executor reported (status only).
    let executor: String?
    let externalId: String?
    let executorStates: [ExecutorStateInfo]?
    var terminal: Bool { ["succeeded", "failed", "cancelled"].contains(state) }
    var shortID: String { String(id.prefix(8)) }
}
struct ExecutorStateInfo: Decodable { let state: String; let reason: String; let externalId: String?; let at: Date }
struct Submitted: Decodable { let job: JobInfo; let reused: Bool }
struct JobPage: Decodable { let jobs: [JobInfo]; let total: Int }
struct EventInfo: Decodable {
    let kind: String, at: Date
    let phase: String?, step: Int?, total: Int?, epoch: Int?
    let values: [String: Double]?
    let path: String?, text: String?
}
struct EventPage: Decodable { let events: [EventInfo]; let next: UInt64; let state: String; let terminal: Bool }
struct MetricInfo: Decodable { let step: Int; let name: String; let value: Double }
struct ArtifactInfo: Decodable { let id: String; let kind: String; let path: String; let size: Int64; let url: String }
struct HistoryInfo: Decodable { let at: Date; let kind: String; let subject: String; let workflow: String?; let state: String?; let text: String }
struct HealthInfo: Decodable { let version: String; let root: String; let queued: Int; let running: Int; let workflows: [String] }
