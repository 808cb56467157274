import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `tesserad serve` process for the attack suite: its own root and `tesserad.json`, optional environment
/// and open-file limit, talked to over raw sockets so requests reach it exactly as written (any Host header,
/// any spelling of the path, any bind address on the loopback network).
final class RealDaemon {
    let root: String, host: String, port: Int
    let process: Process
    var log: String { (try? String(contentsOfFile: root + "/daemon.log", encoding: .utf8)) ?? "" }

    struct Failure: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    /// Starts the daemon and waits until it answers (`ready: false` for one expected to refuse to start).
    init(root: String, host: String = "127.0.0.1", config: [String: Any] = [:], env: [String: String] = [:], openFiles: Int? = nil,
         extraArguments: [String] = [], token: String? = nil, ready: Bool = true) throws {
        self.root = root; self.host = host; self.port = RealDaemon.freePort()
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        if !config.isEmpty {
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: root + "/tesserad.json"))
        }
        let exe = try CrashRecoveryTests.binary()
        let workflows = FileManager.default.currentDirectoryPath + "/workflows"
        let args = ["serve", "--root", root, "--host", host, "--port", "\(port)", "--workflows", workflows] + extraArguments
        let p = Process()
        // Through sh only to lower the open-file limit first (both soft and hard, as a hostile setup would).
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        let quoted = ([exe] + args).map { "'\($0.replacingOccurrences(of: "'", with: "'\\''"))'" }.joined(separator: " ")
        p.arguments = ["-c", (openFiles.map { "ulimit -n \($0); " } ?? "") + "exec \(quoted)"]
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        FileManager.default.createFile(atPath: root + "/daemon.log", contents: nil)
        let logHandle = FileHandle(forWritingAtPath: root + "/daemon.log") ?? FileHandle.nullDevice
        p.standardOutput = logHandle; p.standardError = logHandle
        try p.run()
        process = p
        guard ready else { return }
        let end = Date().addingTimeInterval(30)
        while Date() < end {
            let auth = token.map { ["Authorization": "Bearer \($0)"] } ?? [:]
            if let (st, _) = try? send("GET", "/api/health", headers: auth, timeout: 2), st == 200 { return }
            if !p.isRunning { throw Failure("tesserad exited with \(p.terminationStatus): \(log)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw Failure("tesserad did not answer within 30 s: \(log)")
    }

    var pid: Int32 { process.processIdentifier }

    func stop() {
        guard process.isRunning else { return }
        process.terminate(); process.waitUntilExit()
    }

    func kill9() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL); process.waitUntilExit()
    }

    /// Waits for a daemon that is expected to exit (it refused to start); nil if it is still running.
    func exitStatus(within seconds: Double) -> Int32? {
        let end = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.05) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Resident memory of the daemon in MiB (from /proc).
    func residentMiB() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return -1 }
        return kb / 1024
    }

    /// Open file descriptors of the daemon.
    func openFiles() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1 }

    /// One request as written; the Host header defaults to the bound address. Returns status and body.
    @discardableResult
    func send(_ method: String, _ path: String, headers: [String: String] = [:], json: String? = nil, body: String? = nil,
              hostHeader: String? = nil, timeout: Int = 30) throws -> (Int, String) {
        var h = headers
        let payload = json ?? body
        if json != nil, h["Content-Type"] == nil { h["Content-Type"] = "application/json" }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(hostHeader ?? "\(host):\(port)")\r\nConnection: close\r\n"
        for (k, v) in h.sorted(by: { $0.key < $1.key }) { request += "\(k): \(v)\r\n" }
        if let payload { request += "Content-Length: \(payload.utf8.count)\r\n" }
        request += "\r\n" + (payload ?? "")
        let raw = try TestHTTP.exchange(Data(request.utf8), port: port, host: host, timeout: timeout)
        let (status, text) = try TestHTTP.parse(raw)
        return (status.code, text)
    }

    /// A connected TCP socket with send/receive timeouts.
    static func connectSocket(host: String, port: Int, timeout: Int, blocking: Bool = true) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket() failed: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if !blocking { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(host)
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if ok != 0 && !(blocking == false && errno == EINPROGRESS) {
            let why = String(cString: strerror(errno)); close(fd)
            throw Failure("connect to \(host):\(port) failed: \(why)")
        }
        return fd
    }

    /// A port nothing listens on now.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET); addr.sin_port = 0; addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// SIGKILLs every process whose working directory lies under `path` (the workers of a test's root, which
    /// outlive a stopped daemon by design: a restarted daemon adopts them).
    static func killWorkers(under path: String) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != getpid(),
                  let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/cwd"),
                  cwd.hasPrefix(path) else { continue }
            kill(pid, SIGKILL)
        }
    }

    /// A fresh folder under the temporary directory.
    static func tempRoot(_ tag: String) -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(tag)-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }
}
