import Foundation
import SpatialData

/// What an `impute` job will do, worked out from its inputs and parameters before any compute, so that every
/// bad input is refused up front with a message that says what to change:
/// - the reference shares no gene with the query;
/// - evaluation: more genes held out than can be (each must be measured by the reference, non-zero in ≥ 2
///   cells, and at least one shared gene must stay visible);
/// - production: a `genes` list naming a gene the reference lacks or the panel already measures, or nothing
///   left to impute.
public struct ImputePlan: Sendable {
    public enum Mode: String, Sendable, CaseIterable { case evaluation, production }

    public var mode: Mode
    /// The query as the model sees it (held-out columns removed in evaluation).
    public var visibleQuery: Dataset
    /// Genes to predict, as reference column indices, and their names.
    public var targetReferenceColumns: [Int]
    public var targetGenes: [String]
    /// Evaluation: the held-out query columns (same genes as the targets, in that order) and the selection.
    public var heldOutQueryColumns: [Int]
    public var selection: HeldOutGenes.Selection?

    /// Builds the plan. `heldOut`: the `heldout_genes` parameter (a fraction below 1, else a count);
    /// `genes`: production's optional list.
    public static func make(query: Dataset, reference: Dataset, mode: Mode, heldOut: Double, genes: [String]?,
                            seed: UInt64, queryFile: String = "spatial", referenceFile: String = "reference") throws -> ImputePlan {
        let shared = GeneVocabulary.sharedCount(query, reference)
        guard shared > 0 else {
            throw WorkflowError.badInput(role: "reference", file: referenceFile,
                message: "shares no gene with the spatial query (\(query.geneCount) panel genes, e.g. \(query.geneSymbols.prefix(3).joined(separator: ", ")); reference genes e.g. \(reference.geneSymbols.prefix(3).joined(separator: ", "))); use a reference of the same species whose genes are named like the panel's (symbols or Ensembl ids)")
        }
        let refKeys = refColumnByKey(reference)
        switch mode {
        case .evaluation:
            if heldOut >= 1 && heldOut.rounded() != heldOut || !(heldOut > 0) {
                throw WorkflowError.invalidParameter(name: "heldout_genes",
                    message: "is \(heldOut); give a fraction in (0, 1) or a whole number of genes (1, 2, …)")
            }
            let eligible = HeldOutGenes.eligible(query: query, reference: reference)
            let count = HeldOutGenes.count(heldOut, eligible: eligible.count)
            let most = min(eligible.count, shared - 1)
            guard count <= most, most >= 1 else {
                throw WorkflowError.invalidParameter(name: "heldout_genes",
                    message: "asks for \(count) held-out genes but at most \(max(most, 0)) can be: \(eligible.count) panel genes are measured by the reference and non-zero in ≥ 2 cells, and at least one shared gene must stay visible; lower heldout_genes\(most < 1 ? " or use a reference that shares more genes" : "")")
            }
            let sel = try HeldOutGenes.select(query: query, reference: reference, count: count, seed: seed)
            let hidden = Set(sel.columns)
            let visible = query.selectingGenes((0..<query.geneCount).filter { !hidden.contains($0) })
            let refCols = sel.columns.map { j in HeldOutGenes.keys(query, j).compactMap { refKeys[$0] }.first! }
            return ImputePlan(mode: mode, visibleQuery: visible, targetReferenceColumns: refCols, targetGenes: sel.genes,
                              heldOutQueryColumns: sel.columns, selection: sel)
        case .production:
            var panelKeys = Set<String>()
            for j in 0..<query.geneCount where query.measured[j] { panelKeys.formUnion(HeldOutGenes.keys(query, j)) }
            var cols: [Int] = []
            if let genes, !genes.isEmpty {
                for g in genes {
                    let k = GeneHarmonizer.normalizedKey(g)
                    guard let c = refKeys[k] else {
                        throw WorkflowError.invalidParameter(name: "genes",
                            message: "'\(g)' is not a gene of the reference (\(reference.geneCount) genes, e.g. \(reference.geneSymbols.prefix(3).joined(separator: ", "))); list only genes the reference measures")
                    }
                    if panelKeys.contains(k) {
                        throw WorkflowError.invalidParameter(name: "genes",
                            message: "'\(g)' is measured by the spatial panel already; production mode predicts genes the panel lacks (use mode evaluation to score panel genes)")
                    }
                    if !cols.contains(c) { cols.append(c) }
                }
            } else {
                cols = (0..<reference.geneCount).filter { j in
                    reference.measured[j] && !HeldOutGenes.keys(reference, j).contains(where: panelKeys.contains)
                }
                guard !cols.isEmpty else {
                    throw WorkflowError.badInput(role: "reference", file: referenceFile,
                        message: "measures no gene beyond the spatial panel's \(query.geneCount), so there is nothing to impute; use a reference with more genes, or mode evaluation to score held-out panel genes")
                }
            }
            return ImputePlan(mode: mode, visibleQuery: query, targetReferenceColumns: cols,
                              targetGenes: cols.map { HeldOutGenes.name(reference, $0) }, heldOutQueryColumns: [], selection: nil)
        }
    }

    /// Reference column of each gene key (id and symbol).
    static func refColumnByKey(_ r: Dataset) -> [String: Int] {
        var m: [String: Int] = [:]
        for j in 0..<r.geneCount where r.measured[j] { for k in HeldOutGenes.keys(r, j) where m[k] == nil { m[k] = j } }
        return m
    }
}
