import SpatialData
import Tensor

extension Dataset {
    /// The given gene columns as a dense cells × cols.count matrix (truth of held-out genes).
    public func denseColumns(_ cols: [Int]) -> Matrix {
        var slot = [Int: Int]()
        for (t, c) in cols.enumerated() { slot[c] = t }
        var m = Matrix(rows: cellCount, cols: cols.count)
        for i in 0..<cellCount {
            for z in counts.indptr[i]..<counts.indptr[i + 1] {
                if let t = slot[Int(counts.indices[z])] { m.data[i * cols.count + t] += counts.values[z] }
            }
        }
        return m
    }

    /// Total counts of each cell over all its genes.
    public var cellTotals: [Double] {
        (0..<cellCount).map { i in counts.values[counts.indptr[i]..<counts.indptr[i + 1]].reduce(0.0) { $0 + Double($1) } }
    }
}
