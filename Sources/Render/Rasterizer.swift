/// Drawing a `SpatialMap` into pixels. Each cell is a disc of the map's dot diameter (in µm, so it scales with
/// zoom), at least one pixel. A disc smaller than a pixel is aggregated instead: the pixel takes the topmost
/// cell's colour and an alpha equal to the area its cells cover (capped at 1), as datashader does, so a sparse
/// region looks sparse and a dense one solid at every zoom.
extension SpatialMap {
    /// Draws `view`. Cells are visited in draw order (all of them, or only those in the grid bins the view
    /// touches, with a depth test on `rank` so that the result is the same pixel for pixel).
    public func draw(_ view: MapView, index: GridIndex? = nil) -> MapImage {
        let w = view.width, h = view.height, s = view.scale
        let (ox, oy) = view.origin
        let diameter = dotDiameter * s
        let aggregate = diameter < 1
        let r = diameter / 2
        // Stamp: pixel offsets within r of the centre pixel (≥ the pixel itself).
        var stamp: [(Int, Int)] = [(0, 0)]
        if !aggregate {
            let ri = Int(r.rounded(.down))
            stamp = []
            for dy in -ri...ri { for dx in -ri...ri where Float(dx * dx + dy * dy) <= r * r { stamp.append((dx, dy)) } }
            if stamp.isEmpty { stamp = [(0, 0)] }
        }
        var pixels = [UInt8](repeating: 0, count: w * h)
        var counts = aggregate ? [UInt16](repeating: 0, count: w * h) : []
        let pad = r + 1
        let vx0 = ox - pad / s, vy0 = oy - pad / s, vx1 = ox + (Float(w) + pad) / s, vy1 = oy + (Float(h) + pad) / s
        let useIndex = index.map { $0.worthUsing(x0: vx0, y0: vy0, x1: vx1, y1: vy1) } ?? false
        var depth = useIndex ? [Int32](repeating: -1, count: w * h) : []

        x.withUnsafeBufferPointer { xs in y.withUnsafeBufferPointer { ys in level.withUnsafeBufferPointer { lv in
        rank.withUnsafeBufferPointer { rk in pixels.withUnsafeMutableBufferPointer { px in
        counts.withUnsafeMutableBufferPointer { cn in depth.withUnsafeMutableBufferPointer { dp in
            @inline(__always) func plot(_ i: Int) {
                let cx = Int(((xs[i] - ox) * s).rounded(.down)), cy = Int(((ys[i] - oy) * s).rounded(.down))
                let l = lv[i]
                if stamp.count == 1 {
                    guard cx >= 0, cy >= 0, cx < w, cy < h else { return }
                    let p = cy * w + cx
                    if aggregate && cn[p] < .max { cn[p] += 1 }
                    if useIndex { let rr = rk[i]; if rr < dp[p] { return }; dp[p] = rr }
                    px[p] = l
                    return
                }
                for (dx, dy) in stamp {
                    let qx = cx + dx, qy = cy + dy
                    guard qx >= 0, qy >= 0, qx < w, qy < h else { continue }
                    let p = qy * w + qx
                    if useIndex { let rr = rk[i]; if rr < dp[p] { continue }; dp[p] = rr }
                    px[p] = l
                }
            }
            if useIndex, let index {
                index.forEachCell(x0: vx0, y0: vy0, x1: vx1, y1: vy1) { plot(Int($0)) }
            } else {
                order.withUnsafeBufferPointer { o in for i in o { plot(Int(i)) } }
            }
        } } } } } } }

        var coverage: [UInt8]? = nil
        if aggregate {
            let area = Float.pi * r * r * 255
            coverage = counts.map { UInt8(min(255, (Float($0) * area).rounded(.up))) }
        }
        return MapImage(width: w, height: h, pixels: pixels, coverage: coverage, palette: palette)
    }

    /// The whole map, `longSide` pixels on its long side.
    public func drawWhole(longSide: Int) throws(RenderError) -> MapImage {
        draw(try MapView.fitting(extent, longSide: longSide))
    }
}
