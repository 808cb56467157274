import Foundation
import GRDB

extension ProjectStore {
    /// Inserts a queued job and its first transition in one transaction. `inputs` maps roles to dataset ids,
    /// which must belong to the project.
    @discardableResult
    public func submitJob(project: String, workflow: String, version: String, parameters: String, inputs: [String: String],
                          priority: Int = 0, maxAttempts: Int = 1, executor: String = "local", cacheKey: String,
                          now: Date = Date()) throws -> Job {
        let p = try self.project(project)
        guard maxAttempts >= 1 else { throw StoreError.invalid(field: "maxAttempts", problem: "must be at least 1") }
        let inputsJSON = String(decoding: try JSONSerialization.data(withJSONObject: inputs, options: [.sortedKeys]), as: UTF8.self)
        let job = Job(id: UUID().uuidString.lowercased(), projectId: p.id, workflow: workflow, workflowVersion: version,
                      parameters: parameters, inputs: inputsJSON, state: .queued, priority: priority, attempts: 0,
                      maxAttempts: maxAttempts, executor: executor, externalId: nil, exitReason: nil, cacheKey: cacheKey,
                      createdAt: now, startedAt: nil, finishedAt: nil, updatedAt: now)
        try writer.write { db in
            for (role, datasetID) in inputs {
                guard let d = try DatasetRecord.fetchOne(db, key: datasetID) else { throw StoreError.notFound(kind: "dataset", id: datasetID) }
                guard d.projectId == p.id else {
                    throw StoreError.invalid(field: "inputs.\(role)", problem: "dataset \(datasetID) belongs to another project")
                }
            }
            try job.insert(db)
            for (role, datasetID) in inputs {
                try db.execute(sql: "INSERT INTO job_input (jobId, role, datasetId) VALUES (?, ?, ?)", arguments: [job.id, role, datasetID])
            }
            try JobTransition(id: nil, jobId: job.id, fromState: nil, toState: .queued, reason: "submitted", at: now).insert(db)
        }
        return job
    }

    public func job(_ id: String) throws -> Job {
        guard let j = try writer.read({ try Job.fetchOne($0, key: id) }) else { throw StoreError.notFound(kind: "job", id: id) }
        return j
    }

    /// Moves a job to `state`, recording the transition; rejects moves the state machine does not allow.
    /// `update` may change other fields in the same transaction (external id, exit reason).
    @discardableResult
    public func transition(job id: String, to state: JobState, reason: String, now: Date = Date(),
                           update: ((inout Job) -> Void)? = nil) throws -> Job {
        return try writer.write { db in
            guard var job = try Job.fetchOne(db, key: id) else { throw StoreError.notFound(kind: "job", id: id) }
            guard job.state.canMove(to: state) else { throw StoreError.invalidTransition(job: id, from: job.state, to: state) }
            let from = job.state
            job.state = state
            job.updatedAt = now
            if state == .running { job.attempts += 1; job.startedAt = now }
            if state.isTerminal { job.finishedAt = now; if state != .succeeded { job.exitReason = reason } }
            update?(&job)
            try job.update(db)
            try JobTransition(id: nil, jobId: id, fromState: from, toState: state, reason: reason, at: now).insert(db)
            return job
        }
    }

    public func transitions(job id: String) throws -> [JobTransition] {
        try writer.read { try JobTransition.filter(Column("jobId") == id).order(Column("id")).fetchAll($0) }
    }

    /// Jobs in `state`, highest priority first, then oldest first (the queue order).
    public func jobs(state: JobState, limit: Int = 1000) throws -> [Job] {
        try writer.read {
            try Job.filter(Column("state") == state).order(Column("priority").desc, Column("createdAt"), Column("id")).limit(limit).fetchAll($0)
        }
    }

    /// How many jobs are in `state` (not capped, unlike a listing).
    public func count(state: JobState) throws -> Int {
        try writer.read { try Job.filter(Column("state") == state).fetchCount($0) }
    }

    /// Id and events read offset of every finished job (a restart checks none left events unread).
    public func finishedJobOffsets() throws -> [(id: String, offset: Int64)] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT id, eventsOffset FROM job WHERE state IN ('succeeded', 'failed', 'cancelled')")
                .map { ($0["id"], $0["eventsOffset"]) }
        }
    }

    /// The most recent succeeded job with this cache key (`--reuse`).
    public func cachedJob(cacheKey: String) throws -> Job? {
        try writer.read {
            try Job.filter(Column("cacheKey") == cacheKey && Column("state") == JobState.succeeded).order(Column("finishedAt").desc).fetchOne($0)
        }
    }

    public func recordMetrics(job id: String, _ points: [(step: Int, name: String, value: Double)], now: Date = Date()) throws {
        try writer.write { db in
            for p in points { try Metric(jobId: id, step: p.step, name: p.name, value: p.value, at: now).insert(db) }
        }
    }

    public func metrics(job id: String, name: String? = nil) throws -> [Metric] {
        try writer.read { db in
            var q = Metric.filter(Column("jobId") == id)
            if let name { q = q.filter(Column("name") == name) }
            return try q.order(Column("name"), Column("step")).fetchAll(db)
        }
    }

    @discardableResult
    public func addArtifact(job id: String, kind: String, path: String, hash: String, size: Int64, now: Date = Date()) throws -> Artifact {
        let a = Artifact(id: UUID().uuidString.lowercased(), jobId: id, kind: kind, path: path, hash: hash, size: size, createdAt: now)
        try writer.write { try a.insert($0) }
        return a
    }

    public func artifacts(job id: String) throws -> [Artifact] {
        try writer.read { try Artifact.filter(Column("jobId") == id).order(Column("createdAt")).fetchAll($0) }
    }
}
