/// Errors of the project store, each naming what was asked and what to change.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(kind: String, id: String)
    case duplicate(kind: String, name: String)
    case invalidTransition(job: String, from: JobState, to: JobState)
    case invalid(field: String, problem: String)
    /// The database file cannot be trusted or used (damaged, written by a newer version): start-up stops.
    case unusable(path: String, problem: String, fix: String)
    /// The disk under the database is full: a write could not be stored.
    case noSpace(path: String)

    public var description: String {
        switch self {
        case let .notFound(kind, id): return "no \(kind) '\(id)'; list them with `tessera \(kind == "job" ? "jobs" : "\(kind) list")`"
        case let .duplicate(kind, name): return "a \(kind) named '\(name)' already exists; pick another name"
        case let .invalidTransition(job, from, to):
            return "job \(job) is \(from.rawValue) and cannot become \(to.rawValue)" + (from.isTerminal ? " (it has finished; submit it again instead)" : "")
        case let .invalid(field, problem): return "\(field): \(problem)"
        case let .unusable(path, problem, fix): return "\(path): \(problem). \(fix)"
        case let .noSpace(path): return "no space left on the device holding \(path); free some space, then retry"
        }
    }
}
