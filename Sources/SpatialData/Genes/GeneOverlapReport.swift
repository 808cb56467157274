/// How a panel gene was found in the reference.
public enum GeneMatchKind: String, Codable, Sendable, Equatable {
    /// The symbols are identical (after trimming whitespace).
    case exact
    /// The Ensembl ids agree once upper-cased and stripped of their version suffix (ENSG…\.12).
    case ensemblID
    /// The symbols differ only in letter case (e.g. mouse "Gad2" against human-style "GAD2").
    case caseInsensitive
    /// Not in the reference.
    case missing
}

/// A panel gene and the reference gene it was matched to, as each dataset writes them.
public struct GenePair: Codable, Sendable, Equatable {
    public var panel: String
    public var reference: String
    public init(panel: String, reference: String) { self.panel = panel; self.reference = reference }
}

/// A gene name that occurs more than once in one dataset (compared case-insensitively, Ensembl versions
/// ignored): the key, the names as written, and their column indices.
public struct DuplicateGene: Codable, Sendable, Equatable {
    /// The normalised key the names share (upper case, Ensembl version stripped).
    public var key: String
    /// Each occurrence as written, in column order.
    public var names: [String]
    /// Column indices of the occurrences, increasing.
    public var indices: [Int]
    /// How many times the gene occurs (≥ 2).
    public var occurrences: Int { indices.count }

    public init(key: String, names: [String], indices: [Int]) { self.key = key; self.names = names; self.indices = indices }
}

/// What a spatial panel shares with a reference: how many panel genes the reference has, how each was
/// matched, which are missing, duplicates on either side, and index arrays to align the two.
///
/// Alignment: `panelIndex[i]` and `referenceIndex[i]` are the i-th shared gene's columns in the panel and
/// the reference (one-to-one, in panel order), so `panel.selectingGenes(panelIndex)` and
/// `reference.selectingGenes(referenceIndex)` have the same genes in the same order.
/// `referenceIndexForPanel` maps every panel column to its reference column (-1 when missing); two panel
/// genes that map to the same reference gene (panel duplicates) both appear there, but only the first
/// joins the one-to-one pairs — the others are listed in `conflicts`.
public struct GeneOverlapReport: Codable, Sendable, Equatable, CustomStringConvertible {
    public var panelName: String
    public var referenceName: String
    public var panelGeneCount: Int
    public var referenceGeneCount: Int
    /// Panel genes found in the reference (any kind of match).
    public var matchedCount: Int
    /// matchedCount / panelGeneCount (0 for an empty panel).
    public var fractionMatched: Double
    /// Matches by identical symbol.
    public var exactCount: Int
    /// Matches through Ensembl ids (version suffixes ignored).
    public var ensemblMatches: [GenePair]
    /// Matches that needed case folding: worth a look (species or annotation differences).
    public var caseOnlyMatches: [GenePair]
    /// Panel genes (symbols) absent from the reference, in panel order.
    public var missing: [String]
    /// Panel genes whose name matched several reference genes (the first was used).
    public var ambiguous: [String]
    /// Panel genes left out of the one-to-one pairs because an earlier panel gene took their reference gene.
    public var conflicts: [GenePair]
    /// How each panel gene was matched, one per panel column.
    public var matchKinds: [GeneMatchKind]
    /// The reference column of each panel column, -1 when missing.
    public var referenceIndexForPanel: [Int]
    /// One-to-one aligned pairs of column indices (see the type's documentation).
    public var panelIndex: [Int]
    public var referenceIndex: [Int]
    /// Names occurring more than once in either dataset.
    public var panelDuplicates: [DuplicateGene]
    public var referenceDuplicates: [DuplicateGene]

    /// A few lines for a log or a terminal; long lists are cut after 20 names.
    public var description: String {
        func list(_ names: [String]) -> String {
            names.count <= 20 ? names.joined(separator: ", ") : names.prefix(20).joined(separator: ", ") + ", … and \(names.count - 20) more"
        }
        func dups(_ d: [DuplicateGene]) -> String {
            d.isEmpty ? "none" : list(d.map { "\($0.names[0]) ×\($0.occurrences)" })
        }
        let pct = (fractionMatched * 1000).rounded() / 10
        var lines = [
            "Gene overlap: panel '\(panelName)' (\(panelGeneCount) genes) vs reference '\(referenceName)' (\(referenceGeneCount) genes)",
            "  matched \(matchedCount) of \(panelGeneCount) panel genes (\(pct)%): \(exactCount) exact, \(ensemblMatches.count) by Ensembl id, \(caseOnlyMatches.count) case-only",
        ]
        if !caseOnlyMatches.isEmpty { lines.append("  case-only: " + list(caseOnlyMatches.map { "\($0.panel) ~ \($0.reference)" })) }
        if !ensemblMatches.isEmpty { lines.append("  by Ensembl id: " + list(ensemblMatches.map { "\($0.panel) ~ \($0.reference)" })) }
        lines.append("  missing (\(missing.count)): " + (missing.isEmpty ? "none" : list(missing)))
        if !ambiguous.isEmpty { lines.append("  ambiguous (several reference genes, first used): " + list(ambiguous)) }
        if !conflicts.isEmpty { lines.append("  left out of the pairs (reference gene already taken): " + list(conflicts.map { "\($0.panel) → \($0.reference)" })) }
        lines.append("  duplicates in panel: \(dups(panelDuplicates)); in reference: \(dups(referenceDuplicates))")
        return lines.joined(separator: "\n")
    }
}
