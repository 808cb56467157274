import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Store

/// The job list written straight to JSON text. Listing 10,000 jobs through `Codable` decoded every job's
/// stored parameters into `JSONValue` and encoded them again (≈ 0.25 s a page); the stored parameters and
/// inputs are already canonical JSON, so they are copied as they are. Same shape as `API.JobBody` (a test
/// decodes both and compares).
enum JobListJSON {
    /// `executorStates`: the latest state an executor reported for jobs that ran off this machine (a pending
    /// Slurm job's reason), written as a one-element `executorStates` array.
    static func page(_ jobs: [Job], total: Int, limit: Int, offset: Int, executorStates: [String: JobExecutorState] = [:]) -> String {
        var out = "{\"jobs\":["
        out.reserveCapacity(jobs.count * 600 + 64)
        for (i, j) in jobs.enumerated() {
            if i > 0 { out += "," }
            job(j, into: &out, lastState: executorStates[j.id])
        }
        out += "],\"limit\":\(limit),\"offset\":\(offset),\"total\":\(total)}"
        return out
    }

    static func job(_ j: Job, into out: inout String, lastState: JobExecutorState? = nil) {
        out += "{\"attempts\":\(j.attempts),\"createdAt\":\"\(iso(j.createdAt))\""
        out += ",\"executor\":"; string(j.executor, into: &out)
        if let e = lastState {
            out += ",\"executorStates\":[{\"at\":\"\(iso(e.at))\""
            if let x = e.externalId { out += ",\"externalId\":"; string(x, into: &out) }
            out += ",\"reason\":"; string(e.reason, into: &out)
            out += ",\"state\":"; string(e.state, into: &out)
            out += "}]"
        }
        if let r = j.exitReason { out += ",\"exitReason\":"; string(r, into: &out) }
        if let x = j.externalId { out += ",\"externalId\":"; string(x, into: &out) }
        if let f = j.finishedAt { out += ",\"finishedAt\":\"\(iso(f))\"" }
        out += ",\"id\":"; string(j.id, into: &out)
        out += ",\"inputs\":" + j.inputs
        out += ",\"maxAttempts\":\(j.maxAttempts),\"parameters\":" + j.parameters
        out += ",\"priority\":\(j.priority),\"project\":"; string(j.projectId, into: &out)
        if let s = j.startedAt { out += ",\"startedAt\":\"\(iso(s))\"" }
        out += ",\"state\":\"\(j.state.rawValue)\",\"version\":"; string(j.workflowVersion, into: &out)
        out += ",\"workflow\":"; string(j.workflow, into: &out)
        out += "}"
    }

    /// A JSON string literal.
    static func string(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        out += "\""
    }

    /// ISO 8601 in UTC to the second, as `JSONEncoder`'s `.iso8601` writes it.
    static func iso(_ d: Date) -> String {
        var t = time_t(d.timeIntervalSince1970.rounded(.down))
        var tm = tm()
        gmtime_r(&t, &tm)
        func p2(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tm.tm_year + 1900)-\(p2(tm.tm_mon + 1))-\(p2(tm.tm_mday))T\(p2(tm.tm_hour)):\(p2(tm.tm_min)):\(p2(tm.tm_sec))Z"
    }
}
