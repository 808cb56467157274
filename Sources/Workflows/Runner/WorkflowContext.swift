import CellLM
import Foundation
import SpatialData

/// One workflow the worker can run (pretrain, embed, impute, cluster-supcon). The runner validates the job's
/// parameters against the workflow's spec (`workflows/NAME.json`) before `run` is called, so `run` reads
/// parameters that are present and in range.
public protocol WorkflowImplementation: Sendable {
    /// The name in the spec and in `job.json` ("embed").
    static var name: String { get }
    /// Checks the inputs before any compute (genes shared, label column present, coordinates for a spatial
    /// role…). Throws `WorkflowError` with a message that says what to change.
    static func check(_ context: WorkflowContext) throws
    /// Runs to completion, or stops early when `context.isCancelled` (after writing a checkpoint). Resumes
    /// from `context.checkpoints` when an earlier attempt left one there.
    static func run(_ context: WorkflowContext) throws
}

/// What a running workflow sees: its job folder, validated parameters, inputs by role, an event sink and the
/// cancellation flag (set by SIGTERM in the worker process).
public final class WorkflowContext: @unchecked Sendable {
    public let folder: JobFolder
    public let spec: JobFolder.Spec
    /// Parameters with the spec's defaults filled in.
    public let parameters: [String: JSONValue]
    public let events: JobEventWriter
    private let cancelled: @Sendable () -> Bool
    private var loaded: [String: Dataset] = [:]
    private var checkpoints: [String: Checkpoint] = [:]
    private let lock = NSLock()

    public init(folder: JobFolder, spec: JobFolder.Spec, parameters: [String: JSONValue], events: JobEventWriter,
                cancelled: @escaping @Sendable () -> Bool) {
        self.folder = folder; self.spec = spec; self.parameters = parameters; self.events = events; self.cancelled = cancelled
    }

    /// True once the daemon has asked the worker to stop: finish the current step, checkpoint, return.
    public var isCancelled: Bool { cancelled() }

    /// The dataset bound to `role`, read once. With `input_transform = log_normalized` its values are taken as
    /// log1p of normalised expression and turned back with expm1 (the model reads non-negative expression and
    /// applies log1p itself), so normalised files are not logged twice.
    public func dataset(_ role: String) throws -> Dataset {
        lock.lock(); defer { lock.unlock() }
        if let d = loaded[role] { return d }
        guard let path = spec.inputs[role] else { throw WorkflowError.missingInput(role: role, workflow: spec.workflow) }
        var d = try DatasetReader.read(path: path)
        if case .string("log_normalized")? = parameters["input_transform"] {
            d.counts.values = d.counts.values.map { Foundation.expm1($0) }
        }
        loaded[role] = d
        return d
    }

    /// The share of a dataset's stored non-zero values that are not whole numbers (normalised input reads as
    /// counts only by mistake).
    public static func nonIntegerShare(_ d: Dataset) -> Double {
        let v = d.counts.values
        guard !v.isEmpty else { return 0 }
        return Double(v.reduce(0) { $0 + ($1.rounded() == $1 ? 0 : 1) }) / Double(v.count)
    }

    /// The checkpoint named by parameter `name`, read once (a workflow's `check` and `run` share it: a `base`
    /// checkpoint is 340 MB). Unreadable files and checkpoints without a gene list are refused.
    public func checkpoint(_ name: String) throws -> Checkpoint {
        let url = try checkpointURL(name)
        lock.lock(); defer { lock.unlock() }
        if let c = checkpoints[name] { return c }
        let c: Checkpoint
        do { c = try Checkpoint.read(url) } catch { throw WorkflowError.invalidParameter(name: name, message: error.description) }
        if c.genes.isEmpty {
            throw WorkflowError.invalidParameter(name: name, message: "\(url.path) lists no gene names, so the dataset's genes cannot be matched to it; use a checkpoint written by pretrain or converted with its gene list")
        }
        checkpoints[name] = c
        return c
    }

    /// Roles bound in this job, sorted.
    public var roles: [String] { spec.inputs.keys.sorted() }

    public func emit(_ event: JobEvent) { try? events.append(event) }
}
