import Foundation
import Tensor

/// Everything needed to resume training exactly: the model's parameters, its gene vocabulary, the optimizer
/// moments, the learning-rate schedule, the step counter and the random generator's state.
public struct Checkpoint {
    public var model: CellLM
    public var genes: [String]
    public var optimizer: AdamW?
    public var schedule: LRSchedule?
    /// Free-form training progress (epoch, best validation loss…), stored as JSON.
    public var progress: [String: Double]

    public init(model: CellLM, genes: [String], optimizer: AdamW? = nil, schedule: LRSchedule? = nil, progress: [String: Double] = [:]) {
        self.model = model; self.genes = genes; self.optimizer = optimizer; self.schedule = schedule; self.progress = progress
    }

    public func write(to url: URL) throws {
        let ps = model.params
        var entries = ps.infos.map {
            TensorFile.Entry(name: $0.name, shape: $0.shape,
                             values: .f32(Array(UnsafeBufferPointer(start: ps.values.pointer + $0.offset, count: $0.count))))
        }
        entries.append(.init(name: "state.rng", shape: [4], values: .u64(model.rng.state)))
        var meta: [String: Any] = ["geneNames": genes, "step": model.step, "progress": progress]
        if let optimizer {
            entries.append(.init(name: "optimizer.m", shape: [ps.count], values: .f32(optimizer.m.array)))
            entries.append(.init(name: "optimizer.v", shape: [ps.count], values: .f32(optimizer.v.array)))
            meta["optimizer"] = ["t": optimizer.t, "groups": optimizer.groups.map { ["lrScale": $0.lrScale, "weightDecay": $0.weightDecay] }]
        }
        if let schedule { meta["schedule"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(schedule)) }
        let config = try JSONEncoder().encode(model.config)
        try TensorFile(kind: "checkpoint", config: config, meta: meta, entries: entries).write(to: url)
    }

    /// Reads a checkpoint (ours) or converted CellPLM weights. `expect`, if given, is the config the caller
    /// needs; a different shape is an error naming the tensor.
    public static func read(_ url: URL, expect: CellLMConfig? = nil) throws(CellLMError) -> Checkpoint {
        let f = try TensorFile.read(url)
        let file = url.path
        guard f.kind == "checkpoint" || f.kind == "weights" else {
            throw .tensorFile(file: file, problem: "is a '\(f.kind)' file, not model weights", fix: "Pass a checkpoint written by tessera pretrain or converted by scripts/cellplm_import.py.")
        }
        guard let cdata = f.config, var config = try? JSONDecoder().decode(CellLMConfig.self, from: cdata) else {
            throw .tensorFile(file: file, problem: "has no readable model config in its header", fix: "Re-convert the weights with scripts/cellplm_import.py.")
        }
        if let expect {
            // Training knobs may differ; the shapes must not.
            let shape = { (c: CellLMConfig) in [c.genes, c.hidden, c.layers, c.heads, c.latentDim, c.mixtureComponents, c.gmvaeHidden, c.decoderHidden, c.decoderBottleneck, c.batchCount, c.datasetCount] }
            if shape(expect) != shape(config) || expect.latent != config.latent {
                throw .tensorFile(file: file, problem: "holds a model of shape \(shape(config)) (\(config.latent)) but \(shape(expect)) (\(expect.latent)) was asked for",
                                  fix: "Use the checkpoint's own config, or one made for this model.")
            }
            let keep = config
            config = expect
            config.genes = keep.genes
        }
        let model = try CellLM(config: config, seed: 0)
        let ps = model.params
        var seen = Set<String>()
        for e in f.entries {
            guard ps.contains(e.name) else { continue }   // e.g. CellPLM's unused norm0 and frozen PE table
            let info = ps.info(e.name)
            guard e.shape == info.shape else {
                throw .shapeMismatch(file: file, tensor: e.name, expected: info.shape, found: e.shape)
            }
            guard let v = e.floats else { throw .tensorFile(file: file, problem: "tensor '\(e.name)' is not float32", fix: "Re-convert the weights.") }
            ps.set(e.name, v)
            seen.insert(e.name)
        }
        // Parameters without a CellPLM counterpart keep their initial values when absent.
        let missing = ps.infos.map(\.name).filter { !seen.contains($0) && !GeneEmbedder.tesseraOnly.contains($0) }
        if !missing.isEmpty {
            throw .tensorFile(file: file, problem: "lacks \(missing.count) tensor(s) the model needs, first '\(missing[0])'",
                              fix: "The file was made for a different architecture; convert it again or pick the matching config.")
        }
        let genes = f.meta["geneNames"] as? [String] ?? []
        if !genes.isEmpty && genes.count != config.genes {
            throw .geneMismatch(file: file, problem: "lists \(genes.count) gene names for a vocabulary of \(config.genes)")
        }
        model.step = f.meta["step"] as? Int ?? 0
        if case .u64(let s)? = f.entry("state.rng")?.values, s.count == 4 { model.rng.state = s }
        var optimizer: AdamW?
        if let o = f.meta["optimizer"] as? [String: Any], let m = f.entry("optimizer.m")?.floats, let v = f.entry("optimizer.v")?.floats {
            guard m.count == ps.count, v.count == ps.count else {
                throw .shapeMismatch(file: file, tensor: "optimizer.m", expected: [ps.count], found: [m.count])
            }
            let groups = (o["groups"] as? [[String: Any]] ?? []).map {
                AdamW.Group(lrScale: Float($0["lrScale"] as? Double ?? 1), weightDecay: Float($0["weightDecay"] as? Double ?? 0))
            }
            let opt = AdamW(count: ps.count, groups: groups)
            for i in 0..<ps.count { opt.m[i] = m[i]; opt.v[i] = v[i] }
            opt.t = o["t"] as? Int ?? 0
            optimizer = opt
        }
        var schedule: LRSchedule?
        if let s = f.meta["schedule"], let d = try? JSONSerialization.data(withJSONObject: s) {
            schedule = try? JSONDecoder().decode(LRSchedule.self, from: d)
        }
        let progress = (f.meta["progress"] as? [String: Any] ?? [:]).compactMapValues { $0 as? Double }
        return Checkpoint(model: model, genes: genes, optimizer: optimizer, schedule: schedule, progress: progress)
    }
}
