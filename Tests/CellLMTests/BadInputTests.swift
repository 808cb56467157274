import Foundation
import Testing
import Tensor
@testable import CellLM

/// Bad configs, files and inputs end in an error that names the field, file or tensor and says what to do.
@Suite struct BadInputTests {
    static func tmp(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bad-\(UUID().uuidString)-\(name)")
    }

    @Test func configOutOfRange() {
        var c = CellLMConfig.tiny(genes: 10)
        c.hidden = 30
        #expect(throws: CellLMError.self) { try c.validate() }
        do { try c.validate() } catch { #expect(error.description.contains("hidden")) }
        c = .tiny(genes: 10); c.heads = 5
        do { try c.validate(); Issue.record("heads 5 accepted") } catch { #expect(error.description.contains("heads") && error.description.contains("divisor")) }
        c = .tiny(genes: 10); c.dropout = 1.5
        do { _ = try CellLM(config: c, seed: 0); Issue.record("dropout 1.5 accepted") } catch { #expect(error.description.contains("dropout")) }
        var o = TrainingOptions(); o.learningRate = -1
        do { try o.validate(); Issue.record("negative rate accepted") } catch { #expect(error.description.contains("learningRate")) }
    }

    @Test func checkpointFilesThatAreWrong() throws {
        let model = try CellLM(config: .tiny(genes: 12), seed: 1)
        let url = Self.tmp("good.tsr")
        defer { try? FileManager.default.removeItem(at: url) }
        try Checkpoint(model: model, genes: (0..<12).map { "g\($0)" }).write(to: url)
        let good = try Data(contentsOf: url)
        // Wrong version.
        var v2 = good; v2[8] = 2
        let u2 = Self.tmp("v2.tsr"); try v2.write(to: u2); defer { try? FileManager.default.removeItem(at: u2) }
        #expect(message { try Checkpoint.read(u2) }.contains("format version 2"))
        // Not our format (e.g. a raw CellPLM .ckpt).
        let u3 = Self.tmp("x.ckpt"); try Data("PK\u{3}\u{4}garbage-garbage".utf8).write(to: u3); defer { try? FileManager.default.removeItem(at: u3) }
        let m3 = message { try Checkpoint.read(u3) }
        #expect(m3.contains("magic") && m3.contains("cellplm_import.py") && m3.contains(u3.path))
        // Truncated.
        let u4 = Self.tmp("cut.tsr"); try good.prefix(good.count - 100).write(to: u4); defer { try? FileManager.default.removeItem(at: u4) }
        #expect(message { try Checkpoint.read(u4) }.contains("does not fit"))
        // Another model's shapes.
        var other = CellLMConfig.tiny(genes: 12); other.hidden = 64
        #expect(message { try Checkpoint.read(url, expect: other) }.contains("shape"))
        // One tensor with the wrong shape.
        var f = try TensorFile.read(url)
        let k = f.entries.firstIndex { $0.name == "decoder.layers.0.0.weight" }!
        f.entries[k].shape = [f.entries[k].shape[1], f.entries[k].shape[0]]
        let u5 = Self.tmp("shape.tsr"); try f.write(to: u5); defer { try? FileManager.default.removeItem(at: u5) }
        #expect(message { try Checkpoint.read(u5) }.contains("decoder.layers.0.0.weight"))
        // Gene list that does not match the vocabulary size.
        f = try TensorFile.read(url)
        f.meta["geneNames"] = ["a", "b"]
        let u6 = Self.tmp("genes.tsr"); try f.write(to: u6); defer { try? FileManager.default.removeItem(at: u6) }
        #expect(message { try Checkpoint.read(u6) }.contains("2 gene names"))
        // A header whose shape overflows, and a config asking for an impossible vocabulary.
        let header = String(decoding: good.prefix(16 + Int(good[12]) + Int(good[13]) << 8 + Int(good[14]) << 16).dropFirst(16), as: UTF8.self)
        var huge = header.replacingOccurrences(of: "\"shape\":[12,32]", with: "\"shape\":[9223372036854775807,32]")
        if huge == header { huge = header.replacingOccurrences(of: "\"shape\" : [\n    12,\n    32\n  ]", with: "\"shape\":[9223372036854775807,32]") }
        #expect(huge != header, "the header layout changed; update this test")
        var hostile = Data(good.prefix(12))
        withUnsafeBytes(of: UInt32(huge.utf8.count).littleEndian) { hostile.append(contentsOf: $0) }
        hostile.append(Data(huge.utf8))
        let u7 = Self.tmp("overflow.tsr"); try hostile.write(to: u7); defer { try? FileManager.default.removeItem(at: u7) }
        #expect(message { try Checkpoint.read(u7) }.contains("does not fit"))
        f = try TensorFile.read(url)
        var big = model.config; big.genes = 1 << 40
        f.config = try JSONEncoder().encode(big)
        let u8 = Self.tmp("genes-huge.tsr"); try f.write(to: u8); defer { try? FileManager.default.removeItem(at: u8) }
        #expect(message { try Checkpoint.read(u8) }.contains("genes"))
    }

    @Test func inputsThatAreWrong() throws {
        let model = try CellLM(config: .tiny(genes: 12, batchCount: 2), seed: 1)
        var seq = ModelGradientTests.sequence(cells: 10, genes: 12, seed: 3, batches: 2)
        var nan = seq; nan.counts.values[5] = .nan
        #expect(message { _ = try model.embed(nan) }.contains("NaN"))
        var wide = seq; wide.counts.cols = 13
        #expect(message { _ = try model.embed(wide) }.contains("vocabulary"))
        seq.batch = [Int32](repeating: 7, count: 10)
        #expect(message { _ = try model.embed(seq) }.contains("batch"))
    }

    /// A model pushed to overflow stops with the step and the first stage that went non-finite, and leaves the
    /// parameters as they were.
    @Test func divergingLossStopsTraining() throws {
        let model = try CellLM(config: .tiny(genes: 12), seed: 1)
        let trainer = try Trainer(model: model, options: TrainingOptions())
        var seq = ModelGradientTests.sequence(cells: 10, genes: 12, seed: 3, batches: 1)
        seq.batch = nil
        try trainer.step(seq)
        let w = model.params.value("encoder.layers.1._ff_block.3.weight")
        for i in 0..<model.params.info("encoder.layers.1._ff_block.3.weight").count { w[i] = 3e38 }
        let before = model.params.values.array
        let m = message { try trainer.step(seq) }
        #expect(m.contains("step 1") && m.contains("encoder layer 1"), "\(m)")
        let after = model.params.values.array
        #expect(zip(before, after).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) })
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }
}
