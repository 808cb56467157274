import Tensor

/// Fisher–Yates with our own generator and index draw, so a seeded order is the same on every platform and
/// Swift version (the standard library's `shuffle(using:)` does not promise its algorithm).
public enum SeededShuffle {
    public static func shuffle<T>(_ a: inout [T], _ rng: inout SeededRNG) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, rng.int(below: i + 1)) }
    }

    /// A seeded permutation of 0..<n.
    public static func permutation(_ n: Int, seed: UInt64) -> [Int] {
        var a = Array(0..<n), rng = SeededRNG(seed: seed)
        shuffle(&a, &rng)
        return a
    }
}
