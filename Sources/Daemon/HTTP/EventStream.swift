import Foundation
import Hummingbird
import Workflows

/// A job's events as Server-Sent Events (`GET /api/jobs/{job}/events/stream`), for browsers' EventSource.
/// Each worker event is `event: job` with the event JSON; each state change is `event: state`; the `id:` is
/// the byte offset after the event, so a reconnecting client (`Last-Event-ID`) misses nothing. The stream
/// ends after the job reaches a terminal state; a comment line every 15 s keeps proxies from closing it.
enum EventStream {
    static func response(service: DaemonService, job key: String, request: Request) throws -> Response {
        let id = try service.store.job(matching: key).id
        let resume = request.headers.first(where: { $0.name.canonicalName == "last-event-id" }).flatMap { UInt64($0.value) }
            ?? request.uri.queryParameters["after"].flatMap { UInt64($0) } ?? 0
        let body = ResponseBody { writer in
            var offset = resume, lastState = ""
            while true {
                let r = try await service.events(job: id, after: offset, wait: 15)
                for e in r.events {
                    let data = String(decoding: try API.encoder.encode(e), as: UTF8.self)
                    try await writer.write(ByteBuffer(string: "event: job\ndata: \(data)\n\n"))
                }
                if !r.events.isEmpty { try await writer.write(ByteBuffer(string: "id: \(r.next)\n\n")) }
                offset = r.next
                if r.job.state.rawValue != lastState {
                    lastState = r.job.state.rawValue
                    let data = String(decoding: try API.encoder.encode(API.job(r.job)), as: UTF8.self)
                    try await writer.write(ByteBuffer(string: "event: state\ndata: \(data)\n\n"))
                }
                if r.job.state.isTerminal { break }
                if r.events.isEmpty { try await writer.write(ByteBuffer(string: ": waiting\n\n")) }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
