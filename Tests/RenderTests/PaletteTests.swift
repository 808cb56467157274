import Foundation
import Testing
@testable import Render

/// Palettes and colour maps against scanpy's and matplotlib's own values.
struct PaletteTests {
    @Test func scanpyDefaultsByCategoryCount() {
        // scanpy.plotting.palettes.default_20[:3], default_28[0], default_102[0] (from scanpy 1.11).
        #expect(Palette.default20.count == 20 && Palette.default28.count == 28 && Palette.default102.count == 102)
        #expect(Palette.default20.prefix(3).map(\.hex) == ["#1f77b4", "#ff7f0e", "#279e68"])
        #expect(Palette.colours(count: 20).name == "default_20")
        #expect(Palette.colours(count: 21).name == "default_28")
        #expect(Palette.colours(count: 21).colours[0].hex == "#023fa5")
        #expect(Palette.colours(count: 29).name == "default_102")
        #expect(Palette.colours(count: 29).colours[0].hex == "#ffff00")
        #expect(Palette.colours(count: 103).colours.allSatisfy { $0 == Palette.overflowGrey })
    }

    @Test func unsColoursWinWhenTheyFit() {
        let given = ["#000000", "#ffffff", "#123456"]
        #expect(Palette.colours(count: 3, given: given).colours.map(\.hex) == given)
        #expect(Palette.colours(count: 3, given: ["#000000"]).name == "default_20")     // wrong length: ignored
        #expect(Palette.colours(count: 2, given: ["#000000", "teal?"]).name == "default_20")  // unparseable: ignored
    }

    @Test func colourMapsAreMatplotlibs() throws {
        // matplotlib: viridis(0) = (0.267004, 0.004874, 0.329415), viridis(255) = (0.993248, 0.906157, 0.143936).
        let v = try ColorMap(named: "viridis")
        #expect(v.colours.first == RGBA(68, 1, 84) && v.colours.last == RGBA(253, 231, 37))
        #expect(throws: RenderError.self) { try ColorMap(named: "jet2") }
        #expect(ColorMap.names.contains("magma"))
    }

    @Test func percentilesAreNumpys() throws {
        // numpy.percentile(np.arange(1, 101), [0, 50, 99.5, 100]) = 1, 50.5, 99.505, 100
        let v = (1...100).map(Float.init) + [.nan, .infinity]
        #expect(try ValueScale.percentile(v, 0) == 1)
        #expect(try ValueScale.percentile(v, 50) == 50.5)
        #expect(abs(try ValueScale.percentile(v, 99.5)! - 99.505) < 1e-4)
        #expect(try ValueScale.percentile(v, 100) == 100)
        #expect(try ValueScale.percentile([.nan], 50) == nil)
        // Many ties in one histogram bin (zeros) and a long tail.
        var w = [Float](repeating: 0, count: 10_000); for i in 0..<100 { w[i] = Float(i) * 1000 }
        let sorted = w.sorted()
        let rank = 0.995 * Double(w.count - 1), lo = Int(rank)
        let expected = Double(sorted[lo]) + (Double(sorted[lo + 1]) - Double(sorted[lo])) * (rank - Double(lo))
        #expect(abs(Double(try ValueScale.percentile(w, 99.5)!) - expected) < 1e-3)
        #expect(throws: RenderError.self) { try ValueScale.fit(v, vmin: 5, vmax: 1) }
    }
}
