import Foundation
import Render
import SpatialData
import Testing
import Workflows

/// Real tissue drawn end to end: osmFISH (4,839 cells, 33 genes) by ClusterName and by a gene, and the
/// 33,598-cell STARmap section, whose coordinates are 3-D: it is drawn as the x/y projection (z dropped),
/// and the legend says so.
struct RealTissueTests {
    static func data(_ p: String) -> String { "../shared/data/" + p }
    static let osmfish = data("osmfish/osmfish_valid_cells.h5ad"), starmap = data("starmap-3d-visp/starmap3d_visp.h5ad")

    /// Distinct opaque colours in a decoded PNG.
    static func colours(_ png: [UInt8]) throws -> (painted: Int, distinct: Int) {
        let d = try PNGDecoder.rgba(png)
        var set = Set<UInt32>(), painted = 0
        for i in 0..<(d.width * d.height) where d.pixels[4 * i + 3] > 0 {
            painted += 1
            set.insert(UInt32(d.pixels[4 * i]) << 16 | UInt32(d.pixels[4 * i + 1]) << 8 | UInt32(d.pixels[4 * i + 2]))
        }
        return (painted, set.count)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: osmfish), "../shared/data/osmfish is absent: skipped"))
    func osmFISHByClusterAndGene() throws {
        let data = try MapData(dataset: try DatasetReader.read(path: Self.osmfish))
        let positions = try data.positions(basis: "spatial")
        let clusters = try SpatialMap(positions: positions, colouring: try data.colouring(color: "ClusterName", gene: nil))
        let legend = clusters.legend
        #expect(legend.kind == "categorical" && legend.palette == "default_102")
        let cats = try #require(legend.categories)
        #expect(cats.count == 31)
        #expect(cats.map(\.count).reduce(0, +) + legend.missing == 4839)
        guard case .categorical(let truth)? = data.dataset.obs["ClusterName"] else { Issue.record("ClusterName is not categorical"); return }
        #expect(cats.map(\.count) == truth.categoryCounts())
        let png = try clusters.drawWhole(longSide: 1000).png()
        let c = try Self.colours(png)
        #expect(c.painted > 20_000)
        #expect(c.distinct >= 28)   // nearly every cluster visible (a few are tiny)

        let gene = data.keys.genes.contains("Slc17a7") ? "Slc17a7" : data.keys.genes[0]
        let expr = try SpatialMap(positions: positions, colouring: try data.colouring(color: nil, gene: gene))
        let bar = try #require(expr.legend.colourBar)
        #expect(bar.colorMap == "viridis" && bar.vmax > bar.vmin)
        let g = try Self.colours(try expr.drawWhole(longSide: 1000).png())
        #expect(g.distinct > 50)
        #expect(throws: RenderError.self) { try data.colouring(color: nil, gene: "NotAGene") }
        #expect(throws: RenderError.self) { try data.colouring(color: "nope", gene: nil) }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: starmap), "../shared/data/starmap-3d-visp is absent: skipped"))
    func starmapSectionProjectedToXY() throws {
        let ds = try DatasetReader.read(path: Self.starmap)
        #expect(ds.coordinates?.z != nil)
        let data = try MapData(dataset: ds)
        let positions = try data.positions(basis: "spatial")
        #expect(positions.note?.contains("z dropped") == true)
        let map = try SpatialMap(positions: positions, colouring: try data.colouring(color: nil, gene: data.keys.genes[0]))
        #expect(map.legend.cells == 33_598 && map.legend.positions?.contains("3-D") == true)
        let c = try Self.colours(try map.drawWhole(longSide: 1200).png())
        #expect(c.painted > 50_000 && c.distinct > 20)
    }
}
