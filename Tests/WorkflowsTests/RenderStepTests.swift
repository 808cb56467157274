import Foundation
import Render
import SpatialData
import Testing
@testable import Workflows

/// The render step at the end of embed and cluster-supcon, through `WorkflowRunner`: a UMAP of every cell in the
/// map columns (and so in `obsm['X_umap']`), the job's categorical results beside it, and `map.png` + `map.json`
/// of the main result on the tissue.
@Suite(.serialized) struct RenderStepTests {
    typealias T = WorkflowTestSupport

    static func checkMap(_ f: JobFolder, cells: Int, columns: [String]) throws {
        let cols = try MapColumns.read(f.artifacts.appendingPathComponent("map.tmap"))
        #expect(cols.cells == cells)
        let ux = try #require(cols.floats["X_umap.x"]), uy = try #require(cols.floats["X_umap.y"])
        #expect(ux.allSatisfy(\.isFinite) && uy.allSatisfy(\.isFinite))
        #expect((ux.max()! - ux.min()!) > 1 && (uy.max()! - uy.min()!) > 1)
        for c in columns { #expect(cols.categories[c] != nil, "map.tmap lacks \(c)") }
        let legend = try JSONDecoder().decode(MapLegend.self, from: Data(contentsOf: f.artifacts.appendingPathComponent("map.json")))
        #expect(legend.kind == "categorical" && legend.key == "leiden" && legend.cells == cells)
        #expect((legend.categories ?? []).map(\.count).reduce(0, +) == cells)
        let png = try PNGDecoder.rgba(Array(try Data(contentsOf: f.artifacts.appendingPathComponent("map.png"))))
        #expect(max(png.width, png.height) == 1200)
        let painted = stride(from: 3, to: png.pixels.count, by: 4).filter { png.pixels[$0] > 0 }.count
        #expect(painted > png.width * png.height / 10, "map.png painted \(painted) pixels")
        let ev = try T.events(f)
        for name in ["map.tmap", "map.png", "map.json"] {
            #expect(ev.contains { $0.kind == .artifact && $0.path == "artifacts/\(name)" }, "no artifact event for \(name)")
        }
        #expect(ev.contains { $0.kind == .progress && $0.phase == "render" })
    }

    @Test func clusterSupConStoresUMAPAndAMap() throws {
        let t = T.tissue
        let f = try T.job("cluster-supcon", inputs: ["data": t.spatial], parameters: [
            "label_column": .string("cell_type"), "preset": .string("tiny"), "pretrain_steps": .number(5), "steps": .number(5),
            "cells_per_step": .number(128), "resolution_step": .number(0.3)])
        defer { try? FileManager.default.removeItem(at: f.url) }
        let exit = try T.run(f)
        #expect(exit.status == .succeeded, "\(exit.reason)")
        try Self.checkMap(f, cells: 1200, columns: ["leiden", "leiden_best_incl_training", "kmeans", "supcon_heldout"])
    }

    @Test func embedStoresUMAPAndAMap() throws {
        let t = T.tissue
        let pre = try T.job("pretrain", inputs: ["spatial": t.spatial], parameters: ["preset": .string("tiny"), "steps": .number(5), "warmup_steps": .number(1)])
        defer { try? FileManager.default.removeItem(at: pre.url) }
        #expect(try T.run(pre).status == .succeeded)
        let emb = try T.job("embed", inputs: ["data": t.spatial], parameters: ["checkpoint": .string(pre.artifacts.appendingPathComponent("model.tsr").path)])
        defer { try? FileManager.default.removeItem(at: emb.url) }
        let e = try T.run(emb)
        #expect(e.status == .succeeded, "\(e.reason)")
        try Self.checkMap(emb, cells: 1200, columns: ["leiden"])
    }
}
