import Foundation
import Testing
import GRDB
@testable import Store

/// Every test runs against an in-memory database and a WAL file (GRDB's two writers we use).
@Suite struct ProjectStoreTests {
    enum Kind: String, CaseIterable, Sendable { case memory, walFile }

    static func open(_ kind: Kind) throws -> (ProjectStore, String?) {
        switch kind {
        case .memory: return (try ProjectStore(path: nil), nil)
        case .walFile:
            let dir = NSTemporaryDirectory() + "tessera-store-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let path = dir + "/tessera.sqlite"
            return (try ProjectStore(path: path), path)
        }
    }

    static func seeded(_ kind: Kind) throws -> (ProjectStore, Project, DatasetRecord) {
        let (s, _) = try open(kind)
        let p = try s.createProject(name: "cortex", description: "osmFISH")
        let d = try s.registerDataset(project: "cortex", name: "osmfish", path: "/data/osmfish.h5ad", contentHash: "abc",
                                      cells: 4839, genes: 33, summary: "{}")
        return (s, p, d)
    }

    @Test(arguments: Kind.allCases) func migrationsApplyOnceAndReopen(kind: Kind) throws {
        let (s, path) = try Self.open(kind)
        #expect(try s.appliedMigrations() == StoreMigrations.migrator.migrations)
        #expect(try s.integrityCheck() == "ok")
        if let path {
            _ = try s.createProject(name: "kept")
            let again = try ProjectStore(path: path)
            #expect(try again.projects().map(\.name) == ["kept"])
            let mode = try again.writer.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
            #expect(mode == "wal")
        }
    }

