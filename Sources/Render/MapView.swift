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

    public init(region: MapBounds, width: Int, height: Int) throws(RenderError) {
        guard (1...Self.maxSide).contains(width) else { throw .invalid(parameter: "width", reason: "\(width) px; give 1...\(Self.maxSide)") }
        guard (1...Self.maxSide).contains(height) else { throw .invalid(parameter: "height", reason: "\(height) px; give 1...\(Self.maxSide)") }
        guard region.width.isFinite, region.height.isFinite, region.width >= 0, region.height >= 0 else {
            throw .invalid(parameter: "region", reason: "must be a finite rectangle")
        }
        self.region = region; self.width = width; self.height = height
    }

    /// Pixels per µm.
    public var scale: Float {
        let w = max(region.width, 1e-3), h = max(region.height, 1e-3)
        return min(Float(width) / w, Float(height) / h)
    }

    /// The µm coordinate of the image's top-left corner (the region centred in the image).
    public var origin: (x: Float, y: Float) {
        let s = scale
        return (region.x0 + region.width / 2 - Float(width) / (2 * s), region.y0 + region.height / 2 - Float(height) / (2 * s))
    }

    /// A whole-map view of `bounds` at most `maxSide` pixels on its long side, keeping the aspect.
    public static func fitting(_ bounds: MapBounds, longSide: Int) throws(RenderError) -> MapView {
        let w = max(bounds.width, 1e-3), h = max(bounds.height, 1e-3)
        let width = w >= h ? longSide : max(1, Int((Float(longSide) * w / h).rounded()))
        let height = h >= w ? longSide : max(1, Int((Float(longSide) * h / w).rounded()))
        return try MapView(region: bounds, width: width, height: height)
    }
}
