import Foundation

extension WorkflowSpec {
    /// The job's parameters checked against this spec, with defaults filled in. Refuses names the spec does not
    /// declare, values of the wrong type (a string for a number, 2.5 for an integer), numbers outside
    /// [minimum, maximum], strings outside `choices`, and a missing required parameter; each message names the
    /// parameter and its allowed values. `null` counts as "not given". Pure and fast: the daemon calls it at
    /// submit time.
    public func resolve(parameters given: [String: JSONValue]) throws(WorkflowError) -> [String: JSONValue] {
        for name in given.keys.sorted() where parameter(named: name) == nil {
            throw .unknownParameter(name: name, workflow: self.name, known: parameters.map(\.name))
        }
        var out: [String: JSONValue] = [:]
        for p in parameters {
            if let v = given[p.name], v != .null {
                try p.check(v)
                out[p.name] = v
            } else if let d = p.default {
                out[p.name] = d
            } else if p.required {
                throw .invalidParameter(name: p.name, message: "is required and has no default; give \(p.allowed)")
            }
        }
        return out
    }

    /// Checks the bound role names: every required slot bound, no role the spec lacks, `ROLE.2`… only for a
    /// `multiple` slot. Pure (no file is read); the runner then checks what the datasets hold.
    public func checkInputs(roles: [String]) throws(WorkflowError) {
        let known = inputs.map { $0.multiple ? "\($0.role) (also \($0.role).2, \($0.role).3…)" : $0.role }
        for r in roles.sorted() where input(forRole: r) == nil {
            throw .unknownInput(role: r, workflow: name, known: known)
        }
        for i in inputs where i.required && !roles.contains(i.role) {
            if let other = roles.first(where: { input(forRole: $0)?.role == i.role }) {
                throw .invalidParameter(name: "inputs", message: "'\(other)' is bound but '\(i.role)' is not; number several \(i.role) datasets as \(i.role), \(i.role).2, \(i.role).3…")
            }
            throw .missingInput(role: i.role, workflow: name)
        }
        if let m = minInputs, roles.count < m {
            throw .invalidParameter(name: "inputs", message: "\(name) needs at least \(m) dataset(s) bound, as \(inputs.map { "'\($0.role)'" }.joined(separator: " or ")); bind one with --dataset ROLE=NAME")
        }
    }

    /// The bound roles of slot `base` in order: `base`, `base.2`, `base.3`… (numerically, not as strings).
    public static func boundRoles(_ base: String, in roles: [String]) -> [String] {
        func index(_ r: String) -> Int? {
            if r == base { return 1 }
            guard r.hasPrefix(base + "."), let n = Int(r.dropFirst(base.count + 1)), n >= 2 else { return nil }
            return n
        }
        return roles.compactMap { r in index(r).map { (r, $0) } }.sorted { $0.1 < $1.1 }.map(\.0)
    }

    /// Structural checks of a spec file: names, kinds, defaults of the declared type and within range, sane
    /// bounds. `file` names the spec file in the error.
    func validate(file: String) throws(WorkflowError) {
        func bad(_ field: String, _ problem: String) -> WorkflowError { .invalidSpec(file: file, message: "field '\(field)': \(problem)") }
        if name.isEmpty || name.contains(where: { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            throw bad("name", "'\(name)' must be non-empty letters, digits, '-' or '_'")
        }
        if version.isEmpty { throw bad("version", "must not be empty") }
        if let m = maxAttempts, m < 1 || m > 100 { throw bad("maxAttempts", "\(m) must be in 1...100") }
        var roles = Set<String>()
        for (k, i) in inputs.enumerated() {
            if i.role.isEmpty || i.role.contains(".") || i.role.contains("=") || i.role.contains(" ") {
                throw bad("inputs[\(k)].role", "'\(i.role)' must be non-empty without '.', '=' or spaces")
            }
            if !roles.insert(i.role).inserted { throw bad("inputs[\(k)].role", "'\(i.role)' is declared twice") }
        }
        var names = Set<String>()
        for (k, p) in parameters.enumerated() {
            let f = "parameters[\(k)] (\(p.name))"
            if p.name.isEmpty || p.name.first!.isNumber || p.name.contains(where: { !(($0.isLowercase && $0.isASCII) || ($0.isNumber && $0.isASCII) || $0 == "_") }) {
                throw bad("parameters[\(k)].name", "'\(p.name)' must be snake_case (a-z, 0-9, _)")
            }
            if !names.insert(p.name).inserted { throw bad("parameters[\(k)].name", "'\(p.name)' is declared twice") }
            if (p.minimum != nil || p.maximum != nil) && p.type != .number && p.type != .integer {
                throw bad("\(f).minimum", "bounds apply to number and integer parameters only, not \(p.type.rawValue)")
            }
            if let lo = p.minimum, let hi = p.maximum, !(lo <= hi) { throw bad("\(f).minimum", "\(lo) is above maximum \(hi)") }
            if let c = p.choices {
                if p.type != .string && p.type != .strings { throw bad("\(f).choices", "choices apply to string parameters only") }
                if c.isEmpty { throw bad("\(f).choices", "must list at least one value") }
            }
            if p.required && p.default != nil { throw bad("\(f).default", "a required parameter has no default; drop one of them") }
            if let d = p.default {
                do { try p.check(d) } catch { throw bad("\(f).default", "\(d.shown) is not \(p.allowed)") }
            }
        }
    }
}

extension WorkflowSpec.Parameter {
    /// Throws `.invalidParameter` naming this parameter and its allowed values when `v` does not fit.
    func check(_ v: JSONValue) throws(WorkflowError) {
        func refuse(_ why: String) -> WorkflowError { .invalidParameter(name: name, message: "\(why); allowed: \(allowed)") }
        switch type {
        case .number, .integer:
            guard let x = v.doubleValue else { throw refuse("\(v.shown) is not a number") }
            guard x.isFinite else { throw refuse("\(v.shown) is not finite") }
            if type == .integer && v.int64Value == nil { throw refuse("\(v.shown) is not an integer") }
            if let lo = minimum, x < lo { throw refuse("\(v.shown) is below the minimum") }
            if let hi = maximum, x > hi { throw refuse("\(v.shown) is above the maximum") }
        case .boolean:
            guard case .bool = v else { throw refuse("\(v.shown) is not true or false") }
        case .string:
            guard case .string(let s) = v else { throw refuse("\(v.shown) is not a string") }
            if let c = choices, !c.contains(s) { throw refuse("\"\(s)\" is not a choice") }
        case .strings:
            guard case .array(let a) = v else { throw refuse("\(v.shown) is not a list of strings") }
            for e in a {
                guard case .string(let s) = e else { throw refuse("element \(e.shown) is not a string") }
                if let c = choices, !c.contains(s) { throw refuse("element \"\(s)\" is not a choice") }
            }
        case .checkpoint:
            guard case .string(let s) = v, !s.isEmpty else { throw refuse("\(v.shown) is not a path") }
        }
    }
}
