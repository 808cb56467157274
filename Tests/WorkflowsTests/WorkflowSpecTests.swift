import Foundation
import Testing
@testable import Workflows

/// Workflow specs: the committed `workflows/` folder loads, and every refusal of `resolve`, `checkInputs` and
/// of a malformed spec file names the parameter, role, file or field and what is allowed.
@Suite struct WorkflowSpecTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let spec = WorkflowSpec(name: "demo", version: "1", description: "", inputs: [
        .init(role: "spatial", kind: .spatial, required: true, multiple: true),
        .init(role: "reference", kind: .reference, required: false),
    ], parameters: [
        .init(name: "preset", type: .string, default: .string("small"), choices: ["tiny", "small", "base"]),
        .init(name: "steps", type: .integer, default: .number(100), minimum: 1, maximum: 1000),
        .init(name: "lr", type: .number, default: .number(0.001), minimum: 1e-6, maximum: 0.1),
        .init(name: "position_embedding", type: .boolean, default: .bool(true)),
        .init(name: "genes", type: .strings),
        .init(name: "label", type: .string, required: true),
        .init(name: "checkpoint", type: .checkpoint),
    ])

    func refusal(_ params: [String: JSONValue]) -> String? {
        do { _ = try Self.spec.resolve(parameters: params); return nil } catch { return error.description }
    }

    @Test func theCommittedSpecsLoad() throws {
        let catalog = try WorkflowCatalog.load(directory: Self.root.appendingPathComponent("workflows"))
        let names = catalog.specs.map(\.name)
        #expect(names.contains("pretrain") && names.contains("embed"))
        for s in catalog.specs {
            // Defaults alone satisfy every spec whose parameters are all optional.
            if !s.parameters.contains(where: \.required) { _ = try s.resolve(parameters: [:]) }
        }
        let embed = try catalog.spec(named: "embed")
        let p = try embed.resolve(parameters: ["checkpoint": .string("/m.tsr")])
        #expect(p["resolution"] == .number(1) && p["neighbors"] == .number(15) && p["position_embedding"] == .bool(true))
        #expect(throws: WorkflowError.unknownWorkflow(name: "nope", known: names)) { try catalog.spec(named: "nope") }
    }

    @Test func resolveFillsDefaultsAndKeepsGivenValues() throws {
        let p = try Self.spec.resolve(parameters: ["label": .string("cell_type"), "steps": .number(5), "genes": .array([.string("Gad1")]), "lr": .null])
        #expect(p == ["preset": .string("small"), "steps": .number(5), "lr": .number(0.001), "position_embedding": .bool(true),
                      "genes": .array([.string("Gad1")]), "label": .string("cell_type")])
    }

    @Test func everyParameterRefusalNamesTheParameterAndWhatIsAllowed() {
        let base: [String: JSONValue] = ["label": .string("x")]
        func with(_ k: String, _ v: JSONValue) -> [String: JSONValue] { base.merging([k: v]) { $1 } }
        #expect(refusal(with("step", .number(3)))?.contains("has no parameter 'step'; its parameters are: preset, steps, lr") == true)
        #expect(refusal(with("steps", .string("10"))) == "parameter 'steps': \"10\" is not a number; allowed: an integer in 1...1000")
        #expect(refusal(with("steps", .number(2.5))) == "parameter 'steps': 2.5 is not an integer; allowed: an integer in 1...1000")
        #expect(refusal(with("steps", .number(0))) == "parameter 'steps': 0 is below the minimum; allowed: an integer in 1...1000")
        #expect(refusal(with("steps", .number(1001))) == "parameter 'steps': 1001 is above the maximum; allowed: an integer in 1...1000")
        #expect(refusal(with("lr", .number(0.5))) == "parameter 'lr': 0.5 is above the maximum; allowed: a number in 1e-06...0.1")
        #expect(refusal(with("lr", .bool(true))) == "parameter 'lr': true is not a number; allowed: a number in 1e-06...0.1")
        #expect(refusal(with("preset", .string("huge"))) == "parameter 'preset': \"huge\" is not a choice; allowed: one of: tiny, small, base")
        #expect(refusal(with("preset", .number(1))) == "parameter 'preset': 1 is not a string; allowed: one of: tiny, small, base")
        #expect(refusal(with("position_embedding", .string("yes"))) == "parameter 'position_embedding': \"yes\" is not true or false; allowed: true or false")
        #expect(refusal(with("genes", .string("Gad1"))) == "parameter 'genes': \"Gad1\" is not a list of strings; allowed: a list of strings")
        #expect(refusal(with("genes", .array([.number(1)]))) == "parameter 'genes': element 1 is not a string; allowed: a list of strings")
        #expect(refusal(with("checkpoint", .string(""))) == "parameter 'checkpoint': \"\" is not a path; allowed: a path to a Tessera .tsr checkpoint (or job:ID of a finished pretrain job)")
        #expect(refusal([:]) == "parameter 'label': is required and has no default; give a string")
        #expect(refusal(["label": .null]) == "parameter 'label': is required and has no default; give a string")
    }

    @Test func inputRolesAreChecked() throws {
        let s = Self.spec
        try s.checkInputs(roles: ["spatial"])
        try s.checkInputs(roles: ["spatial", "spatial.2", "spatial.10", "reference"])
        #expect(throws: WorkflowError.missingInput(role: "spatial", workflow: "demo")) { try s.checkInputs(roles: ["reference"]) }
        let known = ["spatial (also spatial.2, spatial.3…)", "reference"]
        #expect(throws: WorkflowError.unknownInput(role: "query", workflow: "demo", known: known)) { try s.checkInputs(roles: ["spatial", "query"]) }
        // Only `multiple` slots take numbered roles, numbered from 2.
        #expect(throws: WorkflowError.unknownInput(role: "reference.2", workflow: "demo", known: known)) { try s.checkInputs(roles: ["spatial", "reference.2"]) }
        #expect(throws: WorkflowError.unknownInput(role: "spatial.1", workflow: "demo", known: known)) { try s.checkInputs(roles: ["spatial", "spatial.1"]) }
        #expect(throws: WorkflowError.unknownInput(role: "spatial.02", workflow: "demo", known: known)) { try s.checkInputs(roles: ["spatial", "spatial.02"]) }
        #expect { try s.checkInputs(roles: ["spatial.2"]) } throws: { "\($0)".contains("'spatial.2' is bound but 'spatial' is not") }
        #expect(WorkflowSpec.boundRoles("spatial", in: ["spatial.10", "reference", "spatial", "spatial.2"]) == ["spatial", "spatial.2", "spatial.10"])
    }

    /// Writes `json` as `NAME.json` in a fresh folder and returns the catalog's refusal.
    func specRefusal(_ json: String, file: String = "demo") -> String? {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-specs-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try? Data(json.utf8).write(to: dir.appendingPathComponent("\(file).json"))
        do { _ = try WorkflowCatalog.load(directory: dir); return nil } catch { return "\(error)" }
    }

    @Test func malformedSpecFilesNameTheFileAndField() {
        func spec(_ params: String, inputs: String = #"[{"role": "data", "kind": "any"}]"#, name: String = "demo") -> String {
            #"{"name": "\#(name)", "version": "1", "description": "d", "inputs": \#(inputs), "parameters": [\#(params)]}"#
        }
        #expect(specRefusal(spec("")) == nil)
        let cases: [(String, String, String)] = [
            (#"{"name": "demo", "version": "1", "description": "d", "inputs": []}"#, "field 'parameters' is missing", "missing field"),
            (spec(#"{"name": "k", "type": "float"}"#), "parameters[0].type", "unknown type"),
            (spec("", inputs: #"[{"role": "data", "kind": "rna"}]"#), "inputs[0].kind", "unknown kind"),
            (spec(#"{"name": "k", "type": "integer", "default": 0, "minimum": 1}"#), "field 'parameters[0] (k).default': 0 is not an integer >= 1", "default out of range"),
            (spec(#"{"name": "k", "type": "integer", "default": 2.5}"#), "parameters[0] (k).default", "default of the wrong type"),
            (spec(#"{"name": "k", "type": "number", "minimum": 2, "maximum": 1}"#), "parameters[0] (k).minimum", "bounds reversed"),
            (spec(#"{"name": "k", "type": "boolean", "choices": ["a"]}"#), "parameters[0] (k).choices", "choices on a boolean"),
            (spec(#"{"name": "Steps", "type": "integer"}"#), "parameters[0].name", "not snake_case"),
            (spec(#"{"name": "k", "type": "integer"}, {"name": "k", "type": "number"}"#), "parameters[1].name", "declared twice"),
            (spec(#"{"name": "k", "type": "string", "required": true, "default": "a"}"#), "parameters[0] (k).default", "required with default"),
            (spec("", inputs: #"[{"role": "a.b", "kind": "any"}]"#), "inputs[0].role", "dotted role"),
            (spec("", name: "other"), "differs from the file name 'demo'", "name/file mismatch"),
            ("{not json", "is not valid JSON", "not JSON"),
        ]
        for (json, expected, what) in cases {
            let r = specRefusal(json)
            #expect(r?.contains("demo.json") == true && r?.contains(expected) == true, "\(what): \(r ?? "accepted")")
        }
    }
}
