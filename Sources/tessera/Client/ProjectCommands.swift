import ArgumentParser
import Foundation

/// A plain text table: columns padded to their widest cell.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
    return all.map { r in r.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        .trimmingCharacters(in: .whitespaces) }.joined(separator: "\n")
}

func shortDate(_ d: Date?) -> String {
    guard let d else { return "-" }
    let f = DateFormatter(); f.dateFormat = "yyyy-MM-dd HH:mm:ss"; f.timeZone = TimeZone.current
    return f.string(from: d)
}

struct ProjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "project", abstract: "Create, list and show projects.",
                                                    subcommands: [Create.self, List.self, Show.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a project.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "Project name (unique).") var name: String
        @Option(help: "A line of description.") var description = ""
        @Flag(help: "Print JSON.") var json = false
        func run() async throws {
            try await runClient {
                guard let p = try await daemon.client.fetch("POST", "/api/projects", body: ["name": name, "description": description], as: ProjectInfo.self, json: json) else { return }
                print("created project \(p.name) (\(p.id))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List projects.")
        @OptionGroup var daemon: DaemonOptions
        @Flag(help: "Print JSON.") var json = false
        func run() async throws {
            try await runClient {
                guard let ps = try await daemon.client.fetch("GET", "/api/projects", as: [ProjectInfo].self, json: json) else { return }
                if ps.isEmpty { print("no projects yet; create one with `tessera project create NAME`"); return }
                print(table(["NAME", "ID", "CREATED", "DESCRIPTION"], ps.map { [$0.name, $0.id, shortDate($0.createdAt), $0.description] }))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a project: its datasets and jobs.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "Project name or id.") var project: String
        @Flag(help: "Print JSON.") var json = false
        func run() async throws {
            try await runClient {
                let c = daemon.client, p = DaemonClient.escape(project)
                let pData = try await c.send("GET", "/api/projects/\(p)")
                let dData = try await c.send("GET", "/api/projects/\(p)/datasets")
                let jData = try await c.send("GET", "/api/jobs?project=\(p)&limit=20")
                if json {
                    let o: [String: Any] = ["project": try JSONSerialization.jsonObject(with: pData), "datasets": try JSONSerialization.jsonObject(with: dData),
                                            "jobs": try JSONSerialization.jsonObject(with: jData)]
                    printJSON(try JSONSerialization.data(withJSONObject: o)); return
                }
                let info = try DaemonClient.decoder.decode(ProjectInfo.self, from: pData)
                let ds = try DaemonClient.decoder.decode([DatasetInfo].self, from: dData)
                let jobs = try DaemonClient.decoder.decode(JobPage.self, from: jData)
                print("project \(info.name) (\(info.id)), created \(shortDate(info.createdAt))")
                if !info.description.isEmpty { print(info.description) }
                print("\ndatasets (\(ds.count)):")
                print(ds.isEmpty ? "  none; add one with `tessera dataset add FILE --project \(info.name)`"
                      : table(["NAME", "ID", "CELLS", "GENES", "PATH"], ds.map { [$0.name, String($0.id.prefix(8)), "\($0.cells)", "\($0.genes)", $0.path] }))
                print("\njobs (\(jobs.total), newest first):")
                print(jobs.jobs.isEmpty ? "  none" : jobTable(jobs.jobs))
            }
        }
    }
}

struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dataset", abstract: "Register and list datasets.", subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a dataset file with a project (the daemon reads and hashes it).")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The file (h5ad, 10x h5, Visium folder, …).") var path: String
        @Option(help: "Project name or id.") var project: String
        @Option(help: "Dataset name within the project (default: the file name).") var name: String?
        @Option(help: "Text tables: the cell locations file (cell id, x, y), as `tessera inspect --locations`.") var locations: String?
        @Option(help: "Text tables: a per-cell metadata file, as `tessera inspect --metadata`.") var metadata: String?
        @Option(help: "Text tables: cells-x-genes or genes-x-cells (default: sniffed), as `tessera inspect --orientation`.") var orientation: String?
        @Flag(help: "Print JSON.") var json = false
        func run() async throws {
            try await runClient {
                func absolute(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.path }
                var body: [String: Any] = ["path": absolute(path)]
                if let name { body["name"] = name }
                if let locations { body["locations"] = absolute(locations) }
                if let metadata { body["metadata"] = absolute(metadata) }
                if let orientation { body["orientation"] = orientation }
                guard let d = try await daemon.client.fetch("POST", "/api/projects/\(DaemonClient.escape(project))/datasets", body: body, timeout: 600, as: DatasetInfo.self, json: json) else { return }
                print("registered \(d.name) (\(d.id)): \(d.cells) cells × \(d.genes) genes, sha256 \(d.contentHash.prefix(12))…")
                if let same = d.sameContentAs, !same.isEmpty {
                    FileHandle.standardError.write(Data("note: \(d.name) has the same content as \(same.joined(separator: ", ")) in this project\n".utf8))
                }
                if d.summary?.integerCounts == false {
                    FileHandle.standardError.write(Data("warning: \(d.name) holds values that are not whole numbers (normalised, not counts?). Every workflow models counts; if these are log1p of normalised values, submit with --set input_transform=log_normalized.\n".utf8))
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a project's datasets.")
        @OptionGroup var daemon: DaemonOptions
        @Option(help: "Project name or id.") var project: String
        @Flag(help: "Print JSON.") var json = false
        func run() async throws {
            try await runClient {
                guard let ds = try await daemon.client.fetch("GET", "/api/projects/\(DaemonClient.escape(project))/datasets", as: [DatasetInfo].self, json: json) else { return }
                print(table(["NAME", "ID", "CELLS", "GENES", "REGISTERED", "PATH"],
                            ds.map { [$0.name, $0.id, "\($0.cells)", "\($0.genes)", shortDate($0.registeredAt), $0.path] }))
            }
        }
    }
}

struct OpenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "open", abstract: "Print the viewer's URL (checks the daemon is up).")
    @OptionGroup var daemon: DaemonOptions
    @Option(help: "Open on this project.") var project: String?
    func run() async throws {
        try await runClient {
            let c = daemon.client
            let h = try await c.get("/api/health", as: HealthInfo.self)
            let url = c.base + "/" + (project.map { "#project=\(DaemonClient.escape($0))" } ?? "")
            print(url)
            FileHandle.standardError.write(Data("tesserad \(h.version): \(h.running) running, \(h.queued) queued; data root \(h.root)\n".utf8))
        }
    }
}
