// Analysis: PCA, kNN graphs, Leiden, k-means and clustering/regression metrics. See ../shared/DESIGN.md.
import Tensor

/// What went wrong in an `Analysis` call. Each message names the parameter and says how to fix it.
public enum AnalysisError: Error, Equatable, CustomStringConvertible, Sendable {
    /// An input matrix or array has no rows or no columns.
    case empty(parameter: String)
    /// A count parameter (`k`, `components`, `neighbors`…) is out of range for the input.
    case outOfRange(parameter: String, value: Int, allowed: ClosedRange<Int>)
    /// Two inputs that must have equal lengths do not.
    case lengthMismatch(parameter: String, expected: Int, actual: Int)
    /// The input holds a NaN or infinity at a flat index.
    case nonFinite(parameter: String, index: Int)
    /// A real-valued parameter is invalid (negative resolution, zero-variance vector…).
    case invalid(parameter: String, reason: String)
    /// A LAPACK routine reported failure.
    case lapack(routine: String, info: Int)

    public var description: String {
        switch self {
        case .empty(let p):
            return "\(p) is empty; pass at least one row and one column"
        case .outOfRange(let p, let v, let allowed):
            return "\(p) = \(v) is out of range; choose a value in \(allowed.lowerBound)...\(allowed.upperBound)"
        case .lengthMismatch(let p, let e, let a):
            return "\(p) has \(a) entries but \(e) were expected; pass arrays of equal length"
        case .nonFinite(let p, let i):
            return "\(p) holds a NaN or infinite value at flat index \(i); remove or impute non-finite values first"
        case .invalid(let p, let reason):
            return "\(p) is invalid: \(reason)"
        case .lapack(let r, let info):
            return "LAPACK \(r) failed with info = \(info); check the input for degenerate values"
        }
    }
}

enum Check {
    /// Throws if `m` has no rows/columns or holds a non-finite value.
    static func matrix(_ m: Matrix, _ name: String) throws(AnalysisError) {
        if m.rows == 0 || m.cols == 0 { throw .empty(parameter: name) }
        if let i = m.data.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(parameter: name, index: i) }
    }

    static func range(_ v: Int, _ name: String, _ lo: Int, _ hi: Int) throws(AnalysisError) {
        if v < lo || v > hi { throw .outOfRange(parameter: name, value: v, allowed: lo...max(lo, hi)) }
    }

    static func same(_ a: Int, _ b: Int, _ name: String) throws(AnalysisError) {
        if a != b { throw .lengthMismatch(parameter: name, expected: a, actual: b) }
    }
}
