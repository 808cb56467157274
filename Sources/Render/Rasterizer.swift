/// Drawing a `SpatialMap` into pixels. Each cell is a disc of the map's dot diameter (in µm, so it scales with
/// zoom): the pixels whose centres lie within the radius of the cell's exact (sub-pixel) position, so on average
/// a cell covers π r² pixels, as it should, and at least the pixel it falls in. A disc smaller than a pixel is aggregated instead: the pixel takes the topmost
/// cell's colour and an alpha equal to the area its cells cover (capped at 1), as datashader does, so a sparse
/// region looks sparse and a dense one solid at every zoom.
extension SpatialMap {
    /// Draws `view`. Cells are visited in draw order (all of them, or only those in the grid bins the view
    /// touches, with a depth test on `rank` so that the result is the same pixel for pixel).
    public func draw(_ view: MapView, index: GridIndex? = nil) -> MapImage {
        let w = view.width, h = view.height, s = view.scale
        let (ox, oy) = view.origin
        let offX = Float(view.offset.x), offY = Float(view.offset.y)
        let diameter = dotDiameter * s
        let aggregate = diameter < 1
        let r = diameter / 2
        let r2 = r * r
        var pixels = [UInt8](repeating: 0, count: w * h)
        var counts = aggregate ? [UInt16](repeating: 0, count: w * h) : []
        let pad = r + 1
        let vx0 = ox + (offX - pad) / s, vy0 = oy + (offY - pad) / s, vx1 = ox + (offX + Float(w) + pad) / s, vy1 = oy + (offY + Float(h) + pad) / s
        let useIndex = index.map { $0.worthUsing(x0: vx0, y0: vy0, x1: vx1, y1: vy1) } ?? false
        var depth = useIndex ? [Int32](repeating: -1, count: w * h) : []

        x.withUnsafeBufferPointer { xs in y.withUnsafeBufferPointer { ys in level.withUnsafeBufferPointer { lv in
        rank.withUnsafeBufferPointer { rk in pixels.withUnsafeMutableBufferPointer { px in
        counts.withUnsafeMutableBufferPointer { cn in depth.withUnsafeMutableBufferPointer { dp in
            @inline(__always) func plot(_ i: Int) {
                let fx = (xs[i] - ox) * s - offX, fy = (ys[i] - oy) * s - offY
                let cx = Int(fx.rounded(.down)), cy = Int(fy.rounded(.down))
                let l = lv[i]
                if aggregate {
                    guard cx >= 0, cy >= 0, cx < w, cy < h else { return }
                    let p = cy * w + cx
                    if aggregate && cn[p] < .max { cn[p] += 1 }
                    if useIndex { let rr = rk[i]; if rr < dp[p] { return }; dp[p] = rr }
                    px[p] = l
                    return
                }
                // Pixel centres (q + ½) within r of (fx, fy), and always the pixel holding the centre.
                let x0 = max(0, Int((fx - r - 0.5).rounded(.up))), x1 = min(w - 1, Int((fx + r - 0.5).rounded(.down)))
                let y0 = max(0, Int((fy - r - 0.5).rounded(.up))), y1 = min(h - 1, Int((fy + r - 0.5).rounded(.down)))
                if x0 <= x1 && y0 <= y1 {
                    for qy in y0...y1 {
                        let dy = Float(qy) + 0.5 - fy, dy2 = dy * dy
                        if dy2 > r2 { continue }
                        for qx in x0...x1 {
                            let dx = Float(qx) + 0.5 - fx
                            if dx * dx + dy2 > r2 { continue }
                            let p = qy * w + qx
                            if useIndex { let rr = rk[i]; if rr < dp[p] { continue }; dp[p] = rr }
                            px[p] = l
                        }
                    }
                }
                if cx >= 0, cy >= 0, cx < w, cy < h {
                    let p = cy * w + cx
                    if useIndex { let rr = rk[i]; if rr < dp[p] { return }; dp[p] = rr }
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
