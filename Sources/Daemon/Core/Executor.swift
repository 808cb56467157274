import Foundation
import Workflows

/// A job as an executor sees it: our id, its folder (the job-folder protocol) and the executor's own id for
/// it once submitted (`PID:START` locally, the Slurm job id).
public struct ExecutorJob: Sendable {
    public var jobID: String
    public var folder: JobFolder
    public var externalId: String?

    public init(jobID: String, folder: JobFolder, externalId: String?) {
        self.jobID = jobID; self.folder = folder; self.externalId = externalId
    }
}

/// What a submission asks of the machine that runs it. Unset fields take the executor's defaults (the
/// daemon's config); the local executor ignores them.
public struct ExecutorResources: Codable, Sendable, Equatable {
    public var cpus: Int?
    public var memoryMB: Int?
    /// Wall-clock limit in minutes.
    public var timeLimitMinutes: Int?
    public var partition: String?
    public var account: String?
    /// Slurm, `embed` only: run as a job array of this many tasks, each embedding a chunk of the FOVs, then a
    /// gather job (each resource applies per task).
    public var arrayTasks: Int?

    public init(cpus: Int? = nil, memoryMB: Int? = nil, timeLimitMinutes: Int? = nil, partition: String? = nil, account: String? = nil,
                arrayTasks: Int? = nil) {
        self.cpus = cpus; self.memoryMB = memoryMB; self.timeLimitMinutes = timeLimitMinutes
        self.partition = partition; self.account = account; self.arrayTasks = arrayTasks
    }

    /// `self`, with fields it leaves unset taken from `defaults`.
    public func over(_ defaults: ExecutorResources) -> ExecutorResources {
        ExecutorResources(cpus: cpus ?? defaults.cpus, memoryMB: memoryMB ?? defaults.memoryMB,
                          timeLimitMinutes: timeLimitMinutes ?? defaults.timeLimitMinutes,
                          partition: partition ?? defaults.partition, account: account ?? defaults.account,
                          arrayTasks: arrayTasks ?? defaults.arrayTasks)
    }
}

/// What an executor knows of one job at a poll. The job folder's `exit.json` is read first by the queue and
/// wins over this; the observation decides only while the worker has not said how it ended.
public enum ExecutorObservation: Sendable, Equatable {
    /// Waiting in the executor's own queue, with its reason (Slurm `PENDING`, reason `Resources`).
    case waiting(state: String, reason: String)
    /// Running, or in a transient state on the way (`CONFIGURING`, `COMPLETING`, `SIGNALING`).
    case running(state: String)
    /// Ended in the executor with a final state and its reason (`TIMEOUT`, `NODE_FAIL`, `FAILED` with the
    /// exit code or signal). `retryable`: the same job may succeed when run again (node failure, preemption).
    case ended(state: String, reason: String, retryable: Bool)
    /// The executor does not know the job (never submitted, or ended and forgotten).
    case gone

    /// The state and reason worth recording in the job's executor history.
    public var report: (state: String, reason: String)? {
        switch self {
        case .waiting(let s, let r): return (s, r)
        case .running(let s): return (s, "")
        case .ended(let s, let r, _): return (s, r == s ? "" : r)   // COMPLETED says nothing more
        case .gone: return nil
        }
    }
}

/// Why an executor could not take a job.
public enum ExecutorError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The executor cannot be reached now (slurmctld down): the job stays queued and is submitted later.
    case unavailable(String)
    /// The executor refused the job (an unknown partition): the job fails with the executor's message.
    case rejected(String)

    public var description: String {
        switch self { case .unavailable(let m), .rejected(let m): return m }
    }
}

/// Runs job folders somewhere: a process on this machine, or a Slurm job on a cluster that shares the
/// folder's file system. Every executor runs the same worker (`tesserad work JOBDIR`), which follows the
/// job-folder protocol, so the queue decides a job's end from its folder first and from the executor second.
public protocol Executor: AnyObject, Sendable {
    /// The name jobs and configuration use: "local", "slurm".
    var name: String { get }
    /// Jobs this executor may hold at once (running or waiting in its own queue).
    var capacity: Int { get }
    /// Whether the executor reports final states itself (Slurm does; a local process only exits). A worker
    /// that stopped without the daemon asking is then judged by that state (a time limit, a preemption).
    var reportsFinalStates: Bool { get }
    /// Starts the worker for the folder; returns the executor's id for it.
    func submit(_ job: ExecutorJob, resources: ExecutorResources) throws -> String
    /// Observes many jobs at once (one `squeue` call for all of them). Throws `ExecutorError.unavailable`
    /// when the executor cannot be asked: nothing is concluded from silence then.
    func observe(_ jobs: [ExecutorJob]) throws -> [String: ExecutorObservation]
    /// The executor's id of a job it already runs for `job` (found by name as well as by id), so a job the
    /// daemon submitted just before it was killed is adopted, never submitted twice.
    func find(_ job: ExecutorJob) throws -> String?
    /// Asks the worker to stop (it checkpoints and writes a cancelled exit), or forces it.
    func cancel(_ job: ExecutorJob, force: Bool)
    /// Forgets a finished job's process handle.
    func release(_ job: ExecutorJob)
    /// Where the worker's stdout and stderr go.
    func logURL(_ folder: JobFolder) -> URL
}

extension JobFolder {
    /// Written by the daemon when it asks a job to stop, so that a worker that checkpoints and exits maps to
    /// cancelled even after a daemon restart (Slurm ends such a job CANCELLED, but also TIMEOUT ones the same way).
    public var cancelRequestURL: URL { url.appendingPathComponent("cancel.requested") }
    public var cancelRequested: Bool { FileManager.default.fileExists(atPath: cancelRequestURL.path) }
}
