/// A rectangle in tissue coordinates (µm; y grows downwards, as in image coordinates and squidpy's plots).
public struct MapBounds: Sendable, Hashable, Codable {
    public var x0: Float, y0: Float, x1: Float, y1: Float
    public init(x0: Float, y0: Float, x1: Float, y1: Float) { self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1 }
    public var width: Float { x1 - x0 }
    public var height: Float { y1 - y0 }

    /// The smallest rectangle holding every finite point, grown by `margin` on each side.
    public static func enclosing(x: [Float], y: [Float], margin: Float = 0) -> MapBounds? {
        var b = MapBounds(x0: .infinity, y0: .infinity, x1: -.infinity, y1: -.infinity)
        for i in 0..<x.count where x[i].isFinite && y[i].isFinite {
            b.x0 = min(b.x0, x[i]); b.x1 = max(b.x1, x[i]); b.y0 = min(b.y0, y[i]); b.y1 = max(b.y1, y[i])
        }
        guard b.x0 <= b.x1 else { return nil }
        return MapBounds(x0: b.x0 - margin, y0: b.y0 - margin, x1: b.x1 + margin, y1: b.y1 + margin)
    }
}

/// What to draw: a region of the tissue onto `width` × `height` pixels. The scale is isotropic (the region's
/// aspect is kept; the image is centred), so a µm is the same number of pixels across and down.
public struct MapView: Sendable, Hashable {
    public var region: MapBounds
    public var width: Int
    public var height: Int
    /// The largest image a single request may ask for (4096 × 4096: 16 Mpx, 16 MB of indices).
    public static let maxSide = 4096

    /// Pixels per µm.
    public let scale: Float
    /// The µm coordinate that maps to pixel (0, 0) before `offset` is taken off: a pixel's x is
    /// (x − origin.x) · scale − offset.x. Tiles keep the pyramid's origin and an integer offset, so a tile's
    /// pixels are computed with exactly the arithmetic of the whole level and match it bit for bit.
    public let origin: (x: Float, y: Float)
    public let offset: (x: Int, y: Int)

    public static func == (a: MapView, b: MapView) -> Bool {
        a.region == b.region && a.width == b.width && a.height == b.height && a.scale == b.scale && a.origin == b.origin && a.offset == b.offset
    }
    public func hash(into h: inout Hasher) { h.combine(region); h.combine(width); h.combine(height) }

    public init(region: MapBounds, width: Int, height: Int) throws(RenderError) {
        try Self.check(width, height)
        guard region.width.isFinite, region.height.isFinite, region.width >= 0, region.height >= 0 else {
            throw .invalid(parameter: "region", reason: "must be a finite rectangle")
        }
        self.region = region; self.width = width; self.height = height
        let w = max(region.width, 1e-3), h = max(region.height, 1e-3)
        let sx = Float(width) / w, sy = Float(height) / h, s = min(sx, sy)
        scale = s
        // The axis that fills the image starts at the region's edge; the other is centred.
        origin = (sx <= sy ? region.x0 : region.x0 + region.width / 2 - Float(width) / (2 * s),
                  sy <= sx ? region.y0 : region.y0 + region.height / 2 - Float(height) / (2 * s))
        offset = (0, 0)
    }

    /// A 256 × 256 tile of the `2^z × 2^z` tiling of `square` (see `TilePyramid`).
    init(tileOf square: MapBounds, z: Int, x: Int, y: Int, size: Int) throws(RenderError) {
        try Self.check(size, size)
        let t = square.width / Float(1 << z)
        region = MapBounds(x0: square.x0 + Float(x) * t, y0: square.y0 + Float(y) * t, x1: square.x0 + Float(x + 1) * t, y1: square.y0 + Float(y + 1) * t)
        width = size; height = size
        scale = Float(size << z) / max(square.width, 1e-3)
        origin = (square.x0, square.y0)
        offset = (x * size, y * size)
    }

    static func check(_ width: Int, _ height: Int) throws(RenderError) {
        guard (1...Self.maxSide).contains(width) else { throw .invalid(parameter: "width", reason: "\(width) px; give 1...\(Self.maxSide)") }
        guard (1...Self.maxSide).contains(height) else { throw .invalid(parameter: "height", reason: "\(height) px; give 1...\(Self.maxSide)") }
    }

    /// A whole-map view of `bounds` at most `maxSide` pixels on its long side, keeping the aspect.
    public static func fitting(_ bounds: MapBounds, longSide: Int) throws(RenderError) -> MapView {
        let w = max(bounds.width, 1e-3), h = max(bounds.height, 1e-3)
        let width = w >= h ? longSide : max(1, Int((Float(longSide) * w / h).rounded()))
        let height = h >= w ? longSide : max(1, Int((Float(longSide) * h / w).rounded()))
        return try MapView(region: bounds, width: width, height: height)
    }
}
