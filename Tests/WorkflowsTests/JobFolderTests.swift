import Foundation
import Testing
@testable import Workflows

@Suite struct JobFolderTests {
    static func folder() -> JobFolder {
        JobFolder(FileManager.default.temporaryDirectory.appendingPathComponent("tessera-job-\(UUID().uuidString)"))
    }

    @Test func specEventsAndExitRoundTrip() throws {
        let f = Self.folder()
        defer { try? FileManager.default.removeItem(at: f.url) }
        let spec = JobFolder.Spec(jobID: "j1", workflow: "embed", version: "1",
                                  parameters: ["resolution": .number(1), "position": .bool(true), "label": .string("ClusterName")],
                                  inputs: ["spatial": "/data/x.h5ad"], seed: 7)
        try f.create(spec: spec)
        #expect(try f.readSpec() == spec)
        #expect(FileManager.default.fileExists(atPath: f.artifacts.path) && FileManager.default.fileExists(atPath: f.checkpoints.path))
        let w = try JobEventWriter(folder: f)
        let t = Date(timeIntervalSince1970: 1_700_000_000)
        try w.append(JobEvent(kind: .started, at: t))
        try w.append(JobEvent(kind: .progress, at: t, phase: "train", step: 3, total: 100, values: ["loss": 12.5, "eta_s": 40]))
        let (first, off, skipped) = try JobEventReader.read(f, from: 0)
        #expect(first.count == 2 && first[1].values?["loss"] == 12.5 && skipped == 0)
        try w.append(JobEvent(kind: .metric, at: t, step: 3, values: ["ari": 0.61]))
        let (more, off2, _) = try JobEventReader.read(f, from: off)
        #expect(more.map(\.kind) == [.metric] && off2 > off)
        #expect(f.readExit() == nil)
        try f.writeExit(.init(status: .succeeded, reason: "done", at: t))
        #expect(f.readExit() == .init(status: .succeeded, reason: "done", at: t))
    }

    /// A worker killed mid-line leaves half an event: it is not returned, and reading resumes from before it.
    @Test func partialAndDamagedLines() throws {
        let f = Self.folder()
        defer { try? FileManager.default.removeItem(at: f.url) }
        try f.create(spec: .init(jobID: "j", workflow: "w", version: "1", parameters: [:], inputs: [:], seed: 0))
        let w = try JobEventWriter(folder: f)
        try w.append(JobEvent(kind: .started))
        let h = try FileHandle(forWritingTo: f.eventsURL)
        try h.seekToEnd()
        try h.write(contentsOf: Data("not json\n{\"kind\":\"progress\",\"at\":\"2026-".utf8))
        try h.close()
        let (events, off, skipped) = try JobEventReader.read(f, from: 0)
        #expect(events.count == 1 && skipped == 1)
        let (again, off2, _) = try JobEventReader.read(f, from: off)
        #expect(again.isEmpty && off2 == off)
    }

    /// Many threads appending at once: every event arrives whole.
    @Test func concurrentAppendsStayWhole() throws {
        let f = Self.folder()
        defer { try? FileManager.default.removeItem(at: f.url) }
        try f.create(spec: .init(jobID: "j", workflow: "w", version: "1", parameters: [:], inputs: [:], seed: 0))
        let w = try JobEventWriter(folder: f)
        DispatchQueue.concurrentPerform(iterations: 8) { k in
            for s in 0..<50 { try? w.append(JobEvent(kind: .progress, step: k * 1000 + s, text: String(repeating: "x", count: 200))) }
        }
        let (events, _, skipped) = try JobEventReader.read(f, from: 0)
        #expect(events.count == 400 && skipped == 0 && Set(events.compactMap(\.step)).count == 400)
    }
}
