import CHDF5
import Foundation

/// A dataframe read from an h5ad file: its index (obs or var names) and its columns.
struct H5ADFrame {
    var index: [String]
    var columns: ObsTable
}

/// Reads anndata dataframes in all their historical layouts:
/// - dataframe 0.2.0 (anndata ≥ 0.8): a group; each column an element (array, string-array, categorical
///   group with codes + categories, nullable-* group with values + mask);
/// - dataframe 0.1.0 (anndata 0.7): categorical columns are code datasets whose `categories` attribute is an
///   object reference to a dataset under `__categories`;
/// - pre-0.7: a compound dataset, with categories stored in `uns/<column>_categories`.
enum H5ADFrameReader {
    static func read(_ root: H5Group, _ name: String, expected: Int?, legacyCategories: H5Group?) throws -> H5ADFrame {
        let file = root.file.path
        switch root.kind(of: name) {
        case .group?:
            return try readGroup(try root.group(name), expected: expected)
        case .dataset?:
            return try readCompound(try root.dataset(name), expected: expected, uns: legacyCategories)
        default:
            throw ImportError(.missingField, file: file, field: name, problem: "the \(name) dataframe is missing",
                              fix: "this is not a complete AnnData file; anndata requires obs and var")
        }
    }

    // MARK: dataframe 0.1.0 / 0.2.0

    static func readGroup(_ g: H5Group, expected: Int?) throws -> H5ADFrame {
        let file = g.file.path
        let indexName = g.stringAttribute("_index") ?? (g.has("_index") ? "_index" : (g.has("index") ? "index" : nil))
        var index: [String]
        if let indexName, g.kind(of: indexName) == .dataset {
            index = try g.dataset(indexName).readStrings()
        } else if let indexName {
            throw ImportError(.missingField, file: file, field: "\(g.path)/\(indexName)",
                              problem: "the dataframe's index '\(indexName)' is missing", fix: "the file is incomplete; re-export it")
        } else {
            index = []
        }
        var names = g.stringsAttribute("column-order") ?? []
        let children = g.children().filter { $0 != indexName && $0 != "__categories" }
        // Some writers store column-order as one string; trust the children then.
        if names.count == 1 && !children.contains(names[0]) { names = [] }
        names = names.filter { children.contains($0) } + children.filter { !names.contains($0) }.sorted()
        let n = expected ?? index.count
        if index.isEmpty && n > 0 { index = (0..<n).map(String.init) }
        if index.count != n {
            throw ImportError(.shapeMismatch, file: file, field: "\(g.path)/\(indexName ?? "_index")",
                              problem: "has \(index.count) names but the matrix has \(n) rows", fix: "the file is inconsistent; re-export it")
        }
        var table = ObsTable()
        for c in names {
            let v = try readColumn(g, c)
            if v.count != n {
                throw ImportError(.shapeMismatch, file: file, field: "\(g.path)/\(c)",
                                  problem: "has \(v.count) values but the dataframe has \(n) rows", fix: "the file is inconsistent; re-export it")
            }
            table[c] = v
        }
        return H5ADFrame(index: index, columns: table)
    }

    static func readColumn(_ g: H5Group, _ c: String) throws -> ObsValues {
        let file = g.file.path, field = "\(g.path)/\(c)"
        if g.kind(of: c) == .group {
            let cg = try g.group(c)
            switch cg.encodingType {
            case "categorical"?:
                guard cg.kind(of: "codes") == .dataset, cg.kind(of: "categories") == .dataset else {
                    throw ImportError(.missingField, file: file, field: field, problem: "the categorical column lacks codes or categories",
                                      fix: "the file is incomplete; re-export it")
                }
                let codes = try cg.dataset("codes").readInt32s()
                let cats = try cg.dataset("categories").readStrings()
                return .categorical(try checkedCategorical(codes, cats, ordered: (cg.intsAttribute("ordered")?.first ?? 0) != 0, file: file, field: field))
            case "nullable-integer"?, "nullable-boolean"?, "nullable-string-array"?:
                guard cg.kind(of: "values") == .dataset, cg.kind(of: "mask") == .dataset else {
                    throw ImportError(.missingField, file: file, field: field, problem: "the nullable column lacks values or mask",
                                      fix: "the file is incomplete; re-export it")
                }
                let mask = try cg.dataset("mask").readBools()
                let vds = try cg.dataset("values")
                if cg.encodingType == "nullable-string-array" {
                    let v = try vds.readStrings()
                    guard v.count == mask.count else { throw lengthError(file, field) }
                    // Missing strings become a categorical -1 so they stay missing on write-back.
                    var cat = Categorical(labels: zip(v, mask).map { $1 ? "" : $0 })
                    for i in mask.indices where mask[i] { cat.codes[i] = -1 }
                    return .categorical(cat)
                }
                if cg.encodingType == "nullable-boolean" {
                    let v = try vds.readBools()
                    guard v.count == mask.count else { throw lengthError(file, field) }
                    return .nullableBool(v, missing: mask)
                }
                let v = try vds.readInt64s()
                guard v.count == mask.count else { throw lengthError(file, field) }
                return .nullableInt(v, missing: mask)
            default:
                throw ImportError(.unsupported, file: file, field: field,
                                  problem: "column encoding '\(cg.encodingType ?? "none")' is not a dataframe column type this reader knows",
                                  fix: "convert the column to a categorical, numeric or string column before export")
            }
        }
        let d = try g.dataset(c)
        // anndata 0.7: codes whose categories sit behind an object reference.
        if let catDS = try d.referencedDataset(attribute: "categories") {
            let codes = try d.readInt32s()
            let cats = try catDS.readStrings()
            return .categorical(try checkedCategorical(codes, cats, ordered: (catDS.intsAttribute("ordered")?.first ?? 0) != 0, file: file, field: field))
        }
        return try plainColumn(d)
    }

