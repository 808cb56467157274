import Foundation
import GRDB

/// One state an executor reported for a job: Slurm's `PENDING` with reason `Resources`, `RUNNING`, `TIMEOUT`…
/// (or `UNAVAILABLE` while the executor could not be reached). Kept as history, never updated.
public struct JobExecutorState: StoredRecord, Sendable, Equatable {
    public static let databaseTableName = "job_executor_state"
    public var id: Int64?
    public var jobId: String
    /// The executor's id for the job at the time (Slurm job id), if it had one.
    public var externalId: String?
    public var state: String
    public var reason: String
    public var at: Date

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension ProjectStore {
    /// Appends a reported executor state (the caller records only changes).
    public func recordExecutorState(job: String, externalId: String?, state: String, reason: String, now: Date = Date()) throws {
        try writer.write { db in
            try JobExecutorState(id: nil, jobId: job, externalId: externalId, state: state, reason: reason, at: now).insert(db)
        }
    }

    /// Every state the executor reported for a job, oldest first.
    public func executorStates(job: String) throws -> [JobExecutorState] {
        try writer.read { try JobExecutorState.filter(Column("jobId") == job).order(Column("id")).fetchAll($0) }
    }

    /// The latest reported state of each of `jobs` (absent when none was reported).
    public func lastExecutorStates(jobs: [String]) throws -> [String: JobExecutorState] {
        guard !jobs.isEmpty else { return [:] }
        return try writer.read { db in
            let rows = try JobExecutorState.fetchAll(db, sql: """
                SELECT * FROM job_executor_state WHERE id IN (SELECT MAX(id) FROM job_executor_state WHERE jobId IN (\(jobs.map { _ in "?" }.joined(separator: ","))) GROUP BY jobId)
                """, arguments: StatementArguments(jobs))
            return Dictionary(rows.map { ($0.jobId, $0) }, uniquingKeysWith: { $1 })
        }
    }

    /// Stores the resources a submission asked for (JSON written by the daemon).
    public func setResources(job: String, json: String) throws {
        try writer.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO job_resources (jobId, json) VALUES (?, ?)", arguments: [job, json])
        }
    }

    /// The resources a job's submission asked for, nil when it asked for none.
    public func resources(job: String) throws -> String? {
        try writer.read { try String.fetchOne($0, sql: "SELECT json FROM job_resources WHERE jobId = ?", arguments: [job]) }
    }
}
