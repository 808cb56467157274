/// How a map is drawn, apart from what is coloured: dot size, colour map and range, greys, hidden categories.
/// Part of every cache key (`cacheKey`), so two requests that differ in any of these never share a PNG.
public struct MapStyle: Sendable, Hashable, Codable {
    /// Cell (dot) diameter in µm; nil: the mean spacing of the cells, √(area of their bounding box ÷ cells).
    public var dotDiameter: Float? = nil
    /// Continuous colourings: the colour map (matplotlib's name).
    public var colorMap: String = "viridis"
    /// Continuous colourings: explicit bounds, else the percentiles below.
    public var vmin: Float? = nil
    public var vmax: Float? = nil
    public var pmin: Double = 0
    public var pmax: Double = 99.5
    /// Draw cells whose value is exactly 0 in light grey (below the others).
    public var zerosGrey: Bool = false
    /// Categorical colourings: category codes not drawn (the legend still counts them).
    public var hidden: Set<Int> = []
    /// Categorical colourings: more than 102 categories draw grey instead of failing.
    public var greyBeyondPalette: Bool = false

    public init() {}

    /// A stable text form of every field (the cache key's style part).
    public var cacheKey: String {
        let h = hidden.sorted().map(String.init).joined(separator: ",")
        return "d=\(dotDiameter.map { "\($0)" } ?? "auto");cmap=\(colorMap);vmin=\(vmin.map { "\($0)" } ?? "");vmax=\(vmax.map { "\($0)" } ?? "");" +
            "p=\(pmin),\(pmax);zg=\(zerosGrey);hide=\(h);grey=\(greyBeyondPalette)"
    }
}