    static func plainColumn(_ d: H5Dataset) throws -> ObsValues {
        if d.shape.count > 1 {
            throw ImportError(.shapeMismatch, file: d.file.path, field: d.path, problem: "a dataframe column must be 1-D, this one has shape \(d.shape)",
                              fix: "store multi-dimensional per-cell data in obsm, not obs")
        }
        if d.isString { return .string(try d.readStrings()) }
        if d.isBoolEnum { return .bool(try d.readBools()) }
        if d.isFloat { return .float(try d.readDoubles()) }
        if d.isInteger { return .int(try d.readInt64s()) }
        throw ImportError(.unsupported, file: d.file.path, field: d.path, problem: "column type \(d.typeDescription) is not supported",
                          fix: "convert the column to numbers, strings or a categorical")
    }

    static func checkedCategorical(_ codes: [Int32], _ cats: [String], ordered: Bool, file: String, field: String) throws -> Categorical {
        if let bad = codes.firstIndex(where: { $0 < -1 || Int($0) >= cats.count }) {
            throw ImportError(.invalidValue, file: file, field: field, row: bad,
                              problem: "category code \(codes[bad]) is outside the \(cats.count) categories",
                              fix: "the categorical column is corrupt; re-export it")
        }
        return Categorical(codes: codes, categories: cats, ordered: ordered)
    }

    static func lengthError(_ file: String, _ field: String) -> ImportError {
        ImportError(.shapeMismatch, file: file, field: field, problem: "values and mask differ in length", fix: "the file is inconsistent; re-export it")
    }

    // MARK: pre-0.7 compound tables

    static func readCompound(_ d: H5Dataset, expected: Int?, uns: H5Group?) throws -> H5ADFrame {
        let file = d.file.path
        let members = H5Strings.compoundMembers(d)
        guard !members.isEmpty else {
            throw ImportError(.unsupported, file: file, field: d.path, problem: "a dataframe stored as a \(d.typeDescription) dataset is not a known layout",
                              fix: "re-save the file with a current anndata (anndata.read_h5ad(path).write_h5ad(new_path))")
        }
        var index: [String] = []
        var table = ObsTable()
        for m in members {
            if m.typeClass == H5T_STRING {
                let v = try H5Strings.readCompoundStrings(d, member: m.name, size: m.size)
                if m.name == "index" { index = v } else { table[m.name] = .categorical(Categorical(labels: v)) }
            } else if m.typeClass == H5T_INTEGER || m.typeClass == H5T_FLOAT || m.typeClass == H5T_ENUM {
                let v = try H5Strings.readCompoundNumbers(d, member: m.name)
                if m.name == "index" { index = v.map { String(Int64(saturating: $0)) }; continue }
                if let uns, uns.kind(of: "\(m.name)_categories") == .dataset {
                    let cats = try uns.dataset("\(m.name)_categories").readStrings()
                    let codes = v.map { Int32(clamping: Int64(saturating: $0)) }
                    table[m.name] = .categorical(try checkedCategorical(codes, cats, ordered: false, file: file, field: "\(d.path)/\(m.name)"))
                } else if m.typeClass == H5T_ENUM && m.size == 1 {
                    table[m.name] = .bool(v.map { $0 != 0 })
                } else if m.typeClass == H5T_INTEGER {
                    table[m.name] = .int(v.map { Int64(saturating: $0) })
                } else {
                    table[m.name] = .float(v)
                }
            }
            // Array members (pre-0.7 obsm tables) are not dataframe columns.
        }
        let n = expected ?? d.count
        if index.isEmpty { index = (0..<n).map(String.init) }
        guard index.count == n else {
            throw ImportError(.shapeMismatch, file: file, field: d.path, problem: "has \(index.count) rows but the matrix has \(n)",
                              fix: "the file is inconsistent; re-export it")
        }
        return H5ADFrame(index: index, columns: table)
    }
}
