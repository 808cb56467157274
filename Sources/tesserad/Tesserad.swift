import ArgumentParser
import Daemon
import Foundation
import Workflows
#if canImport(Glibc)
import Glibc
#endif

@main
struct Tesserad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tesserad",
        abstract: "Tessera's daemon: the project store, the job queue and the HTTP API (serve), and the worker that runs one job (work).",
        subcommands: [Serve.self, Work.self, EmbedPart.self, EmbedGather.self, Register.self], defaultSubcommand: Serve.self)
}

/// Where the workflow specs are: the flag, else `workflows/` in the working directory, else next to the
/// executable's checkout (`.build/<config>/tesserad` → `workflows/`).
func defaultWorkflowsFolder() -> String {
    if FileManager.default.fileExists(atPath: "workflows") { return "workflows" }
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let checkout = exe.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return checkout.appendingPathComponent("workflows").path
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon (listens on 127.0.0.1 unless configured otherwise).")

    @Option(help: "Data root: the database and job folders (default: storage).") var root = "storage"
    @Option(help: "Address to listen on (anything but loopback needs --token).") var host: String?
    @Option(help: "Port.") var port: Int?
    @Option(help: "File holding the bearer token clients must send (required beyond loopback; also $TESSERAD_TOKEN or \"token\" in ROOT/tesserad.json). Never on the command line, where `ps` shows it.")
    var tokenFile: String?
    @Option(help: "Jobs running at once.") var concurrency: Int?
    @Option(help: "Folder of workflow specs.") var workflows: String?
    @Option(help: "Folder of the viewer's static files.") var webStatic: String?
    @Option(help: "Largest accepted request body in bytes.") var maxBodyBytes: Int?
    @Flag(help: "Accept jobs but start none (API benchmarks).") var paused = false

    func run() async throws {
        var c = try DaemonConfig.load(root: root)
        if let host { c.host = host }
        if let port { c.port = port }
        if let tokenFile {
            guard let t = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                FileHandle.standardError.write(Data("tesserad: cannot read the token file \(tokenFile)\n".utf8))
                throw ExitCode(2)
            }
            c.token = t.trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let t = ProcessInfo.processInfo.environment["TESSERAD_TOKEN"], !t.isEmpty {
            c.token = t
        }
        if let concurrency { c.concurrency = concurrency }
        c.workflows = workflows ?? (FileManager.default.fileExists(atPath: c.workflows) ? c.workflows : defaultWorkflowsFolder())
        if let webStatic { c.webStatic = webStatic }
        else if !FileManager.default.fileExists(atPath: c.webStatic) {
            c.webStatic = URL(fileURLWithPath: defaultWorkflowsFolder()).deletingLastPathComponent().appendingPathComponent("web-static").path
        }
        if let maxBodyBytes { c.maxBodyBytes = maxBodyBytes }
        if paused { c.startsJobs = false }
        do { try c.validate() } catch {
            FileHandle.standardError.write(Data("tesserad: \(error)\n".utf8))
            throw ExitCode(2)
        }
        raiseOpenFileLimit()
        // Workers are this executable's `work` subcommand, with the same workflow folder.
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let workflowsPath = URL(fileURLWithPath: c.workflows).standardizedFileURL.path
        let worker: @Sendable (JobFolder) -> (executable: URL, arguments: [String]) = { folder in (exe, ["work", folder.url.path, "--workflows", workflowsPath]) }
        let executor = LocalExecutor(command: worker)
        // Slurm runs the same worker command in a batch job; a daemon configured for it refuses to start
        // where Slurm's client programs are missing.
        var others: [any Executor] = []
        if c.executor == "slurm" || c.slurm != nil {
            let slurm = SlurmExecutor(options: c.slurm ?? SlurmOptions(), command: worker) { folder, role, tasks in
                (exe, ["embed-\(role)", folder.url.path, "--tasks", "\(tasks)", "--workflows", workflowsPath])
            }
            do { try slurm.checkInstalled() } catch {
                FileHandle.standardError.write(Data("tesserad: \(error)\n".utf8))
                throw ExitCode(2)
            }
            others.append(slurm)
        }
        let registrar = DatasetRegistrar(timeoutSeconds: c.registerTimeoutSeconds, memoryMB: c.registerMemoryMB) { json, store, mb in
            (exe, ["register", "--request", json, "--store", store.path, "--memory-mb", "\(mb)"])
        }
        let service: DaemonService
        do { service = try DaemonService(config: c, executor: executor, others: others, registrar: registrar) } catch let e as DaemonError {
            FileHandle.standardError.write(Data("tesserad: \(e)\n".utf8))
            throw ExitCode(2)
        }
        let config = c
        let app = DaemonServer.application(service: service) { port in
            FileHandle.standardOutput.write(Data("tesserad: listening on http://\(config.host):\(port) (root \(config.rootURL.path), \(service.catalog.specs.count) workflows)\n".utf8))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await service.runScheduler() }
            group.addTask { try await app.runService() }
            _ = try await group.next()
            group.cancelAll()
        }
    }
}

