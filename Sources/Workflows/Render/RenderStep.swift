import Analysis
import Foundation
import Render
import SpatialData
import Tensor

/// The last step of embed, impute and cluster-supcon: a UMAP of the embedding (stored as `obsm['X_umap']`),
/// the job's own columns for the map API (`artifacts/map.tmap`: `X_umap`, categorical results, imputed genes)
/// and a map of its main result (`artifacts/map.png` with its legend in `artifacts/map.json`): on the tissue when
/// the data has coordinates, else on the UMAP.
public enum RenderStep {
    /// Runs the step. `embedding` (with its `graph` when the workflow built one) adds the UMAP; `colour` names the
    /// column drawn in `map.png` (nil: the first imputed gene). A map that cannot be drawn (no coordinates and no
    /// UMAP) is reported as an event, never fails the job: the result itself is already computed.
    public static func run(_ context: WorkflowContext, dataset ds: Dataset, extras: inout H5ADExtras,
                           embedding: Matrix? = nil, graph: EmbeddingGraph? = nil, colour: String?) throws {
        context.emit(JobEvent(kind: .progress, phase: "render", step: 0, total: 2))
        var columns = MapColumns(cells: ds.cellCount)
        if let x = embedding, x.rows >= 3 {
            let g = try graph ?? EmbeddingGraph(x, neighbors: 15, seed: context.seed)
            try context.checkCancelled()
            let umap = try UMAP(seed: context.seed).layout(g.connectivities, initial: try UMAP.initialLayout(x, seed: context.seed))
            extras.obsm.append(("X_umap", umap))
            try columns.add("X_umap.x", values: (0..<umap.rows).map { umap.data[2 * $0] })
            try columns.add("X_umap.y", values: (0..<umap.rows).map { umap.data[2 * $0 + 1] })
        }
        context.emit(JobEvent(kind: .progress, phase: "render", step: 1, total: 2))
        for (name, v) in extras.obs.columns {
            switch v {
            case .categorical(let c): try columns.add(name, codes: c.codes, names: c.categories)
            case .bool(let b): try columns.add(name, codes: b.map { $0 ? 1 : 0 }, names: ["false", "true"])
            default: if let f = v.numericValues { try columns.add(name, values: f.map { Float($0) }) }
            }
        }
        for layer in extras.layers where layer.name == "imputed" {
            for (j, g) in layer.genes.enumerated() {
                try columns.add("imputed:" + g, values: (0..<layer.values.rows).map { layer.values.data[$0 * layer.values.cols + j] })
            }
        }
        try columns.write(to: try context.artifactURL("map.tmap"))
        context.emitArtifact("map.tmap", kind: "map-columns")

        do {
            let data = try MapData(dataset: ds, extra: columns)
            let basis = data.positions != nil ? "spatial" : "X_umap"
            let firstImputed = data.keys.imputedGenes.first
            let colouring = try colour.map { try data.colouring(color: $0, gene: nil) }
                ?? data.colouring(color: nil, gene: firstImputed, layer: "imputed")
            let map = try SpatialMap(positions: try data.positions(basis: basis), colouring: colouring)
            let png = try map.drawWhole(longSide: 1200).png()
            try Data(png).write(to: try context.artifactURL("map.png"))
            let e = JSONEncoder(); e.outputFormatting = [.prettyPrinted, .sortedKeys]
            try e.encode(map.legend).write(to: try context.artifactURL("map.json"))
            context.emitArtifact("map.png", kind: "map")
            context.emitArtifact("map.json", kind: "map-legend")
        } catch let e as RenderError {
            context.emit(JobEvent(kind: .progress, phase: "render: no map drawn (\(e.description))", step: 2, total: 2))
            return
        }
        context.emit(JobEvent(kind: .progress, phase: "render", step: 2, total: 2))
    }
}
