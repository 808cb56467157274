import Foundation

/// A workflow spec file as the CLI reads it: its name, version, and parameter types and defaults, so that
/// `--set key=value` is sent with the right JSON type (the daemon validates ranges and names).
struct SpecFile {
    let name: String
    let version: String
    let types: [String: String]
    let defaults: [String: Any]

    static func read(_ path: String) throws -> SpecFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClientError(description: "\(path): no such workflow spec file; the ready ones are in workflows/ (pretrain.json, embed.json, …)")
        }
        return try parse(data, source: path)
    }

    /// Whether `argument` names a workflow rather than a file: no path separator, no `.json`, and no such file.
    static func isWorkflowName(_ argument: String) -> Bool {
        !argument.contains("/") && !argument.hasSuffix(".json") && !FileManager.default.fileExists(atPath: argument)
    }

    /// The spec the daemon serves for workflow `name` (`GET /api/workflows`), so `tessera submit pretrain` works
    /// from any folder; an unknown name lists the known ones.
    static func fetch(_ name: String, from c: DaemonClient) async throws -> SpecFile {
        let data = try await c.send("GET", "/api/workflows")
        guard let specs = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw ClientError(description: "the daemon's /api/workflows is not a list of specs; is \(c.base) a tesserad?")
        }
        guard let o = specs.first(where: { $0["name"] as? String == name }) else {
            let known = specs.compactMap { $0["name"] as? String }.sorted()
            throw ClientError(description: "\(name): no such workflow on the daemon (known: \(known.joined(separator: ", "))) and no such spec file; give a workflow name or a path to a spec file")
        }
        return try parse(try JSONSerialization.data(withJSONObject: o), source: "workflow '\(name)' from the daemon")
    }

    static func parse(_ data: Data, source path: String) throws -> SpecFile {
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let name = o["name"] as? String,
              let version = o["version"] as? String else {
            throw ClientError(description: "\(path): not a workflow spec (a JSON object with name, version, inputs, parameters)")
        }
        var types: [String: String] = [:], defaults: [String: Any] = [:]
        for p in o["parameters"] as? [[String: Any]] ?? [] {
            guard let n = p["name"] as? String else { continue }
            types[n] = p["type"] as? String ?? "string"
            if let d = p["default"], !(d is NSNull) { defaults[n] = d }
        }
        return SpecFile(name: name, version: version, types: types, defaults: defaults)
    }

    /// `raw` typed as the parameter's declared type. A checkpoint path is made absolute (the daemon may run
    /// elsewhere in the file tree); `job:ID` passes through.
    func value(for key: String, raw: String) throws -> Any {
        guard let t = types[key] else {
            throw ClientError(description: "--set \(key): \(name) has no parameter '\(key)'; its parameters are: \(types.keys.sorted().joined(separator: ", "))")
        }
        switch t {
        case "integer":
            // Int64 keeps every digit (a seed above 2^53 would round as a Double).
            guard let v = Int64(raw) else { throw ClientError(description: "--set \(key)=\(raw): \(key) is an integer") }
            return v
        case "number":
            guard let v = Double(raw) else { throw ClientError(description: "--set \(key)=\(raw): \(key) is a number") }
            return v
        case "boolean":
            switch raw.lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: throw ClientError(description: "--set \(key)=\(raw): \(key) is true or false")
            }
        case "strings": return raw.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        case "checkpoint": return raw.hasPrefix("job:") ? raw : URL(fileURLWithPath: raw).standardizedFileURL.path
        default: return raw
        }
    }
}
