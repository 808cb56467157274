/// Categorical palettes, as scanpy chooses them: `default_20` (a colour-blind-adjusted tab20) up to 20
/// categories, `default_28` (Zeileis et al.) up to 28, `default_102` (godsnot) up to 102, and grey for every
/// category beyond that. Colours given with the data (`uns['<key>_colors']`) win when there is one per category.
public enum Palette {
    /// scanpy's `default_20` (`vega_20_scanpy`).
    public static let default20 = hexes(["#1f77b4", "#ff7f0e", "#279e68", "#d62728", "#aa40fc", "#8c564b", "#e377c2", "#b5bd61",
                                         "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
                                         "#dbdb8d", "#9edae5", "#ad494a", "#8c6d31"])
    /// scanpy's `default_28` (`zeileis_28`).
    public static let default28 = hexes(["#023fa5", "#7d87b9", "#bec1d4", "#d6bcc0", "#bb7784", "#8e063b", "#4a6fe3", "#8595e1",
                                         "#b5bbe3", "#e6afb9", "#e07b91", "#d33f6a", "#11c638", "#8dd593", "#c6dec7", "#ead3c6",
                                         "#f0b98d", "#ef9708", "#0fcfc0", "#9cded6", "#d5eae7", "#f3e1eb", "#f6c4e1", "#f79cd4",
                                         "#7f7f7f", "#c7c7c7", "#1CE6FF", "#336600"])
    /// scanpy's `default_102` (`godsnot_102`).
    public static let default102 = hexes([
        "#FFFF00", "#1CE6FF", "#FF34FF", "#FF4A46", "#008941", "#006FA6", "#A30059", "#FFDBE5", "#7A4900", "#0000A6", "#63FFAC",
        "#B79762", "#004D43", "#8FB0FF", "#997D87", "#5A0007", "#809693", "#6A3A4C", "#1B4400", "#4FC601", "#3B5DFF", "#4A3B53",
        "#FF2F80", "#61615A", "#BA0900", "#6B7900", "#00C2A0", "#FFAA92", "#FF90C9", "#B903AA", "#D16100", "#DDEFFF", "#000035",
        "#7B4F4B", "#A1C299", "#300018", "#0AA6D8", "#013349", "#00846F", "#372101", "#FFB500", "#C2FFED", "#A079BF", "#CC0744",
        "#C0B9B2", "#C2FF99", "#001E09", "#00489C", "#6F0062", "#0CBD66", "#EEC3FF", "#456D75", "#B77B68", "#7A87A1", "#788D66",
        "#885578", "#FAD09F", "#FF8A9A", "#D157A0", "#BEC459", "#456648", "#0086ED", "#886F4C", "#34362D", "#B4A8BD", "#00A6AA",
        "#452C2C", "#636375", "#A3C8C9", "#FF913F", "#938A81", "#575329", "#00FECF", "#B05B6F", "#8CD0FF", "#3B9700", "#04F757",
        "#C8A1A1", "#1E6E00", "#7900D7", "#A77500", "#6367A9", "#A05837", "#6B002C", "#772600", "#D790FF", "#9B9700", "#549E79",
        "#FFF69F", "#201625", "#72418F", "#BC23FF", "#99ADC0", "#3A2465", "#922329", "#5B4534", "#FDE8DC", "#404E55", "#0089A3",
        "#CB7E98", "#A4E804", "#324E72"])
    /// The grey scanpy gives every category when there are more than 102.
    public static let overflowGrey = RGBA(0x80, 0x80, 0x80)
    /// The most categories a palette tells apart.
    public static let limit = 102

    /// One colour per category: `given` when it holds exactly `count` parseable colours (uns['<key>_colors']),
    /// else scanpy's default for `count`. Returns the palette's name too, for the legend.
    public static func colours(count: Int, given: [String]? = nil) -> (name: String, colours: [RGBA]) {
        if let given, given.count == count {
            let parsed = given.compactMap(RGBA.init(hex:))
            if parsed.count == count { return ("uns colours", parsed) }
        }
        switch count {
        case ...20: return ("default_20", Array(default20.prefix(count)))
        case ...28: return ("default_28", Array(default28.prefix(count)))
        case ...102: return ("default_102", Array(default102.prefix(count)))
        default: return ("grey (more than 102 categories)", Array(repeating: overflowGrey, count: count))
        }
    }

    static func hexes(_ s: [String]) -> [RGBA] { s.map { RGBA(hex: $0)! } }
}
