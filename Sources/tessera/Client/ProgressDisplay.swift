import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Shows a job's events as they arrive: on a terminal, one self-rewriting line with a bar, step, loss and
/// ETA; when piped, one plain line per event (progress at most every 5 s, so logs stay readable).
struct ProgressDisplay {
    let interactive = isatty(STDOUT_FILENO) != 0
    private var lastPlain = Date.distantPast
    private var barShown = false

    mutating func show(_ e: EventInfo) {
        switch e.kind {
        case "progress":
            let line = Self.progressLine(e)
            if interactive {
                let width = 28
                let frac = e.total.map { t in t > 0 ? min(1, Double(e.step ?? 0) / Double(t)) : 0 } ?? 0
                let filled = Int(frac * Double(width))
                let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
                // Unbuffered, so the line redraws at once (stdout on a terminal is line-buffered).
                FileHandle.standardOutput.write(Data("\r\u{1B}[2K[\(bar)] \(line)".utf8))
                barShown = true
            } else if Date().timeIntervalSince(lastPlain) >= 5 || e.step == e.total {
                print(line); lastPlain = Date()
            }
        default:
            endBar()
            print(Self.plain(e))
        }
    }

    mutating func endBar() {
        if barShown { print(""); barShown = false }
    }

    static func progressLine(_ e: EventInfo) -> String {
        var parts: [String] = []
        if let p = e.phase { parts.append(p) }
        if let s = e.step { parts.append(e.total.map { "step \(s)/\($0)" } ?? "step \(s)") }
        if let t = e.total, let s = e.step, t > 0 { parts.append(String(format: "%.0f%%", 100 * Double(s) / Double(t))) }
        if let ep = e.epoch { parts.append("epoch \(ep)") }
        let v = e.values ?? [:]
        if let loss = v["loss"] { parts.append(String(format: "loss %.4g", loss)) }
        for (k, x) in v.sorted(by: { $0.key < $1.key }) where k != "loss" && k != "eta_s" { parts.append(String(format: "%@ %.4g", k, x)) }
        if let eta = v["eta_s"] { parts.append("ETA \(duration(eta))") }
        return parts.joined(separator: "  ")
    }

    static func plain(_ e: EventInfo) -> String {
        let t = shortDate(e.at)
        switch e.kind {
        case "progress": return "\(t)  \(progressLine(e))"
        case "metric":
            let vs = (e.values ?? [:]).sorted { $0.key < $1.key }.map { String(format: "%@=%.4g", $0.key, $0.value) }.joined(separator: " ")
            return "\(t)  metric \(e.phase.map { "[\($0)] " } ?? "")\(vs)"
        case "artifact": return "\(t)  artifact \(e.text ?? "") \(e.path ?? "")"
        case "checkpoint": return "\(t)  checkpoint \(e.path ?? "")\(e.step.map { " at step \($0)" } ?? "")"
        default: return "\(t)  \(e.kind)\(e.text.map { ": \($0)" } ?? "")"
        }
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "?" }
        let n = Int(s.rounded())
        if n < 60 { return "\(n)s" }
        if n < 3600 { return "\(n / 60)m\(String(format: "%02d", n % 60))s" }
        return "\(n / 3600)h\(String(format: "%02d", n / 60 % 60))m"
    }
}
