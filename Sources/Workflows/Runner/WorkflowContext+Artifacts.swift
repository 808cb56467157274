import Foundation

/// Writing results: files under `artifacts/`, announced with `.artifact` events whose path is relative to
/// the job folder, and the `artifacts/metrics.json` every workflow leaves.
extension WorkflowContext {
    /// `artifacts/NAME` in the job folder (the folder is created).
    public func artifactURL(_ name: String) throws -> URL {
        try FileManager.default.createDirectory(at: folder.artifacts, withIntermediateDirectories: true)
        return folder.artifacts.appendingPathComponent(name)
    }

    /// Announces a finished artifact: `.artifact` with path `artifacts/NAME` and text = kind ("h5ad",
    /// "checkpoint", "metrics", "png").
    public func emitArtifact(_ name: String, kind: String) {
        emit(JobEvent(kind: .artifact, path: "artifacts/\(name)", text: kind))
    }

    /// Writes `artifacts/metrics.json` and announces it: `{"workflow", "version", "job", "seed" (the one the run
    /// used, exact: give it back as the `seed` parameter to repeat the run), "parameters",
    /// "metrics", "details"}` with keys sorted. `metrics` are the final numbers (also sent as one `.metric`
    /// event); `details` holds anything else worth keeping (loss curve, per-gene scores, counts…).
    /// Non-finite metrics are written as null (JSON has no NaN) and left out of the event.
    public func writeMetrics(_ metrics: [String: Double], details: [String: JSONValue] = [:]) throws {
        let finite = metrics.filter { $0.value.isFinite }
        var doc: [String: JSONValue] = [
            "workflow": .string(spec.workflow), "version": .string(spec.version), "job": .string(spec.jobID),
            "seed": .integer(Int64(seed)), "parameters": .object(parameters),
            "metrics": .object(metrics.mapValues { $0.isFinite ? .number($0) : .null }),
        ]
        if !details.isEmpty { doc["details"] = .object(details) }
        let e = JSONEncoder(); e.outputFormatting = [.sortedKeys, .prettyPrinted]
        try e.encode(JSONValue.object(doc)).write(to: try artifactURL("metrics.json"), options: .atomic)
        if !finite.isEmpty { emit(JobEvent(kind: .metric, values: finite)) }
        emitArtifact("metrics.json", kind: "metrics")
    }

    /// The workflow, its version and parameters as one JSON string: what result files record (h5ad `uns`).
    public func parametersJSON() -> String {
        let doc: JSONValue = .object(["workflow": .string(spec.workflow), "version": .string(spec.version),
                                      "job": .string(spec.jobID), "seed": .integer(Int64(seed)),
                                      "parameters": .object(parameters)])
        let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]
        return (try? e.encode(doc)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }
}
