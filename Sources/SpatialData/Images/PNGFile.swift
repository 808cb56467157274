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

    /// The image as RGB floats in [0, 1] (row-major H×W×3; alpha dropped, grey expanded), as matplotlib's
    /// `imread` gives a PNG to `sc.read_visium`.
    public static func readRGB(_ path: String) throws -> SpatialLibrary.Image {
        var image = png_image()
        image.version = tsr_png_image_version()
        func failure() -> ImportError {
            let message = withUnsafeBytes(of: image.message) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
            return ImportError(.corrupt, file: path, field: "", problem: "not a readable PNG image (\(message))",
                               fix: "copy the image again from the instrument's output folder")
        }
        guard png_image_begin_read_from_file(&image, path) != 0 else { let e = failure(); png_image_free(&image); throw e }
        image.format = tsr_png_format_rgba()
        let w = Int(image.width), h = Int(image.height)
        var rgba = [UInt8](repeating: 0, count: w * h * 4)
        let ok = rgba.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard ok != 0 else { let e = failure(); png_image_free(&image); throw e }
        var rgb = [Float](repeating: 0, count: w * h * 3)
        for p in 0..<(w * h) { for c in 0..<3 { rgb[p * 3 + c] = Float(rgba[p * 4 + c]) / 255 } }
        return SpatialLibrary.Image(height: h, width: w, pixels: rgb)
    }
}
