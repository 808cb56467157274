import Analysis
import ArgumentParser
import Foundation
import Render
import Tensor

/// `tessera-bench render`: simulated tissue (viewer.md's model: uniform cells at 10,000 per mm², 20 clusters as
/// Voronoi domains with 10 % noise, one gene with 50 % zeros, lognormal × a gradient) drawn to a 1500 × 1500 PNG
/// by cluster and by gene, ours against squidpy `spatial_scatter(shape=None)` and datashader on the same cells in
/// the same run; then tiles on demand and a full pyramid (down to ≤ 1 µm per pixel); and (`--umap-cells`) our
/// UMAP against umap-learn on the same kNN lists. CPU seconds (process time) and wall seconds; first call and
/// best of `--repeats`; peak RSS beyond the loaded data; the load average beside every side.
struct RenderBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "render",
        abstract: "Maps of 100k and 1M simulated cells vs squidpy and datashader; tiles; UMAP at 100k vs umap-learn.")

    @Option(help: "Cell counts, comma-separated.") var cells = "100000,1000000"
    @Option(help: "Best of this many warm calls.") var repeats = 3
    @Option(help: "Scratch folder.") var out = "bench-out/render"
    @Option(help: "Python of the peer venv.") var python = FileManager.default.currentDirectoryPath + "/.venv-bench/bin/python"
    @Option(help: "Peer script.") var peerScript = FileManager.default.currentDirectoryPath + "/scripts/render_peer.py"
    @Option(help: "Peers: squidpy,datashader (empty: ours only).") var peers = "squidpy,datashader"
    @Option(help: "UMAP benchmark size (0: skip).") var umapCells = 100_000

    struct Tissue { var x: [Float], y: [Float], codes: [Int32], gene: [Float] }

    static func simulate(_ n: Int, seed: UInt64 = 0) -> Tissue {
        var rng = SeededRNG(seed: seed)
        let side = Float((Double(n) / 10_000).squareRoot() * 1000)   // µm
        let seeds = (0..<20).map { _ in (Float(rng.uniform()) * side, Float(rng.uniform()) * side) }
        var t = Tissue(x: [], y: [], codes: [], gene: [])
        t.x.reserveCapacity(n); t.y.reserveCapacity(n); t.codes.reserveCapacity(n); t.gene.reserveCapacity(n)
        for _ in 0..<n {
            let x = Float(rng.uniform()) * side, y = Float(rng.uniform()) * side
            var best = 0, bd = Float.infinity
            for (k, s) in seeds.enumerated() { let d = (s.0 - x) * (s.0 - x) + (s.1 - y) * (s.1 - y); if d < bd { bd = d; best = k } }
            if rng.uniform() < 0.1 { best = rng.int(below: 20) }
            t.x.append(x); t.y.append(y); t.codes.append(Int32(best))
            t.gene.append(rng.uniform() < 0.5 ? 0 : Float(exp(rng.normal() * 0.5)) * (1 + 3 * x / side))
        }
        return t
    }

    static func cpuSeconds() -> Double {
        var ts = timespec(); clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
    static func measure(_ body: () throws -> Void) rethrows -> (cpu: Double, wall: Double) {
        let c0 = cpuSeconds(), w0 = Date()
        try body()
        return (cpuSeconds() - c0, Date().timeIntervalSince(w0))
    }
    static func resetPeak() { try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8) }
    static func rss() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") { return (line.split(separator: " ").compactMap { Int($0) }.first ?? 0) * 1024 }
        return 0
    }
    static func ms(_ s: Double) -> String { String(format: "%.1f ms", s * 1000) }
    static func mb(_ b: Int) -> String { String(format: "%.0f MB", Double(b) / 1e6) }

    func run() throws {
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        print("render: \(Parallel.cores) cores, load \(loadAverage()); times are CPU (wall), first call / best of \(repeats)")
        for n in cells.split(separator: ",").compactMap({ Int($0) }) { try maps(n, dir: dir) }
        if umapCells > 0 { try umap(umapCells, dir: dir) }
    }

    func maps(_ n: Int, dir: URL) throws {
        let t = Self.simulate(n)
        let positions = CellPositions(x: t.x, y: t.y)
        print("\n== \(n) cells, \(String(format: "%.1f", Double(t.x.max()!) / 1000)) mm square, PNG 1500 × 1500, load \(loadAverage())")
        var ours: [String: (first: (cpu: Double, wall: Double), best: (cpu: Double, wall: Double), bytes: Int, peak: Int)] = [:]
        for key in ["cluster", "gene"] {
            let colouring: MapColouring = key == "cluster"
                ? .categories(key: "cluster", codes: t.codes, names: (0..<20).map(String.init), colours: nil)
                : .values(key: "gene", values: t.gene)
            var png: [UInt8] = []
            let base = Self.rss()
            Self.resetPeak()
            let body = { png = try SpatialMap(positions: positions, colouring: colouring).drawWhole(longSide: 1500).png() }
            let first = try Self.measure(body)
            var best = (cpu: Double.infinity, wall: Double.infinity)
            for _ in 0..<repeats { let m = try Self.measure(body); best = (min(best.cpu, m.cpu), min(best.wall, m.wall)) }
            let peak = max(0, peakRSS() - base)
            try Data(png).write(to: dir.appendingPathComponent("ours_\(key)_\(n).png"))
            // Where the time goes (best of `repeats` each): preparing (colours, order, legend), drawing, encoding.
            var tp = Double.infinity, td = Double.infinity, te = Double.infinity, ts = Double.infinity, simpleBytes = 0
            for _ in 0..<repeats {
                var map: SpatialMap!, img: MapImage!
                tp = min(tp, try Self.measure { map = try SpatialMap(positions: positions, colouring: colouring) }.cpu)
                td = min(td, try Self.measure { img = try map.drawWhole(longSide: 1500) }.cpu)
                te = min(te, try Self.measure { _ = try img.png() }.cpu)
                ts = min(ts, try Self.measure { simpleBytes = try img.png(method: .simplified).count }.cpu)
            }
            print("ours \(key) breakdown: prepare \(Self.ms(tp)), draw \(Self.ms(td)), PNG \(Self.ms(te)) (zlib 1, \(png.count / 1024) KiB; the simplified API at zlib 3: \(Self.ms(ts)), \(simpleBytes / 1024) KiB)")
            ours[key] = (first, best, png.count, peak)
            print("ours \(key): first \(Self.ms(first.cpu)) (\(Self.ms(first.wall))), best \(Self.ms(best.cpu)) (\(Self.ms(best.wall))), \(png.count / 1024) KiB, peak beyond data \(Self.mb(peak))")
        }

        // Tiles: on demand (a prepared map, its grid index), and a full pyramid down to ≤ 1 µm per pixel.
        let map = try SpatialMap(positions: positions, colouring: .categories(key: "cluster", codes: t.codes, names: (0..<20).map(String.init), colours: nil))
        var index: GridIndex? = nil, summary: TileSummary? = nil
        let pyramid = map.pyramid
        let prep = Self.measure { index = GridIndex(map); summary = TileSummary(map, pyramid: pyramid) }
        let top = pyramid.zoom(forMicronsPerPixel: 1)
        var tileCount = 0, bytes = 0, worst = 0.0
        var perLevel: [String] = []
        let full = try Self.measure {
            for z in 0...top {
                let tiles = pyramid.tiles(zoom: z, covering: map.extent)
                let lz = try Self.measure {
                    for (x, y) in tiles {
                        let m = try Self.measure { bytes += try map.tile(z: z, x: x, y: y, pyramid: pyramid, index: index, summary: summary).png().count }
                        worst = max(worst, m.cpu)
                    }
                }
                tileCount += tiles.count
                perLevel.append("z\(z): \(tiles.count) × \(String(format: "%.2f", lz.cpu * 1000 / Double(tiles.count))) ms")
            }
        }
        print("tiles: grid index + coarse summary (to z\(summary?.level ?? -1)) \(Self.ms(prep.cpu)); pyramid to z\(top) (\(pyramid.micronsPerPixel(zoom: top)) µm/px): \(tileCount) tiles, \(bytes / 1_000_000) MB, \(String(format: "%.2f", full.cpu)) s CPU (\(String(format: "%.2f", full.wall)) s wall), mean \(String(format: "%.2f", full.cpu * 1000 / Double(tileCount))) ms a tile, worst \(Self.ms(worst))")
        print("  " + perLevel.joined(separator: "; "))

        guard !peers.isEmpty else { return }
        guard FileManager.default.isExecutableFile(atPath: python) else { print("peers skipped: \(python) is missing (bash ../shared/bench/install.sh .venv-bench)"); return }
        let file = dir.appendingPathComponent("cells_\(n).bin")
        var data = Data()
        for col in [t.x, t.y] { col.withUnsafeBytes { data.append(contentsOf: $0) } }
        t.codes.withUnsafeBytes { data.append(contentsOf: $0) }
        t.gene.withUnsafeBytes { data.append(contentsOf: $0) }
        try data.write(to: file)
        let load = loadAverage()
        let json = try runProcess(python, [peerScript, "--data", file.path, "--cells", String(n), "--out", dir.path,
                                           "--repeat", String(max(1, repeats - 1)), "--tools", peers])
        guard let peer = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: [String: Double]] else {
            throw ValidationError("the peer printed no JSON: \(json.suffix(500))")
        }
        print("peers (load \(load) → \(loadAverage())):")
        print("| \(n) cells | ours CPU (wall) | peer CPU (wall) | peer ÷ ours (CPU) | first call ours / peer | peak beyond data ours / peer |")
        print("|---|---|---|---|---|---|")
        for tool in peers.split(separator: ",") { for key in ["cluster", "gene"] {
            guard let p = peer["\(tool)_\(key)"], let o = ours[key] else { continue }
            print("| \(tool), \(key) | \(Self.ms(o.best.cpu)) (\(Self.ms(o.best.wall))) | \(Self.ms(p["cpu"]!)) (\(Self.ms(p["wall"]!))) | \(String(format: "%.0f×", p["cpu"]! / o.best.cpu)) | \(Self.ms(o.first.cpu)) / \(Self.ms(p["first_cpu"]!)) | \(Self.mb(o.peak)) / \(Self.mb(Int(p["peak_beyond_data"]!))) |")
        } }
    }

    /// UMAP at `n` cells: a 20-cluster mixture in 30-D, NN-descent kNN (k = 14 + self), our layout against
    /// umap-learn given the same kNN lists; trustworthiness of both on the same 5,000 random cells (scikit-learn).
    func umap(_ n: Int, dir: URL) throws {
        var rng = SeededRNG(seed: 7)
        let d = 30
        let centres = (0..<20).map { _ in (0..<d).map { _ in Float(rng.normal() * 4) } }
        var x = Matrix(rows: n, cols: d)
        for i in 0..<n { let c = centres[rng.int(below: 20)]; for j in 0..<d { x.data[i * d + j] = c[j] + Float(rng.normal()) } }
        print("\n== UMAP, \(n) cells × \(d) dims (20 Gaussian clusters), load \(loadAverage())")
        var nb: KNNGraph.Neighbors!
        let tk = try Self.measure { nb = try KNNGraph.approximate(x, k: 14, seed: 0) }
        var layout = Matrix(rows: 0, cols: 2)
        let tl = try Self.measure {
            let g = try KNNGraph.connectivities(nb)
            layout = try UMAP(seed: 0).layout(g, initial: try UMAP.initialLayout(x, seed: 0))
        }
        print("ours: kNN (NN-descent) \(String(format: "%.1f", tk.cpu)) s; fuzzy graph + PCA init + layout (200 epochs) \(String(format: "%.1f", tl.cpu)) s CPU (\(String(format: "%.1f", tl.wall)) s wall)")
        guard FileManager.default.isExecutableFile(atPath: python) else { print("umap-learn skipped: \(python) is missing"); return }
        let u = dir.appendingPathComponent("umap", isDirectory: true)
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        try x.data.withUnsafeBytes { try Data($0).write(to: u.appendingPathComponent("x.f32")) }
        try nb.indices.withUnsafeBytes { try Data($0).write(to: u.appendingPathComponent("idx.i32")) }
        try nb.distances.withUnsafeBytes { try Data($0).write(to: u.appendingPathComponent("dist.f32")) }
        try layout.data.withUnsafeBytes { try Data($0).write(to: u.appendingPathComponent("ours.f32")) }
        let load = loadAverage()
        let json = try runProcess(python, [peerScript, "--umap", "--data", u.path, "--cells", String(n), "--dim", String(d), "--k", "14"])
        guard let p = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { throw ValidationError("umap peer printed no JSON") }
        let cpu = p["umap_learn_cpu"] as? Double ?? .nan, wall = p["umap_learn_wall"] as? Double ?? .nan
        print("umap-learn \(p["umap_learn_version"] ?? "?") (load \(load) → \(loadAverage())), same kNN lists, 1 thread:")
        print("| UMAP \(n) cells | ours | umap-learn | ratio |")
        print("|---|---|---|---|")
        print("| CPU s (graph + init + layout) | \(String(format: "%.1f", tl.cpu)) | \(String(format: "%.1f", cpu)) | \(String(format: "%.2f×", cpu / tl.cpu)) |")
        print("| wall s | \(String(format: "%.1f", tl.wall)) | \(String(format: "%.1f", wall)) | |")
        print("| trustworthiness (k = 15, 5,000 cells) | \(String(format: "%.4f", p["trust_ours"] as? Double ?? .nan)) | \(String(format: "%.4f", p["trust_umap_learn"] as? Double ?? .nan)) | |")
    }
}
