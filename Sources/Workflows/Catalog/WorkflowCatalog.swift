import Foundation

/// The workflow specs of a `workflows/` folder, by name. Loaded once by the daemon (to validate submissions
/// and list workflows) and by each worker (to re-validate its job).
public struct WorkflowCatalog: Sendable {
    public let specs: [WorkflowSpec]
    /// The folder the specs came from (for messages).
    public let directory: URL?

    public init(specs: [WorkflowSpec], directory: URL? = nil) {
        self.specs = specs.sorted { $0.name < $1.name }; self.directory = directory
    }

    /// Reads every `*.json` in `directory`. A malformed file is an `.invalidSpec` error naming the file and the
    /// field; a spec whose `name` differs from its file name, or a name used twice, is refused too.
    public static func load(directory: URL) throws -> WorkflowCatalog {
        let files: [URL]
        do {
            files = try FileManager.default.contentsOfDirectory(at: directory.resolvingSymlinksInPath(), includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "json" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
        } catch {
            throw WorkflowError.invalidSpec(file: directory.path, message: "cannot list the workflow folder (\(error.localizedDescription)); pass the folder holding pretrain.json, embed.json…")
        }
        var specs: [WorkflowSpec] = []
        for f in files {
            let spec = try decode(file: f)
            let stem = f.deletingPathExtension().lastPathComponent
            if spec.name != stem {
                throw WorkflowError.invalidSpec(file: f.path, message: "field 'name': '\(spec.name)' differs from the file name '\(stem)'; rename one")
            }
            specs.append(spec)
        }
        return WorkflowCatalog(specs: specs, directory: directory)
    }

    /// Decodes and checks one spec file.
    public static func decode(file: URL) throws(WorkflowError) -> WorkflowSpec {
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw .invalidSpec(file: file.path, message: "cannot be read (\(error.localizedDescription))")
        }
        let spec: WorkflowSpec
        do { spec = try JSONDecoder().decode(WorkflowSpec.self, from: data) } catch let e as DecodingError {
            throw .invalidSpec(file: file.path, message: describe(e))
        } catch {
            throw .invalidSpec(file: file.path, message: "\(error)")
        }
        try spec.validate(file: file.path)
        return spec
    }

    /// The spec called `name`.
    public func spec(named name: String) throws(WorkflowError) -> WorkflowSpec {
        guard let s = specs.first(where: { $0.name == name }) else { throw .unknownWorkflow(name: name, known: specs.map(\.name)) }
        return s
    }

    /// A decoding error as "field 'parameters[2].type': …".
    static func describe(_ e: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            var s = ""
            for k in keys {
                if let i = k.intValue { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + k.stringValue }
            }
            return s.isEmpty ? "(top level)" : s
        }
        switch e {
        case .keyNotFound(let key, let ctx):
            let full = path(ctx.codingPath + [key])
            return "field '\(full)' is missing; add it"
        case .typeMismatch(let type, let ctx):
            return "field '\(path(ctx.codingPath))' has the wrong type (expected \(type)); \(ctx.debugDescription)"
        case .valueNotFound(let type, let ctx):
            return "field '\(path(ctx.codingPath))' is null (expected \(type))"
        case .dataCorrupted(let ctx):
            if let last = ctx.codingPath.last, last.stringValue == "kind" {
                return "field '\(path(ctx.codingPath))': \(ctx.debugDescription); allowed: \(WorkflowSpec.Input.Kind.allCases.map(\.rawValue).joined(separator: ", "))"
            }
            if let last = ctx.codingPath.last, last.stringValue == "type" {
                return "field '\(path(ctx.codingPath))': \(ctx.debugDescription); allowed: \(WorkflowSpec.Parameter.Kind.allCases.map(\.rawValue).joined(separator: ", "))"
            }
            if ctx.codingPath.isEmpty { return "is not valid JSON (\((ctx.underlyingError as NSError?)?.localizedDescription ?? ctx.debugDescription))" }
            return "field '\(path(ctx.codingPath))': \(ctx.debugDescription)"
        @unknown default:
            return "\(e)"
        }
    }
}
