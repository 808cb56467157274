import Foundation

/// The step loop every training workflow shares: progress with ETA, a checkpoint every `checkpointEvery`
/// steps and at the end, and cancellation checked before every step (on cancel it saves, then throws
/// `WorkflowError.cancelled`, so a rerun resumes where this one stopped).
///
///     try TrainingLoop(context, phase: "train", total: steps, checkpointEvery: 50).run(from: resumedStep,
///         step: { s in ["loss": Double(try trainer.step(batch(s)).total)] },
///         save: { s in try store.save(makeCheckpoint(), step: s, context: context) })
///
/// `step(s)` performs step s (0-based) and returns the values to report (the "loss" key is what the UI plots);
/// `save(n)` writes the state after n steps. A cancellation before the first step of this attempt saves
/// nothing when `savedAtStart` (the attempt resumed from the checkpoint of `start`, or starts from scratch at 0:
/// nothing would be lost).
public struct TrainingLoop {
    public let context: WorkflowContext
    public let phase: String
    public let total: Int
    public let checkpointEvery: Int
    /// Steps per epoch, to fill the events' `epoch` field (nil: not reported).
    public var epochLength: Int?
    /// Steps that follow this loop at the same pace (later ensemble members); the ETA includes them.
    public var followingSteps: Int

    public init(_ context: WorkflowContext, phase: String = "train", total: Int, checkpointEvery: Int, epochLength: Int? = nil,
                followingSteps: Int = 0) {
        self.context = context; self.phase = phase; self.total = total; self.checkpointEvery = max(1, checkpointEvery)
        self.epochLength = epochLength; self.followingSteps = followingSteps
    }

    /// Runs steps `start..<total`. Returns the values of every step run in this attempt, in order.
    @discardableResult
    public func run(from start: Int, savedAtStart: Bool = true, step: (Int) throws -> [String: Double],
                    save: (Int) throws -> Void) throws -> [[String: Double]] {
        let progress = ProgressReporter(context, phase: phase, total: total, start: start, followingSteps: followingSteps)
        var history: [[String: Double]] = []
        var lastSaved: Int? = savedAtStart ? start : nil
        for s in start..<max(start, total) {
            if context.isCancelled {
                if lastSaved != s { try save(s) }
                throw WorkflowError.cancelled
            }
            let values = try step(s)
            history.append(values)
            progress.report(step: s + 1, epoch: epochLength.map { s / max($0, 1) }, values: values)
            if (s + 1) % checkpointEvery == 0 && s + 1 < total { try save(s + 1); lastSaved = s + 1 }
        }
        if lastSaved != total { try save(total) }
        return history
    }
}
