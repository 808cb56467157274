import CPNG
import Foundation

/// PNG images users bring beside their data (Visium's tissue_hires/lowres images), read with libpng's
/// simplified `png_image_*` API, which reports errors in the struct instead of longjmp-ing through Swift.
public enum PNGFile {
    /// Width and height from the PNG header.
    public static func size(_ path: String) throws -> (width: Int, height: Int) {
        var image = png_image()
        image.version = tsr_png_image_version()
        guard png_image_begin_read_from_file(&image, path) != 0 else {
            let message = withUnsafeBytes(of: image.message) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            png_image_free(&image)
            throw ImportError(.corrupt, file: path, field: "", problem: "not a readable PNG image (\(message))",
                              fix: "copy the image again from the instrument's output folder")
        }
        defer { png_image_free(&image) }
        return (Int(image.width), Int(image.height))
    }
}
