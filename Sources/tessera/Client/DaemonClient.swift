import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where the daemon is and how to authenticate: shared by every command that talks to it.
struct DaemonOptions: ParsableArguments {
    @Option(help: "The daemon's URL (default: $TESSERA_URL, else http://127.0.0.1:7878).") var url: String?
    @Option(help: "File holding the bearer token (default: $TESSERA_TOKEN). A token is never taken on the command line, where `ps` shows it.")
    var tokenFile: String?

    var client: DaemonClient {
        let env = ProcessInfo.processInfo.environment
        let fromFile = tokenFile.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }?.trimmingCharacters(in: .whitespacesAndNewlines)
        return DaemonClient(base: url ?? env["TESSERA_URL"] ?? "http://127.0.0.1:7878", token: fromFile ?? env["TESSERA_TOKEN"])
    }

    func validate() throws {
        if let tokenFile, (try? String(contentsOfFile: tokenFile, encoding: .utf8)) == nil {
            throw ValidationError("--token-file \(tokenFile): the file cannot be read")
        }
    }
}

/// An error the user sees as one line: the daemon's message, or why the daemon could not be reached.
struct ClientError: Error, CustomStringConvertible {
    let description: String
}

/// The CLI's only way to the daemon: JSON over HTTP.
struct DaemonClient: Sendable {
    let base: String
    let token: String?

    static let decoder: JSONDecoder = { let d = JSONDecoder(); d.dateDecodingStrategy = .iso8601; return d }()

    /// Sends a request; returns the body of a 2xx answer, throws the daemon's error message otherwise.
    func send(_ method: String, _ path: String, body: Any? = nil, timeout: TimeInterval = 120) async throws -> Data {
        guard let url = URL(string: base + path) else { throw ClientError(description: "bad daemon URL \(base + path)") }
        var req = URLRequest(url: url, timeoutInterval: timeout)
        req.httpMethod = method
        if let token { req.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            req.setValue("application/json", forHTTPHeaderField: "Content-Type")
            req.httpBody = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        }
        let (data, response): (Data, URLResponse)
        do { (data, response) = try await URLSession.shared.data(for: req) } catch {
            throw ClientError(description: """
                cannot reach the Tessera daemon at \(base) (\((error as NSError).localizedDescription)).
                Start it with `tesserad serve --root storage` (or `make demo`), or point --url / TESSERA_URL at a running one.
                """)
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            struct E: Decodable { struct I: Decodable { let code: String; let message: String }; let error: I }
            if let e = try? Self.decoder.decode(E.self, from: data) { throw ClientError(description: "\(e.error.message) [\(status) \(e.error.code)]") }
            throw ClientError(description: "the daemon answered \(status): \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
        return data
    }

    /// The answer decoded as `T`; with `json` it is printed as the daemon sent it instead, and nil returned
    /// (every listing's `--json`).
    func fetch<T: Decodable>(_ method: String, _ path: String, body: Any? = nil, timeout: TimeInterval = 120,
                             as: T.Type, json: Bool) async throws -> T? {
        let data = try await send(method, path, body: body, timeout: timeout)
        if json { printJSON(data); return nil }
        return try Self.decoder.decode(T.self, from: data)
    }

    func get<T: Decodable>(_ path: String, as: T.Type, timeout: TimeInterval = 120) async throws -> T {
        try Self.decoder.decode(T.self, from: try await send("GET", path, timeout: timeout))
    }

    func post<T: Decodable>(_ path: String, body: Any, as: T.Type) async throws -> T {
        try Self.decoder.decode(T.self, from: try await send("POST", path, body: body))
    }

    static func escape(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?&=+"))) ?? s }
}

/// Runs an async command body, printing a client error as one line and exiting 1 (no stack trace).
func runClient(_ body: () async throws -> Void) async throws {
    do { try await body() } catch let e as ClientError {
        FileHandle.standardError.write(Data("tessera: \(e.description)\n".utf8))
        throw ExitCode(1)
    }
}

/// Prints raw JSON from the daemon, pretty.
func printJSON(_ data: Data) {
    if let o = try? JSONSerialization.jsonObject(with: data),
       let d = try? JSONSerialization.data(withJSONObject: o, options: [.prettyPrinted, .sortedKeys]) {
        print(String(decoding: d, as: UTF8.self))
    } else { print(String(decoding: data, as: UTF8.self)) }
}
