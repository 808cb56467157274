import Foundation
import Testing
import Tensor
@testable import CellLM

/// CellPLM's released layout end to end: a randomly initialised model with the released 85M configuration,
/// saved by the `cellplm` package as its checkpoints are, converted by scripts/cellplm_import.py, then loaded
/// here and run. Needs the benchmark venv with torch and cellplm (bash ../shared/bench/install.sh .venv-bench);
/// skipped without it (CI has no torch). The converter checks every tensor bit for bit itself (--verify).
@Suite struct WeightImportTests {
    static let python = ".venv-bench/bin/python"

    static func run(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out; p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        if p.terminationStatus != 0 { throw CellLMError.tensorFile(file: args.first ?? "", problem: "failed: \(text.suffix(1500))", fix: "") }
        return text
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: python), "no .venv-bench (torch + cellplm): skipped"))
    func releasedBaseLayoutConvertsAndRuns() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-ckpt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try Self.run(["scripts/cellplm_make_random_ckpt.py", dir.path])
        let prefix = dir.appendingPathComponent("20230926_85M_random").path
        let out = dir.appendingPathComponent("85M.tsr").path
        _ = try Self.run(["scripts/cellplm_import.py", "--ckpt", prefix + ".best.ckpt", "--config", prefix + ".config.json",
                          "--out", out, "--verify"])
        let ck = try Checkpoint.read(URL(fileURLWithPath: out))
        let c = ck.model.config
        #expect(c.genes == 19_374 && c.hidden == 1024 && c.layers == 4 && c.heads == 8 && c.latent == .gmvae)
        #expect(c.batchCount == 12_596 && c.datasetCount == 484 && !c.positionEmbedding)
        #expect(ck.genes.count == 19_374 && ck.genes[0].hasPrefix("ENSG"))
        #expect(ck.model.params.count > 70_000_000)
        // The weights are the package's: the gene-embedding table's spread is its N(0, 0.005²) initialisation.
        let emb = ck.model.params.array("embedder.feat_enc.emb")
        let sd = (emb.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(emb.count)).squareRoot()
        #expect(abs(sd - 0.005) < 2e-4)
        // And the model runs on them: 64 cells, genes in the vocabulary's order.
        let seq = ModelGradientTests.sequence(cells: 64, genes: 19_374, seed: 4, batches: 1)
        var unlabelled = seq; unlabelled.batch = nil
        let e = try ck.model.embed(unlabelled)
        #expect(e.rows == 64 && e.cols == 512 && e.data.allSatisfy(\.isFinite))
    }
}
