import Foundation
import GRDB

/// Dates are stored as seconds since 2001-01-01 (REAL, `Date`'s own representation), so a record reads back
/// bit for bit as written and sorts numerically.
public protocol StoredRecord: Codable, FetchableRecord, PersistableRecord {}
extension StoredRecord {
    public static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy { .timeIntervalSinceReferenceDate }
    public static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy { .timeIntervalSinceReferenceDate }
}

/// A research project: the unit datasets, jobs and notes belong to.
public struct Project: StoredRecord, Sendable, Equatable {
    public static let databaseTableName = "project"
    public var id: String
    public var name: String
    public var description: String
    public var createdAt: Date
}

/// A registered input file. Its content hash ties results to the exact bytes that were analysed.
public struct DatasetRecord: StoredRecord, Sendable, Equatable {
    public static let databaseTableName = "dataset"
    public var id: String
    public var projectId: String
    public var name: String
    public var path: String
    public var contentHash: String
    public var cells: Int
    public var genes: Int
    /// JSON summary as `tessera inspect --json` prints it.
    public var summary: String
    public var registeredAt: Date
}

/// States of a job (ecosystem.md §3: what Slurm, Galaxy and Nextflow users expect).
public enum JobState: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case queued, running, retrying, succeeded, failed, cancelled

    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }

    /// The transitions the queue may make.
    public func canMove(to next: JobState) -> Bool {
        switch (self, next) {
        case (.queued, .running), (.queued, .cancelled), (.queued, .failed): return true
        case (.running, .succeeded), (.running, .failed), (.running, .cancelled), (.running, .retrying),
             (.running, .queued): return true   // running → queued: requeued after a daemon restart
        case (.retrying, .queued), (.retrying, .running), (.retrying, .cancelled), (.retrying, .failed): return true
        default: return false
        }
    }
}

/// A submitted workflow run.
public struct Job: StoredRecord, Sendable, Equatable {
    public static let databaseTableName = "job"
    public var id: String
    public var projectId: String
    public var workflow: String
    public var workflowVersion: String
    /// Parameters as canonical JSON (sorted keys).
    public var parameters: String
    /// Inputs as JSON {role: datasetId}.
    public var inputs: String
    public var state: JobState
    public var priority: Int
    public var attempts: Int
    public var maxAttempts: Int
    /// "local" or "slurm"; `externalId` is the PID or the Slurm job id.
    public var executor: String
    public var externalId: String?
    public var exitReason: String?
    /// Hash of workflow, version, parameters and input content: equal keys give equal results (`--reuse`).
    public var cacheKey: String
    /// Bytes of the job's events.jsonl already recorded (metrics, artifacts).
    public var eventsOffset: Int64 = 0
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var updatedAt: Date
}

/// One state transition of a job: the full history is kept, never updated.
public struct JobTransition: StoredRecord, Sendable, Equatable {
    public static let databaseTableName = "job_transition"
    public var id: Int64?
    public var jobId: String
    public var fromState: JobState?
    public var toState: JobState
    public var reason: String
    public var at: Date

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One point of a metric time series reported by a job (loss, ARI…).
public struct Metric: StoredRecord, Sendable, Equatable {
    public static let databaseTableName = "metric"
    public var jobId: String
    public var step: Int
    public var name: String
    public var value: Double
    public var at: Date
}

/// A file a job produced (h5ad, checkpoint, PNG map…).
public struct Artifact: StoredRecord, Sendable, Equatable {
    public static let databaseTableName = "artifact"
    public var id: String
    public var jobId: String
    public var kind: String
    public var path: String
    public var hash: String
    public var size: Int64
    public var createdAt: Date
}

/// Free text a user attaches to a project.
public struct Note: StoredRecord, Sendable, Equatable {
    public static let databaseTableName = "note"
    public var id: Int64?
    public var projectId: String
    public var text: String
    public var createdAt: Date

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

