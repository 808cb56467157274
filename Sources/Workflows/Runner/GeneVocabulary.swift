import Foundation
import SpatialData

/// Gene vocabularies across datasets, matched the way `DatasetSequences.align` matches them (GeneHarmonizer's
/// key: case-insensitive, Ensembl version stripped, by id or by symbol).
public enum GeneVocabulary {
    /// The union of the measured genes of `datasets`, in order of first appearance; each gene named by its
    /// symbol (its id when the symbol is empty). A gene is the same across datasets when its id or its symbol
    /// matches a gene already taken.
    public static func union(_ datasets: [Dataset]) -> [String] {
        var names: [String] = [], seen = Set<String>()
        for ds in datasets {
            for j in 0..<ds.geneCount where ds.measured[j] {
                let keys = keys(ds, j)
                if keys.contains(where: seen.contains) { seen.formUnion(keys); continue }
                seen.formUnion(keys)
                names.append(ds.geneSymbols[j].isEmpty ? ds.geneIDs[j] : ds.geneSymbols[j])
            }
        }
        return names
    }

    /// How many measured genes of `a` are measured in `b` too.
    public static func sharedCount(_ a: Dataset, _ b: Dataset) -> Int {
        var inB = Set<String>()
        for j in 0..<b.geneCount where b.measured[j] { inB.formUnion(keys(b, j)) }
        return (0..<a.geneCount).filter { a.measured[$0] && keys(a, $0).contains(where: inB.contains) }.count
    }

    /// How many entries of `vocabulary` the dataset measures.
    public static func coverage(_ ds: Dataset, of vocabulary: [String]) -> Int {
        DatasetSequences.align(ds, to: vocabulary).filter { $0.map { ds.measured[$0] } ?? false }.count
    }

    static func keys(_ ds: Dataset, _ j: Int) -> Set<String> {
        Set([ds.geneIDs[j], ds.geneSymbols[j]].filter { !$0.isEmpty }.map(GeneHarmonizer.normalizedKey))
    }
}
