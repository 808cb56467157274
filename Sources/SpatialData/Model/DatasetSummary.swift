import Foundation

/// What `tessera inspect` prints about a dataset: size, sparsity, totals, FOVs, coordinate ranges and
/// units, and every annotation column with its categories. Codable for `--json`.
public struct DatasetSummary: Codable, Sendable {
    public struct Range: Codable, Sendable { public var min: Double; public var max: Double }
    public struct Column: Codable, Sendable {
        public var name: String
        public var type: String
        /// Category → cell count, largest first (categoricals only; at most 50 listed).
        public var categories: [String: Int]?
        public var categoryCount: Int?
        public var missing: Int
        public var range: Range?
        /// Numeric columns: distinct finite values (counted up to 10,001) and whether all are whole numbers, so a
        /// column of class codes can be told from a continuous one before any job runs.
        public var distinct: Int?
        public var integral: Bool?
    }

    public var name: String
    public var platform: String
    public var cells: Int
    public var genes: Int
    public var measuredGenes: Int
    public var nonZero: Int
    public var sparsity: Double
    public var totalCounts: Double
    public var medianCountsPerCell: Double
    public var integerCounts: Bool
    public var samples: [String: Int]
    public var fovs: Int?
    public var batches: Int
    public var coordinateUnit: String?
    public var micronsPerPixel: Double?
    public var x: Range?
    public var y: Range?
    public var z: Range?
    public var obs: [Column]
    public var metadata: [String: String]

    public init(_ d: Dataset) {
        name = d.name; platform = d.platform
        cells = d.cellCount; genes = d.geneCount
        measuredGenes = d.measured.filter { $0 }.count
        nonZero = d.counts.nnz
        sparsity = 1 - d.counts.density
        let sums = d.counts.rowSums()
        totalCounts = sums.reduce(0, +)
        medianCountsPerCell = Self.median(sums)
        integerCounts = d.counts.values.allSatisfy { $0 == $0.rounded() }
        samples = Dictionary(uniqueKeysWithValues: zip(d.sample.categories, d.sample.categoryCounts()))
        fovs = d.fov?.categories.count
        batches = d.batch.categories.count
        if let c = d.coordinates {
            coordinateUnit = c.unit.rawValue; micronsPerPixel = c.micronsPerPixel
            x = Self.range(c.x); y = Self.range(c.y); z = c.z.flatMap(Self.range)
        }
        obs = d.obs.columns.map { name, v in
            var col = Column(name: name, type: v.typeName, missing: 0)
            switch v {
            case .categorical(let c):
                let counts = c.categoryCounts()
                let top = zip(c.categories, counts).sorted { $0.1 > $1.1 }.prefix(50)
                col.categories = Dictionary(uniqueKeysWithValues: top.map { ($0.0, $0.1) })
                col.categoryCount = c.categories.count
                col.missing = c.codes.filter { $0 < 0 }.count
            case .string(let s):
                col.categoryCount = Set(s).count
            default:
                if let n = v.numericValues {
                    col.missing = n.filter(\.isNaN).count
                    col.range = Self.range(n)
                    var seen = Set<Double>()
                    for x in n where x.isFinite { seen.insert(x); if seen.count > 10_000 { break } }
                    col.distinct = seen.count
                    col.integral = n.allSatisfy { !$0.isFinite || $0 == $0.rounded() }
                }
            }
            return col
        }
        metadata = d.metadata
    }

    static func range(_ v: [Double]) -> Range? {
        let f = v.filter(\.isFinite)
        guard let lo = f.min(), let hi = f.max() else { return nil }
        return Range(min: lo, max: hi)
    }

    static func median(_ v: [Double]) -> Double {
        guard !v.isEmpty else { return 0 }
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// A human-readable report.
    public var text: String {
        func n(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(format: "%.4g", x) }
        var out = "\(name)  [\(platform)]\n"
        out += "  cells \(cells)   genes \(genes)\(measuredGenes < genes ? " (\(measuredGenes) measured)" : "")   FOVs \(fovs.map(String.init) ?? "-")   samples \(samples.count)   batches \(batches)\n"
        out += "  non-zero \(nonZero)   sparsity \(String(format: "%.1f%%", sparsity * 100))   total counts \(n(totalCounts))   median per cell \(n(medianCountsPerCell))\(integerCounts ? "" : "   (non-integer values)")\n"
        if let x, let y {
            out += "  coordinates [\(coordinateUnit ?? "?")\(micronsPerPixel.map { String(format: ", %.4g µm/px", $0) } ?? "")]  x \(n(x.min))…\(n(x.max))   y \(n(y.min))…\(n(y.max))"
            if let z { out += "   z \(n(z.min))…\(n(z.max))" }
            out += "\n"
        } else {
            out += "  coordinates: none\n"
        }
        if samples.count > 1 {
            out += "  samples: " + samples.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", ") + "\n"
        }
        if !obs.isEmpty { out += "  obs columns:\n" }
        for c in obs {
            out += "    \(c.name) [\(c.type)]"
            if let cats = c.categories, let k = c.categoryCount {
                let shown = cats.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(8)
                out += " \(k) categories: " + shown.map { "\($0.key) (\($0.value))" }.joined(separator: ", ") + (k > 8 ? ", …" : "")
            } else if let k = c.categoryCount {
                out += " \(k) distinct"
            } else if let r = c.range {
                out += " \(n(r.min))…\(n(r.max))"
            }
            if c.missing > 0 { out += "  missing \(c.missing)" }
            out += "\n"
        }
        return out
    }
}
