import CPNG
import Foundation

/// PNG encoding at fast settings. Two ways, both through libpng and both deterministic (the output depends only
/// on the pixels: no time stamps, so the same image gives the same bytes):
///
/// - `.fast` (the default): libpng's full write API through a C shim that keeps its setjmp on the C side
///   (`tsr_png_encode` in CPNG), at zlib level 1, filter none for palette images and sub for RGBA;
/// - `.simplified`: libpng's simplified API (`png_image_write_to_memory`) with `PNG_IMAGE_FLAG_FAST`, which fixes
///   filter none and zlib level 3.
///
/// Deflate is most of a map's time: a 1500 × 1500 palette map takes 33 ms at level 3 and about half that at
/// level 1, for a file about 10 % larger (`tessera-bench render` prints both).
public enum PNGEncoder {
    public enum Method: Sendable { case fast, simplified }
    /// The method `palette` and `rgba` use unless told otherwise.
    public static let defaultMethod = Method.fast
    // png.h: PNG_FORMAT_FLAG_ALPHA 0x01, _COLOR 0x02, _COLORMAP 0x08; PNG_IMAGE_FLAG_FAST 0x02.
    static let formatRGBA: UInt32 = 0x03, formatColormap: UInt32 = 0x08, flagFast: UInt32 = 0x02

    /// An 8-bit colour-mapped PNG: one index per pixel into `palette` (≤ 256 entries; alpha goes to tRNS).
    public static func palette(width: Int, height: Int, indices: [UInt8], palette: [RGBA], method: Method = defaultMethod) throws(RenderError) -> [UInt8] {
        guard palette.count >= 1 && palette.count <= 256 else { throw .png("a palette needs 1...256 colours, got \(palette.count)") }
        guard indices.count == width * height else { throw .png("\(indices.count) indices for \(width)×\(height) pixels") }
        if let m = indices.max(), Int(m) >= palette.count { throw .png("index \(m) is beyond the \(palette.count)-colour palette") }
        if method == .fast {
            let plte = palette.flatMap { [$0.r, $0.g, $0.b] }, trns = palette.map(\.a)
            return try shim(width: width, height: height, colorType: 3, pixels: indices, plte: plte, trns: trns.allSatisfy { $0 == 255 } ? nil : trns,
                            colours: palette.count, filter: tsr_png_filter_none())
        }
        var map = [UInt8](); map.reserveCapacity(palette.count * 4)
        for c in palette { map += [c.r, c.g, c.b, c.a] }
        return try encode(width: width, height: height, format: formatRGBA | formatColormap, entries: palette.count,
                          bytes: indices, rowStride: width, colormap: map)
    }

    /// An 8-bit RGBA PNG (4 bytes per pixel, straight alpha).
    public static func rgba(width: Int, height: Int, pixels: [UInt8], method: Method = defaultMethod) throws(RenderError) -> [UInt8] {
        guard pixels.count == width * height * 4 else { throw .png("\(pixels.count) bytes for \(width)×\(height) RGBA pixels") }
        if method == .fast {
            return try shim(width: width, height: height, colorType: 6, pixels: pixels, plte: nil, trns: nil, colours: 0, filter: tsr_png_filter_sub())
        }
        return try encode(width: width, height: height, format: formatRGBA, entries: 0, bytes: pixels, rowStride: width * 4, colormap: nil)
    }

    /// zlib level 1 through the C shim.
    static func shim(width: Int, height: Int, colorType: Int32, pixels: [UInt8], plte: [UInt8]?, trns: [UInt8]?, colours: Int,
                     filter: Int32) throws(RenderError) -> [UInt8] {
        guard width > 0, height > 0, width <= 1 << 16, height <= 1 << 16 else { throw .png("\(width)×\(height) is not a drawable size") }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var length = 0
        let rc = pixels.withUnsafeBufferPointer { px in (plte ?? []).withUnsafeBufferPointer { pl in (trns ?? []).withUnsafeBufferPointer { tr in
            tsr_png_encode(px.baseAddress, Int32(width), Int32(height), colorType, plte == nil ? nil : pl.baseAddress,
                           trns == nil ? nil : tr.baseAddress, Int32(colours), 1, filter, &out, &length)
        } } }
        guard rc == 0, let out else { throw .png("libpng failed (code \(rc))") }
        defer { free(out) }
        return Array(UnsafeBufferPointer(start: out, count: length))
    }

    static func encode(width: Int, height: Int, format: UInt32, entries: Int, bytes: [UInt8], rowStride: Int,
                       colormap: [UInt8]?) throws(RenderError) -> [UInt8] {
        guard width > 0, height > 0, width <= 1 << 16, height <= 1 << 16 else { throw .png("\(width)×\(height) is not a drawable size") }
        // Stored (level-0) deflate never grows data by more than 5 bytes a 16 KiB block; chunks add a little.
        var capacity = (rowStride + 1) * height
        capacity += capacity / 1000 + 8192 + (colormap?.count ?? 0)
        for _ in 0..<2 {
            var image = png_image()
            image.version = UInt32(tsr_png_image_version())
            image.width = UInt32(width); image.height = UInt32(height)
            image.format = format; image.flags = flagFast
            image.colormap_entries = UInt32(entries)
            var out = [UInt8](repeating: 0, count: capacity)
            var size = png_alloc_size_t(capacity)
            let ok = out.withUnsafeMutableBytes { o in bytes.withUnsafeBytes { b in
                if let colormap {
                    return colormap.withUnsafeBytes { m in
                        png_image_write_to_memory(&image, o.baseAddress, &size, 0, b.baseAddress, Int32(rowStride), m.baseAddress)
                    }
                }
                return png_image_write_to_memory(&image, o.baseAddress, &size, 0, b.baseAddress, Int32(rowStride), nil)
            } }
            if ok != 0 { out.removeLast(capacity - Int(size)); return out }
            let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            png_image_free(&image)
            if Int(size) > capacity { capacity = Int(size); continue }
            throw .png(message)
        }
        throw .png("output larger than expected")
    }
}
