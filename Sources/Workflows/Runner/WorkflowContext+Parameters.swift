import Foundation

/// Typed access to a job's validated parameters. The runner has already checked every value against the
/// spec (type, range, choices) and filled defaults, so these only fail when a workflow asks for a name its
/// spec does not declare, or for an optional parameter without default that the job left out; the error
/// then names the parameter.
///
///     let steps = try context.int("steps")
///     let lr = try context.float("lr")
///     let usePosition = try context.bool("position_embedding")
extension WorkflowContext {
    /// The raw value, nil when not set (an optional parameter without default).
    public func value(_ name: String) -> JSONValue? { parameters[name] }

    /// Whether the parameter is set (always true for one with a default).
    public func has(_ name: String) -> Bool { parameters[name] != nil }

    public func double(_ name: String) throws(WorkflowError) -> Double {
        guard let x = parameters[name]?.doubleValue else { throw missing(name, "a number") }
        return x
    }

    public func float(_ name: String) throws(WorkflowError) -> Float { Float(try double(name)) }

    public func int(_ name: String) throws(WorkflowError) -> Int {
        guard let x = parameters[name]?.int64Value else { throw missing(name, "an integer") }
        return Int(x)
    }

    public func bool(_ name: String) throws(WorkflowError) -> Bool {
        guard case .bool(let b)? = parameters[name] else { throw missing(name, "true or false") }
        return b
    }

    public func string(_ name: String) throws(WorkflowError) -> String {
        guard case .string(let s)? = parameters[name] else { throw missing(name, "a string") }
        return s
    }

    /// A string parameter naming one case of `T` (the spec's `choices` are its raw values). A value the spec let
    /// through but `T` does not know is an error naming the parameter and the allowed values, never a default.
    public func choice<T: RawRepresentable & CaseIterable>(_ name: String, as: T.Type) throws(WorkflowError) -> T
    where T.RawValue == String {
        let s = try string(name)
        guard let v = T(rawValue: s) else {
            throw .invalidParameter(name: name, message: "is '\(s)'; allowed: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }

    /// An optional string parameter: nil when not set.
    public func optionalString(_ name: String) throws(WorkflowError) -> String? {
        guard let v = parameters[name] else { return nil }
        guard case .string(let s) = v else { throw missing(name, "a string") }
        return s
    }

    public func strings(_ name: String) throws(WorkflowError) -> [String] {
        guard case .array(let a)? = parameters[name] else { throw missing(name, "a list of strings") }
        var out: [String] = []
        for e in a {
            guard case .string(let s) = e else { throw missing(name, "a list of strings") }
            out.append(s)
        }
        return out
    }

    /// A `checkpoint` parameter as a file URL (relative paths are taken from the current directory). Does not
    /// read the file; `Checkpoint.read` reports a missing or damaged one.
    public func checkpointURL(_ name: String) throws(WorkflowError) -> URL {
        URL(fileURLWithPath: try string(name))
    }

    /// The job's seed: every random choice of a workflow derives from it. The `seed` parameter when the job
    /// sets one (to repeat a run, or to draw another split on purpose), else the seed the daemon derived from
    /// the job id (`job.json`) reduced to 53 bits, so that every seed a job reports can be given back as an
    /// exact `seed` parameter (JSON numbers are exact to 2^53 in every client).
    public var seed: UInt64 {
        if let s = parameters["seed"]?.int64Value, s >= 0 { return UInt64(s) }
        return spec.seed & Self.seedMask
    }

    /// The largest seed a job reports or accepts: 2^53 − 1.
    public static let seedMask: UInt64 = (1 << 53) - 1

    /// The bound roles of input slot `base`, in order: `base`, `base.2`, `base.3`… (for `multiple` slots).
    public func roles(_ base: String) -> [String] { WorkflowSpec.boundRoles(base, in: roles) }

    /// Throws `WorkflowError.cancelled` once the daemon asked the worker to stop. Call it between steps, after
    /// saving what a rerun needs (see `TrainingLoop`, which does both).
    public func checkCancelled() throws(WorkflowError) {
        if isCancelled { throw .cancelled }
    }

    private func missing(_ name: String, _ type: String) -> WorkflowError {
        .invalidParameter(name: name, message: parameters[name] == nil
            ? "is not set; give \(type) in the job's parameters"
            : "holds \(parameters[name]!.shown), not \(type)")
    }
}
