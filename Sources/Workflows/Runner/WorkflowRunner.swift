import CellLM
import Foundation
import SpatialData

/// Runs one job folder to its end and writes `exit.json`: what `tesserad work JOBDIR` does in the worker
/// process. Order: read `job.json`; find the spec and the implementation; check the bound roles and
/// re-validate the parameters (defaults filled); emit `.started`; check each dataset against its slot's kind
/// (a `spatial` slot needs coordinates); the implementation's `check`, then `run`; `.finished`.
///
/// Every failure becomes an exit, never a crash: bad job files, parameters and inputs (`WorkflowError`,
/// `CellLMError`, `ImportError`) are `failed` with `retryable = false` (another attempt cannot help); other
/// errors are `failed` and retryable; a cancellation is `cancelled` (retryable: a rerun resumes from the
/// last checkpoint).
public enum WorkflowRunner {
    public static func run(folder: JobFolder, catalog: WorkflowCatalog, implementations: [any WorkflowImplementation.Type],
                           cancelled: @escaping @Sendable () -> Bool) -> JobFolder.Exit {
        var events: JobEventWriter?
        let exit: JobFolder.Exit
        folder.reserveExitSpace()
        do {
            let job: JobFolder.Spec
            do { job = try folder.readSpec() } catch {
                throw WorkflowError.invalidSpec(file: folder.specURL.path, message: "cannot be read as a job (\(error)); the daemon writes it, resubmit the job")
            }
            let spec = try catalog.spec(named: job.workflow)
            if spec.version != job.version {
                throw WorkflowError.invalidSpec(file: folder.specURL.path,
                    message: "asks for \(job.workflow) version \(job.version) but this worker has version \(spec.version); resubmit the job")
            }
            guard let impl = implementations.first(where: { $0.name == spec.name }) else {
                throw WorkflowError.unknownWorkflow(name: spec.name, known: implementations.map { $0.name })
            }
            try spec.checkInputs(roles: Array(job.inputs.keys))
            let parameters = try spec.resolve(parameters: job.parameters)
            for d in [folder.artifacts, folder.checkpoints] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
            let writer = try JobEventWriter(folder: folder)
            events = writer
            let context = WorkflowContext(folder: folder, spec: job, parameters: parameters, events: writer, cancelled: cancelled)
            context.emit(JobEvent(kind: .started, text: "\(spec.name) \(spec.version)"))
            try checkKinds(context, spec: spec)
            warnNonInteger(context, spec: spec)
            try impl.check(context)
            try context.checkCancelled()
            try impl.run(context)
            exit = JobFolder.Exit(status: .succeeded, reason: "completed", retryable: nil)
        } catch {
            exit = NoSpace.matches(error) ? NoSpace.exit(folder) : classify(error, cancelled: cancelled())
        }
        if events == nil { events = try? JobEventWriter(folder: folder) }
        try? events?.append(JobEvent(kind: .finished, text: exit.status == .succeeded ? exit.status.rawValue : "\(exit.status.rawValue): \(exit.reason)"))
        do { try folder.writeExit(exit) } catch {
            FileHandle.standardError.write(Data("tesserad work: cannot write \(folder.exitURL.path): \(error)\n".utf8))
        }
        return exit
    }

    /// A `spatial` slot needs coordinates on at least one cell; a `reference` or `any` slot takes either.
    static func checkKinds(_ context: WorkflowContext, spec: WorkflowSpec) throws {
        for role in context.roles {
            guard let slot = spec.input(forRole: role), slot.kind == .spatial else { continue }
            let ds = try context.dataset(role)
            let has = ds.coordinates.map { c in (0..<ds.cellCount).contains { c.x[$0].isFinite && c.y[$0].isFinite } } ?? false
            if !has {
                throw WorkflowError.badInput(role: role, file: context.spec.inputs[role] ?? "?",
                    message: "has no cell coordinates, but role '\(slot.role)' needs spatial data; bind it as \(spec.inputs.filter { $0.kind != .spatial }.map { "'\($0.role)'" }.joined(separator: " or ").nonEmpty ?? "another role") instead, or import it with its locations (obsm['spatial'] or a locations file)")
            }
        }
    }

    /// Every workflow reads its inputs as counts (a negative-binomial or log1p model): non-integer values
    /// (normalised or log-normalised files) are named in a warning event with the choice there is. Nothing is
    /// refused: a file of non-integer counts (ambient-corrected, say) is valid input.
    static func warnNonInteger(_ context: WorkflowContext, spec: WorkflowSpec) {
        guard spec.parameter(named: "input_transform") != nil, case .string("counts")? = context.parameters["input_transform"] else { return }
        for role in context.roles {
            guard let d = try? context.dataset(role) else { continue }
            let share = WorkflowContext.nonIntegerShare(d)
            guard share > 0 else { continue }
            let file = context.spec.inputs[role] ?? d.name
            context.emit(JobEvent(kind: .message, text: String(format: "warning: input '%@' (%@): %.1f%% of its stored values are not whole numbers, so they look normalised rather than counts; %@ models counts. If they are log1p of normalised values, resubmit with --set input_transform=log_normalized; if they are plain normalised values or corrected counts, this run reads them as they are.", role, file, share * 100, spec.name)))
        }
    }

    /// The exit for an error: bad input is final, anything else may succeed on another attempt.
    static func classify(_ error: Error, cancelled: Bool) -> JobFolder.Exit {
        if let w = error as? WorkflowError, w == .cancelled { return .init(status: .cancelled, reason: "cancelled", retryable: true) }
        if cancelled { return .init(status: .cancelled, reason: "cancelled (\(describe(error)))", retryable: true) }
        let final = error is WorkflowError || error is CellLMError || error is ImportError
        return .init(status: .failed, reason: describe(error), retryable: !final)
    }

    static func describe(_ error: Error) -> String { String(describing: error) }
}

/// A full disk: another attempt cannot help until someone frees space, so the job fails once with a reason
/// that says so (instead of retrying into the same wall).
enum NoSpace {
    static func matches(_ error: Error) -> Bool {
        var e: Error? = error
        for _ in 0..<4 {
            guard let cur = e else { return false }
            let ns = cur as NSError
            if ns.domain == NSPOSIXErrorDomain && ns.code == Int(ENOSPC) { return true }
            if ns.domain == NSCocoaErrorDomain && ns.code == CocoaError.fileWriteOutOfSpace.rawValue { return true }
            if "\(cur)".contains("No space left on device") { return true }
            e = ns.userInfo[NSUnderlyingErrorKey] as? Error
        }
        return false
    }

    static func exit(_ folder: JobFolder) -> JobFolder.Exit {
        .init(status: .failed, reason: "no space left on device (\(folder.url.path)); free disk space, then resubmit", retryable: false)
    }
}

private extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
