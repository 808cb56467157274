/// A problem with a user's input file. It names the file, the field (and the row when one is at fault),
/// what is wrong and what to do about it; the message reaches the user verbatim.
public struct ImportError: Error, CustomStringConvertible, Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        case unreadable      // cannot open or read (missing file, permissions, not the expected format)
        case corrupt         // the container itself is damaged (truncated, flipped bytes)
        case missingField    // a required element or column is absent
        case shapeMismatch   // lengths or shapes disagree
        case invalidValue    // NaN, negative, non-numeric, out-of-range values
        case duplicateID     // ids that must be unique are not
        case unsupported     // a valid file using a feature this build cannot read
    }

    public var kind: Kind
    public var file: String
    public var field: String
    public var row: Int?
    public var problem: String
    public var fix: String

    public init(_ kind: Kind, file: String, field: String, row: Int? = nil, problem: String, fix: String) {
        self.kind = kind; self.file = file; self.field = field; self.row = row
        self.problem = problem; self.fix = fix
    }

    public var description: String {
        let at = row.map { " (row \($0))" } ?? ""
        let where_ = field.isEmpty ? file : "\(file): \(field)\(at)"
        return "\(where_): \(problem). Fix: \(fix)"
    }
}
