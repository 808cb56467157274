import Foundation
import GRDB

/// Which jobs to list (`tessera jobs`, `GET /api/jobs`); nil fields do not filter. Newest first.
public struct JobQuery: Sendable, Equatable {
    public var project: String?
    public var state: JobState?
    public var workflow: String?
    public var limit: Int
    public var offset: Int
    public init(project: String? = nil, state: JobState? = nil, workflow: String? = nil, limit: Int = 100, offset: Int = 0) {
        self.project = project; self.state = state; self.workflow = workflow; self.limit = limit; self.offset = offset
    }
}

extension ProjectStore {
    /// Jobs matching `q`, newest first, and how many match in all (for paging).
    public func jobs(_ q: JobQuery) throws -> (jobs: [Job], total: Int) {
        let projectID = try q.project.map { try self.project($0).id }
        return try writer.read { db in
            var r = Job.all()
            if let projectID { r = r.filter(Column("projectId") == projectID) }
            if let s = q.state { r = r.filter(Column("state") == s) }
            if let w = q.workflow { r = r.filter(Column("workflow") == w) }
            let total = try r.fetchCount(db)
            let page = try r.order(Column("createdAt").desc, Column("id").desc).limit(max(0, q.limit), offset: max(0, q.offset)).fetchAll(db)
            return (page, total)
        }
    }

    /// A job by its id or by a unique prefix of at least 4 characters (what `tessera jobs` prints).
    public func job(matching key: String) throws -> Job {
        if let j = try writer.read({ try Job.fetchOne($0, key: key) }) { return j }
        guard key.count >= 4, key.allSatisfy({ $0.isHexDigit || $0 == "-" }) else { throw StoreError.notFound(kind: "job", id: key) }
        let found = try writer.read { try Job.filter(Column("id").like("\(key.lowercased())%")).limit(2).fetchAll($0) }
        guard found.count == 1 else {
            if found.isEmpty { throw StoreError.notFound(kind: "job", id: key) }
            throw StoreError.invalid(field: "job", problem: "'\(key)' matches several jobs; give more of the id")
        }
        return found[0]
    }

    /// Inputs of a job as role → dataset id.
    public func inputs(job id: String) throws -> [String: String] {
        try writer.read { db in
            var out: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT role, datasetId FROM job_input WHERE jobId = ?", arguments: [id]) {
                out[row["role"]] = row["datasetId"]
            }
            return out
        }
    }

    /// A dataset by id, or by name within a project.
    public func dataset(_ key: String, project: String?) throws -> DatasetRecord {
        if let d = try writer.read({ try DatasetRecord.fetchOne($0, key: key) }) { return d }
        guard let project else { throw StoreError.notFound(kind: "dataset", id: key) }
        let p = try self.project(project)
        guard let d = try writer.read({ try DatasetRecord.filter(Column("projectId") == p.id && Column("name") == key).fetchOne($0) }) else {
            throw StoreError.notFound(kind: "dataset", id: key)
        }
        return d
    }

    public func artifact(_ id: String) throws -> Artifact {
        guard let a = try writer.read({ try Artifact.fetchOne($0, key: id) }) else { throw StoreError.notFound(kind: "artifact", id: id) }
        return a
    }
}
