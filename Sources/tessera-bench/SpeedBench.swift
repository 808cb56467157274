import Analysis
import ArgumentParser
import CellLM
import Foundation
import SpatialData
import Tensor
import Workflows

/// `tessera-bench speed`: on simulated tissue (`TissueSimulator`, the make_synth.py model at scale: 100,000
/// cells × 500 genes in FOVs of 50,000), in one invocation:
///
/// 1. end to end, embed + kNN + Leiden: ours (read the h5ad, `small` model embedding of every cell — weights
///    are seeded, not trained: speed does not depend on them — scanpy-style kNN graph, Leiden at resolution
///    1) against scanpy's normalize_total + log1p + PCA(50) + neighbors(15) + Leiden (igraph) on the same file;
///    our PCA(50) + kNN + Leiden is shown too, as the like-for-like pipeline;
/// 2. Leiden alone on the same graph: ours against leidenalg (`sc.tl.leiden(flavor='leidenalg')`) and igraph,
///    the graph exported from ours; each partition's RBConfiguration quality computed by us on that graph.
///
/// Timings are wall seconds with the machine's load average before and after each side: the machine is
/// shared, so compare within one run.
struct SpeedBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "speed",
        abstract: "Embed + kNN + Leiden for 100k simulated cells vs scanpy, and Leiden alone vs leidenalg on the same graph.")

    @Option(help: "Cells.") var cells = 100_000
    @Option(help: "Genes.") var genes = 500
    @Option(help: "Scratch folder for the simulated h5ad and the exported graph.") var out = "bench-out/speed"
    @Option(help: "Python of the peer venv.") var python = FileManager.default.currentDirectoryPath + "/.venv-bench/bin/python"
    @Option(help: "Peer script.") var peerScript = FileManager.default.currentDirectoryPath + "/scripts/cluster_peer.py"
    @Option(help: "all, pipeline (1 only) or leiden (2 only, on the graph a previous run exported to --out).") var part = "all"

    func run() throws {
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let h5ad = dir.appendingPathComponent("spatial_\(cells).h5ad").path
        if !FileManager.default.fileExists(atPath: h5ad) {
            let t = TissueSimulator.simulate(.scaling(cells: cells, genes: genes, seed: 0))
            try H5ADWriter.write(t.spatial, to: h5ad)
        }
        print("speed: \(cells) simulated cells × \(genes) genes (\(h5ad)), \(Parallel.cores) cores")

        guard ["all", "pipeline", "leiden"].contains(part) else { throw ValidationError("--part is '\(part)'; use all, pipeline or leiden") }
        let gdir = dir.appendingPathComponent("graph")
        if part != "leiden" { try pipeline(h5ad: h5ad, graphFolder: gdir) }
        if part != "pipeline" { try leidenAlone(graphFolder: gdir) }
    }

    /// 1: ours end to end against scanpy on the same file; exports our PCA kNN graph for part 2.
    func pipeline(h5ad: String, graphFolder gdir: URL) throws {
        // ---- 1. end to end --------------------------------------------------------------------------
        let loadOurs = loadAverage()
        let (ds, tRead) = try timed { try DatasetReader.read(path: h5ad) }
        let truth = (0..<ds.cellCount).map { ds.obs["cell_type"]?.text($0) ?? "" }
        let (set, tSeq) = try timed { try DatasetSequences.make(ds) }
        var cfg = CellLMConfig.small(genes: ds.geneCount)
        cfg.latent = .vae
        let model = try CellLM(config: cfg, seed: 1)
        let (parts, tEmbed) = try timed { try model.embedMany(set.sequences) }
        let x = set.datasetOrder(parts, cells: ds.cellCount)
        let (graph, tGraph) = try timed { try EmbeddingGraph(x, neighbors: 15, seed: 0) }
        let (clusters, tLeiden) = try timed { try graph.leiden(resolution: 1, seed: 0) }
        let oursTotal = tRead + tSeq + tEmbed + tGraph + tLeiden
        // Like for like: our PCA(50) + kNN + Leiden on normalize_total + log1p.
        let (pcaX, tPCA) = try timed { try PCA(components: 50).fit(ClusterQuality.normalizedLog(ds)).scores }
        let (pcaGraph, tPcaGraph) = try timed { try EmbeddingGraph(pcaX, neighbors: 15, seed: 0) }
        let (pcaPart, tPcaLeiden) = try timed { try pcaGraph.leiden(resolution: 1, seed: 0) }
        let loadOursAfter = loadAverage()

        let loadPeer = loadAverage()
        let peerJSON = try runProcess(python, [peerScript, "--timing", "--data", h5ad, "--threads", String(Parallel.cores)])
        let loadPeerAfter = loadAverage()
        guard let peer = try JSONSerialization.jsonObject(with: Data(peerJSON.utf8)) as? [String: Any],
              let ps = peer["seconds"] as? [String: Double] else { throw ValidationError("the peer printed no timing JSON") }
        let steps = ["read", "normalize_total", "log1p", "pca", "neighbors", "leiden_igraph"]
        let peerTotal = steps.reduce(0.0) { $0 + (ps[$1] ?? .nan) }
        let first = peer["first"] as? [String: Double] ?? [:]
        let peerCold = steps.reduce(0.0) { $0 + (first[$1] ?? .nan) }

        func row(_ name: String, _ ours: Double, _ peer: Double) {
            print(String(format: "%@ | %8.2f | %8.2f | %6.2f", name.padding(toLength: 56, withPad: " ", startingAt: 0), ours, peer, peer / ours))
        }
        print("\n1. end to end (seconds; ratio = peer / ours, > 1 means ours is faster; peer rows: its 2nd run)")
        print("step".padding(toLength: 56, withPad: " ", startingAt: 0) + " |     ours |     peer |  ratio")
        row("read h5ad", tRead, ps["read"] ?? .nan)
        row("ours: sequences + embed (small) | peer: norm+log1p+PCA50", tSeq + tEmbed, (ps["normalize_total"] ?? .nan) + (ps["log1p"] ?? .nan) + (ps["pca"] ?? .nan))
        row("kNN graph (15)", tGraph, ps["neighbors"] ?? .nan)
        row("Leiden res 1 (peer: igraph)", tLeiden, ps["leiden_igraph"] ?? .nan)
        row("total: embed + kNN + Leiden vs scanpy (2nd run, warm)", oursTotal, peerTotal)
        row("total vs scanpy 1st run (imports, numba compile)", oursTotal, peerCold)
        row("like for like: ours PCA50+kNN+Leiden (no read; warm)", tPCA + tPcaGraph + tPcaLeiden, peerTotal - (ps["read"] ?? 0))
        print(String(format: "ours: %d communities (ARI vs cell_type %.3f, untrained model); our PCA pipeline %d communities (ARI %.3f); scanpy %@ communities (ARI %@)",
                     clusters.communityCount, try Metrics.adjustedRandIndex(truth, clusters.labels.map(String.init)), pcaPart.communityCount,
                     try Metrics.adjustedRandIndex(truth, pcaPart.labels.map(String.init)), "\(peer["communities"] ?? "?")", "\(peer["ari"] ?? "?")"))
        print("load average: ours \(loadOurs) → \(loadOursAfter); peer \(loadPeer) → \(loadPeerAfter)")

        let g = pcaGraph.connectivities
        try FileManager.default.createDirectory(at: gdir, withIntermediateDirectories: true)
        try g.indptr.map { Int64($0) }.withUnsafeBytes { try Data($0).write(to: gdir.appendingPathComponent("indptr.bin")) }
        try g.indices.withUnsafeBytes { try Data($0).write(to: gdir.appendingPathComponent("indices.bin")) }
        try g.values.withUnsafeBytes { try Data($0).write(to: gdir.appendingPathComponent("data.bin")) }
    }

    /// 2: Leiden alone on the exported graph, ours against leidenalg and igraph.
    func leidenAlone(graphFolder gdir: URL) throws {
        let indptr = try Data(contentsOf: gdir.appendingPathComponent("indptr.bin")).withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) }.map { Int($0) }
        let indices = try Data(contentsOf: gdir.appendingPathComponent("indices.bin")).withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
        let values = try Data(contentsOf: gdir.appendingPathComponent("data.bin")).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let n = indptr.count - 1
        let g = CSRMatrix(rows: n, cols: n, indptr: indptr, indices: indices, values: values)
        let loadL = loadAverage()
        var ourRuns: [Double] = []
        var ours: Leiden.Result?
        for _ in 0..<2 { let (r, t) = try timed { try Leiden(resolution: 1, iterations: 2, seed: 0).fit(g) }; ours = r; ourRuns.append(t) }
        let loadLPeer = loadAverage()
        let lj = try runProcess(python, [peerScript, "--graph", gdir.path, "--threads", String(Parallel.cores)])
        let loadLAfter = loadAverage()
        guard let ld = try JSONSerialization.jsonObject(with: Data(lj.utf8)) as? [String: Any], let lei = ld["leiden"] as? [String: [String: Any]] else {
            throw ValidationError("the peer printed no Leiden JSON")
        }
        print("\n2. Leiden alone, resolution 1, 2 iterations each, on our PCA kNN graph (\(g.rows) nodes, \(g.nnz) stored edges); best of 2 runs")
        print("method          | seconds | communities | quality (ours on this graph)")
        print(String(format: "ours            | %7.3f | %11d | %.2f", ourRuns.min()!, ours!.communityCount, ours!.quality))
        for flavor in ["leidenalg", "igraph"] {
            guard let e = lei[flavor], let secs = e["seconds"] as? [Double], let labels = e["labels"] as? [Int] else { continue }
            let q = try Leiden.quality(g, labels: labels, resolution: 1)
            print(String(format: "%@ | %7.3f | %11d | %.2f   (ratio peer/ours %.2f)", flavor.padding(toLength: 15, withPad: " ", startingAt: 0),
                         secs.min()!, (e["communities"] as? Int) ?? -1, q, secs.min()! / ourRuns.min()!))
        }
        print("load average: ours \(loadL); peer \(loadLPeer) → \(loadLAfter)")
    }
}

/// Wall seconds of `body`.
private func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let t0 = DispatchTime.now().uptimeNanoseconds
    let r = try body()
    return (r, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
}
