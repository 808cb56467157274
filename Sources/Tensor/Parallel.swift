import Dispatch
import Foundation

/// Parallel loops for our own kernels and for `BLAS.gemm`'s blocks. Work is split into one contiguous chunk
/// per core; loops too small to pay for a thread hand-off run inline.
public enum Parallel {
    /// Cores used by our kernels: `TESSERA_THREADS` if set, else the active processor count.
    public static let cores: Int = {
        if let s = ProcessInfo.processInfo.environment["TESSERA_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Calls `body` on disjoint sub-ranges covering 0..<count. `grain` is the least work per chunk worth a
    /// thread (in iterations).
    public static func forEach(_ count: Int, grain: Int = 256, _ body: (Range<Int>) -> Void) {
        let chunks = isSerial ? 1 : min(cores, max(1, count / max(1, grain)))
        if chunks <= 1 { if count > 0 { body(0..<count) }; return }
        run(chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Calls `body(i)` for i in 0..<iterations on the cores, returning when all are done. The body writes only
    /// to memory no other iteration touches; that is the caller's contract (our kernels pass raw pointers).
    public static func run(_ iterations: Int, _ body: (Int) -> Void) {
        if iterations == 1 || isSerial { for i in 0..<iterations { body(i) }; return }
        withoutActuallyEscaping(body) { b in
            let box = UncheckedSendable(b)
            DispatchQueue.concurrentPerform(iterations: iterations) { box.value($0) }
        }
    }
}

extension Parallel {
    /// True on a thread running inside `serially`: kernels and GEMMs then stay on that thread. Independent
    /// sequences (FOVs) run one per core this way, with no fork/join inside each.
    public static var isSerial: Bool { pthread_getspecific(serialKey) != nil }

    public static func serially<T>(_ body: () throws -> T) rethrows -> T {
        let before = pthread_getspecific(serialKey)
        pthread_setspecific(serialKey, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(serialKey, before) }
        return try body()
    }

    private static let serialKey: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()
}

/// Carries a value into a concurrent closure where the caller guarantees the accesses do not race.
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
