import ArgumentParser
import CellLM
import Foundation
import SpatialData
import Tensor
import Workflows

/// `tessera-bench train` and `tessera-bench embed`: our CellLM against the PyPI CellPLM package
/// (../shared/bench/cellplm_train_bench.py) on the same simulated tissue and config, in one invocation.
/// Ours runs in a child process per OpenBLAS core type (the variable is read when the library loads); the peer
/// runs at 1 and 2 torch threads and is compared at its better one.
struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train",
        abstract: "Training-step and embedding throughput of our CellLM vs PyTorch CellPLM (same data, same config).")

    @Option(help: "Spatial h5ad with obs 'fov' (made by make_synth.py when missing).") var data = "bench-data/model/spatial.h5ad"
    @Option(help: "Model config: small or base.") var config = "small"
    @Option(help: "Timed training steps (one FOV each).") var steps = 20
    @Option(help: "Untimed warm-up steps.") var warmup = 2
    @Option(help: "Peer torch thread counts, comma-separated; empty skips the peer.") var peerThreads = "1,2"
    @Option(help: "OpenBLAS core types for our runs: 'env' (the environment's setting), 'auto' (unset), a name such as Haswell, or 'alt' (auto when the environment sets one, else Haswell).") var coretypes = "env,alt"
    @Option(help: "Also embed one FOV of this many cells in a single sequence (0 skips).") var bigFov = 0
    @Option(help: "Python with torch and cellplm.") var python = ".venv-bench/bin/python"
    @Option(help: "Peer script.") var peerScript = "../shared/bench/cellplm_train_bench.py"
    @Flag(help: "Child mode: run our side once and print JSON.") var child = false
    @Flag(help: .hidden) var embedOnly = false

    func run() throws {
        if child { try runChild(); return }
        if !FileManager.default.fileExists(atPath: data) {
            let out = URL(fileURLWithPath: data).deletingLastPathComponent().path
            print("making \(data) with make_synth.py …")
            _ = try runProcess(python, ["../shared/bench/make_synth.py", "--out", out])
        }
        let me = CommandLine.arguments[0]
        var ours: [(String, [String: Any])] = []
        let envCore = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? ""
        for raw in coretypes.split(separator: ",").map(String.init) {
            let ct = raw == "alt" ? (envCore.isEmpty ? "Haswell" : "auto") : raw
            var env: [String: String] = [:]
            var label = ct
            if ct == "env" { label = "env (\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset"))" }
            else if ct == "auto" { env["OPENBLAS_CORETYPE"] = "" } else { env["OPENBLAS_CORETYPE"] = ct }
            let args = ["train", "--child", "--data", data, "--config", config, "--steps", "\(steps)", "--warmup", "\(warmup)", "--big-fov", "\(bigFov)"]
            let out = try runProcess(me, args, env: env, unset: ct == "auto" ? ["OPENBLAS_CORETYPE"] : [])
            guard let line = out.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                  let j = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw ValidationError("our child printed no JSON: \(out.suffix(500))")
            }
            ours.append((label, j))
        }
        var peers: [(Int, [String: Any])] = []
        if FileManager.default.fileExists(atPath: python) && FileManager.default.fileExists(atPath: peerScript) {
            for t in peerThreads.split(separator: ",").compactMap({ Int($0) }) {
                let out = try runProcess(python, [peerScript, "--config", config == "base" ? "85m" : config, "--steps", "\(steps)",
                                                   "--warmup", "\(warmup)", "--threads", "\(t)", "--data", data, "--out", "bench-out"])
                guard let line = out.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                      let j = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let r = (j["results"] as? [String: Any])?[config == "base" ? "85m" : config] as? [String: Any] else { continue }
                if r["error"] != nil { print("peer at \(t) thread(s) failed: \(r["stderr_tail"] ?? "")"); continue }
                peers.append((t, r))
            }
        } else {
            print("peer skipped: \(python) or \(peerScript) missing (bash ../shared/bench/install.sh .venv-bench)")
        }
        report(ours: ours, peers: peers)
    }

    func report(ours: [(String, [String: Any])], peers: [(Int, [String: Any])]) {
        func d(_ j: [String: Any], _ path: String...) -> Double {
            var cur: Any? = j
            for p in path { cur = (cur as? [String: Any])?[p] }
            return (cur as? Double) ?? (cur as? Int).map(Double.init) ?? .nan
        }
        print("\nCellLM \(config), data \(data)")
        for (t, r) in peers {
            print(String(format: "peer PyTorch CellPLM, %d thread(s): %.3f s/step (median; quiet-step median %.3f, %d quiet of %d), %.0f cells/s embedding, peak RSS %.0f MB, load during training: others %.2f",
                         t, d(r, "train", "s_per_step_median"), d(r, "train", "s_per_step_median_quiet"), Int(d(r, "train", "quiet_steps")),
                         Int(d(r, "train", "steps_timed")), d(r, "inference", "cells_per_s"), d(r, "peak_rss_mb"),
                         d(r, "train", "timed_section", "others_frac")))
        }
        let bestStep = peers.map { d($0.1, "train", "s_per_step_median") }.min() ?? .nan
        let bestEmbed = peers.map { d($0.1, "inference", "cells_per_s") }.max() ?? .nan
        let peerRSS = peers.map { d($0.1, "peak_rss_mb") }.min() ?? .nan
        print("\n| metric | " + ours.map { "ours, OPENBLAS_CORETYPE \($0.0)" }.joined(separator: " | ") + " | PyTorch best | ratio (first) |")
        print("|---|" + String(repeating: "---|", count: ours.count + 2))
        func row(_ name: String, _ key: [String], peer: Double, lowerIsBetter: Bool, fmt: String = "%.3f") {
            let vals = ours.map { d($0.1, key[0], key[1]) }
            let ratio = vals.first.map { lowerIsBetter ? $0 / peer : $0 / peer } ?? .nan
            print("| \(name) | " + vals.map { String(format: fmt, $0) }.joined(separator: " | ") + " | " + String(format: fmt, peer) + " | " + String(format: "%.2fx", ratio) + " |")
        }
        row("train s/step (median)", ["train", "s_per_step_median"], peer: bestStep, lowerIsBetter: true)
        row("train cells/s (input)", ["train", "cells_per_s"], peer: peers.map { d($0.1, "train", "cells_per_s_input") }.max() ?? .nan, lowerIsBetter: false, fmt: "%.0f")
        row("embed cells/s", ["embed", "cells_per_s"], peer: bestEmbed, lowerIsBetter: false, fmt: "%.0f")
        row("peak RSS MB (train+embed)", ["rss", "peak_mb"], peer: peerRSS, lowerIsBetter: true, fmt: "%.0f")
        for (label, j) in ours {
            print(String(format: "ours %@: sgemm %.0f GFLOP/s; train %.2f GFLOP/step → %.0f GFLOP/s (%.0f%% of sgemm); embed %.1f MFLOP/cell → %.0f GFLOP/s (%.0f%%); load %@; blas %@",
                         label, d(j, "sgemm_gflops"), d(j, "train", "gflop_per_step"), d(j, "train", "gflops"),
                         100 * d(j, "train", "gflops") / d(j, "sgemm_gflops"), d(j, "embed", "mflop_per_cell"), d(j, "embed", "gflops"),
                         100 * d(j, "embed", "gflops") / d(j, "sgemm_gflops"), (j["load"] as? String) ?? "?", (j["blas"] as? String) ?? "?"))
            if let p = j["profile"] as? String { print("  profile (ms per training step): \(p)") }
            if let p = j["embed_profile"] as? String { print("  profile (ms per embedded FOV): \(p)") }
            if let big = j["big"] as? [String: Any] {
                print(String(format: "  one sequence of %d cells: embedded in %.2f s (%.0f cells/s), peak RSS %.0f MB",
                             Int(d(big, "cells")), d(big, "seconds"), d(big, "cells") / d(big, "seconds"), d(big, "peak_mb")))
            }
        }
        for (t, r) in peers {
            print(String(format: "peer %d thread(s): training loss (mean of first/last 5 steps) %.1f → %.1f", t,
                         d(r, "train", "loss_mean_first5"), d(r, "train", "loss_mean_last5")))
        }
        for (label, j) in ours {
            print(String(format: "ours %@: training loss (first/last step) %.1f → %.1f", label, d(j, "train", "loss_first"), d(j, "train", "loss_last")))
        }
    }
}

/// `tessera-bench embed`: the same comparison weighted to inference — two training steps only, then the
/// embedding pass over every FOV, and one 100,000-cell FOV embedded as a single sequence.
struct EmbedBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "embed",
        abstract: "Embedding throughput of our CellLM vs PyTorch CellPLM, plus one 100,000-cell FOV in one sequence.")
    @Option(help: "Model config: small or base.") var config = "small"
    @Option(help: "Cells of the single big FOV (0 skips).") var bigFov = 100_000
    @Option(help: "Peer torch thread counts.") var peerThreads = "1,2"
    @Option(help: "OpenBLAS core types for our runs (see train --help).") var coretypes = "env,alt"
    @Option(help: "Spatial h5ad.") var data = "bench-data/model/spatial.h5ad"

    func run() throws {
        let m = try ModelBench.parse(["--config", config, "--steps", "2", "--warmup", "1", "--big-fov", "\(bigFov)",
                                      "--peer-threads", peerThreads, "--coretypes", coretypes, "--data", data])
        try m.run()
    }
}
