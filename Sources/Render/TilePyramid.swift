/// XYZ tiles over a map (Leaflet's `z/x/y`, 256 px): level z splits the square around the tissue into
/// 2^z × 2^z tiles. Zoom stops at `maxZoom`, the first level at ≤ `finestMicronsPerPixel` µm per pixel, so no
/// request can ask for more than 4^maxZoom tiles of 256² pixels (bounded work per request).
public struct TilePyramid: Sendable, Codable, Equatable {
    public static let tileSize = 256
    /// The square (µm) tiled at zoom 0; the tissue sits in its top-left corner.
    public let square: MapBounds
    public let maxZoom: Int

    /// The pyramid over `extent`, down to `finestMicronsPerPixel` (default 0.25 µm per pixel) and at most 16 levels.
    public init(extent: MapBounds, finestMicronsPerPixel: Float = 0.25) {
        let side = max(extent.width, extent.height, 1)
        square = MapBounds(x0: extent.x0, y0: extent.y0, x1: extent.x0 + side, y1: extent.y0 + side)
        let levels = log2(Double(side) / Double(Self.tileSize) / Double(finestMicronsPerPixel))
        maxZoom = max(0, min(16, Int(levels.rounded(.up))))
    }

    /// µm per pixel at zoom z.
    public func micronsPerPixel(zoom z: Int) -> Float { square.width / Float(Self.tileSize << z) }

    /// The first zoom at ≤ `umPerPx` µm per pixel (clamped to the pyramid).
    public func zoom(forMicronsPerPixel umPerPx: Float) -> Int {
        (0...maxZoom).first { micronsPerPixel(zoom: $0) <= umPerPx } ?? maxZoom
    }

    /// The view of tile z/x/y, or `.tileOutside`.
    public func view(z: Int, x: Int, y: Int) throws(RenderError) -> MapView {
        guard (0...maxZoom).contains(z), x >= 0, y >= 0, x < (1 << z), y < (1 << z) else {
            throw .tileOutside(z: z, x: x, y: y, maxZoom: maxZoom)
        }
        return try MapView(tileOf: square, z: z, x: x, y: y, size: Self.tileSize)
    }

    /// Tiles at zoom z that hold any part of `extent` (the rest are empty).
    public func tiles(zoom z: Int, covering extent: MapBounds) -> [(x: Int, y: Int)] {
        let t = square.width / Float(1 << z), n = 1 << z
        let x1 = min(n - 1, Int(((extent.x1 - square.x0) / t).rounded(.down)))
        let y1 = min(n - 1, Int(((extent.y1 - square.y0) / t).rounded(.down)))
        var out: [(Int, Int)] = []
        for ty in 0...max(0, y1) { for tx in 0...max(0, x1) { out.append((tx, ty)) } }
        return out
    }
}

extension SpatialMap {
    /// The pyramid for this map.
    public var pyramid: TilePyramid { TilePyramid(extent: extent) }

    /// Tile z/x/y of `pyramid`, drawn through `index`.
    public func tile(z: Int, x: Int, y: Int, pyramid: TilePyramid, index: GridIndex?) throws(RenderError) -> MapImage {
        draw(try pyramid.view(z: z, x: x, y: y), index: index)
    }
}

import Foundation
