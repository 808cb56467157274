import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One daemon per data root: an exclusive `flock` on `ROOT/tesserad.lock`, held for the daemon's life (the
/// kernel drops it when the process dies, even by SIGKILL, so a stale lock never blocks a restart). The
/// file holds the holder's PID so a second daemon can say whom it met.
public final class RootLock: @unchecked Sendable {
    private let fd: Int32
    public let url: URL

    public init(root: URL) throws {
        url = root.appendingPathComponent("tesserad.lock")
        fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DaemonError.config("cannot open \(url.path): \(String(cString: strerror(errno))); check the root folder's permissions")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buf = [UInt8](repeating: 0, count: 64)
            let n = pread(fd, &buf, buf.count, 0)
            close(fd)
            let pid = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            throw DaemonError.config("another tesserad (PID \(pid)) is serving \(root.path); stop it first (kill \(pid)) or start this one with another --root")
        }
        let me = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = me.withUnsafeBufferPointer { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(fd) }   // closing the descriptor releases the lock
}
