import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The on-disk contract between the daemon and a worker process (../shared/DESIGN.md): a worker reads
/// `job.json`, appends progress to `events.jsonl`, writes artifacts under `artifacts/`, checkpoints under
/// `checkpoints/`, and finally `exit.json`. The truth survives on disk: a daemon restarted after a crash
/// reconciles every job from these files.
public struct JobFolder: Sendable {
    public let url: URL
    public init(_ url: URL) { self.url = url }

    public var specURL: URL { url.appendingPathComponent("job.json") }
    public var eventsURL: URL { url.appendingPathComponent("events.jsonl") }
    public var exitURL: URL { url.appendingPathComponent("exit.json") }
    public var artifacts: URL { url.appendingPathComponent("artifacts", isDirectory: true) }
    public var checkpoints: URL { url.appendingPathComponent("checkpoints", isDirectory: true) }

    /// What the worker runs: the workflow, its version, parameters and inputs (role → dataset path).
    public struct Spec: Codable, Sendable, Equatable {
        public var jobID: String
        public var workflow: String
        public var version: String
        public var parameters: [String: JSONValue]
        public var inputs: [String: String]
        public var seed: UInt64
        public init(jobID: String, workflow: String, version: String, parameters: [String: JSONValue], inputs: [String: String], seed: UInt64) {
            self.jobID = jobID; self.workflow = workflow; self.version = version; self.parameters = parameters; self.inputs = inputs; self.seed = seed
        }
    }

    /// How the worker ended.
    public struct Exit: Codable, Sendable, Equatable {
        public enum Status: String, Codable, Sendable { case succeeded, failed, cancelled }
        public var status: Status
        public var reason: String
        public var at: Date
        /// false when another attempt cannot help (bad input or parameters): the queue fails the job at once
        /// instead of retrying. nil (older workers, crashes) counts as retryable.
        public var retryable: Bool?
        public init(status: Status, reason: String, at: Date = Date(), retryable: Bool? = nil) {
            self.status = status; self.reason = reason; self.at = at; self.retryable = retryable
        }
    }

    /// Creates the folder and its subfolders and writes the spec (atomically).
    public func create(spec: Spec) throws {
        let fm = FileManager.default
        for d in [url, artifacts, checkpoints] { try fm.createDirectory(at: d, withIntermediateDirectories: true) }
        try Self.encoder.encode(spec).write(to: specURL, options: .atomic)
    }

    public func readSpec() throws -> Spec { try Self.decoder.decode(Spec.self, from: Data(contentsOf: specURL)) }

    /// Space kept for `exit.json`: a worker that fails because the disk is full must still be able to say so.
    public var exitReserveURL: URL { url.appendingPathComponent(".exit-reserve") }

    /// Writes 64 KiB the worker gives back if writing `exit.json` finds the disk full.
    public func reserveExitSpace() { try? Data(count: 1 << 16).write(to: exitReserveURL) }

    public func writeExit(_ exit: Exit) throws {
        let data = try Self.encoder.encode(exit)
        do { try data.write(to: exitURL, options: .atomic) } catch {
            try? FileManager.default.removeItem(at: exitReserveURL)
            try data.write(to: exitURL, options: .atomic)
        }
        try? FileManager.default.removeItem(at: exitReserveURL)
    }

    public var workerPIDURL: URL { url.appendingPathComponent("worker.pid") }

    /// Written by the worker as it starts (the daemon also records the process it spawned): its PID and the
    /// process's start time, so a PID the kernel later reuses for another program is never taken for it.
    public func writeWorker(_ w: WorkerProcess) throws { try Data("\(w)\n".utf8).write(to: workerPIDURL, options: .atomic) }

    public func readWorker() -> WorkerProcess? {
        (try? String(contentsOf: workerPIDURL, encoding: .utf8)).flatMap { WorkerProcess($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// nil while the worker has not finished (or died before saying how).
    public func readExit() -> Exit? {
        guard let d = try? Data(contentsOf: exitURL) else { return nil }
        return try? Self.decoder.decode(Exit.self, from: d)
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]; e.dateEncodingStrategy = .iso8601; return e
    }()
    static let decoder: JSONDecoder = { let d = JSONDecoder(); d.dateDecodingStrategy = .iso8601; return d }()
}

/// A worker process as the daemon records it: PID and start time (clock ticks after boot, field 22 of
/// `/proc/PID/stat`), written `PID:START` (a bare `PID` from older records has no start time).
public struct WorkerProcess: Sendable, Equatable, CustomStringConvertible, LosslessStringConvertible {
    public var pid: Int32
    public var startTime: UInt64?

    public init(pid: Int32, startTime: UInt64?) { self.pid = pid; self.startTime = startTime }

    /// This process, or `pid` as it runs now (nil start time when it does not exist).
    public static func current(_ pid: Int32 = getpid()) -> WorkerProcess { WorkerProcess(pid: pid, startTime: startTime(of: pid)) }

    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard let first = parts.first, let pid = Int32(first), pid > 0 else { return nil }
        self.pid = pid
        if parts.count == 2 { guard let t = UInt64(parts[1]) else { return nil }; startTime = t } else { startTime = nil }
    }

    public var description: String { startTime.map { "\(pid):\($0)" } ?? "\(pid)" }

    /// Field 22 of `/proc/PID/stat` (after the command name, which may hold spaces and parentheses).
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// The process state letter (R, S, Z, ...) of `/proc/PID/stat`, nil when there is no such process.
    public static func state(of pid: Int32) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first?.first
    }
}

/// A JSON value (parameters are typed by the workflow spec, not by this container). Whole numbers that fit in
/// Int64 decode as `.integer` and keep every digit (a seed of 2^53 + 1 survives; a Double would round it);
/// other numbers are `.number`. `.integer(3)` equals `.number(3)`: the two are one JSON value.
public enum JSONValue: Codable, Sendable, Equatable {
    case number(Double), integer(Int64), string(String), bool(Bool), array([JSONValue]), object([String: JSONValue]), null

    /// The value as a Double (integers above 2^53 round), nil for non-numbers.
    public var doubleValue: Double? {
        switch self {
        case .number(let x): return x
        case .integer(let i): return Double(i)
        default: return nil
        }
    }

    /// The value as an exact Int64: an integer, or a whole Double below 2^53 (where Doubles are exact).
    public var int64Value: Int64? {
        switch self {
        case .integer(let i): return i
        case .number(let x) where x.rounded() == x && abs(x) <= 9_007_199_254_740_992: return Int64(x)
        default: return nil
        }
    }

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.integer(let x), .integer(let y)): return x == y
        case (.integer, .number), (.number, .integer), (.number, .number):
            if let x = a.int64Value, let y = b.int64Value { return x == y }
            return a.doubleValue == b.doubleValue
        case (.string(let x), .string(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .integer(i) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let n): try c.encode(n)
        case .integer(let i): try c.encode(i)
        case .string(let s): try c.encode(s)
        case .bool(let b): try c.encode(b)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        case .null: try c.encodeNil()
        }
    }
}
