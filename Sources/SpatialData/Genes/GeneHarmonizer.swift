import Foundation
import Tensor

/// Gene-name harmonising: matching genes across datasets that spell them differently, finding and merging
/// duplicate gene columns, and reporting what a spatial panel shares with a reference.
///
/// Names are compared in three tiers, most specific first: identical symbols; Ensembl ids with their
/// version suffix dropped (`ENSG00000141510.16` = `ENSG00000141510`), taken from gene ids or from
/// symbols that are Ensembl ids; and symbols equal up to letter case. Imports keep gene names as the
/// source wrote them; harmonising is an explicit step whose report tells the user what was matched how.
public enum GeneHarmonizer {
    /// Which gene name to compare when looking for duplicates.
    public enum Key: String, Codable, Sendable {
        case symbol, id
    }

    // MARK: names

    /// True for Ensembl stable ids such as ENSG00000141510, ENSMUSG00000020914.3 or ENST…: "ENS", an
    /// optional species code of letters, a feature letter (G, T, P, E, R), at least 6 digits, and an
    /// optional ".version". Case-insensitive.
    public static func isEnsemblID(_ name: String) -> Bool {
        let u = Array(name.trimmingCharacters(in: .whitespaces).uppercased().utf8)
        guard u.count >= 10, u[0] == UInt8(ascii: "E"), u[1] == UInt8(ascii: "N"), u[2] == UInt8(ascii: "S") else { return false }
        var i = 3
        while i < u.count, u[i] >= UInt8(ascii: "A"), u[i] <= UInt8(ascii: "Z") { i += 1 }
        // The last letter read is the feature letter; there must be at least one.
        guard i > 3, "GTPER".utf8.contains(u[i - 1]) else { return false }
        var digits = 0
        while i < u.count, u[i] >= UInt8(ascii: "0"), u[i] <= UInt8(ascii: "9") { i += 1; digits += 1 }
        guard digits >= 6 else { return false }
        if i == u.count { return true }
        guard u[i] == UInt8(ascii: "."), i + 1 < u.count else { return false }
        return u[(i + 1)...].allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// An Ensembl id without its ".version" suffix; other names are returned unchanged (trimmed).
    public static func strippingEnsemblVersion(_ name: String) -> String {
        let t = name.trimmingCharacters(in: .whitespaces)
        guard isEnsemblID(t), let dot = t.lastIndex(of: ".") else { return t }
        return String(t[..<dot])
    }

    /// The key names are compared by: trimmed, upper case, Ensembl version stripped.
    public static func normalizedKey(_ name: String) -> String {
        strippingEnsemblVersion(name).uppercased()
    }

    // MARK: duplicates

    /// Names that occur more than once (by `normalizedKey`), in order of first occurrence.
    public static func duplicates(in names: [String]) -> [DuplicateGene] {
        var groups = [String: [Int]](), order = [String]()
        for (i, n) in names.enumerated() {
            let k = normalizedKey(n)
            if groups[k] == nil { order.append(k) }
            groups[k, default: []].append(i)
        }
        return order.compactMap { k in
            let idx = groups[k]!
            return idx.count > 1 ? DuplicateGene(key: k, names: idx.map { names[$0] }, indices: idx) : nil
        }
    }

    /// Duplicate gene columns of a dataset, by symbol (default) or by id.
    public static func duplicates(in dataset: Dataset, key: Key = .symbol) -> [DuplicateGene] {
        duplicates(in: key == .symbol ? dataset.geneSymbols : dataset.geneIDs)
    }

    /// The dataset with each set of duplicate gene columns summed into one column (at the position of its
    /// first occurrence, keeping that occurrence's id, symbol and var row; `measured` if any was), and the
    /// duplicates found. Returns the dataset unchanged when there are none. Records the merge in
    /// `metadata["genes.merged_duplicates"]` so that later steps can tell.
    public static func mergingDuplicates(_ dataset: Dataset, key: Key = .symbol) -> (dataset: Dataset, duplicates: [DuplicateGene]) {
        let names = key == .symbol ? dataset.geneSymbols : dataset.geneIDs
        let dups = duplicates(in: names)
        guard !dups.isEmpty else { return (dataset, []) }
        var groupOf = [String: Int](), group = [Int](), first = [Int]()
        group.reserveCapacity(names.count)
        for (i, n) in names.enumerated() {
            let k = normalizedKey(n)
            if let g = groupOf[k] { group.append(g) } else {
                groupOf[k] = first.count; group.append(first.count); first.append(i)
            }
        }
        var d = dataset.selectingGenes(first)        // ids, symbols, vars of the first occurrences
        d.counts = dataset.counts.mergingColumns(into: first.count, group: group)
        var measured = [Bool](repeating: false, count: first.count)
        for (i, g) in group.enumerated() where dataset.measured[i] { measured[g] = true }
        d.measured = measured
        d.metadata["genes.merged_duplicates"] = dups.map { "\($0.names[0])×\($0.occurrences)" }.joined(separator: ",")
        return (d, dups)
    }

    // MARK: overlap

    /// What `panel` shares with `reference`, matching symbols and (Ensembl) ids as described on the type.
    public static func overlap(panel: Dataset, reference: Dataset) -> GeneOverlapReport {
        overlap(panelSymbols: panel.geneSymbols, panelIDs: panel.geneIDs,
                referenceSymbols: reference.geneSymbols, referenceIDs: reference.geneIDs,
                panelName: panel.name, referenceName: reference.name)
    }

    /// The overlap of two gene lists (for files read without a full import). Ids are optional; when given
    /// they must be as long as the symbols.
    public static func overlap(panelSymbols: [String], panelIDs: [String]? = nil,
                               referenceSymbols: [String], referenceIDs: [String]? = nil,
                               panelName: String = "panel", referenceName: String = "reference") -> GeneOverlapReport {
        precondition(panelIDs == nil || panelIDs!.count == panelSymbols.count, "panel ids and symbols differ in length")
        precondition(referenceIDs == nil || referenceIDs!.count == referenceSymbols.count, "reference ids and symbols differ in length")
        // Reference lookups, each name → columns in order.
        var exact = [String: [Int]](), ensembl = [String: [Int]](), folded = [String: [Int]]()
        for (j, s) in referenceSymbols.enumerated() {
            let t = s.trimmingCharacters(in: .whitespaces)
            exact[t, default: []].append(j)
            folded[t.uppercased(), default: []].append(j)
            for name in [s, referenceIDs?[j]].compactMap({ $0 }) where isEnsemblID(name) {
                let k = normalizedKey(name)
                if ensembl[k]?.last != j { ensembl[k, default: []].append(j) }
            }
        }
        let n = panelSymbols.count
        var kinds = [GeneMatchKind](repeating: .missing, count: n)
        var refFor = [Int](repeating: -1, count: n)
        var exactCount = 0, ensemblPairs = [GenePair](), casePairs = [GenePair](), missing = [String]()
        var ambiguous = [String](), conflicts = [GenePair](), panelIndex = [Int](), referenceIndex = [Int]()
        var taken = [Int: Int]()
        for i in 0..<n {
            let s = panelSymbols[i].trimmingCharacters(in: .whitespaces)
            var hit: (GeneMatchKind, [Int])?
            if let c = exact[s] { hit = (.exact, c) }
            if hit == nil {
                for name in [panelIDs?[i], s].compactMap({ $0 }) where isEnsemblID(name) {
                    if let c = ensembl[normalizedKey(name)] { hit = (.ensemblID, c); break }
                }
            }
            if hit == nil, let c = folded[s.uppercased()] { hit = (.caseInsensitive, c) }
            guard let (kind, cands) = hit else { missing.append(panelSymbols[i]); continue }
            let j = cands[0]
            kinds[i] = kind; refFor[i] = j
            if cands.count > 1 { ambiguous.append(panelSymbols[i]) }
            let pair = GenePair(panel: panelSymbols[i], reference: referenceSymbols[j])
            switch kind {
            case .exact: exactCount += 1
            case .ensemblID: ensemblPairs.append(pair)
            case .caseInsensitive: casePairs.append(pair)
            case .missing: break
            }
            if taken[j] != nil { conflicts.append(pair); continue }
            taken[j] = i
            panelIndex.append(i); referenceIndex.append(j)
        }
        let matched = n - missing.count
        return GeneOverlapReport(
            panelName: panelName, referenceName: referenceName,
            panelGeneCount: n, referenceGeneCount: referenceSymbols.count,
            matchedCount: matched, fractionMatched: n == 0 ? 0 : Double(matched) / Double(n),
            exactCount: exactCount, ensemblMatches: ensemblPairs, caseOnlyMatches: casePairs, missing: missing,
            ambiguous: ambiguous, conflicts: conflicts, matchKinds: kinds, referenceIndexForPanel: refFor,
            panelIndex: panelIndex, referenceIndex: referenceIndex,
            panelDuplicates: duplicates(in: panelSymbols), referenceDuplicates: duplicates(in: referenceSymbols))
    }

    /// Both datasets restricted to their shared genes, in the same order (the panel's), with the report.
    /// The reference keeps its own gene names; compare columns by position.
    public static func aligned(panel: Dataset, reference: Dataset) -> (panel: Dataset, reference: Dataset, report: GeneOverlapReport) {
        let r = overlap(panel: panel, reference: reference)
        return (panel.selectingGenes(r.panelIndex), reference.selectingGenes(r.referenceIndex), r)
    }
}
