import CellLM
import Foundation
import SpatialData
import Testing
@testable import Workflows

/// Bad jobs end as `failed` with retryable = false and a message saying what to change, before any compute:
/// no training or embedding progress, no checkpoint, no artifact.
@Suite struct WorkflowBadInputTests {
    typealias T = WorkflowTestSupport

    /// Runs the job and checks it was refused up front; returns the reason.
    func refused(_ f: JobFolder) throws -> String {
        let exit = try T.run(f)
        #expect(exit.status == .failed && exit.retryable == false, "\(exit)")
        let ev = try T.events(f)
        #expect(!ev.contains { $0.kind == .progress && ["train", "embed", "cluster", "write"].contains($0.phase ?? "") })
        #expect(TrainingCheckpoints(f).latest() == nil)
        #expect(!FileManager.default.fileExists(atPath: f.artifacts.appendingPathComponent("model.tsr").path))
        #expect(f.readExit()?.reason == exit.reason && f.readExit()?.status == .failed && f.readExit()?.retryable == false)
        return exit.reason
    }

    static let tiny: [String: JSONValue] = ["preset": .string("tiny"), "steps": .number(5)]

    @Test func datasetsWithNoSharedGenes() throws {
        var other = T.tissue.sim.reference
        other.geneIDs = other.geneIDs.map { "X" + $0 }; other.geneSymbols = other.geneSymbols.map { "X" + $0 }
        let path = T.tempDir("renamed").appendingPathComponent("renamed.h5ad").path
        try H5ADWriter.write(other, to: path)
        let r = try refused(T.job("pretrain", inputs: ["spatial": T.tissue.spatial, "reference": path], parameters: Self.tiny))
        #expect(r.contains("input 'spatial'") && r.contains("shares no gene with any other input (reference)") && r.contains("gene names"), "\(r)")
    }

    @Test func spatialRoleWithoutCoordinates() throws {
        let r = try refused(T.job("pretrain", inputs: ["spatial": T.tissue.reference], parameters: Self.tiny))
        #expect(r.contains("input 'spatial'") && r.contains("has no cell coordinates") && r.contains("'reference'"), "\(r)")
    }

    @Test func parameterOutOfRangeWrongTypeOrUnknown() throws {
        let inputs = ["spatial": T.tissue.spatial]
        var r = try refused(T.job("pretrain", inputs: inputs, parameters: ["steps": .number(0)]))
        #expect(r == "parameter 'steps': 0 is below the minimum; allowed: an integer in 1...1000000")
        r = try refused(T.job("pretrain", inputs: inputs, parameters: ["preset": .string("huge")]))
        #expect(r == "parameter 'preset': \"huge\" is not a choice; allowed: one of: tiny, small, base")
        r = try refused(T.job("pretrain", inputs: inputs, parameters: ["stepz": .number(3)]))
        #expect(r.hasPrefix("workflow 'pretrain' has no parameter 'stepz'; its parameters are: preset"))
        r = try refused(T.job("embed", inputs: ["data": T.tissue.spatial], parameters: ["checkpoint": .string("/m.tsr"), "resolution": .number(9)]))
        #expect(r == "parameter 'resolution': 9 is above the maximum; allowed: a number in 0.05...5")
    }

    @Test func jobsTheWorkerCannotRun() throws {
        var r = try refused(T.job("umap", inputs: [:], parameters: [:], version: "1"))
        #expect(r.hasPrefix("unknown workflow 'umap'; known workflows: "))
        r = try refused(T.job("pretrain", inputs: ["spatial": T.tissue.spatial], parameters: [:], version: "0"))
        #expect(r.contains("asks for pretrain version 0 but this worker has version"))
        r = try refused(T.job("embed", inputs: [:], parameters: ["checkpoint": .string("/m.tsr")]))
        #expect(r == "workflow 'embed' needs an input with role 'data' (pass --dataset data=DATASET_ID)")
        r = try refused(T.job("embed", inputs: ["data": T.tissue.spatial, "query": T.tissue.spatial], parameters: ["checkpoint": .string("/m.tsr")]))
        #expect(r == "workflow 'embed' has no input role 'query'; its roles are: data")
        r = try refused(T.job("pretrain", inputs: ["spatial": "/no/such/file.h5ad"], parameters: Self.tiny))
        #expect(r.contains("/no/such/file.h5ad"))
        // A damaged job.json is a failure, not a crash.
        let f = try T.job("embed", inputs: [:], parameters: [:])
        try Data("{\"jobID\": 3".utf8).write(to: f.specURL)
        r = try refused(f)
        #expect(r.contains("job.json") && r.contains("cannot be read as a job"))
    }

    @Test func embedCheckpointMissingOrSharingNoGene() throws {
        var r = try refused(T.job("embed", inputs: ["data": T.tissue.spatial], parameters: ["checkpoint": .string("/no/model.tsr")]))
        #expect(r.hasPrefix("parameter 'checkpoint': /no/model.tsr"), "\(r)")
        let dir = T.tempDir("ckpt")
        let path = dir.appendingPathComponent("other.tsr")
        let model = try CellLM(config: .tiny(genes: 3), seed: 1)
        try Checkpoint(model: model, genes: ["Foo1", "Foo2", "Foo3"]).write(to: path)
        r = try refused(T.job("embed", inputs: ["data": T.tissue.spatial], parameters: ["checkpoint": .string(path.path)]))
        #expect(r.contains("input 'data'") && r.contains("shares no measured gene with the checkpoint's 3-gene vocabulary (e.g. Foo1, Foo2, Foo3)"), "\(r)")
    }
}
