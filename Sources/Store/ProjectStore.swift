import Foundation
import GRDB

/// The daemon's SQLite store (GRDB): one writer (the daemon), WAL so readers never block it. Every change that
/// must stay consistent (a job's state and its transition row) happens in one transaction.
public final class ProjectStore: Sendable {
    public let writer: any DatabaseWriter

    /// Opens (creating and migrating) the database at `path`, or an in-memory one for nil.
    public init(path: String?) throws {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        if let path {
            do { writer = try DatabasePool(path: path, configuration: config) }   // WAL
            catch { throw StoreError.unusable(path: path, problem: "cannot be opened as a SQLite database (\(error))", fix: Self.damagedFix) }
            try Self.checkBeforeMigrating(writer, path: path)
        } else {
            writer = try DatabaseQueue(configuration: config)
        }
        try StoreMigrations.migrator.migrate(writer)
    }

    static let damagedFix = "Stop here: restore the file from a backup, or move it aside (with its -wal and -shm files) to start an empty store; the job folders beside it keep every result"

    /// Refuses a file SQLite reports as damaged (`PRAGMA quick_check`) and one whose schema has migrations
    /// this version does not know (written by a newer tesserad): serving either would lose data silently.
    static func checkBeforeMigrating(_ writer: any DatabaseWriter, path: String) throws {
        let (check, applied): ([String], Set<String>)
        do {
            (check, applied) = try writer.read { db in
                (try String.fetchAll(db, sql: "PRAGMA quick_check"), try StoreMigrations.migrator.appliedIdentifiers(db))
            }
        } catch {
            throw StoreError.unusable(path: path, problem: "is not a readable SQLite database (\(error))", fix: damagedFix)
        }
        guard check == ["ok"] else {
            throw StoreError.unusable(path: path, problem: "is damaged (quick_check: \(check.prefix(3).joined(separator: "; ")))", fix: damagedFix)
        }
        let unknown = applied.subtracting(StoreMigrations.migrator.migrations)
        guard unknown.isEmpty else {
            throw StoreError.unusable(path: path, problem: "was written by a newer tesserad (unknown migrations: \(unknown.sorted().joined(separator: ", ")))",
                                      fix: "Run that newer version on this root, or point this one at another --root")
        }
    }

    /// Names of the migrations applied, in order.
    public func appliedMigrations() throws -> [String] {
        try writer.read { try StoreMigrations.migrator.appliedMigrations($0) }
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    public func integrityCheck() throws -> String {
        try writer.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") ?? "?" }
    }

    // MARK: projects, datasets, notes

    @discardableResult
    public func createProject(name: String, description: String = "", now: Date = Date()) throws -> Project {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= 200 else { throw StoreError.invalid(field: "name", problem: "must be 1 to 200 characters") }
        let p = Project(id: UUID().uuidString.lowercased(), name: trimmed, description: description, createdAt: now)
        do { try writer.write { try p.insert($0) } }
        catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT { throw StoreError.duplicate(kind: "project", name: trimmed) }
        return p
    }

    public func projects() throws -> [Project] {
        try writer.read { try Project.order(Column("createdAt")).fetchAll($0) }
    }

    /// A project by id or name.
    public func project(_ key: String) throws -> Project {
        let p = try writer.read { db in
            try Project.fetchOne(db, key: key) ?? Project.filter(Column("name") == key).fetchOne(db)
        }
        guard let p else { throw StoreError.notFound(kind: "project", id: key) }
        return p
    }

    @discardableResult
    public func registerDataset(project: String, name: String, path: String, contentHash: String, cells: Int, genes: Int,
                                summary: String, now: Date = Date()) throws -> DatasetRecord {
        let p = try self.project(project)
        let d = DatasetRecord(id: UUID().uuidString.lowercased(), projectId: p.id, name: name, path: path,
                              contentHash: contentHash, cells: cells, genes: genes, summary: summary, registeredAt: now)
        do { try writer.write { try d.insert($0) } }
        catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT { throw StoreError.duplicate(kind: "dataset", name: name) }
        return d
    }

    public func datasets(project: String) throws -> [DatasetRecord] {
        let p = try self.project(project)
        return try writer.read { try DatasetRecord.filter(Column("projectId") == p.id).order(Column("registeredAt")).fetchAll($0) }
    }

    public func dataset(_ id: String) throws -> DatasetRecord {
        guard let d = try writer.read({ try DatasetRecord.fetchOne($0, key: id) }) else { throw StoreError.notFound(kind: "dataset", id: id) }
        return d
    }

    @discardableResult
    public func addNote(project: String, text: String, now: Date = Date()) throws -> Note {
        let p = try self.project(project)
        var n = Note(id: nil, projectId: p.id, text: text, createdAt: now)
        try writer.write { try n.insert($0) }
        return n
    }

    public func notes(project: String) throws -> [Note] {
        let p = try self.project(project)
        return try writer.read { try Note.filter(Column("projectId") == p.id).order(Column("createdAt")).fetchAll($0) }
    }
}

extension StoreError {
    /// A database error that has a store-level meaning (the disk is full), or nil.
    public static func classify(_ error: any Error, path: String) -> StoreError? {
        guard let e = error as? DatabaseError else { return nil }
        switch e.resultCode {
        case .SQLITE_FULL: return .noSpace(path: path)
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return .unusable(path: path, problem: "is damaged (\(e.message ?? "SQLITE_CORRUPT"))", fix: ProjectStore.damagedFix)
        default: return nil
        }
    }
}
