import Foundation
import Testing
@testable import Render

/// Drawing: dots at known pixels, draw order, hidden categories, aggregation, tiles equal to the whole map,
/// deterministic PNG bytes that decode to the pixels drawn, and bad input.
struct SpatialMapTests {
    /// Cells on a 10 µm grid, n × n, clusters by column band and a value rising with x.
    static func grid(_ n: Int) -> (CellPositions, [Int32], [Float]) {
        var x: [Float] = [], y: [Float] = [], c: [Int32] = [], v: [Float] = []
        for i in 0..<n { for j in 0..<n { x.append(Float(j) * 10); y.append(Float(i) * 10); c.append(Int32(j * 4 / n)); v.append(Float(j)) } }
        return (CellPositions(x: x, y: y), c, v)
    }

    @Test func dotsLandWhereTheCellsAre() throws {
        let p = CellPositions(x: [0, 100], y: [0, 50])
        var style = MapStyle(); style.dotDiameter = 10
        let map = try SpatialMap(positions: p, colouring: .categories(key: "k", codes: [0, 1], names: ["a", "b"], colours: nil), style: style)
        // Region x −10...110, y −10...60 on 120 × 70 px: 1 px per µm, nothing clipped.
        let img = map.draw(try MapView(region: MapBounds(x0: -10, y0: -10, x1: 110, y1: 60), width: 120, height: 70))
        #expect(img.coverage == nil)
        #expect(img.pixels[10 * 120 + 10] == 1)          // cell 0 at (0, 0) → pixel (10, 10), category a
        #expect(img.pixels[60 * 120 + 110] == 2)         // cell 1 at (100, 50) → pixel (110, 60), category b
        #expect(img.pixels[35 * 120 + 60] == 0)          // nothing in between
        #expect(img.pixels[10 * 120 + 4] == 0 && img.pixels[10 * 120 + 5] == 1)   // the disc's edge, 5 px left of the centre
        // A 10 µm dot at 1 px/µm covers about π·5² = 78.5 pixels (pixel centres within the radius).
        let painted = img.paintedPixels
        #expect(painted >= 2 * 72 && painted <= 2 * 86, "\(painted) pixels")
    }

    @Test func highValuesDrawOnTopAndHiddenCategoriesVanish() throws {
        let p = CellPositions(x: [0, 0, 0], y: [0, 0, 0])
        var style = MapStyle(); style.dotDiameter = 4
        let vals = try SpatialMap(positions: p, colouring: .values(key: "g", values: [5, 9, 1]), style: style)
        #expect(vals.order == [2, 0, 1])
        let img = try vals.drawWhole(longSide: 8)
        #expect(img.pixels.contains(vals.level[1]) && !img.pixels.contains(vals.level[0]))
        style.hidden = [1]
        let cats = try SpatialMap(positions: p, colouring: .categories(key: "k", codes: [0, 1, 1], names: ["a", "b"], colours: nil), style: style)
        #expect(cats.order == [0])
        #expect(cats.legend.categories?.map(\.count) == [1, 2])
        #expect(cats.legend.categories?.map(\.drawn) == [true, false])
    }

    @Test func nanAndZerosAreCountedAndGrey() throws {
        let (p, _, _) = Self.grid(4)
        var v = [Float](repeating: 1, count: 16); v[0] = .nan; v[1] = 0; v[2] = -.infinity
        var style = MapStyle(); style.zerosGrey = true
        let map = try SpatialMap(positions: p, colouring: .values(key: "g", values: v), style: style)
        #expect(map.legend.missing == 2 && map.legend.zeros == 1)
        #expect(map.palette[Int(map.level[0])] == .missing && map.palette[Int(map.level[1])] == .zero)
    }

    @Test func subPixelDotsAggregateToCoverage() throws {
        let (p, c, _) = Self.grid(100)   // 1,000 µm square, 10 µm dots
        var style = MapStyle(); style.dotDiameter = 10
        let map = try SpatialMap(positions: p, colouring: .categories(key: "k", codes: c, names: ["a", "b", "c", "d"], colours: nil), style: style)
        let img = try map.drawWhole(longSide: 50)   // 20 µm per pixel: 4 cells a pixel, dots of 0.5 px
        let cov = try #require(img.coverage)
        // 4 cells × π·0.25² px² = 0.785 of a pixel covered → alpha 201 in the interior, the same everywhere.
        #expect(cov[25 * 50 + 25] == UInt8((4 * Float.pi * 0.0625 * 255).rounded(.up)))
        let png = try img.png()
        let back = try PNGDecoder.rgba(png)
        #expect(back.width == 50 && back.pixels[4 * (25 * 50 + 25) + 3] == cov[25 * 50 + 25])
    }

