/// A categorical per-cell (or per-gene) column: integer codes into a list of categories, -1 = missing.
public struct Categorical: Sendable, Equatable {
    public var codes: [Int32]
    public var categories: [String]
    public var ordered: Bool

    public init(codes: [Int32], categories: [String], ordered: Bool = false) {
        self.codes = codes; self.categories = categories; self.ordered = ordered
    }

    /// Encodes string labels, categories in order of first appearance (or sorted when `sorted`).
    public init<S: Sequence>(labels: S, sorted: Bool = false) where S.Element == String {
        var index = [String: Int32](), cats = [String](), codes = [Int32]()
        for l in labels {
            if let c = index[l] { codes.append(c) } else {
                let c = Int32(cats.count); index[l] = c; cats.append(l); codes.append(c)
            }
        }
        if sorted {
            let order = cats.indices.sorted { cats[$0].localizedStandardCompare(cats[$1]) == .orderedAscending }
            var remap = [Int32](repeating: 0, count: cats.count)
            for (new, old) in order.enumerated() { remap[old] = Int32(new) }
            codes = codes.map { remap[Int($0)] }
            cats = order.map { cats[$0] }
        }
        self.init(codes: codes, categories: cats)
    }

    /// A single category for every one of `count` rows.
    public static func constant(_ label: String, count: Int) -> Categorical {
        Categorical(codes: [Int32](repeating: 0, count: count), categories: [label])
    }

    public var count: Int { codes.count }

    /// The label of row i, nil when missing.
    public func label(_ i: Int) -> String? { codes[i] < 0 ? nil : categories[Int(codes[i])] }

    /// Number of rows per category, in category order.
    public func categoryCounts() -> [Int] {
        var n = [Int](repeating: 0, count: categories.count)
        for c in codes where c >= 0 { n[Int(c)] += 1 }
        return n
    }

    /// Keeps the listed rows.
    public func selecting(_ rows: [Int]) -> Categorical {
        Categorical(codes: rows.map { codes[$0] }, categories: categories, ordered: ordered)
    }
}

import Foundation

/// One per-cell annotation column, with the element types anndata stores.
public enum ObsValues: Sendable, Equatable {
    case categorical(Categorical)
    case float([Double])                        // NaN = missing
    case int([Int64])
    case bool([Bool])
    case string([String])
    case nullableInt([Int64], missing: [Bool])
    case nullableBool([Bool], missing: [Bool])

    public var count: Int {
        switch self {
        case .categorical(let c): return c.count
        case .float(let v): return v.count
        case .int(let v): return v.count
        case .bool(let v): return v.count
        case .string(let v): return v.count
        case .nullableInt(let v, _): return v.count
        case .nullableBool(let v, _): return v.count
        }
    }

    /// A short type name for summaries.
    public var typeName: String {
        switch self {
        case .categorical: return "categorical"
        case .float: return "float"
        case .int: return "int"
        case .bool: return "bool"
        case .string: return "string"
        case .nullableInt: return "nullable-int"
        case .nullableBool: return "nullable-bool"
        }
    }

    /// Keeps the listed rows.
    public func selecting(_ rows: [Int]) -> ObsValues {
        switch self {
        case .categorical(let c): return .categorical(c.selecting(rows))
        case .float(let v): return .float(rows.map { v[$0] })
        case .int(let v): return .int(rows.map { v[$0] })
        case .bool(let v): return .bool(rows.map { v[$0] })
        case .string(let v): return .string(rows.map { v[$0] })
        case .nullableInt(let v, let m): return .nullableInt(rows.map { v[$0] }, missing: rows.map { m[$0] })
        case .nullableBool(let v, let m): return .nullableBool(rows.map { v[$0] }, missing: rows.map { m[$0] })
        }
    }

    /// Numeric view (NaN for missing), nil for categorical and string columns.
    public var numericValues: [Double]? {
        switch self {
        case .float(let v): return v
        case .int(let v): return v.map(Double.init)
        case .bool(let v): return v.map { $0 ? 1 : 0 }
        case .nullableInt(let v, let m): return zip(v, m).map { $1 ? .nan : Double($0) }
        case .nullableBool(let v, let m): return zip(v, m).map { $1 ? .nan : ($0 ? 1 : 0) }
        case .categorical, .string: return nil
        }
    }

    /// String view of row i (for joins and summaries); nil when missing.
    public func text(_ i: Int) -> String? {
        switch self {
        case .categorical(let c): return c.label(i)
        case .float(let v): return v[i].isNaN ? nil : (v[i] == v[i].rounded() && abs(v[i]) < 1e15 ? String(Int64(v[i])) : String(v[i]))
        case .int(let v): return String(v[i])
        case .bool(let v): return String(v[i])
        case .string(let v): return v[i]
        case .nullableInt(let v, let m): return m[i] ? nil : String(v[i])
        case .nullableBool(let v, let m): return m[i] ? nil : String(v[i])
        }
    }
}

/// An ordered table of named columns of equal length (anndata's obs or var, without the index).
public struct ObsTable: Sendable, Equatable {
    public private(set) var names: [String] = []
    private var storage: [String: ObsValues] = [:]

    public init() {}

    public subscript(name: String) -> ObsValues? {
        get { storage[name] }
        set {
            if let v = newValue {
                if storage[name] == nil { names.append(name) }
                storage[name] = v
            } else if storage.removeValue(forKey: name) != nil {
                names.removeAll { $0 == name }
            }
        }
    }

    public var columns: [(name: String, values: ObsValues)] { names.map { ($0, storage[$0]!) } }
    public var isEmpty: Bool { names.isEmpty }

    /// Keeps the listed rows of every column.
    public func selecting(_ rows: [Int]) -> ObsTable {
        var t = ObsTable()
        for (n, v) in columns { t[n] = v.selecting(rows) }
        return t
    }
}

extension Int64 {
    /// The nearest Int64 to `d`, saturating at the type's bounds; NaN becomes 0 (no trap on bad input).
    init(saturating d: Double) {
        if d.isNaN { self = 0 } else if d >= 9.223372036854775e18 { self = .max } else if d <= -9.223372036854775e18 { self = .min } else { self = Int64(d) }
    }
}
