import Tensor

/// Units of a dataset's coordinates.
public enum CoordinateUnit: String, Sendable, Codable {
    case micrometre = "um"
    case pixel = "px"
    case unknown
}

/// Per-cell positions. `x`, `y` (and `z` when the platform measures depth) have one entry per cell.
public struct Coordinates: Sendable, Equatable {
    public var x: [Double]
    public var y: [Double]
    public var z: [Double]?
    public var unit: CoordinateUnit
    /// Micrometres per pixel when `unit == .pixel` and the platform states it (Visium, CosMx, Xenium images).
    public var micronsPerPixel: Double?

    public init(x: [Double], y: [Double], z: [Double]? = nil, unit: CoordinateUnit, micronsPerPixel: Double? = nil) {
        self.x = x; self.y = y; self.z = z; self.unit = unit; self.micronsPerPixel = micronsPerPixel
    }

    public var count: Int { x.count }

    public func selecting(_ rows: [Int]) -> Coordinates {
        Coordinates(x: rows.map { x[$0] }, y: rows.map { y[$0] }, z: z.map { z in rows.map { z[$0] } },
                    unit: unit, micronsPerPixel: micronsPerPixel)
    }
}

/// One imported dataset: a counts matrix of cells × genes with everything spatial workflows need to know
/// about each cell and gene. Every reader produces one; nothing downstream knows which file it came from.
public struct Dataset: Sendable, Equatable {
    /// A display name (usually the file or folder name).
    public var name: String
    /// Raw counts, cells × genes, CSR Float32.
    public var counts: CSRMatrix
    public var cellIDs: [String]
    /// Stable gene ids (Ensembl where the source has them, otherwise the symbol).
    public var geneIDs: [String]
    public var geneSymbols: [String]
    /// False for genes a spatial panel did not measure (their counts are structural zeros, not observations).
    public var measured: [Bool]
    /// Tissue section or library of each cell.
    public var sample: Categorical
    /// Field of view of each cell; nil for data without FOVs (scRNA-seq, whole-slide spots).
    public var fov: Categorical?
    /// Technical batch of each cell (defaults to the sample).
    public var batch: Categorical
    /// nil for data without positions (scRNA-seq).
    public var coordinates: Coordinates?
    /// Platform label: visium, xenium, merscope, cosmx, osmfish, seqfish, starmap, scrna, simulated, unknown.
    public var platform: String
    /// Every other per-cell column.
    public var obs: ObsTable
    /// Per-gene annotation columns.
    public var vars: ObsTable
    /// Provenance and small facts (source layout, counts element used, scale factors, held-out genes).
    public var metadata: [String: String]
    /// Per-cell matrices beyond the coordinates (`obsm` of an h5ad: X_pca, X_umap…), kept so a converted or
    /// annotated file still holds them. Rows are cells.
    public var embeddings: [String: Matrix] = [:]
    /// Tissue images and scale factors by library (Visium; `uns['spatial']` of an h5ad).
    public var spatialLibraries: [SpatialLibrary] = []

    public init(name: String, counts: CSRMatrix, cellIDs: [String], geneIDs: [String], geneSymbols: [String]? = nil,
                measured: [Bool]? = nil, sample: Categorical? = nil, fov: Categorical? = nil, batch: Categorical? = nil,
                coordinates: Coordinates? = nil, platform: String = "unknown", obs: ObsTable = ObsTable(),
                vars: ObsTable = ObsTable(), metadata: [String: String] = [:]) {
        self.name = name
        self.counts = counts
        self.cellIDs = cellIDs
        self.geneIDs = geneIDs
        self.geneSymbols = geneSymbols ?? geneIDs
        self.measured = measured ?? [Bool](repeating: true, count: geneIDs.count)
        let s = sample ?? .constant(name, count: cellIDs.count)
        self.sample = s
        self.fov = fov
        self.batch = batch ?? s
        self.coordinates = coordinates
        self.platform = platform
        self.obs = obs
        self.vars = vars
        self.metadata = metadata
    }

    public var cellCount: Int { counts.rows }
    public var geneCount: Int { counts.cols }

    /// Keeps the listed cells, in order.
    public func selectingCells(_ rows: [Int]) -> Dataset {
        var d = self
        d.counts = counts.selectingRows(rows)
        d.cellIDs = rows.map { cellIDs[$0] }
        d.sample = sample.selecting(rows)
        d.fov = fov?.selecting(rows)
        d.batch = batch.selecting(rows)
        d.coordinates = coordinates?.selecting(rows)
        d.obs = obs.selecting(rows)
        d.embeddings = embeddings.mapValues { $0.selecting(rows: rows) }
        return d
    }

    /// Keeps the listed genes, in order.
    public func selectingGenes(_ cols: [Int]) -> Dataset {
        var d = self
        d.counts = counts.selectingColumns(cols)
        d.geneIDs = cols.map { geneIDs[$0] }
        d.geneSymbols = cols.map { geneSymbols[$0] }
        d.measured = cols.map { measured[$0] }
        d.vars = vars.selecting(cols)
        return d
    }
}
