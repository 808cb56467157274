import Foundation

/// One line of `squeue -h -a -t all -o '%A|%j|%k|%T|%r'`: a Slurm job as the controller knows it.
public struct SlurmQueueEntry: Sendable, Equatable {
    public var id: String
    public var name: String
    public var comment: String
    public var state: String
    public var reason: String

    /// The squeue format these entries are parsed from.
    public static let format = "%A|%j|%k|%T|%r"

    /// Parses squeue's output; lines that do not have the five fields are skipped.
    public static func parse(_ text: String) -> [SlurmQueueEntry] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "|", maxSplits: 4, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 5, !f[0].isEmpty else { return nil }
            return SlurmQueueEntry(id: f[0], name: f[1], comment: f[2], state: f[3], reason: f[4])
        }
    }

    /// Our observation of this entry. `exitCode` (`scontrol`'s `ExitCode=3:0` or `0:9`) refines a FAILED job.
    public func observation(exitCode: String? = nil) -> ExecutorObservation {
        SlurmState.observation(state: state, reason: reason, exitCode: exitCode)
    }
}

/// Slurm's job states mapped to ours, with Slurm's words kept. Only known final states are final: anything
/// else (CONFIGURING, COMPLETING, SIGNALING, STAGE_OUT, a state a newer Slurm adds) counts as running.
public enum SlurmState {
    /// Waiting in Slurm's queue.
    public static let waiting: Set<String> = ["PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED", "STOPPED"]
    /// Final, and worth running again (the job itself was not at fault).
    public static let retryableEnds: Set<String> = ["NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "FAILED"]
    /// Final.
    public static let finalStates: Set<String> = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
                                                  "PREEMPTED", "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT", "REVOKED"]

    public static func observation(state raw: String, reason: String, exitCode: String? = nil) -> ExecutorObservation {
        // squeue may print "CANCELLED by 0"; the word is the state.
        let state = raw.split(separator: " ").first.map(String.init)?.uppercased() ?? raw
        let why = reason == "None" ? "" : reason
        if waiting.contains(state) { return .waiting(state: state, reason: explain(pendingReason: why)) }
        guard finalStates.contains(state) else { return .running(state: state) }
        return .ended(state: state, reason: explain(final: state, reason: why, exitCode: exitCode), retryable: retryableEnds.contains(state))
    }

    /// A pending reason with what it means for the user.
    public static func explain(pendingReason r: String) -> String {
        let hints: [String: String] = [
            "PartitionConfig": "the request exceeds what the partition's nodes have (cpus, memory or time limit): cancel it, or resubmit asking less",
            "Resources": "waiting for free cpus or memory",
            "Priority": "jobs of higher priority are ahead of it",
            "Dependency": "waiting for the jobs it depends on",
            "DependencyNeverSatisfied": "a job it depends on failed: it will never start; cancel it",
            "ReqNodeNotAvail": "the nodes it needs are down or drained",
            "PartitionDown": "the partition is down",
            "PartitionTimeLimit": "its time limit exceeds the partition's: cancel it, or resubmit with a shorter limit",
            "QOSMaxCpuPerUserLimit": "a QOS limit of cpus per user is reached",
            "AssocMaxJobsLimit": "the account's limit of running jobs is reached",
            "BeginTime": "its start time has not come",
            "JobHeldUser": "held by a user (scontrol release)", "JobHeldAdmin": "held by an administrator",
        ]
        guard !r.isEmpty else { return "" }
        return hints[r].map { "\(r): \($0)" } ?? r
    }

    /// The reason of a final state, with the exit code or signal where Slurm has one.
    public static func explain(final state: String, reason: String, exitCode: String?) -> String {
        var text: String
        switch state {
        case "TIMEOUT": text = "TIMEOUT: the job reached its time limit and Slurm stopped it; resubmit with a longer time limit"
        case "OUT_OF_MEMORY": text = "OUT_OF_MEMORY: the job used more memory than it asked for; resubmit with more memory"
        case "NODE_FAIL": text = "NODE_FAIL: the node running the job failed"
        case "PREEMPTED": text = "PREEMPTED: Slurm preempted the job for another"
        case "BOOT_FAIL": text = "BOOT_FAIL: the node failed to boot"
        case "DEADLINE": text = "DEADLINE: the job missed its deadline"
        case "CANCELLED": text = "CANCELLED: the job was cancelled in Slurm (scancel)"
        default: text = state
        }
        if let code = exitCode.flatMap(describe(exitCode:)) { text += " (\(code))" }
        if !reason.isEmpty, reason != "None", !text.contains(reason) { text += "; Slurm's reason: \(reason)" }
        return text
    }

    /// `3:0` → "exit code 3"; `0:9` → "killed by signal 9 (SIGKILL)"; `0:0` → nil.
    public static func describe(exitCode: String) -> String? {
        let parts = exitCode.split(separator: ":").compactMap { Int($0) }
        guard parts.count == 2 else { return nil }
        if parts[1] != 0 {
            let names = [1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM"]
            return "killed by signal \(parts[1])" + (names[parts[1]].map { " (\($0))" } ?? "")
        }
        return parts[0] != 0 ? "exit code \(parts[0])" : nil
    }
}
