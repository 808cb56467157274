import Foundation
import Testing
@testable import Store

/// Metrics and artifacts read from a job's events are stored with the read offset in one transaction.
@Suite struct EventRecordingTests {
    @Test func eventsAreRecordedWithTheirOffset() throws {
        let s = try ProjectStore(path: nil)
        try s.createProject(name: "p")
        let j = try s.submitJob(project: "p", workflow: "w", version: "1", parameters: "{}", inputs: [:], cacheKey: "k")
        #expect(try s.job(j.id).eventsOffset == 0)
        try s.recordEvents(job: j.id, metrics: [(1, "loss", 2.0), (2, "loss", 1.5)],
                           artifacts: [ArtifactInfo(kind: "checkpoint", path: "artifacts/model.tsr", hash: "a", size: 10)], offset: 120)
        #expect(try s.job(j.id).eventsOffset == 120)
        // A rewritten artifact updates its row instead of adding one.
        try s.recordEvents(job: j.id, metrics: [], artifacts: [ArtifactInfo(kind: "checkpoint", path: "artifacts/model.tsr", hash: "b", size: 12)], offset: 200)
        let arts = try s.artifacts(job: j.id)
        #expect(arts.count == 1 && arts[0].hash == "b" && arts[0].size == 12)
        #expect(try s.metrics(job: j.id, name: "loss").map(\.value) == [2.0, 1.5])
        #expect(try s.job(j.id).eventsOffset == 200)
    }

    @Test func jobListingPagesAndPrefixes() throws {
        let s = try ProjectStore(path: nil)
        try s.createProject(name: "p")
        var ids: [String] = []
        for k in 0..<5 {
            ids.append(try s.submitJob(project: "p", workflow: k % 2 == 0 ? "a" : "b", version: "1", parameters: "{}", inputs: [:],
                                       cacheKey: "\(k)", now: Date(timeIntervalSince1970: Double(k))).id)
        }
        let (page, total) = try s.jobs(JobQuery(project: "p", workflow: "a", limit: 2))
        #expect(total == 3 && page.map(\.id) == [ids[4], ids[2]])
        #expect(try s.job(matching: String(ids[3].prefix(12))).id == ids[3])
        #expect(throws: StoreError.self) { try s.job(matching: "zz") }
    }
}
