import Foundation

/// Why a workflow refused to start or stopped. Every message names the input or parameter and says what to
/// change; the worker writes it verbatim into `exit.json`, and the CLI shows it.
public enum WorkflowError: Error, CustomStringConvertible, Sendable, Equatable {
    case unknownWorkflow(name: String, known: [String])
    case invalidParameter(name: String, message: String)
    case unknownParameter(name: String, workflow: String, known: [String])
    case missingInput(role: String, workflow: String)
    case unknownInput(role: String, workflow: String, known: [String])
    /// Input data that cannot be used as asked (no shared genes, no coordinates, a single-class label column…).
    case badInput(role: String, file: String, message: String)
    case invalidSpec(file: String, message: String)
    case cancelled

    /// Whether running the same job again could succeed (bad input or parameters never do).
    public var isRetryable: Bool { false }

    public var description: String {
        switch self {
        case .unknownWorkflow(let n, let known): return "unknown workflow '\(n)'; known workflows: \(known.joined(separator: ", "))"
        case .invalidParameter(let n, let m): return "parameter '\(n)': \(m)"
        case .unknownParameter(let n, let w, let known):
            return "workflow '\(w)' has no parameter '\(n)'; its parameters are: \(known.joined(separator: ", "))"
        case .missingInput(let r, let w): return "workflow '\(w)' needs an input with role '\(r)' (pass --dataset \(r)=DATASET_ID)"
        case .unknownInput(let r, let w, let known):
            return "workflow '\(w)' has no input role '\(r)'; its roles are: \(known.joined(separator: ", "))"
        case .badInput(let r, let f, let m): return "input '\(r)' (\(f)): \(m)"
        case .invalidSpec(let f, let m): return "workflow spec \(f): \(m)"
        case .cancelled: return "cancelled"
        }
    }
}