/// The soft open-file limit raised to the hard one: connections, workers, the database and served files all
/// need descriptors (the connection cap is derived from this limit).
func raiseOpenFileLimit() {
    var lim = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0, lim.rlim_cur < lim.rlim_max else { return }
    lim.rlim_cur = lim.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim)
}

/// Registration of one dataset, in a process of its own (what the daemon starts for `dataset add`): prints one
/// line of JSON, the registered dataset or the error.
struct Register: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "internal: read, check and hash one dataset for the daemon", shouldDisplay: false)

    @Option(help: "The registration request as JSON.") var request: String
    @Option(help: "Folder for datasets converted from joined tables.") var store: String
    @Option(help: "Address-space limit in MB.") var memoryMb: Int = 8192

    func run() throws {
        var lim = rlimit(rlim_cur: rlim_t(memoryMb) << 20, rlim_max: rlim_t(memoryMb) << 20)
        _ = setrlimit(Int32(RLIMIT_AS.rawValue), &lim)
        let answer: DatasetRegistrar.ChildAnswer
        do {
            let r = try JSONDecoder().decode(RegistrationRequest.self, from: Data(request.utf8))
            answer = .init(ok: try DatasetRegistration.run(r, store: URL(fileURLWithPath: store, isDirectory: true)))
        } catch let e as APIError {
            answer = .init(error: e)
        } catch {
            answer = .init(error: APIError(status: .unprocessableContent, code: "unreadable_dataset", message: "registration failed: \(error)"))
        }
        print(String(decoding: try JSONEncoder().encode(answer), as: UTF8.self))
    }
}

/// Set by SIGTERM: the running workflow checkpoints and exits as cancelled.
nonisolated(unsafe) private var terminationRequested: sig_atomic_t = 0

struct Work: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run one job folder to its end (what the daemon starts for each job).")

    @Argument(help: "The job folder (holds job.json).") var jobDir: String
    @Option(help: "Folder of workflow specs.") var workflows: String?

    func run() throws {
        let folder = JobFolder(URL(fileURLWithPath: jobDir, isDirectory: true))
        try? folder.writeWorker(.current())
        signal(SIGTERM) { _ in terminationRequested = 1 }
        let exit: JobFolder.Exit
        do {
            let catalog = try WorkflowCatalog.load(directory: URL(fileURLWithPath: workflows ?? defaultWorkflowsFolder(), isDirectory: true))
            exit = WorkflowRunner.run(folder: folder, catalog: catalog, implementations: WorkflowRegistry.all,
                                      cancelled: { terminationRequested != 0 })
        } catch {
            exit = JobFolder.Exit(status: .failed, reason: "\(error)", retryable: false)
            try? folder.writeExit(exit)
        }
        print("tesserad work: \(exit.status.rawValue): \(exit.reason)")
        if exit.status != .succeeded { throw ExitCode(exit.status == .cancelled ? 3 : 1) }
    }
}
