/// A continuous colour map: 256 RGB entries from matplotlib (viridis by default, as scanpy), looked up by a
/// value's position between `vmin` and `vmax`. Tables live in `ColorMapTables` (generated from matplotlib by
/// `scripts/colormaps.py`).
public struct ColorMap: Sendable, Equatable {
    public let name: String
    /// 256 colours, low to high.
    public let colours: [RGBA]

    /// The names users may pass (`--cmap`, `cmap=`).
    public static var names: [String] { ColorMapTables.tables.keys.sorted() }

    public static let viridis = try! ColorMap(named: "viridis")

    /// The map called `name` (case-sensitive as in matplotlib: `viridis`, `magma`, `Reds`, `RdBu_r`…).
    public init(named name: String) throws(RenderError) {
        guard let t = ColorMapTables.tables[name], t.count == 768 else {
            throw .invalid(parameter: "cmap", reason: "'\(name)' is not a colour map here; choose one of \(Self.names.joined(separator: ", "))")
        }
        self.name = name
        var c: [RGBA] = []
        for i in 0..<256 { c.append(RGBA(t[3 * i], t[3 * i + 1], t[3 * i + 2])) }
        colours = c
    }

    /// `count` colours spread evenly over the map (for a colour bar or a palette of value levels).
    public func sample(_ count: Int) -> [RGBA] {
        guard count > 1 else { return [colours[0]] }
        return (0..<count).map { colours[Int((Double($0) * 255 / Double(count - 1)).rounded())] }
    }
}
