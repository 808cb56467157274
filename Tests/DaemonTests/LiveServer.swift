import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
@testable import Daemon

/// Runs the daemon's HTTP application on a free loopback port for the duration of `body`, and talks to it
/// over real sockets. The client writes requests byte for byte (no URL normalisation, so `..` and
/// percent-encoded paths reach the server as written) and reads each answer to the end (Connection: close).
/// Blocking socket calls run on threads of their own, never on the Swift concurrency pool the server uses.
func withLiveServer(_ service: DaemonService, _ body: (TestHTTP) async throws -> Void) async throws {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let app = DaemonServer.application(service: service, port: 0) { port in continuation.yield(port) }
    let server = Task { try await app.run() }
    var it = ports.makeAsyncIterator()
    guard let port = await it.next() else { throw TestHTTP.Failure("the server did not start") }
    do { try await body(TestHTTP(port: port)) } catch { server.cancel(); _ = try? await server.value; throw error }
    server.cancel()
    _ = try? await server.value
}

struct TestHTTP: Sendable {
    let port: Int

    struct Failure: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    /// Sends one request; returns the status and the body as text.
    @discardableResult
    func call(_ method: HTTPRequest.Method, _ path: String, json: String? = nil, headers: [String: String] = [:]) async throws -> (HTTPResponse.Status, String) {
        var request = "\(method.rawValue) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (k, v) in headers { request += "\(k): \(v)\r\n" }
        let body = Data((json ?? "").utf8)
        if json != nil { request += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        request += "\r\n"
        let bytes = Data(request.utf8) + body
        let port = self.port
        let raw: Data = try await withCheckedThrowingContinuation { cont in
            // A thread of its own: Dispatch's pool grows slowly when 20 clients block at once.
            Thread.detachNewThread {
                do { cont.resume(returning: try Self.exchange(bytes, port: port)) } catch { cont.resume(throwing: error) }
            }
        }
        return try Self.parse(raw)
    }

    static func exchange(_ bytes: Data, port: Int, host: String = "127.0.0.1", timeout: Int = 60) throws -> Data {
        let fd: Int32
        do { fd = try RealDaemon.connectSocket(host: host, port: port, timeout: timeout) } catch { throw Failure("\(error)") }
        defer { close(fd) }
        var sent = 0
        try bytes.withUnsafeBytes { p in
            while sent < p.count {
                let n = send(fd, p.baseAddress! + sent, p.count - sent, Int32(MSG_NOSIGNAL))
                if n <= 0 { throw Failure("send failed: \(String(cString: strerror(errno)))") }
                sent += n
            }
        }
        var out = Data(), buf = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n == 0 { break }
            if n < 0 { throw Failure("recv failed: \(String(cString: strerror(errno)))") }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    /// Status line, headers, then the body (de-chunked when the server streamed it).
    static func parse(_ raw: Data) throws -> (HTTPResponse.Status, String) {
        guard let end = raw.range(of: Data("\r\n\r\n".utf8)) else { throw Failure("no HTTP header in \(raw.count) bytes") }
        let head = String(decoding: raw[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let parts = head[0].split(separator: " ")
        guard parts.count >= 2, let code = Int(parts[1]) else { throw Failure("bad status line '\(head[0])'") }
        var body = Data(raw[end.upperBound...])
        if head.dropFirst().contains(where: { $0.lowercased().hasPrefix("transfer-encoding:") && $0.lowercased().contains("chunked") }) {
            var decoded = Data(), rest = body[...]
            while let lineEnd = rest.range(of: Data("\r\n".utf8)) {
                let size = Int(String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? 0
                if size == 0 { break }
                let start = lineEnd.upperBound
                guard rest.distance(from: start, to: rest.endIndex) >= size else { break }
                decoded.append(rest[start..<rest.index(start, offsetBy: size)])
                rest = rest[rest.index(start, offsetBy: size + 2)...]
            }
            body = decoded
        }
        return (HTTPResponse.Status(code: code), String(decoding: body, as: UTF8.self))
    }
}
