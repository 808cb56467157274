import ArgumentParser
import Foundation
import SpatialData

@main
struct TesseraBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera-bench",
        abstract: "Benchmarks that run the peer tool in the same invocation, on the same data, and print ours | peer | ratio.",
        subcommands: [ImportBench.self, SimulateBench.self, ModelBench.self, EmbedBench.self, LearnBench.self, ClusterBench.self, ImputeQualityBench.self, QualityBench.self, SpeedBench.self, ApiBench.self, SlurmBench.self, SlurmEmbedBench.self, RenderBench.self, ReadOnce.self])
}

/// Peak resident memory of this process so far (VmHWM), in bytes.
func peakRSS() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}

/// The 1-minute load average, recorded with every timing (a busy second core skews both sides).
func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}

/// Runs a command, returns its stdout; throws with its stderr when it fails.
func runProcess(_ exe: String, _ args: [String], env: [String: String] = [:], unset: [String] = []) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    var e = ProcessInfo.processInfo.environment
    for (k, v) in env { e[k] = v }
    for k in unset { e.removeValue(forKey: k) }
    p.environment = e
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let er = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw ValidationError("\(exe) \(args.joined(separator: " ")) failed (\(p.terminationStatus)): \(String(decoding: er, as: UTF8.self).suffix(2000))")
    }
    return String(decoding: o, as: UTF8.self)
}

func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2) }
