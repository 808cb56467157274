/// What a map shows, as data for the viewer to draw (legend, colour bar, scale bar, hover) rather than pixels
/// burnt into the PNG. Serialised as the legend JSON of the map API and beside `tessera map --out`.
public struct MapLegend: Sendable, Codable, Equatable {
    /// One legend row: a category's name, colour and number of cells (`drawn` false when hidden).
    public struct Category: Sendable, Codable, Equatable {
        public var code: Int
        public var name: String
        public var colour: String
        public var count: Int
        public var drawn: Bool
    }

    /// A colour bar: the colour map's name, its range, and evenly spaced colours from low to high.
    public struct ColourBar: Sendable, Codable, Equatable {
        public var colorMap: String
        public var vmin: Float
        public var vmax: Float
        /// How the range was chosen ("percentiles 0–99.5" or "given").
        public var range: String
        public var colours: [String]
        /// The data's own finite minimum and maximum (values beyond the range are clipped to its ends).
        public var dataMin: Float?
        public var dataMax: Float?
    }

    /// "categorical" or "continuous".
    public var kind: String
    public var key: String
    /// Cells in the map (drawn or not).
    public var cells: Int
    /// Cells with no label or no finite value, drawn in `missingColour`.
    public var missing: Int
    public var missingColour: String
    /// Continuous: cells exactly 0, and their colour when zeros are drawn grey.
    public var zeros: Int?
    public var zeroColour: String?
    public var palette: String?
    public var categories: [Category]?
    public var colourBar: ColourBar?
    /// The tissue's extent in µm and the dot diameter used, in µm.
    public var bounds: MapBounds
    public var dotDiameter: Float
    public var unit: String
    /// How positions were derived, e.g. "x/y of 3-D coordinates; z dropped".
    public var positions: String?
}
