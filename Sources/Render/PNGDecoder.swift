import CPNG

/// Reads a PNG back to 8-bit RGBA through libpng's simplified API: for tests (round trips, pixel checks)
/// and for anything that inspects a drawn map.
public enum PNGDecoder {
    /// (width, height, RGBA bytes).
    public static func rgba(_ png: [UInt8]) throws(RenderError) -> (width: Int, height: Int, pixels: [UInt8]) {
        var image = png_image()
        image.version = UInt32(tsr_png_image_version())
        let begun = png.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard begun != 0 else { throw .png("not a readable PNG") }
        image.format = PNGEncoder.formatRGBA
        let w = Int(image.width), h = Int(image.height)
        var out = [UInt8](repeating: 0, count: w * h * 4)
        let ok = out.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, Int32(w * 4), nil) }
        guard ok != 0 else {
            let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            png_image_free(&image)
            throw .png(message)
        }
        return (w, h, out)
    }
}
