import Foundation

/// A versioned workflow declaration, read from `workflows/NAME.json`: the inputs it binds (datasets by role)
/// and its typed parameters with defaults and ranges. The daemon validates a submission against it
/// (`checkInputs`, `resolve`) to answer 4xx before queueing, and the worker validates again before running.
///
///     {"name": "embed", "version": "1", "description": "...", "maxAttempts": 2,
///      "inputs": [{"role": "data", "kind": "any", "required": true, "multiple": false, "description": "..."}],
///      "parameters": [{"name": "resolution", "type": "number", "default": 1.0, "minimum": 0.05, "maximum": 5,
///                      "description": "..."}]}
public struct WorkflowSpec: Codable, Sendable, Equatable {
    public var name: String
    public var version: String
    public var description: String
    /// How many attempts the queue may make (a crash or a retryable error counts one); nil = the queue's default.
    public var maxAttempts: Int?
    public var inputs: [Input]
    /// Datasets that must be bound at least, when every slot is optional on its own (pretrain takes spatial
    /// or reference data, but not nothing); nil = no minimum.
    public var minInputs: Int? = nil
    public var parameters: [Parameter]

    public init(name: String, version: String, description: String, maxAttempts: Int? = nil, inputs: [Input], parameters: [Parameter]) {
        self.name = name; self.version = version; self.description = description; self.maxAttempts = maxAttempts
        self.inputs = inputs; self.parameters = parameters
    }

    /// One dataset slot.
    public struct Input: Codable, Sendable, Equatable {
        /// What the bound dataset must be: `spatial` needs coordinates, `reference` is scRNA-seq (coordinates
        /// ignored), `any` takes either.
        public enum Kind: String, Codable, Sendable, CaseIterable { case spatial, reference, any }
        public var role: String
        public var kind: Kind
        public var required: Bool
        /// Several datasets may be bound, as `ROLE`, `ROLE.2`, `ROLE.3`…
        public var multiple: Bool
        public var description: String

        public init(role: String, kind: Kind, required: Bool = true, multiple: Bool = false, description: String = "") {
            self.role = role; self.kind = kind; self.required = required; self.multiple = multiple; self.description = description
        }

        enum CodingKeys: String, CodingKey { case role, kind, required, multiple, description }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            role = try c.decode(String.self, forKey: .role)
            kind = try c.decode(Kind.self, forKey: .kind)
            required = try c.decodeIfPresent(Bool.self, forKey: .required) ?? true
            multiple = try c.decodeIfPresent(Bool.self, forKey: .multiple) ?? false
            description = try c.decodeIfPresent(String.self, forKey: .description) ?? ""
        }
    }

    /// One typed parameter.
    public struct Parameter: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable, CaseIterable {
            case number, integer, boolean, string
            /// An array of strings (gene lists…); `choices`, when given, limits each element.
            case strings
            /// A path to a Tessera `.tsr` checkpoint (the daemon turns "job:ID" into the path before the worker runs).
            case checkpoint
        }
        public var name: String
        public var type: Kind
        public var `default`: JSONValue?
        /// Inclusive bounds for `number` and `integer`.
        public var minimum: Double?
        public var maximum: Double?
        /// Allowed values of a `string` (or of each element of `strings`).
        public var choices: [String]?
        /// A required parameter has no default and must be given.
        public var required: Bool
        public var description: String

        public init(name: String, type: Kind, default: JSONValue? = nil, minimum: Double? = nil, maximum: Double? = nil,
                    choices: [String]? = nil, required: Bool = false, description: String = "") {
            self.name = name; self.type = type; self.default = `default`; self.minimum = minimum; self.maximum = maximum
            self.choices = choices; self.required = required; self.description = description
        }

        enum CodingKeys: String, CodingKey { case name, type, `default`, minimum, maximum, choices, required, description }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            type = try c.decode(Kind.self, forKey: .type)
            // An explicit `"default": null` means "no default", like an absent key.
            let d = try c.decodeIfPresent(JSONValue.self, forKey: .default)
            `default` = d == .null ? nil : d
            minimum = try c.decodeIfPresent(Double.self, forKey: .minimum)
            maximum = try c.decodeIfPresent(Double.self, forKey: .maximum)
            choices = try c.decodeIfPresent([String].self, forKey: .choices)
            required = try c.decodeIfPresent(Bool.self, forKey: .required) ?? false
            description = try c.decodeIfPresent(String.self, forKey: .description) ?? ""
        }

        /// The allowed values in words, for error messages ("an integer in 1...100000", "one of: tiny, small, base").
        public var allowed: String {
            switch type {
            case .number, .integer:
                let what = type == .integer ? "an integer" : "a number"
                func f(_ v: Double) -> String { type == .integer ? String(Int64(v)) : JSONValue.format(v) }
                switch (minimum, maximum) {
                case let (lo?, hi?): return "\(what) in \(f(lo))...\(f(hi))"
                case let (lo?, nil): return "\(what) >= \(f(lo))"
                case let (nil, hi?): return "\(what) <= \(f(hi))"
                case (nil, nil): return what
                }
            case .boolean: return "true or false"
            case .string: return choices.map { "one of: \($0.joined(separator: ", "))" } ?? "a string"
            case .strings: return choices.map { "a list of strings, each one of: \($0.joined(separator: ", "))" } ?? "a list of strings"
            case .checkpoint: return "a path to a Tessera .tsr checkpoint (or job:ID of a finished pretrain job)"
            }
        }
    }

    /// The input slot a bound role name belongs to: `spatial` and `spatial.2` both belong to `spatial` (the
    /// latter only when the slot is `multiple`). nil for a role this workflow does not have.
    public func input(forRole role: String) -> Input? {
        if let i = inputs.first(where: { $0.role == role }) { return i }
        guard let dot = role.lastIndex(of: "."), let n = Int(role[role.index(after: dot)...]), n >= 2,
              String(n) == role[role.index(after: dot)...] else { return nil }
        let base = String(role[..<dot])
        return inputs.first { $0.role == base && $0.multiple }
    }

    public func parameter(named name: String) -> Parameter? { parameters.first { $0.name == name } }
}

extension JSONValue {
    /// A number as JSON would show it: 3 rather than 3.0, 0.001 rather than 1e-03.
    static func format(_ v: Double) -> String {
        if v.rounded() == v && abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    /// The value as a short string for error messages.
    var shown: String {
        switch self {
        case .number(let n): return JSONValue.format(n)
        case .integer(let i): return String(i)
        case .string(let s): return "\"\(s)\""
        case .bool(let b): return b ? "true" : "false"
        case .array(let a): return "[" + a.map(\.shown).joined(separator: ", ") + "]"
        case .object: return "an object"
        case .null: return "null"
        }
    }
}
