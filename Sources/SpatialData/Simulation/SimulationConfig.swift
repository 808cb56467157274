/// Parameters of a simulated tissue: how many cells, genes, fields of view, cell types and layers, how
/// expression differs between types, how deep and how noisy the counts are, and the seed.
///
/// The statistical design follows the Python peer `bench/make_synth.py` (same defaults where the two
/// share a parameter), so that benchmarks can compare like with like; the random streams differ, so the
/// two never produce the same numbers. Every field has a default; `TissueSimulator.simulate(_:)` is a
/// pure function of the config, so the same config always gives the same tissue.
public struct SimulationConfig: Sendable, Equatable, Codable {
    // ---- size ------------------------------------------------------------------------------------
    /// Spatial cells, spread evenly over the fields of view.
    public var cells: Int = 20_000
    /// Genes in the full transcriptome (spatial panel + held-out genes); the reference measures all.
    public var genes: Int = 2_000
    /// Fields of view, tiled on a near-square grid (each `fovSizeMicrons` wide, global µm coordinates).
    public var fovs: Int = 20
    /// Side of a square field of view in micrometres.
    public var fovSizeMicrons: Double = 1_000
    /// Cell types (K). Types come in sister pairs (2c, 2c+1) that share a broad class programme.
    public var cellTypes: Int = 8
    /// Spatial domains: wavy layers stacked along y inside every FOV (cortex-like bands).
    public var domains: Int = 8
    /// scRNA reference cells (all genes measured, no coordinates).
    public var referenceCells: Int = 10_000

    // ---- genes and types -------------------------------------------------------------------------
    /// Fraction of genes held out of the spatial panel (measured only by the reference).
    public var heldOutFraction: Double = 0.10
    /// Held-out genes are drawn at random from this top fraction of genes by mean expression, because
    /// imputation benchmarks evaluate genes that are expressed.
    public var heldOutPoolFraction: Double = 0.25
    /// Marker genes per cell type (clamped so that all markers fit in half of the genes).
    public var markerGenesPerType: Int = 10
    /// Mean natural-log fold change of a marker gene in its own type.
    public var markerLogFoldChange: Double = 2.0
    /// Mean and sd of the log relative base mean of ordinary genes (log-normal gene means).
    public var geneLogMean: Double = -1.0
    public var geneLogSD: Double = 1.3
    /// Fraction of genes carrying each class's broad programme, and the sd of its log effects.
    public var classGeneFraction: Double = 0.3
    public var classEffectSD: Double = 1.0
    /// sd of a weak type effect on every gene (log scale).
    public var sharedEffectSD: Double = 0.1

    // ---- tissue layout ---------------------------------------------------------------------------
    /// Probability that a cell is its domain's dominant type; `secondaryTypeProbability` more go to the
    /// dominant type of an adjacent layer (spill-over); the rest are any type at random.
    public var dominantTypeProbability: Double = 0.75
    public var secondaryTypeProbability: Double = 0.15
    /// Amplitude of the layer boundaries' waves, as a fraction of the FOV height.
    public var boundaryWaviness: Double = 0.06

