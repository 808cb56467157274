import Foundation

/// Sends `.progress` events for one phase with an ETA from the pace of this attempt (steps taken since the
/// reporter was made, so a resumed run does not count the earlier attempt's steps as instant). Events are
/// throttled to one per `minInterval` seconds, except the first and the last step, so long runs do not flood
/// `events.jsonl`.
///
///     let progress = ProgressReporter(context, phase: "train", total: steps, start: resumedStep)
///     progress.report(step: s + 1, values: ["loss": loss])     // adds "eta_s"
public final class ProgressReporter {
    public let phase: String
    public let total: Int
    private let context: WorkflowContext
    private let start: Int
    private let began = Date()
    private var lastSent: Date?
    private let minInterval: TimeInterval
    /// Steps of later phases that run at this pace after this one (the other members of an impute ensemble):
    /// the ETA covers them too, so it is the time to the job's end, not the phase's.
    public let followingSteps: Int

    public init(_ context: WorkflowContext, phase: String, total: Int, start: Int = 0, minInterval: TimeInterval = 0.5,
                followingSteps: Int = 0) {
        self.context = context; self.phase = phase; self.total = total; self.start = start; self.minInterval = minInterval
        self.followingSteps = max(0, followingSteps)
    }

    /// Seconds left, this phase and `followingSteps`, at the pace since the reporter was made; nil before the
    /// first step of this attempt.
    public func eta(step: Int) -> Double? {
        let done = step - start
        guard done > 0 else { return nil }
        return Date().timeIntervalSince(began) / Double(done) * Double(max(total - step, 0) + followingSteps)
    }

    /// Reports that `step` of `total` are done. `values` (loss…) go into the event with `eta_s`; non-finite
    /// values are dropped (JSON has no NaN).
    public func report(step: Int, epoch: Int? = nil, values: [String: Double] = [:], force: Bool = false) {
        let now = Date()
        let due = force || step >= total || step <= start + 1 || lastSent.map { now.timeIntervalSince($0) >= minInterval } ?? true
        guard due else { return }
        lastSent = now
        var v = values.filter { $0.value.isFinite }
        if let e = eta(step: step) { v["eta_s"] = e }
        context.emit(JobEvent(kind: .progress, phase: phase, step: step, total: total, epoch: epoch, values: v.isEmpty ? nil : v))
    }
}
