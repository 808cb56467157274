/// A uniform grid over a map's cells (cells bucketed by a counting sort), so that a tile visits only the
/// cells near it instead of all of them.
public struct GridIndex: Sendable {
    public let bounds: MapBounds
    public let side: Int
    let cellSize: Float
    /// `start[b]..<start[b+1]` are the cells of bin b in `cells` (drawn cells only).
    let start: [Int32]
    let cells: [Int32]

    /// Bins of about `perBin` cells on average, at most 1024 × 1024.
    public init(_ map: SpatialMap, perBin: Int = 16) {
        let b = map.extent
        let n = max(1, map.order.count)
        let side = max(1, min(1024, Int((Double(n) / Double(perBin)).squareRoot().rounded(.up))))
        let size = max(b.width, b.height) / Float(side)
        self.bounds = b; self.side = side; self.cellSize = max(size, 1e-6)
        var count = [Int32](repeating: 0, count: side * side + 1)
        var bin = [Int32](repeating: 0, count: map.order.count)
        for (t, i) in map.order.enumerated() {
            let bx = min(side - 1, max(0, Int((map.x[Int(i)] - b.x0) / cellSize)))
            let by = min(side - 1, max(0, Int((map.y[Int(i)] - b.y0) / cellSize)))
            bin[t] = Int32(by * side + bx); count[Int(bin[t]) + 1] += 1
        }
        for k in 0..<(side * side) { count[k + 1] += count[k] }
        var fill = count, cells = [Int32](repeating: 0, count: map.order.count)
        for (t, i) in map.order.enumerated() { let k = Int(bin[t]); cells[Int(fill[k])] = i; fill[k] += 1 }
        start = count; self.cells = cells
    }

    func binRange(_ a: Float, _ b: Float, origin: Float) -> ClosedRange<Int>? {
        let lo = Int(((a - origin) / cellSize).rounded(.down)), hi = Int(((b - origin) / cellSize).rounded(.down))
        let l = max(0, lo), h = min(side - 1, hi)
        return l <= h ? l...h : nil
    }

    /// True when the region covers few enough bins that indexing beats a scan of every cell.
    func worthUsing(x0: Float, y0: Float, x1: Float, y1: Float) -> Bool {
        guard let bx = binRange(x0, x1, origin: bounds.x0), let by = binRange(y0, y1, origin: bounds.y0) else { return true }
        return bx.count * by.count * 2 < side * side
    }

    func forEachCell(x0: Float, y0: Float, x1: Float, y1: Float, _ body: (Int32) -> Void) {
        guard let bx = binRange(x0, x1, origin: bounds.x0), let by = binRange(y0, y1, origin: bounds.y0) else { return }
        start.withUnsafeBufferPointer { st in cells.withUnsafeBufferPointer { cs in
            for yb in by {
                let lo = Int(st[yb * side + bx.lowerBound]), hi = Int(st[yb * side + bx.upperBound + 1])
                for t in lo..<hi { body(cs[t]) }
            }
        } }
    }
}