    @Test(arguments: Kind.allCases) func projectsAndDatasets(kind: Kind) throws {
        let (s, p, d) = try Self.seeded(kind)
        #expect(try s.project("cortex") == p && s.project(p.id) == p)
        #expect(throws: StoreError.duplicate(kind: "project", name: "cortex")) { try s.createProject(name: "cortex") }
        #expect(throws: StoreError.self) { try s.createProject(name: "  ") }
        #expect(throws: StoreError.notFound(kind: "project", id: "nope")) { try s.project("nope") }
        #expect(try s.datasets(project: "cortex") == [d])
        #expect(throws: StoreError.duplicate(kind: "dataset", name: "osmfish")) {
            try s.registerDataset(project: "cortex", name: "osmfish", path: "/x", contentHash: "h", cells: 1, genes: 1, summary: "{}")
        }
    }

    @Test(arguments: Kind.allCases) func jobLifecycleKeepsItsHistory(kind: Kind) throws {
        let (s, _, d) = try Self.seeded(kind)
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        let j = try s.submitJob(project: "cortex", workflow: "embed", version: "1", parameters: "{}", inputs: ["spatial": d.id],
                                maxAttempts: 2, cacheKey: "k1", now: t0)
        #expect(j.state == .queued)
        try s.transition(job: j.id, to: .running, reason: "worker 123", now: t0 + 1) { $0.externalId = "123" }
        try s.transition(job: j.id, to: .retrying, reason: "worker exited 9", now: t0 + 2)
        try s.transition(job: j.id, to: .running, reason: "attempt 2", now: t0 + 3)
        let done = try s.transition(job: j.id, to: .succeeded, reason: "exit 0", now: t0 + 4)
        #expect(done.attempts == 2 && done.finishedAt == t0 + 4 && done.externalId == "123" && done.exitReason == nil)
        #expect(try s.transitions(job: j.id).map(\.toState) == [.queued, .running, .retrying, .running, .succeeded])
        #expect(throws: StoreError.invalidTransition(job: j.id, from: .succeeded, to: .running)) {
            try s.transition(job: j.id, to: .running, reason: "again")
        }
        #expect(try s.cachedJob(cacheKey: "k1")?.id == j.id)
        #expect(try s.cachedJob(cacheKey: "other") == nil)
        let failed = try s.submitJob(project: "cortex", workflow: "embed", version: "1", parameters: "{}", inputs: [:], cacheKey: "k2")
        let f = try s.transition(job: failed.id, to: .failed, reason: "dataset missing")
        #expect(f.exitReason == "dataset missing")
        #expect(throws: StoreError.notFound(kind: "dataset", id: "ghost")) {
            try s.submitJob(project: "cortex", workflow: "embed", version: "1", parameters: "{}", inputs: ["spatial": "ghost"], cacheKey: "k")
        }
    }

    @Test(arguments: Kind.allCases) func queueOrderMetricsArtifacts(kind: Kind) throws {
        let (s, _, _) = try Self.seeded(kind)
        let t = Date(timeIntervalSince1970: 2_000_000)
        let low = try s.submitJob(project: "cortex", workflow: "a", version: "1", parameters: "{}", inputs: [:], priority: 0, cacheKey: "1", now: t)
        let high = try s.submitJob(project: "cortex", workflow: "b", version: "1", parameters: "{}", inputs: [:], priority: 5, cacheKey: "2", now: t + 1)
        let low2 = try s.submitJob(project: "cortex", workflow: "c", version: "1", parameters: "{}", inputs: [:], priority: 0, cacheKey: "3", now: t + 2)
        #expect(try s.jobs(state: .queued).map(\.id) == [high.id, low.id, low2.id])
        try s.recordMetrics(job: high.id, [(1, "loss", 3.5), (2, "loss", 2.5), (2, "ari", 0.4)])
        #expect(try s.metrics(job: high.id, name: "loss").map(\.value) == [3.5, 2.5])
        try s.addArtifact(job: high.id, kind: "h5ad", path: "jobs/x/out.h5ad", hash: "h", size: 42)
        #expect(try s.artifacts(job: high.id).first?.size == 42)
    }

    @Test(arguments: Kind.allCases) func historyFilters(kind: Kind) throws {
        let (s, _, d) = try Self.seeded(kind)
        let other = try s.registerDataset(project: "cortex", name: "seqfish", path: "/s", contentHash: "z", cells: 10, genes: 5, summary: "{}")
        let t = Date(timeIntervalSince1970: 3_000_000)
        let a = try s.submitJob(project: "cortex", workflow: "embed", version: "1", parameters: "{}", inputs: ["spatial": d.id], cacheKey: "a", now: t)
        let b = try s.submitJob(project: "cortex", workflow: "impute", version: "1", parameters: "{}", inputs: ["spatial": other.id], cacheKey: "b", now: t + 10)
        try s.transition(job: a.id, to: .running, reason: "go", now: t + 20)
        try s.transition(job: a.id, to: .failed, reason: "NaN at step 3", now: t + 30)
        try s.addNote(project: "cortex", text: "lowered lr", now: t + 40)
        let all = try s.history(project: "cortex")
        #expect(all.count == 2 + 4 + 1)
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.at <= $1.at })
        #expect(try s.history(project: "cortex", .init(workflow: "impute")).map(\.subject) == [b.id])
        #expect(try s.history(project: "cortex", .init(state: .failed)).map(\.text) == ["embed job running → failed: NaN at step 3"])
        let byData = try s.history(project: "cortex", .init(datasetID: d.id))
        #expect(byData.filter { $0.kind == .jobTransition }.allSatisfy { $0.subject == a.id } && byData.contains { $0.kind == .datasetRegistered })
        #expect(try s.history(project: "cortex", .init(since: t + 15, until: t + 35)).count == 2)
    }

    /// 20 writers submitting 10 jobs each into one WAL file: every job is there once with its first transition.
    @Test func concurrentSubmissionsLoseNothing() throws {
        let (s, path) = try Self.open(.walFile)
        _ = try s.createProject(name: "busy")
        let errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: 20) { client in
            do {
                let mine = try ProjectStore(path: path!)     // each client its own connection pool
                for k in 0..<10 {
                    try mine.submitJob(project: "busy", workflow: "embed", version: "1", parameters: "{\"k\":\(k)}", inputs: [:],
                                       cacheKey: "c\(client)-\(k)")
                }
            } catch { errors.add("\(error)") }
        }
        #expect(errors.all.isEmpty, "\(errors.all)")
        let jobs = try s.jobs(state: .queued)
        #expect(jobs.count == 200 && Set(jobs.map(\.cacheKey)).count == 200)
        let firsts = try s.writer.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM job_transition WHERE toState = 'queued'") }
        #expect(firsts == 200)
        #expect(try s.integrityCheck() == "ok")
    }
}

final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
