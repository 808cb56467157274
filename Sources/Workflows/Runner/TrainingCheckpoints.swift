import CellLM
import Foundation

/// The job folder's `checkpoints/`: one Tessera checkpoint per saved step, named `step-00000120.tsr`, the
/// newest `keep` kept. A rerun of the job resumes from `latest()`; CellLM's `Checkpoint` carries the
/// parameters, optimizer moments, schedule and RNG, so the resumed run continues bit for bit.
///
///     let store = TrainingCheckpoints(context.folder)
///     if let last = store.latest() { let ckpt = try Checkpoint.read(last.url); start = last.step; … }
///     try store.save(Checkpoint(model: m, genes: vocab, optimizer: t.optimizer, schedule: t.schedule), step: s, context: context)
public struct TrainingCheckpoints: Sendable {
    public let directory: URL
    public let keep: Int

    public init(_ folder: JobFolder, keep: Int = 2) {
        directory = folder.checkpoints; self.keep = max(1, keep)
    }

    /// Checkpoints of one of several models trained by a job (an ensemble member `index` ≥ 1 lives in
    /// `checkpoints/member-<index+1>/`; member 0 in `checkpoints/` itself, as a single model does).
    public init(_ folder: JobFolder, member index: Int, keep: Int = 2) {
        directory = index == 0 ? folder.checkpoints
            : folder.checkpoints.appendingPathComponent("member-\(index + 1)", isDirectory: true)
        self.keep = max(1, keep)
    }

    public func url(step: Int) -> URL { directory.appendingPathComponent(String(format: "step-%08d.tsr", step)) }

    /// Saved checkpoints, oldest first.
    public func all() -> [(url: URL, step: Int)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { n -> (URL, Int)? in
            guard n.hasPrefix("step-"), n.hasSuffix(".tsr"), let s = Int(n.dropFirst(5).dropLast(4)) else { return nil }
            return (directory.appendingPathComponent(n), s)
        }.sorted { $0.1 < $1.1 }.map { (url: $0.0, step: $0.1) }
    }

    /// The newest checkpoint that reads back whole, nil on a first attempt. A newer one that does not (the
    /// worker was killed while the disk filled, or the file was truncated) is renamed `….tsr.damaged` and the
    /// one before it is used: an attempt resumes a little earlier instead of failing.
    public func latest() -> (url: URL, step: Int)? {
        for c in all().reversed() {
            if (try? TensorFile.read(c.url)) != nil { return c }
            try? FileManager.default.moveItem(at: c.url, to: c.url.appendingPathExtension("damaged"))
        }
        return nil
    }

    /// Writes the checkpoint for `step` (atomically), announces it with a `.checkpoint` event (path relative to
    /// the job folder) and removes all but the newest `keep`. The step is also stored in
    /// `progress["step"]`.
    @discardableResult
    public func save(_ checkpoint: Checkpoint, step: Int, context: WorkflowContext) throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var c = checkpoint
        c.progress["step"] = Double(step)
        let u = url(step: step)
        try c.write(to: u)
        let relative = u.path.hasPrefix(context.folder.url.path + "/") ? String(u.path.dropFirst(context.folder.url.path.count + 1)) : u.path
        context.emit(JobEvent(kind: .checkpoint, step: step, path: relative))
        for old in all().dropLast(keep) { try? FileManager.default.removeItem(at: old.url) }
        return u
    }
}
