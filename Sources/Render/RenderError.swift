/// Why a map could not be drawn. Each case names the thing at fault and how to fix it; the daemon turns them
/// into 4xx JSON errors verbatim.
public enum RenderError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Two columns that must have one entry per cell do not.
    case lengthMismatch(column: String, expected: Int, actual: Int)
    /// There is nothing to draw (no cells, or none left after a filter).
    case noCells(what: String)
    /// A categorical column has more categories than any palette can tell apart.
    case tooManyCategories(column: String, count: Int, limit: Int)
    /// A parameter (size, zoom, percentile, colour map…) is outside what is allowed.
    case invalid(parameter: String, reason: String)
    /// A tile address outside the pyramid.
    case tileOutside(z: Int, x: Int, y: Int, maxZoom: Int)
    /// A map file is damaged or of an unknown version.
    case badFile(path: String, reason: String)
    /// libpng refused to encode.
    case png(String)

    public var description: String {
        switch self {
        case .lengthMismatch(let c, let e, let a):
            return "\(c) has \(a) entries but there are \(e) cells; pass one value per cell"
        case .noCells(let w):
            return "\(w) has no cells to draw; choose another FOV/sample or check the filter"
        case .tooManyCategories(let c, let n, let limit):
            return "\(c) has \(n) categories; a palette tells apart at most \(limit). Colour by a column with fewer categories, or treat it as numeric"
        case .invalid(let p, let r):
            return "\(p): \(r)"
        case .tileOutside(let z, let x, let y, let m):
            return "tile \(z)/\(x)/\(y) lies outside the pyramid; zoom runs 0...\(m) and x, y run 0...2^zoom − 1"
        case .badFile(let p, let r):
            return "\(p): \(r)"
        case .png(let m):
            return "PNG encoding failed: \(m)"
        }
    }
}
