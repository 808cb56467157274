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
    /// Per summary pixel: the topmost cell (−1: none) and how many cells fall in it.
    let top: [Int32]
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
        let side = self.side
        map.x.withUnsafeBufferPointer { xs in map.y.withUnsafeBufferPointer { ys in
        top.withUnsafeMutableBufferPointer { tp in count.withUnsafeMutableBufferPointer { cn in
            for i in map.order {   // bottom first: the last writer is the topmost
                let cx = Int(((xs[Int(i)] - sq.x0) * s).rounded(.down)), cy = Int(((ys[Int(i)] - sq.y0) * s).rounded(.down))
                guard cx >= 0, cy >= 0, cx < side, cy < side else { continue }
                let p = cy * side + cx
                tp[p] = i
                if cn[p] < .max { cn[p] += 1 }
            }
        } } } }
        self.top = top; self.count = count
    }

    /// Tile z/x/y for z ≤ `level`, as `SpatialMap.draw` would draw it.
    func tile(_ map: SpatialMap, pyramid: TilePyramid, z: Int, x: Int, y: Int) -> MapImage {
        let n = TilePyramid.tileSize, f = 1 << (level - z)
        let s = Float(n << z) / max(pyramid.square.width, 1e-3)
        let r = map.dotDiameter * s / 2
        let area = Float.pi * r * r * 255
        var pixels = [UInt8](repeating: 0, count: n * n), coverage = [UInt8](repeating: 0, count: n * n)
        top.withUnsafeBufferPointer { tp in count.withUnsafeBufferPointer { cn in map.rank.withUnsafeBufferPointer { rk in
        map.level.withUnsafeBufferPointer { lv in
            for row in 0..<n {
                for col in 0..<n {
                    var best: Int32 = -1, bestRank: Int32 = -1, total = 0
                    let sy = (y * n + row) * f, sx = (x * n + col) * f
                    for dy in 0..<f {
                        let base = (sy + dy) * side + sx
                        for dx in 0..<f {
                            let c = tp[base + dx]
                            if c < 0 { continue }
                            total += Int(cn[base + dx])
                            let rr = rk[Int(c)]
                            if rr > bestRank { bestRank = rr; best = c }
                        }
                    }
                    if best >= 0 {
                        pixels[row * n + col] = lv[Int(best)]
                        coverage[row * n + col] = UInt8(min(255, (Float(min(total, Int(UInt16.max))) * area).rounded(.up)))
                    }
                }
            }
        } } } }
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
