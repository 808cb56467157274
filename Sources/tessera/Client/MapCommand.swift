import ArgumentParser
import Foundation

/// `tessera map DATASET_OR_JOB --color KEY | --gene G [--out map.png]`: a whole map drawn by the daemon (the same
/// renderer and cache as the viewer), written as a PNG with its legend beside it (`map.json`: categories with
/// colours and counts, or the colour bar, the extent in µm and the dot size), for scripts and papers.
/// `--view` prints the viewer URL of the same map instead (tissue beside the UMAP when the job has one).
struct MapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "map",
        abstract: "Draw a dataset's or a job's map to a PNG (with its legend as JSON), or print its viewer URL.")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "A job (id or 4+ char prefix) or a dataset (id, or name with --project).") var target: String
    @Option(help: "Colour by this obs or result column (e.g. leiden, cell_type).") var color: String?
    @Option(help: "Colour by this gene instead.") var gene: String?
    @Option(help: "Gene values: measured or imputed.") var layer = "measured"
    @Option(help: "spatial (the tissue) or an embedding such as X_umap.") var basis = "spatial"
    @Option(help: "The project holding a dataset given by name.") var project: String?
    @Option(help: "Pixels on the long side (64-4096).") var size = 1500
    @Option(help: "Dot diameter in µm (default: the cells' mean spacing).") var dot: Double?
    @Option(help: "Colour map for values (viridis, magma, Reds…).") var cmap: String?
    @Option(help: "Only this FOV or sample.") var fov: String?
    @Option(help: "Output PNG (the legend goes beside it as .json).") var out = "map.png"
    @Flag(help: "Print the viewer URL of this map instead of drawing it.") var view = false

    func validate() throws {
        if (color == nil) == (gene == nil) { throw ValidationError("give --color COLUMN or --gene GENE (one of them)") }
        if !(64...4096).contains(size) { throw ValidationError("--size must be 64...4096 pixels, not \(size)") }
    }

    func run() async throws {
        try await runClient {
            let c = daemon.client
            let src = try await source(c)
            var q: [(String, String)] = []
            if let color { q.append(("color", color)) }
            if let gene { q.append(("gene", gene)); if layer != "measured" { q.append(("layer", layer)) } }
            if basis != "spatial" { q.append(("basis", basis)) }
            if let dot { q.append(("dot", String(dot))) }
            if let cmap { q.append(("cmap", cmap)) }
            if let fov { q.append(("fov", fov)) }
            if view {
                let keys = try JSONSerialization.jsonObject(with: try await c.send("GET", "/api/maps/\(src)/keys")) as? [String: Any] ?? [:]
                let kind = color != nil ? "color:\(color!)" : "gene:\(gene!)\(layer == "imputed" ? ":imputed" : "")"
                var url = "\(c.base)/map.html?src=\(src)&p1=\(basis):\(kind)"
                if basis == "spatial", let e = (keys["embeddings"] as? [String])?.first { url += "&p2=\(e):\(kind)" }
                print(url)
                return
            }
            let query = (q + [("size", String(size))]).map { "\($0.0)=\(DaemonClient.escape($0.1))" }.joined(separator: "&")
            let png = try await c.send("GET", "/api/maps/\(src)/image?\(query)", timeout: 600)
            let legend = try await c.send("GET", "/api/maps/\(src)/legend?\(query.replacingOccurrences(of: "&size=\(size)", with: ""))")
            let outURL = URL(fileURLWithPath: out)
            try png.write(to: outURL)
            let legendURL = outURL.deletingPathExtension().appendingPathExtension("json")
            if let o = try? JSONSerialization.jsonObject(with: legend), let pretty = try? JSONSerialization.data(withJSONObject: o, options: [.prettyPrinted, .sortedKeys]) {
                try pretty.write(to: legendURL)
            }
            print("wrote \(outURL.path) (\(png.count / 1024) KiB) and its legend \(legendURL.path)")
        }
    }

    /// "jobs/ID" or "datasets/ID" for the target.
    func source(_ c: DaemonClient) async throws -> String {
        if project == nil, let j = try? await c.get("/api/jobs/\(DaemonClient.escape(target))", as: JobInfo.self) { return "jobs/\(j.id)" }
        var projects: [String]
        if let project { projects = [project] } else { projects = try await c.get("/api/projects", as: [ProjectInfo].self).map(\.id) }
        for p in projects {
            let ds = try await c.get("/api/projects/\(DaemonClient.escape(p))/datasets", as: [DatasetInfo].self)
            if let d = ds.first(where: { $0.id == target || $0.name == target }) { return "datasets/\(d.id)" }
        }
        throw ClientError(description: "'\(target)' is neither a job nor a dataset\(project.map { " of project \($0)" } ?? ""); list them with `tessera jobs` and `tessera dataset list --project P`")
    }
}
