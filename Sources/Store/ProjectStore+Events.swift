import Foundation
import GRDB

/// An artifact a worker announced, before it is stored.
public struct ArtifactInfo: Sendable, Equatable {
    public var kind: String
    /// Relative to the job folder.
    public var path: String
    public var hash: String
    public var size: Int64
    public init(kind: String, path: String, hash: String, size: Int64) { self.kind = kind; self.path = path; self.hash = hash; self.size = size }
}

extension ProjectStore {
    /// Records what the daemon read from a job's events up to byte `offset` (metric points and artifacts) and
    /// moves the job's read offset there, in one transaction: after a crash the next read starts exactly
    /// where the committed one ended. An artifact path seen again (a checkpoint rewritten) updates its row.
    public func recordEvents(job id: String, metrics: [(step: Int, name: String, value: Double)], artifacts: [ArtifactInfo],
                             offset: Int64, now: Date = Date()) throws {
        try writer.write { db in
            for p in metrics { try Metric(jobId: id, step: p.step, name: p.name, value: p.value, at: now).insert(db) }
            for a in artifacts {
                if var old = try Artifact.filter(Column("jobId") == id && Column("path") == a.path).fetchOne(db) {
                    old.kind = a.kind; old.hash = a.hash; old.size = a.size; old.createdAt = now
                    try old.update(db)
                } else {
                    try Artifact(id: UUID().uuidString.lowercased(), jobId: id, kind: a.kind, path: a.path, hash: a.hash,
                                 size: a.size, createdAt: now).insert(db)
                }
            }
            try db.execute(sql: "UPDATE job SET eventsOffset = ? WHERE id = ?", arguments: [offset, id])
        }
    }
}
