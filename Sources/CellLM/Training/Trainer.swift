import Foundation
import Tensor

/// Optimisation settings (CellPLM's pipelines: AdamW, the embedder at 0.1× the rate, linear warm-up,
/// ReduceLROnPlateau on the epoch loss, global-norm clipping at 2.0).
public struct TrainingOptions: Codable, Sendable, Equatable {
    public var learningRate: Float = 2e-4
    public var weightDecay: Float = 1e-8
    public var embedderLRScale: Float = 0.1
    public var embedderWeightDecay: Float = 1e-10
    public var warmupSteps: Int = 0
    public var plateauFactor: Float = 0.9
    public var plateauPatience: Int = 5
    public var clipNorm: Float = 2
    public init() {}

    public func validate() throws(CellLMError) {
        if !(learningRate > 0 && learningRate < 1) { throw .invalidConfig(field: "learningRate", value: "\(learningRate)", allowed: "0 < rate < 1") }
        if !(weightDecay >= 0) { throw .invalidConfig(field: "weightDecay", value: "\(weightDecay)", allowed: ">= 0") }
        if !(clipNorm > 0) { throw .invalidConfig(field: "clipNorm", value: "\(clipNorm)", allowed: "> 0") }
        if warmupSteps < 0 { throw .invalidConfig(field: "warmupSteps", value: "\(warmupSteps)", allowed: ">= 0") }
        if !(plateauFactor > 0 && plateauFactor <= 1) { throw .invalidConfig(field: "plateauFactor", value: "\(plateauFactor)", allowed: "0 < factor <= 1") }
    }
}

/// Drives optimisation of a `CellLM`: zero gradients, forward/backward, NaN checks that name the layer,
/// clipping, AdamW and the schedule. State lives in the model, optimizer and schedule, all in checkpoints.
public final class Trainer {
    public let model: CellLM
    public let optimizer: AdamW
    public var schedule: LRSchedule
    public let options: TrainingOptions

    public init(model: CellLM, options: TrainingOptions, optimizer: AdamW? = nil, schedule: LRSchedule? = nil) throws(CellLMError) {
        try options.validate()
        self.model = model; self.options = options
        self.optimizer = optimizer ?? AdamW(count: model.params.count, groups: [
            .init(lrScale: 1, weightDecay: options.weightDecay),
            .init(lrScale: options.embedderLRScale, weightDecay: options.embedderWeightDecay)])
        self.schedule = schedule ?? LRSchedule(baseLR: options.learningRate, warmupSteps: options.warmupSteps,
                                               factor: options.plateauFactor, patience: options.plateauPatience)
    }

    /// One optimizer step on one sequence. A non-finite loss or gradient stops with an error naming the step
    /// and the place; parameters are left untouched in that case.
    @discardableResult
    public func step(_ seq: CellSequence, objective: NBLoss.Objective? = nil) throws(CellLMError) -> StepLoss {
        model.params.zeroGrads()
        let loss = try model.trainStep(seq, objective: objective)
        try Profile.measure("clip + optimizer") { () throws(CellLMError) in try applyGradients() }
        return loss
    }

    /// Clips the accumulated gradients to `clipNorm` and takes one AdamW step at the scheduled rate. The
    /// clipping norm doubles as the NaN check: a non-finite gradient makes it non-finite, and the parameters
    /// are left untouched.
    func applyGradients() throws(CellLMError) {
        let norm = AdamW.gradientNorm(model.params)
        if !norm.isFinite {
            throw .nonFinite(step: model.step - 1, where: "the gradient of \(firstNonFiniteGradient() ?? "a parameter")")
        }
        if norm > options.clipNorm {
            let scale = options.clipNorm / (norm + 1e-6), g = model.params.grads.pointer
            Parallel.forEach(model.params.count, grain: 1 << 16) { r in for i in r { g[i] *= scale } }
        }
        optimizer.step(model.params, lr: schedule.rate(step: optimizer.t))
    }

    /// The first parameter tensor whose gradient holds NaN or ±inf.
    func firstNonFiniteGradient() -> String? {
        let g = model.params.grads.pointer
        for info in model.params.infos {
            for i in info.offset..<(info.offset + info.count) where !g[i].isFinite { return info.name }
        }
        return nil
    }
}