    @Test func tilesMatchTheWholeMapPixelForPixel() throws {
        let (p, _, v) = Self.grid(60)
        let map = try SpatialMap(positions: p, colouring: .values(key: "g", values: v))
        let pyramid = map.pyramid, index = GridIndex(map)
        let z = 2, n = 1 << z
        let whole = map.draw(try MapView(region: pyramid.square, width: 256 * n, height: 256 * n))
        var painted = 0
        for ty in 0..<n { for tx in 0..<n {
            let tile = try map.tile(z: z, x: tx, y: ty, pyramid: pyramid, index: index)
            for r in 0..<256 { for c in 0..<256 {
                let a = tile.pixels[r * 256 + c], b = whole.pixels[(ty * 256 + r) * 256 * n + tx * 256 + c]
                if a != b { Issue.record("tile \(z)/\(tx)/\(ty) pixel (\(c), \(r)): \(a) vs \(b)"); return }
                if a != 0 { painted += 1 }
            } }
        } }
        #expect(painted > 0 && painted == whole.paintedPixels)
        #expect(throws: RenderError.tileOutside(z: 2, x: 4, y: 0, maxZoom: pyramid.maxZoom)) { try pyramid.view(z: 2, x: 4, y: 0) }
        #expect(throws: RenderError.self) { try pyramid.view(z: pyramid.maxZoom + 1, x: 0, y: 0) }
    }

    @Test func coarseTilesFromTheSummaryEqualDrawingEveryCell() throws {
        let (p, _, v) = Self.grid(200)   // 2 mm square, cells 10 µm apart
        var style = MapStyle(); style.dotDiameter = 2   // sub-pixel at zooms 0 and 1
        let map = try SpatialMap(positions: p, colouring: .values(key: "g", values: v.map { $0 * 7 }), style: style)
        let pyramid = map.pyramid, index = GridIndex(map)
        let summary = try #require(TileSummary(map, pyramid: pyramid))
        #expect(summary.level == 1)
        for z in 0...1 { for ty in 0..<(1 << z) { for tx in 0..<(1 << z) {
            let fast = try map.tile(z: z, x: tx, y: ty, pyramid: pyramid, index: index, summary: summary)
            let slow = map.draw(try pyramid.view(z: z, x: tx, y: ty), index: nil)
            #expect(fast.pixels == slow.pixels, "tile \(z)/\(tx)/\(ty) colours")
            #expect(fast.coverage == slow.coverage, "tile \(z)/\(tx)/\(ty) coverage")
            #expect(slow.paintedPixels > 0)
        } } }
    }

    @Test func samePixelsSameBytesAndTheyDecode() throws {
        let (p, c, _) = Self.grid(30)
        let map = try SpatialMap(positions: p, colouring: .categories(key: "k", codes: c, names: ["a", "b", "c", "d"], colours: nil))
        let a = try map.drawWhole(longSide: 300).png(), b = try map.drawWhole(longSide: 300).png()
        #expect(a == b)
        #expect(Array(a.prefix(8)) == [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        let img = try map.drawWhole(longSide: 300)
        let back = try PNGDecoder.rgba(a)
        #expect(back.pixels == img.rgba())
        // The simplified-API encoder (zlib 3) gives other bytes for the same pixels.
        let simple = try img.png(method: .simplified)
        #expect(simple == (try img.png(method: .simplified)))
        #expect(try PNGDecoder.rgba(simple).pixels == img.rgba())
        // RGBA (aggregated cells) through both encoders decodes to the same pixels too.
        let coarse = try map.drawWhole(longSide: 10)
        #expect(coarse.coverage != nil)
        #expect(try PNGDecoder.rgba(try coarse.png()).pixels == coarse.rgba())
        #expect(try PNGDecoder.rgba(try coarse.png(method: .simplified)).pixels == coarse.rgba())
    }

    @Test func badInputIsNamed() throws {
        let p = CellPositions(x: [0, .nan], y: [0, 1])
        #expect(throws: RenderError.self) { try SpatialMap(positions: p, colouring: .values(key: "g", values: [1, 2])) }
        let q = CellPositions(x: [0, 1], y: [0, 1])
        #expect(throws: RenderError.lengthMismatch(column: "g", expected: 2, actual: 1)) {
            try SpatialMap(positions: q, colouring: .values(key: "g", values: [1]))
        }
        let many = (0..<103).map { "c\($0)" }
        #expect(throws: RenderError.tooManyCategories(column: "k", count: 103, limit: 102)) {
            try SpatialMap(positions: q, colouring: .categories(key: "k", codes: [0, 1], names: many, colours: nil))
        }
        #expect(throws: RenderError.noCells(what: "the map")) {
            try SpatialMap(positions: CellPositions(x: [], y: []), colouring: .values(key: "g", values: []))
        }
        #expect(throws: RenderError.self) { try MapView(region: MapBounds(x0: 0, y0: 0, x1: 1, y1: 1), width: 100_000, height: 10) }
        var style = MapStyle(); style.colorMap = "nope"
        #expect(throws: RenderError.self) { try SpatialMap(positions: q, colouring: .values(key: "g", values: [1, 2]), style: style) }
    }

    @Test func mapColumnsRoundTrip() throws {
        var m = MapColumns(cells: 3)
        try m.add("X_umap.x", values: [1, 2, 3])
        try m.add("leiden", codes: [0, -1, 1], names: ["0", "1"])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cols-\(UUID()).tmap")
        defer { try? FileManager.default.removeItem(at: url) }
        try m.write(to: url)
        #expect(try MapColumns.read(url) == m)
        try Data("TMAP garbage".utf8).write(to: url)
        #expect(throws: RenderError.self) { try MapColumns.read(url) }
        #expect(throws: RenderError.self) { try m.add("bad", codes: [0, 5, 0], names: ["a"]) }
    }
}