    // ---- counts ----------------------------------------------------------------------------------
    /// Mean total counts per spatial cell over all genes (the panel holds less: held-out genes are among
    /// the more expressed). At the standard preset this gives ~89 % zeros on the panel and a panel library
    /// size of ~320 (median ~300, 5–95 % ~170–540), close to a CosMx or Xenium panel.
    public var meanLibrarySize: Double = 500
    /// sd of the log-normal per-cell size factor.
    public var librarySizeLogSD: Double = 0.35
    /// Typical negative-binomial inverse dispersion θ (variance μ + μ²/θ); per gene log-normal around it.
    public var dispersionTheta: Double = 3.0
    public var dispersionLogSD: Double = 0.6
    /// sd of the spatial platform's gene-specific log capture efficiency (differs from the reference).
    public var captureLogSD: Double = 0.5
    /// Slides (spatial batches): FOVs are split into this many consecutive groups.
    public var batches: Int = 2
    /// sd of the per-slide, per-gene log multiplicative batch factors (0 = no batch effect).
    public var batchEffectSD: Double = 0.15
    /// Reference depth, donors (reference batches) and the sd of their per-gene log factors.
    public var referenceLibrarySize: Double = 3_000
    public var referenceLibrarySizeLogSD: Double = 0.4
    public var referenceDonors: Int = 2
    public var referenceBatchEffectSD: Double = 0.3
    /// Concentration of the symmetric Dirichlet that draws the reference's type proportions.
    public var referenceCompositionConcentration: Double = 5
    /// Factor on every gene's NB θ in the reference only (< 1: a noisier platform, e.g. plate-based scRNA-seq
    /// with its dropouts on a marker panel; 1 = the spatial data's dispersion).
    public var referenceThetaScale: Double = 1
    /// Fraction of each spatial cell's expected counts that comes from the average of the type profiles
    /// instead of its own type: segmentation spill-over from neighbouring cells and ambient RNA, which give
    /// FISH cells counts of genes their type does not express (osmFISH: 30 % zeros against the reference's
    /// 76 %). 0 = none; the reference is never contaminated.
    public var spatialAmbientFraction: Double = 0

    /// Seed of every random stream. Same seed and config → identical datasets.
    public var seed: UInt64 = 0

    /// The defaults (20,000 cells × 2,000 genes, 20 FOVs, 8 types, as make_synth.py).
    public init() {}

    /// The defaults with the size and seed overridden.
    public init(cells: Int, genes: Int, fovs: Int = 20, cellTypes: Int = 8, seed: UInt64 = 0) {
        self.cells = cells; self.genes = genes; self.fovs = fovs; self.cellTypes = cellTypes
        self.domains = cellTypes; self.seed = seed
    }

    // ---- presets ---------------------------------------------------------------------------------
    /// The benchmark default: 20,000 cells × 2,000 genes, 20 FOVs, 8 types, 10,000 reference cells.
    public static let standard = SimulationConfig()

    /// A few seconds of work for interactive checks: 5,000 cells × 500 genes over 4 FOVs.
    public static let small: SimulationConfig = {
        var c = SimulationConfig(cells: 5_000, genes: 500, fovs: 4)
        c.referenceCells = 2_500
        c.meanLibrarySize = 125
        return c
    }()

    /// Unit-test size: 2,000 cells × 200 genes, 4 FOVs, 4 types, 1,000 reference cells.
    public static let tiny: SimulationConfig = {
        var c = SimulationConfig(cells: 2_000, genes: 200, fovs: 4, cellTypes: 4)
        c.markerGenesPerType = 8
        c.referenceCells = 1_000
        c.meanLibrarySize = 50
        return c
    }()

    /// Scaling runs: `cells` cells × `genes` genes, with about 50,000 cells per FOV and a small reference;
    /// depth scaled with the gene count so that sparsity stays near the standard preset's.
    public static func scaling(cells: Int, genes: Int = 500, seed: UInt64 = 0) -> SimulationConfig {
        var c = SimulationConfig(cells: cells, genes: genes, fovs: max(1, min(400, cells / 50_000)), seed: seed)
        c.referenceCells = min(10_000, max(1_000, cells / 10))
        c.meanLibrarySize = 500 * Double(genes) / 2_000
        return c
    }

    /// Number of held-out genes implied by `heldOutFraction` (at least one gene stays on the panel).
    public var heldOutCount: Int {
        min(max(0, genes - 1), max(0, Int((heldOutFraction * Double(genes)).rounded())))
    }

    /// Markers per type after clamping (all markers fit in half of the genes).
    public var effectiveMarkersPerType: Int {
        max(0, min(markerGenesPerType, genes / max(1, 2 * cellTypes)))
    }
}
