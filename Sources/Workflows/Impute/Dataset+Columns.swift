import SpatialData
import Tensor

extension Dataset {
    /// The given gene columns, in that order, as a dense cells × cols.count matrix (truth of held-out genes).
    public func denseColumns(_ cols: [Int]) -> Matrix {
        counts.selectingColumns(cols).toDense()
    }
}
