/// What decides a cell's colour: a categorical column (codes into names, −1 = missing), or one number per cell
/// (NaN and ±∞ = missing). Columns, not per-cell objects.
public enum MapColouring: Sendable {
    /// `codes[i]` indexes `names` (−1: no label). `colours`: `uns['<key>_colors']` when the data has them.
    case categories(key: String, codes: [Int32], names: [String], colours: [String]?)
    /// One value per cell (a gene's expression, an imputed gene, a numeric obs column).
    case values(key: String, values: [Float])

    public var key: String {
        switch self { case .categories(let k, _, _, _), .values(let k, _): return k }
    }

    var count: Int {
        switch self { case .categories(_, let c, _, _): return c.count; case .values(_, let v): return v.count }
    }
}

/// Cell positions in µm, as two Float32 columns (y down). `note` says how they were obtained when it matters
/// (for example "x/y of 3-D coordinates; z dropped").
public struct CellPositions: Sendable {
    public var x: [Float]
    public var y: [Float]
    public var note: String?
    public init(x: [Float], y: [Float], note: String? = nil) { self.x = x; self.y = y; self.note = note }
    public var count: Int { x.count }
}
