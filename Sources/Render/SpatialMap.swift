/// A map ready to draw: positions, a palette index per cell, the draw order and the legend, computed once
/// (O(n)) so that the whole map, any region and every tile of a pyramid are drawn from the same state.
///
/// Colours go through a palette of at most 256 entries: 0 transparent, then the categories (or 253 evenly spaced
/// levels of the colour map), the missing grey and the zero grey. Categories draw in data order; values draw
/// low to high, so high expressors lie on top (squidpy#824), by a counting sort over the levels.
public struct SpatialMap: Sendable {
    public let x: [Float]
    public let y: [Float]
    /// Palette index per cell; 0: not drawn (hidden category).
    public let level: [UInt8]
    /// Cells to draw, bottom first.
    public let order: [Int32]
    /// Each cell's position in `order` (−1: not drawn): the depth test for tiles drawn out of order.
    public let rank: [Int32]
    public let palette: [RGBA]
    public let legend: MapLegend
    /// Dot diameter in µm.
    public let dotDiameter: Float
    public let bounds: MapBounds

    /// Continuous maps use levels 3...255 of the palette.
    static let firstLevel = 3, levels = 253

    public init(positions p: CellPositions, colouring: MapColouring, style: MapStyle = MapStyle()) throws(RenderError) {
        let n = p.count
        guard p.y.count == n else { throw .lengthMismatch(column: "y", expected: n, actual: p.y.count) }
        guard colouring.count == n else { throw .lengthMismatch(column: colouring.key, expected: n, actual: colouring.count) }
        guard n > 0 else { throw .noCells(what: "the map") }
        if let i = (0..<n).first(where: { !p.x[$0].isFinite || !p.y[$0].isFinite }) {
            throw .invalid(parameter: "positions", reason: "cell \(i) has a non-finite coordinate (\(p.x[i]), \(p.y[i])); fix or drop cells without a position")
        }
        if let d = style.dotDiameter, !(d > 0 && d.isFinite && d <= 10_000) {
            throw .invalid(parameter: "dot", reason: "\(d) µm; give a diameter in (0, 10000] µm")
        }
        x = p.x; y = p.y
        bounds = MapBounds.enclosing(x: p.x, y: p.y)!
        let area = Double(max(bounds.width, 1)) * Double(max(bounds.height, 1))
        dotDiameter = style.dotDiameter ?? Float((area / Double(n)).squareRoot())
        let margin = dotDiameter / 2
        let shown = MapBounds(x0: bounds.x0 - margin, y0: bounds.y0 - margin, x1: bounds.x1 + margin, y1: bounds.y1 + margin)

        var level = [UInt8](repeating: 0, count: n)
        var order = [Int32](), palette: [RGBA] = [.transparent]
        var legend: MapLegend
        switch colouring {
        case .categories(let key, let codes, let names, let given):
            if names.count > Palette.limit && !style.greyBeyondPalette {
                throw .tooManyCategories(column: key, count: names.count, limit: Palette.limit)
            }
            if names.count > 254 { throw .tooManyCategories(column: key, count: names.count, limit: 254) }
            let (paletteName, colours) = Palette.colours(count: names.count, given: given)
            palette += colours + [.missing]
            let missingIndex = UInt8(names.count + 1)
            var counts = [Int](repeating: 0, count: names.count), missing = 0
            order.reserveCapacity(n)
            for i in 0..<n {
                let c = Int(codes[i])
                if c < 0 || c >= names.count { missing += 1; level[i] = missingIndex; order.append(Int32(i)); continue }
                counts[c] += 1
                if style.hidden.contains(c) { continue }
                level[i] = UInt8(c + 1); order.append(Int32(i))
            }
            let cats = names.indices.map {
                MapLegend.Category(code: $0, name: names[$0], colour: colours[$0].hex, count: counts[$0], drawn: !style.hidden.contains($0))
            }
            legend = MapLegend(kind: "categorical", key: key, cells: n, missing: missing, missingColour: RGBA.missing.hex,
                               palette: paletteName, categories: cats, bounds: shown, dotDiameter: dotDiameter, unit: "µm", positions: p.note)
        case .values(let key, let values):
            let cmap = try ColorMap(named: style.colorMap)
            let scale = try ValueScale.fit(values, vmin: style.vmin, vmax: style.vmax, pmin: style.pmin, pmax: style.pmax)
            palette += [.missing, .zero] + cmap.sample(Self.levels)
            var perLevel = [Int](repeating: 0, count: 256)
            var missing = 0, zeros = 0, lo = Float.infinity, hi = -Float.infinity
            let span = scale.vmax - scale.vmin
            let k = span > 0 ? Float(Self.levels - 1) / span : 0
            values.withUnsafeBufferPointer { v in level.withUnsafeMutableBufferPointer { lv in
                for i in 0..<n {
                    let x = v[i]
                    let l: Int
                    if !x.isFinite { l = 1; missing += 1 }
                    else {
                        if x < lo { lo = x }; if x > hi { hi = x }
                        if x == 0 { zeros += 1 }
                        if x == 0 && style.zerosGrey { l = 2 }
                        else { l = Self.firstLevel + Int(min(Float(Self.levels - 1), max(0, (x - scale.vmin) * k)) + 0.5) }
                    }
                    lv[i] = UInt8(l); perLevel[l] += 1
                }
            } }
            // Counting sort by level: missing, zeros, then low to high.
            var start = [Int](repeating: 0, count: 257)
            for l in 0..<256 { start[l + 1] = start[l] + perLevel[l] }
            order = [Int32](repeating: 0, count: n)
            order.withUnsafeMutableBufferPointer { o in level.withUnsafeBufferPointer { lv in
                for i in 0..<n { let l = Int(lv[i]); o[start[l]] = Int32(i); start[l] += 1 }
            } }
            let given = style.vmin != nil || style.vmax != nil
            let bar = MapLegend.ColourBar(colorMap: cmap.name, vmin: scale.vmin, vmax: scale.vmax,
                                          range: given ? "given" : "percentiles \(style.pmin)–\(style.pmax)",
                                          colours: cmap.sample(32).map(\.hex), dataMin: lo.isFinite ? lo : nil, dataMax: hi.isFinite ? hi : nil)
            legend = MapLegend(kind: "continuous", key: key, cells: n, missing: missing, missingColour: RGBA.missing.hex,
                               zeros: zeros, zeroColour: style.zerosGrey ? RGBA.zero.hex : nil, colourBar: bar,
                               bounds: shown, dotDiameter: dotDiameter, unit: "µm", positions: p.note)
        }
        var rank = [Int32](repeating: -1, count: n)
        for (r, i) in order.enumerated() { rank[Int(i)] = Int32(r) }
        self.level = level; self.order = order; self.rank = rank; self.palette = palette; self.legend = legend
    }

    /// The whole tissue (with half a dot of margin), as drawn in the legend.
    public var extent: MapBounds { legend.bounds }
}
