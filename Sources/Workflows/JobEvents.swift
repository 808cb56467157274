import Foundation

/// One line of `events.jsonl`: progress, metrics, artifacts and messages from a worker.
public struct JobEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case started, progress, metric, artifact, checkpoint, message, finished }
    public var kind: Kind
    public var at: Date
    public var phase: String?
    public var step: Int?
    public var total: Int?
    public var epoch: Int?
    /// Named values (loss, ARI, ETA seconds…).
    public var values: [String: Double]?
    public var path: String?
    public var text: String?

    public init(kind: Kind, at: Date = Date(), phase: String? = nil, step: Int? = nil, total: Int? = nil, epoch: Int? = nil,
                values: [String: Double]? = nil, path: String? = nil, text: String? = nil) {
        self.kind = kind; self.at = at; self.phase = phase; self.step = step; self.total = total; self.epoch = epoch
        self.values = values; self.path = path; self.text = text
    }
}

/// Appends events to a job's `events.jsonl`, one JSON object per line, each written with a single `write`
/// so a reader never sees half an event from a live worker (a killed one may leave a partial last line,
/// which readers skip).
public final class JobEventWriter: @unchecked Sendable {
    private let handle: FileHandle
    private let lock = NSLock()
    private let encoder: JSONEncoder = {
        let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]; e.dateEncodingStrategy = .iso8601; return e
    }()

    public init(folder: JobFolder) throws {
        let path = folder.eventsURL.path
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        handle = try FileHandle(forWritingTo: folder.eventsURL)
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    public func append(_ event: JobEvent) throws {
        var line = try encoder.encode(event)
        line.append(0x0A)
        lock.lock(); defer { lock.unlock() }
        try handle.write(contentsOf: line)
    }
}

/// Reads a job's events from a byte offset: the daemon tails them into SQLite and remembers where it stopped.
public enum JobEventReader {
    /// Events completed after `offset`, and the offset to continue from. A final line without its newline is
    /// left for the next read (it may still be being written, or the worker died mid-line); a complete line
    /// that is not a valid event is reported in `skipped` rather than stopping the stream.
    public static func read(_ folder: JobFolder, from offset: UInt64) throws -> (events: [JobEvent], next: UInt64, skipped: Int) {
        guard let h = try? FileHandle(forReadingFrom: folder.eventsURL) else { return ([], offset, 0) }
        defer { try? h.close() }
        try h.seek(toOffset: offset)
        let data = try h.readToEnd() ?? Data()
        guard let lastNewline = data.lastIndex(of: 0x0A) else { return ([], offset, 0) }
        let decoder = JSONDecoder(); decoder.dateDecodingStrategy = .iso8601
        var events: [JobEvent] = [], skipped = 0
        for line in data[data.startIndex...lastNewline].split(separator: 0x0A) where !line.isEmpty {
            if let e = try? decoder.decode(JobEvent.self, from: Data(line)) { events.append(e) } else { skipped += 1 }
        }
        return (events, offset + UInt64(lastNewline - data.startIndex + 1), skipped)
    }
}
