import ArgumentParser
import CellLM
import Foundation
import SpatialData
import Tensor
import Workflows

/// `tessera-bench learn`: pretrains a CellLM on real tissue for a fixed time and prints the held-out
/// masked-gene NB loss against the per-gene mean-profile baseline as it goes.
struct LearnBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "learn",
        abstract: "Pretrain on osmFISH (5×5 spatial tiles, every 5th held out) and track held-out masked-gene NB loss vs the mean profile.")

    @Option(help: "Spatial dataset.") var data = "../shared/data/osmfish/osmfish_valid_cells.h5ad"
    @Option(help: "Model config preset.") var config = "small"
    @Option(help: "Minutes of training.") var minutes = 3.0
    @Option(help: "Stop after this many steps (0 = time only).") var steps = 0
    @Option(help: "Peak learning rate.") var lr: Float = 1e-3
    @Option(help: "Warm-up steps.") var warmup = 100
    @Option(help: "AdamW weight decay.") var weightDecay: Float = 1e-8
    @Option(help: "Evaluate every this many steps.") var every = 200
    @Option(help: "Tiles per side.") var grid = 5
    @Flag(help: "Switch the spatial position embedding off.") var noPosition = false
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Flag(help: "Keep PyTorch's default decoder bias (no data-dependent start).") var noDataInit = false
    @Option(help: "Latent: gmvae or vae.") var latent = "vae"
    @Option(help: "Latent loss weights (Gaussian/KL and categorical).") var latentWeight: Float = 5
    @Option(help: "Free-bits floor.") var freeBits: Float = 5
    @Option(help: "Dropout.") var dropout: Float = 0.2
    @Flag(help: "Evaluate on the training tiles instead (a fit check).") var evalTrain = false
    @Option(help: "Embedder learning-rate multiplier (CellPLM fine-tunes it at 0.1; from scratch it must learn).") var embedderScale: Float = 1
    @Option(help: "Initial bias of the latent variance head (nil = PyTorch default).") var varBias: Float?

    func run() throws {
        let ds = DatasetSequences.tiled(try DatasetReader.read(path: data), grid: grid)
        let set = try DatasetSequences.make(ds)
        let train = set.sequences.indices.filter { $0 % 5 != 2 }.map { set.sequences[$0] }
        let test = set.sequences.indices.filter { $0 % 5 == 2 }.map { set.sequences[$0] }
        guard !train.isEmpty, !test.isEmpty else {
            throw ValidationError("\(data): \(set.sequences.count) tile(s) with cells; need at least 3 so some train and one is held out. Raise --grid or use a dataset with coordinates.")
        }
        guard var cfg = CellLMConfig.preset(config, genes: ds.geneCount) else { throw ValidationError("unknown config") }
        cfg.positionEmbedding = !noPosition
        cfg.latent = LatentKind(rawValue: latent) ?? .gmvae
        cfg.gaussianWeight = latentWeight; cfg.categoricalWeight = latentWeight; cfg.freeBits = freeBits
        cfg.dropout = dropout
        if dropout == 0 { cfg.attentionDropout = 0 }
        let model = try CellLM(config: cfg, seed: seed)
        if let varBias {
            let name = cfg.latent == .gmvae ? "latent.layers.1.inference.inference_qzyx.2.var.bias" : "latent.layers.1.hid_2sigma.bias"
            model.params.set(name, [Float](repeating: varBias, count: cfg.latentDim))
        }
        if !noDataInit { model.initializeDecoderBias(from: train) }
        var opts = TrainingOptions(); opts.learningRate = lr; opts.warmupSteps = warmup; opts.embedderLRScale = embedderScale; opts.weightDecay = weightDecay
        let trainer = try Trainer(model: model, options: opts)
        let stats = MaskedEvaluation.geneStatistics(train)
        print("\(ds.name): \(ds.cellCount) cells × \(ds.geneCount) genes, \(train.count) training tiles (\(train.reduce(0) { $0 + $1.cells }) cells), \(test.count) held out (\(test.reduce(0) { $0 + $1.cells }) cells); \(config), position embedding \(cfg.positionEmbedding ? "on" : "off"), lr \(lr)")
        let knn = MaskedEvaluation.nearestNeighbourBaseline(train: train, test: test, theta: stats.theta)
        print(String(format: "reference: 15 nearest training cells on the visible genes score %.3f on the same held-out entries", knn))
        print("step  seconds  train-recon  held-out-NLL  mean-profile  ratio")
        var rng = SeededRNG(seed: seed &+ 1)
        let start = Date()
        var step = 0, recent: [Float] = []
        func report() throws {
            let e = try MaskedEvaluation.evaluate(model: model, sequences: evalTrain ? train : test, profile: stats.mean, baselineTheta: stats.theta)
            let avg = recent.isEmpty ? Float.nan : recent.reduce(0, +) / Float(recent.count)
            print(String(format: "%5d  %7.1f  %11.2f  %12.3f  %12.3f  %5.3f", step, Date().timeIntervalSince(start), avg, e.model, e.baseline, e.model / e.baseline))
            recent = []
        }
        try report()
        while Date().timeIntervalSince(start) < minutes * 60 && (steps == 0 || step < steps) {
            recent.append(try trainer.step(train[rng.int(below: train.count)]).reconstruction)
            step += 1
            if step % every == 0 { try report() }
        }
        try report()
        // Diagnostic: per gene, correlation over held-out cells between log predicted mean (unmasked input) and
        // log1p(count); and the spread of the embeddings.
        var cors: [Double] = []
        for seq in test {
            let m = try model.reconstruct(seq)
            let n = seq.cells, g = seq.counts.cols
            var dense = [Float](repeating: 0, count: n * g)
            dense.withUnsafeMutableBufferPointer { seq.counts.densify(into: $0.baseAddress!) }
            for j in 0..<g {
                let a = (0..<n).map { Double(log(m.data[$0 * g + j])) }, b = (0..<n).map { Double(log1p(dense[$0 * g + j])) }
                let ma = a.reduce(0, +) / Double(n), mb = b.reduce(0, +) / Double(n)
                var sab = 0.0, saa = 0.0, sbb = 0.0
                for i in 0..<n { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb) }
                cors.append(sab / max((saa * sbb).squareRoot(), 1e-12))
            }
            let e = try model.embed(seq)
            var sd = 0.0
            for j in 0..<e.cols { let col = (0..<e.rows).map { Double(e[$0, j]) }; let mu = col.reduce(0, +) / Double(e.rows); sd += (col.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(e.rows)).squareRoot() }
            print(String(format: "tile %d cells: mean per-dim sd of embeddings %.4f", n, sd / Double(e.cols)))
        }
        print(String(format: "median per-gene correlation of predicted log-mean with log1p(count), unmasked input: %.3f", cors.sorted()[cors.count / 2]))
    }
}
