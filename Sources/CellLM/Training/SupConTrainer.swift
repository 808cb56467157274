import Foundation
import Tensor

/// Drives SupCon fine-tuning (cellplm.md §6.2): AdamW over the model (embedder group at 0.1× the rate) and the
/// projection head, linear warm-up, global-norm clipping over model and head together, NaN checks. The whole
/// state (model, head, both optimizers, schedule, generators) goes into one checkpoint file, which
/// `Checkpoint.read` also opens as a plain model checkpoint (it skips the head's tensors).
public final class SupConTrainer {
    public let model: CellLM
    public let head: SupConHead
    public let optimizer: AdamW
    public let headOptimizer: AdamW
    public var schedule: LRSchedule
    public let options: TrainingOptions
    public let temperature: Float

    /// CellPLM's SupCon recipe: encoder, latent and head at `learningRate` (5e-4 there) with weight decay 1e-6,
    /// the embedder at 0.1× with 1e-10.
    public static func options(learningRate: Float, warmupSteps: Int) -> TrainingOptions {
        var o = TrainingOptions()
        o.learningRate = learningRate; o.weightDecay = 1e-6; o.embedderLRScale = 0.1; o.embedderWeightDecay = 1e-10
        o.warmupSteps = warmupSteps
        return o
    }

    public init(model: CellLM, head: SupConHead, options: TrainingOptions, temperature: Float = 0.07,
                optimizer: AdamW? = nil, headOptimizer: AdamW? = nil, schedule: LRSchedule? = nil) throws(CellLMError) {
        try options.validate()
        if !(temperature > 0) || !temperature.isFinite {
            throw .invalidConfig(field: "temperature", value: "\(temperature)", allowed: "a positive number (CellPLM's SupCon uses 0.07)")
        }
        self.model = model; self.head = head; self.options = options; self.temperature = temperature
        self.optimizer = optimizer ?? AdamW(count: model.params.count, groups: [
            .init(lrScale: 1, weightDecay: options.weightDecay),
            .init(lrScale: options.embedderLRScale, weightDecay: options.embedderWeightDecay)])
        self.headOptimizer = headOptimizer ?? AdamW(count: head.params.count, groups: [.init(lrScale: 1, weightDecay: options.weightDecay)])
        self.schedule = schedule ?? LRSchedule(baseLR: options.learningRate, warmupSteps: options.warmupSteps,
                                               factor: options.plateauFactor, patience: options.plateauPatience)
    }

    /// One optimizer step on one sequence (labels: class ≥ 0 or −1 unlabelled). A sequence without anchors
    /// changes nothing and returns a zero loss.
    @discardableResult
    public func step(_ seq: CellSequence, labels: [Int32]) throws(CellLMError) -> SupConStepLoss {
        model.params.zeroGrads(); head.params.zeroGrads()
        let loss = try model.supConStep(seq, labels: labels, head: head, temperature: temperature)
        if loss.anchors == 0 { return loss }
        let a = AdamW.gradientNorm(model.params), b = AdamW.gradientNorm(head.params)
        let norm = (a * a + b * b).squareRoot()
        if !norm.isFinite { throw .nonFinite(step: model.step - 1, where: "the gradient of the \(a.isFinite ? "projection head" : "model")") }
        if norm > options.clipNorm {
            let scale = options.clipNorm / (norm + 1e-6)
            for ps in [model.params, head.params] {
                let g = ps.grads.pointer
                Parallel.forEach(ps.count, grain: 1 << 16) { r in for i in r { g[i] *= scale } }
            }
        }
        let lr = schedule.rate(step: optimizer.t)
        optimizer.step(model.params, lr: lr)
        headOptimizer.step(head.params, lr: lr)
        return loss
    }

    /// Writes model, head, both optimizers and the schedule to one file, atomically: both halves go to fresh
    /// temporary names beside `url`, then one POSIX rename replaces `url` (Foundation's replaceItemAt failed
    /// here on Linux when the destination existed).
    public func write(to url: URL, genes: [String], progress: [String: Double]) throws {
        let dir = url.deletingLastPathComponent(), tag = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let part = dir.appendingPathComponent(".\(url.lastPathComponent).model-\(tag)")
        let whole = dir.appendingPathComponent(".\(url.lastPathComponent).whole-\(tag)")
        defer { try? FileManager.default.removeItem(at: part); try? FileManager.default.removeItem(at: whole) }
        try Checkpoint(model: model, genes: genes, optimizer: optimizer, schedule: schedule, progress: progress).write(to: part)
        var f = try TensorFile.read(part)
        f.entries += head.entries()
        f.entries.append(.init(name: "head.optimizer.m", shape: [head.params.count], values: .f32(headOptimizer.m.array)))
        f.entries.append(.init(name: "head.optimizer.v", shape: [head.params.count], values: .f32(headOptimizer.v.array)))
        f.meta["headOptimizer"] = ["t": headOptimizer.t]
        f.meta["temperature"] = Double(temperature)
        try f.write(to: whole)
        if rename(whole.path, url.path) != 0 {
            throw CellLMError.tensorFile(file: url.path, problem: "could not be replaced (\(String(cString: strerror(errno))))", fix: "Check that its folder is writable.")
        }
    }

    /// Reads a file written by `write`: the trainer resumes exactly where it stopped. `config`, when given,
    /// overrides the stored training knobs (dropout, position embedding) but not the shapes.
    public static func read(_ url: URL, options: TrainingOptions, temperature: Float, config: CellLMConfig? = nil) throws(CellLMError)
    -> (trainer: SupConTrainer, genes: [String], progress: [String: Double]) {
        let ck = try Checkpoint.read(url, expect: config)
        let f = try TensorFile.read(url)
        let head = try SupConHead.restore(from: f, file: url.path, dropout: ck.model.config.dropout)
        let hopt = AdamW(count: head.params.count, groups: [.init(lrScale: 1, weightDecay: options.weightDecay)])
        if let m = f.entry("head.optimizer.m")?.floats, let v = f.entry("head.optimizer.v")?.floats,
           m.count == head.params.count, v.count == head.params.count {
            for i in 0..<m.count { hopt.m[i] = m[i]; hopt.v[i] = v[i] }
            hopt.t = (f.meta["headOptimizer"] as? [String: Any])?["t"] as? Int ?? 0
        }
        let trainer = try SupConTrainer(model: ck.model, head: head, options: options, temperature: temperature,
                                        optimizer: ck.optimizer, headOptimizer: hopt, schedule: ck.schedule)
        return (trainer, ck.genes, ck.progress)
    }
}
