/// A drawn map: one palette index per pixel, and, where dots are smaller than a pixel, a coverage alpha per
/// pixel (the share of the pixel the cells in it cover), so density reads the same at every zoom.
public struct MapImage: Sendable {
    public let width: Int
    public let height: Int
    /// Row-major palette indices (0 = transparent).
    public var pixels: [UInt8]
    /// Row-major alpha (0...255) when the map aggregated cells per pixel; nil when every dot covers ≥ 1 px.
    public var coverage: [UInt8]?
    public let palette: [RGBA]

    /// Pixels that are not transparent.
    public var paintedPixels: Int {
        if let c = coverage { return c.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }
        return pixels.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
    }

    /// RGBA bytes (4 per pixel).
    public func rgba() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: width * height * 4)
        out.withUnsafeMutableBufferPointer { o in pixels.withUnsafeBufferPointer { p in
            for i in 0..<p.count {
                let c = palette[Int(p[i])]
                o[4 * i] = c.r; o[4 * i + 1] = c.g; o[4 * i + 2] = c.b
                o[4 * i + 3] = coverage.map { UInt8((UInt16($0[i]) * UInt16(c.a) + 127) / 255) } ?? c.a
            }
        } }
        return out
    }

    /// The PNG: an 8-bit palette PNG when no pixel is partly covered, else RGBA. Same image, same bytes.
    public func png(method: PNGEncoder.Method = PNGEncoder.defaultMethod) throws(RenderError) -> [UInt8] {
        if coverage == nil { return try PNGEncoder.palette(width: width, height: height, indices: pixels, palette: palette, method: method) }
        return try PNGEncoder.rgba(width: width, height: height, pixels: rgba(), method: method)
    }
}
