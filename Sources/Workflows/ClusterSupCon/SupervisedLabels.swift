import Foundation
import SpatialData
import Tensor

/// The labels SupCon fine-tuning learns from: one obs column read as classes, cells without a usable label
/// (missing, empty, "Unknown", "NA"…) marked −1, and a seeded, stratified split that holds a fraction of each
/// class's labelled cells out of fine-tuning (and out of the brief pretraining) so they can be scored honestly.
public struct SupervisedLabels: Sendable, Equatable {
    /// Class names, sorted; codes index them.
    public var classes: [String]
    /// Per cell: class index, or −1 for a cell without a usable label.
    public var codes: [Int32]
    /// Per cell: held out of training (labelled cells only).
    public var heldOut: [Bool]

    /// Label values that mean "no label" (compared case-insensitively, trimmed).
    public static let unlabelledNames: Set<String> = ["", "unknown", "nan", "na", "n/a", "none", "null", "unassigned", "unlabelled", "unlabeled"]

    public var cellCount: Int { codes.count }
    public var labelledCount: Int { codes.filter { $0 >= 0 }.count }
    public var heldOutCount: Int { heldOut.filter { $0 }.count }
    /// Codes for training: held-out cells become −1 (they are not in the training sequences at all; this is
    /// for callers that keep them).
    public var trainingCodes: [Int32] { zip(codes, heldOut).map { $1 ? -1 : $0 } }

    /// Reads `column` of `ds` and splits it. Refuses, naming the role and file and what to change: a column that
    /// does not exist (the message lists the columns there are), fewer than two classes among the labelled cells,
    /// a held-out fraction outside 0…0.9, or a split that leaves fewer than two labelled training cells.
    public static func make(_ ds: Dataset, column: String, heldOutFraction: Double, seed: UInt64,
                            role: String = "data") throws(WorkflowError) -> SupervisedLabels {
        guard let values = ds.obs[column] else {
            let cols = ds.obs.names.isEmpty ? "it has no obs columns" : "its obs columns are: \(ds.obs.names.joined(separator: ", "))"
            throw .badInput(role: role, file: ds.name, message: "has no obs column '\(column)' for label_column; \(cols). Set label_column to one of them.")
        }
        guard heldOutFraction >= 0 && heldOutFraction <= 0.9 && heldOutFraction.isFinite else {
            throw .invalidParameter(name: "heldout_fraction", message: "is \(heldOutFraction); give a fraction between 0 and 0.9")
        }
        var names = [String?](repeating: nil, count: ds.cellCount)
        for i in 0..<ds.cellCount {
            guard let t = values.text(i) else { continue }
            let trimmed = t.trimmingCharacters(in: .whitespaces)
            if !unlabelledNames.contains(trimmed.lowercased()) { names[i] = trimmed }
        }
        let classes = Set(names.compactMap { $0 }).sorted { $0.localizedStandardCompare($1) == .orderedAscending }
        if classes.count < 2 {
            let what = classes.isEmpty ? "no usable label (every value is missing or one of Unknown/NA/empty)"
                                       : "a single class ('\(classes[0])') among its labelled cells"
            throw .badInput(role: role, file: ds.name, message: "column '\(column)' has \(what); SupCon needs at least two classes. Pick another label_column or label more cells.")
        }
        let labelled = names.compactMap { $0 }.count
        if case .float(let x) = values, classes.count > 20, x.contains(where: { $0.isFinite && $0.rounded() != $0 }) {
            throw .badInput(role: role, file: ds.name, message: "column '\(column)' is continuous (\(classes.count) distinct non-integer values, e.g. \(classes.prefix(3).joined(separator: ", "))), not classes; set label_column to a categorical column (cell type, region), or bin the values into categories first")
        }
        if classes.count > labelled / 2 {
            throw .badInput(role: role, file: ds.name, message: "column '\(column)' has \(classes.count) classes among \(labelled) labelled cells (more than half as many classes as cells, so most classes have one cell: an id or a measurement, not a label); set label_column to a column of cell types or regions")
        }
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
        let codes = names.map { $0.map { index[$0]! } ?? -1 }
        // Stratified: in each class a seeded choice of round(fraction · size) cells is held out.
        var heldOut = [Bool](repeating: false, count: codes.count)
        var members = [[Int]](repeating: [], count: classes.count)
        for (i, c) in codes.enumerated() where c >= 0 { members[Int(c)].append(i) }
        for (k, rows) in members.enumerated() {
            var order = rows, rng = SeededRNG(seed: seed ^ (0x4E1D_0017 &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15))
            SeededShuffle.shuffle(&order, &rng)
            let take = Int((heldOutFraction * Double(rows.count)).rounded())
            for i in order.prefix(take) { heldOut[i] = true }
        }
        let labels = SupervisedLabels(classes: classes, codes: codes, heldOut: heldOut)
        let training = labels.trainingCodes.filter { $0 >= 0 }
        if training.count < 2 || Set(training).count < 2 {
            throw .invalidParameter(name: "heldout_fraction", message: "\(heldOutFraction) leaves \(training.count) labelled training cell(s) in \(Set(training).count) class(es) of column '\(column)'; lower it so at least two classes keep training cells")
        }
        return labels
    }
}
