import Foundation
import GRDB

/// What to select from a project's history; nil fields do not filter.
public struct HistoryFilter: Sendable, Equatable {
    public var workflow: String?
    public var state: JobState?
    public var datasetID: String?
    public var since: Date?
    public var until: Date?
    public init(workflow: String? = nil, state: JobState? = nil, datasetID: String? = nil, since: Date? = nil, until: Date? = nil) {
        self.workflow = workflow; self.state = state; self.datasetID = datasetID; self.since = since; self.until = until
    }
}

/// One thing that happened in a project, newest last.
public struct HistoryEntry: Sendable, Equatable {
    public enum Kind: String, Sendable { case datasetRegistered, jobTransition, note }
    public var at: Date
    public var kind: Kind
    /// Job id, dataset id or note id.
    public var subject: String
    public var workflow: String?
    public var state: JobState?
    public var text: String
}

extension ProjectStore {
    /// Everything that happened in a project: datasets registered, every job transition, notes; filtered by
    /// workflow, job state (the state a transition reached), dataset (jobs that used it, and its registration)
    /// and time window.
    public func history(project: String, _ f: HistoryFilter = HistoryFilter()) throws -> [HistoryEntry] {
        let p = try self.project(project)
        return try writer.read { db in
            var out: [HistoryEntry] = []
            let jobOnly = f.workflow != nil || f.state != nil
            if !jobOnly {
                var dq = DatasetRecord.filter(Column("projectId") == p.id)
                if let id = f.datasetID { dq = dq.filter(Column("id") == id) }
                for d in try dq.fetchAll(db) {
                    out.append(HistoryEntry(at: d.registeredAt, kind: .datasetRegistered, subject: d.id, workflow: nil, state: nil,
                                            text: "registered \(d.name) (\(d.cells) cells × \(d.genes) genes) from \(d.path)"))
                }
                if f.datasetID == nil {
                    for n in try Note.filter(Column("projectId") == p.id).fetchAll(db) {
                        out.append(HistoryEntry(at: n.createdAt, kind: .note, subject: "\(n.id ?? 0)", workflow: nil, state: nil, text: n.text))
                    }
                }
            }
            var sql = """
                SELECT t.jobId, t.fromState, t.toState, t.reason, t.at, j.workflow FROM job_transition t
                JOIN job j ON j.id = t.jobId WHERE j.projectId = ?
                """
            var args: [any DatabaseValueConvertible] = [p.id]
            if let w = f.workflow { sql += " AND j.workflow = ?"; args.append(w) }
            if let s = f.state { sql += " AND t.toState = ?"; args.append(s.rawValue) }
            if let d = f.datasetID { sql += " AND EXISTS (SELECT 1 FROM job_input i WHERE i.jobId = j.id AND i.datasetId = ?)"; args.append(d) }
            sql += " ORDER BY t.id"
            for row in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)) {
                let from: String? = row["fromState"]
                let to: String = row["toState"], reason: String = row["reason"], wf: String = row["workflow"]
                out.append(HistoryEntry(at: Date(timeIntervalSinceReferenceDate: row["at"]), kind: .jobTransition, subject: row["jobId"], workflow: wf,
                                        state: JobState(rawValue: to),
                                        text: "\(wf) job \(from.map { "\($0) → " } ?? "")\(to): \(reason)"))
            }
            return out.filter { e in (f.since.map { e.at >= $0 } ?? true) && (f.until.map { e.at <= $0 } ?? true) }
                .sorted { $0.at < $1.at }
        }
    }
}
