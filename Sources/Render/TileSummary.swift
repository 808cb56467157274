/// The coarse levels of a pyramid, where dots are smaller than a pixel, drawn from a per-pixel summary instead of
/// from every cell: one raster at the finest such level (at most `maxPixels`) holding each pixel's topmost cell
/// and cell count. A coarser tile takes, per pixel, the topmost of its 2^k × 2^k summary pixels and the sum of
/// their counts, which is exactly what drawing every cell would give (pixel positions differ only by powers of
/// two), at a cost set by pixels rather than cells: a zoom-0 tile of a million cells reads 262,144 summary
/// pixels instead of a million cells.
public struct TileSummary: Sendable {
    /// The summary's zoom level; tiles at this level and coarser use it.
    public let level: Int
    let side: Int
    /// Per summary pixel: the topmost cell's draw rank (−1: none) and palette index, and how many cells fall in it
    /// (rank and colour are copied in, so drawing a tile never reaches back into the per-cell arrays).
    let top: [Int32]
    let colour: [UInt8]
    let count: [UInt16]

    /// nil when even zoom 0 draws whole dots (nothing to aggregate).
    public init?(_ map: SpatialMap, pyramid: TilePyramid, maxPixels: Int = 1 << 20) {
        let sq = pyramid.square
        var level = -1
        for z in 0...pyramid.maxZoom {
            let s = Float(TilePyramid.tileSize << z) / max(sq.width, 1e-3)
            let px = TilePyramid.tileSize << z
            if map.dotDiameter * s < 1 && px * px <= maxPixels { level = z } else { break }
        }
        guard level >= 0 else { return nil }
        self.level = level
        side = TilePyramid.tileSize << level
        let s = Float(side) / max(sq.width, 1e-3)
        var top = [Int32](repeating: -1, count: side * side), count = [UInt16](repeating: 0, count: side * side)
        var colour = [UInt8](repeating: 0, count: side * side)
        let side = self.side
        map.x.withUnsafeBufferPointer { xs in map.y.withUnsafeBufferPointer { ys in map.level.withUnsafeBufferPointer { lv in
        top.withUnsafeMutableBufferPointer { tp in count.withUnsafeMutableBufferPointer { cn in colour.withUnsafeMutableBufferPointer { co in
            for (r, i) in map.order.enumerated() {   // bottom first: the last writer is the topmost
                let c = Int(i)
                let cx = Int(((xs[c] - sq.x0) * s).rounded(.down)), cy = Int(((ys[c] - sq.y0) * s).rounded(.down))
                guard cx >= 0, cy >= 0, cx < side, cy < side else { continue }
                let p = cy * side + cx
                tp[p] = Int32(r); co[p] = lv[c]
                if cn[p] < .max { cn[p] += 1 }
            }
        } } } } } }
        self.top = top; self.count = count; self.colour = colour
    }

    /// Tile z/x/y for z ≤ `level`, as `SpatialMap.draw` would draw it.
    func tile(_ map: SpatialMap, pyramid: TilePyramid, z: Int, x: Int, y: Int) -> MapImage {
        let n = TilePyramid.tileSize, f = 1 << (level - z)
        let s = Float(n << z) / max(pyramid.square.width, 1e-3)
        let r = map.dotDiameter * s / 2
        let area = Float.pi * r * r * 255
        var pixels = [UInt8](repeating: 0, count: n * n), coverage = [UInt8](repeating: 0, count: n * n)
        top.withUnsafeBufferPointer { tp in count.withUnsafeBufferPointer { cn in colour.withUnsafeBufferPointer { co in
        pixels.withUnsafeMutableBufferPointer { px in coverage.withUnsafeMutableBufferPointer { cv in
            for row in 0..<n {
                let sy = (y * n + row) * f
                for col in 0..<n {
                    var bestRank: Int32 = -1, best = 0, total = 0
                    let sx = (x * n + col) * f
                    for dy in 0..<f {
                        let base = (sy + dy) * side + sx
                        for dx in 0..<f {
                            let rr = tp[base + dx]
                            if rr < 0 { continue }
                            total += Int(cn[base + dx])
                            if rr > bestRank { bestRank = rr; best = base + dx }
                        }
                    }
                    if bestRank >= 0 {
                        px[row * n + col] = co[best]
                        cv[row * n + col] = UInt8(min(255, (Float(total) * area).rounded(.up)))
                    }
                }
            }
        } } } } }
        return MapImage(width: n, height: n, pixels: pixels, coverage: coverage, palette: map.palette)
    }
}

extension SpatialMap {
    /// Tile z/x/y: from `summary` at its level and coarser, else drawn through `index`.
    public func tile(z: Int, x: Int, y: Int, pyramid: TilePyramid, index: GridIndex?, summary: TileSummary?) throws(RenderError) -> MapImage {
        let view = try pyramid.view(z: z, x: x, y: y)
        if let summary, z <= summary.level { return summary.tile(self, pyramid: pyramid, z: z, x: x, y: y) }
        return draw(view, index: index)
    }
}
