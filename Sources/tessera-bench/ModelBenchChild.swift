import ArgumentParser
import CellLM
import Foundation
import SpatialData
import Tensor
import Workflows

extension ModelBench {
    /// Our side, in its own process: train `steps` steps (one FOV each) after `warmup`, then embed every FOV,
    /// then optionally one big sequence. Prints one JSON line.
    func runChild() throws {
        let ds = try DatasetReader.read(path: data)
        var set = try DatasetSequences.make(ds, batchBase: 0)
        let genes = ds.geneCount
        guard var cfg = CellLMConfig.preset(config, genes: genes, batchCount: set.sequences.count) else {
            throw ValidationError("unknown config \(config): small or base")
        }
        if config == "base" { cfg.datasetCount = 0 }
        cfg.positionEmbedding = false   // the peer's package adds no position embedding
        let model = try CellLM(config: cfg, seed: 0)
        if embedOnly {
            // Quick A/B loop for kernel work: best of 5 passes over every FOV, with the profile.
            var best = Double.infinity
            Profile.enabled = true
            for _ in 0..<5 {
                Profile.reset()
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try model.embedMany(set.sequences)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            print(String(format: "embed best %.3f s, %.0f cells/s; last pass per FOV: ", best, Double(set.cellCount) / best) + Profile.summary(steps: set.sequences.count))
            return
        }
        var options = TrainingOptions()
        options.learningRate = 2e-4; options.weightDecay = 1e-8
        let trainer = try Trainer(model: model, options: options)
        let gemmRate = sgemmRate()
        var rng = SeededRNG(seed: 1)
        var order: [Int] = []
        var times: [Double] = [], cellsIn: [Int] = [], flops: [Double] = [], losses: [Float] = []
        Profile.enabled = true
        for s in 0..<(warmup + steps) {
            if order.isEmpty { order = Array(0..<set.sequences.count); for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.int(below: i + 1)) } }
            let seq = set.sequences[order.removeLast()]
            if s == warmup { Profile.reset() }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let loss = try trainer.step(seq)
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            losses.append(loss.total)
            if s >= warmup {
                times.append(dt); cellsIn.append(seq.cells)
                flops.append(FlopCount.trainStep(cfg, cells: loss.cells, nnz: seq.counts.nnz * loss.cells / max(1, seq.cells)))
            }
        }
        let profile = Profile.summary(steps: steps)
        Profile.reset()
        let trainMedian = median(times)
        let gflopStep = flops.reduce(0, +) / Double(flops.count) / 1e9
        // Embedding: every FOV, inference mode, best of two passes.
        var best = Double.infinity
        var embedFlops = 0.0
        for _ in 0..<2 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            embedFlops = set.sequences.reduce(0) { $0 + FlopCount.embed(cfg, cells: $1.cells, nnz: $1.counts.nnz) }
            _ = try model.embedMany(set.sequences)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let cells = set.cellCount
        let embedProfile = Profile.summary(steps: 2 * set.sequences.count)
        Profile.enabled = false
        var result: [String: Any] = [
            "config": config, "cells": cells, "genes": genes, "fovs": set.sequences.count, "params": model.params.count,
            "blas": BLAS.configuration, "load": loadAverage(), "sgemm_gflops": gemmRate,
            "train": ["s_per_step_median": trainMedian, "s_per_step_min": times.min() ?? .nan,
                      "cells_per_s": Double(cellsIn.reduce(0, +)) / times.reduce(0, +),
                      "gflop_per_step": gflopStep, "gflops": gflopStep / trainMedian,
                      "loss_first": Double(losses.first ?? .nan), "loss_last": Double(losses.last ?? .nan)],
            "embed": ["seconds": best, "cells_per_s": Double(cells) / best, "mflop_per_cell": embedFlops / Double(cells) / 1e6,
                      "gflops": embedFlops / best / 1e9],
            "profile": profile, "embed_profile": embedProfile,
        ]
        result["rss"] = ["peak_mb": Double(peakRSS()) / 1e6]
        result["sgemm_gflops"] = max(gemmRate, sgemmRate())
        if bigFov > 0 {
            // One sequence of `bigFov` cells: FOVs stacked until large enough.
            var pieces: [CellSequence] = []
            var have = 0
            while have < bigFov { for s in set.sequences where have < bigFov { pieces.append(s); have += s.cells } }
            var big = pieces[0]
            for p in pieces.dropFirst() { big = big.appending(p) }
            big = big.selecting(Array(0..<bigFov))
            set.sequences = []
            let t0 = DispatchTime.now().uptimeNanoseconds
            let e = try model.embed(big)
            let secs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            result["big"] = ["cells": e.rows, "seconds": secs, "peak_mb": Double(peakRSS()) / 1e6]
        }
        let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }

    /// This process's sgemm rate on 1024² matrices through `BLAS.gemm` on both cores (GFLOP/s, best of 10).
    /// The VM's speed drifts, so the bench measures it before and after its runs and reports the higher.
    func sgemmRate() -> Double {
        let n = 1024
        let a = Buffer(count: n * n), b = Buffer(count: n * n), c = Buffer(count: n * n)
        for i in 0..<(n * n) { a[i] = Float(i % 7) * 0.1; b[i] = Float(i % 5) * 0.1 }
        var best = Double.infinity
        for _ in 0..<10 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            BLAS.gemm(m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return 2 * Double(n * n * n) / best / 1e9
    }
}

extension CellSequence {
    /// This sequence's cells followed by another's (same vocabulary).
    func appending(_ o: CellSequence) -> CellSequence {
        var c = counts
        c.indptr.append(contentsOf: o.counts.indptr.dropFirst().map { $0 + counts.nnz })
        c.indices.append(contentsOf: o.counts.indices); c.values.append(contentsOf: o.counts.values)
        c.rows += o.counts.rows
        var coords: [Float]? = nil
        if let a = coordinates, let b = o.coordinates { coords = a + b }
        return CellSequence(counts: c, coordinates: coords, batch: batch.flatMap { a in o.batch.map { a + $0 } }, measured: measured)
    }
}
