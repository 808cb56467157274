import Foundation
import Tensor

/// A simulated tissue with its ground truth: the spatial panel, the same cells with every gene, and a
/// single-cell reference that measures every gene.
public struct SimulatedTissue: Sendable {
    /// The spatial dataset as an instrument would give it: ONLY the panel genes (held-out genes are not
    /// columns at all, so `measured` is all true), µm coordinates, FOVs, slides as batches, and ground
    /// truth obs columns `cell_type` and `domain` (plus `x_fov`, `y_fov`: FOV-local µm).
    public var spatial: Dataset
    /// The same cells with all genes: the truth for imputation of the held-out genes. `measured` is all
    /// true (every gene has true counts here); var column `held_out` marks the genes absent from `spatial`.
    public var spatialFull: Dataset
    /// scRNA-seq reference: all genes, no coordinates or FOVs, platform "scrna", donors as batches,
    /// its own type composition, depth and batch effects; obs `cell_type` uses the same categories.
    public var reference: Dataset
    /// Symbols of the held-out genes (in gene order), also in `spatial.metadata["simulation.held_out_genes"]`.
    public var heldOutGenes: [String]
    /// Column indices of the held-out genes in `spatialFull` and `reference` (they share gene order).
    public var heldOutGeneIndices: [Int]
    /// Column indices (in `spatialFull` / `reference`) of the panel genes, in `spatial`'s column order.
    public var panelGeneIndices: [Int]
    /// Marker genes of each type, as column indices into `spatialFull` / `reference`.
    public var markerGenes: [[Int]]
    /// The config that produced this tissue.
    public var config: SimulationConfig
}

/// A seeded simulator of spatial transcriptomics tissue (see `SimulationConfig` for the model).
///
/// Model, as in the peer `make_synth.py`: K cell types in sister pairs with class programmes, marker
/// genes and weak shared effects over log-normal gene means; inside every square FOV, D wavy layers stacked
/// along y, each dominated by one type with spill-over from the adjacent layers; counts negative binomial
/// with gene-wise θ and a log-normal per-cell size factor; a gene-specific platform capture efficiency and
/// per-slide, per-gene multiplicative batch factors for the spatial data; the reference has its own type
/// composition, depth and per-donor factors.
///
/// Determinism and scale: the output is a pure function of the config. Cells are generated in blocks of
/// at most `blockSize` cells within an FOV, each from its own seed derived from (seed, FOV, block), in
/// parallel with `DispatchQueue.concurrentPerform`, and the CSR is built directly: memory is O(nnz), no
/// dense cells × genes matrix exists at any time.
public enum TissueSimulator {
    /// Cells per parallel work item (fixed, so results never depend on the number of cores).
    public static let blockSize = 8_192

    /// Simulates the spatial tissue, its all-gene truth and the scRNA reference.
    public static func simulate(_ c: SimulationConfig) -> SimulatedTissue {
        precondition(c.cells >= 0 && c.genes > 0 && c.fovs > 0 && c.cellTypes > 0 && c.domains > 0 && c.batches > 0,
                     "SimulationConfig needs genes, fovs, cellTypes, domains and batches > 0")
        let programme = GeneProgramme(c)
        let held = programme.heldOutGenes(c)
        let heldSet = Set(held)
        let panel = (0..<c.genes).filter { !heldSet.contains($0) }
        let spatialPart = simulateSpatial(c, programme, panel: panel)
        let referencePart = simulateReference(c, programme)

        let width = max(5, String(c.genes).count)
        let geneIDs = (0..<c.genes).map { "GENE" + zeroPadded($0 + 1, width: width) }
        let symbols = (0..<c.genes).map { "Gene\($0 + 1)" }
        let typeNames = (0..<c.cellTypes).map { "type\($0 + 1)" }
        var markers = [[Int]](repeating: [], count: c.cellTypes)
        for (g, k) in programme.markerOf.enumerated() where k >= 0 { markers[k].append(g) }

        // Per-gene truth columns shared by all three datasets.
        var vars = ObsTable()
        vars["marker_of"] = .string(programme.markerOf.map { $0 < 0 ? "" : typeNames[$0] })
        vars["is_marker"] = .bool(programme.markerOf.map { $0 >= 0 })
        vars["theta"] = .float(programme.theta)
        vars["held_out"] = .bool((0..<c.genes).map { heldSet.contains($0) })
        var spatialVars = vars
        spatialVars["capture"] = .float(spatialPart.capture)
        for (b, factors) in spatialPart.batchFactors.enumerated() { spatialVars["batch_factor_slide\(b + 1)"] = .float(factors) }
        var referenceVars = vars
        for (d, factors) in referencePart.donorFactors.enumerated() { referenceVars["batch_factor_donor\(d + 1)"] = .float(factors) }

        let configJSON: String = {
            let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]
            return (try? e.encode(c)).flatMap { String(data: $0, encoding: .utf8) } ?? ""
        }()
        let heldSymbols = held.map { symbols[$0] }
        var meta: [String: String] = [
            "simulation.version": "1",
            "simulation.seed": String(c.seed),
            "simulation.config": configJSON,
            "simulation.held_out_genes": heldSymbols.joined(separator: ","),
            "simulation.held_out_gene_ids": held.map { geneIDs[$0] }.joined(separator: ","),
        ]

        // Spatial datasets.
        let cellWidth = max(7, String(c.cells).count)
        let cellIDs = (0..<c.cells).map { "cell_" + zeroPadded($0 + 1, width: cellWidth) }
        let fovWidth = max(2, String(c.fovs).count)
        let fovs = Categorical(codes: spatialPart.fov, categories: (0..<c.fovs).map { "fov" + zeroPadded($0 + 1, width: fovWidth) })
        let slides = Categorical(codes: spatialPart.slide, categories: (0..<c.batches).map { "slide\($0 + 1)" })
        var obs = ObsTable()
        obs["cell_type"] = .categorical(Categorical(codes: spatialPart.type, categories: typeNames))
        obs["domain"] = .categorical(Categorical(codes: spatialPart.domain, categories: (0..<c.domains).map { "layer\($0 + 1)" }))
        obs["x_fov"] = .float(spatialPart.localX)
        obs["y_fov"] = .float(spatialPart.localY)
        let xy = Coordinates(x: spatialPart.x, y: spatialPart.y, unit: .micrometre)
        meta["simulation.role"] = "spatial-full"
        let full = Dataset(name: "simulated-spatial-full-seed\(c.seed)", counts: spatialPart.full, cellIDs: cellIDs,
                           geneIDs: geneIDs, geneSymbols: symbols, sample: slides, fov: fovs, batch: slides,
                           coordinates: xy, platform: "simulated", obs: obs, vars: spatialVars, metadata: meta)
        meta["simulation.role"] = "spatial"
        let spatial = Dataset(name: "simulated-spatial-seed\(c.seed)", counts: spatialPart.panel, cellIDs: cellIDs,
                              geneIDs: panel.map { geneIDs[$0] }, geneSymbols: panel.map { symbols[$0] },
                              sample: slides, fov: fovs, batch: slides, coordinates: xy, platform: "simulated",
                              obs: obs, vars: spatialVars.selecting(panel), metadata: meta)

        // Reference.
        let refWidth = max(7, String(c.referenceCells).count)
        let donors = Categorical(codes: referencePart.donor, categories: (0..<max(1, c.referenceDonors)).map { "donor\($0 + 1)" })
        var refObs = ObsTable()
        refObs["cell_type"] = .categorical(Categorical(codes: referencePart.type, categories: typeNames))
        meta["simulation.role"] = "reference"
        let reference = Dataset(name: "simulated-reference-seed\(c.seed)", counts: referencePart.counts,
                                cellIDs: (0..<c.referenceCells).map { "ref_" + zeroPadded($0 + 1, width: refWidth) },
                                geneIDs: geneIDs, geneSymbols: symbols, sample: donors, batch: donors,
                                platform: "scrna", obs: refObs, vars: referenceVars, metadata: meta)
        return SimulatedTissue(spatial: spatial, spatialFull: full, reference: reference, heldOutGenes: heldSymbols,
                               heldOutGeneIndices: held, panelGeneIndices: panel, markerGenes: markers, config: c)
    }

    // MARK: spatial

    struct SpatialPart {
        var full: CSRMatrix, panel: CSRMatrix
        var x: [Double], y: [Double], localX: [Double], localY: [Double]
        var fov: [Int32], slide: [Int32], type: [Int32], domain: [Int32]
        var capture: [Double], batchFactors: [[Double]]
    }

    struct SpatialBlock: Sendable {
        var full = CSRPiece(), panel = CSRPiece()
        var localX: [Double] = [], localY: [Double] = [], type: [Int32] = [], domain: [Int32] = []
    }

    static func simulateSpatial(_ c: SimulationConfig, _ p: GeneProgramme, panel: [Int]) -> SpatialPart {
        let G = c.genes, K = c.cellTypes, F = c.fovs, B = c.batches
        var rng = SeededRNG(seed: simulationSeed(c.seed, .platform))
        let capture = (0..<G).map { _ in Foundation.exp(c.captureLogSD * rng.normal()) }
        let batchFactors = (0..<B).map { _ in (0..<G).map { _ in Foundation.exp(c.batchEffectSD * rng.normal()) } }
        // Depth normalisation: the mean over types of the captured composition's total (as make_synth).
        var norm = 0.0
        for k in 0..<K { for g in 0..<G { norm += p.typeProfile[k * G + g] * capture[g] } }
        norm /= Double(K)
        // rates[b][k*G+g]: the NB mean of gene g for a type-k cell on slide b with size factor 1.
        let rates: [[Double]] = (0..<B).map { b in
            var r = [Double](repeating: 0, count: K * G)
            for k in 0..<K { for g in 0..<G { r[k * G + g] = p.typeProfile[k * G + g] * capture[g] * batchFactors[b][g] * c.meanLibrarySize / norm } }
            let a = c.spatialAmbientFraction
            guard a > 0 else { return r }
            // Spill-over / ambient: mix each type's rates with the average over types (totals are preserved).
            for g in 0..<G {
                var avg = 0.0
                for k in 0..<K { avg += r[k * G + g] }
                avg /= Double(K)
                for k in 0..<K { r[k * G + g] = (1 - a) * r[k * G + g] + a * avg }
            }
            return r
        }
        let panelColumn: [Int32] = {
            var m = [Int32](repeating: -1, count: G)
            for (j, g) in panel.enumerated() { m[g] = Int32(j) }
            return m
        }()
        let layout = TissueLayout(c)
        let slideOfFOV = (0..<F).map { Int32($0 * B / F) }
        var perFOV = [Int](repeating: c.cells / F, count: F)
        for f in 0..<(c.cells % F) { perFOV[f] += 1 }
        let tasks: [(fov: Int, block: Int, count: Int)] = (0..<F).flatMap { f in
            stride(from: 0, to: perFOV[f], by: blockSize).enumerated().map { (b, start) in (f, b, min(blockSize, perFOV[f] - start)) }
        }
        let theta = p.theta
        let sizeSD = c.librarySizeLogSD
        var blocks = ParallelSlots<SpatialBlock>.run(tasks.count) { t in
            let (f, b, n) = tasks[t]
            var rng = SeededRNG(seed: simulationSeed(c.seed, .spatialBlock, UInt64(f), UInt64(b)))
            var out = SpatialBlock()
            let expected = n * G / 6 + 16
            out.full.reserve(rows: n, entries: expected); out.panel.reserve(rows: n, entries: expected)
            let rate = rates[Int(slideOfFOV[f])]
            for _ in 0..<n {
                let lx = rng.uniform() * c.fovSizeMicrons, ly = rng.uniform() * c.fovSizeMicrons
                let d = layout.domain(fov: f, lx: lx, ly: ly)
                let u = rng.uniform()
                let k: Int
                if u < c.dominantTypeProbability {
                    k = d % K
                } else if u < c.dominantTypeProbability + c.secondaryTypeProbability {
                    let step = rng.uniform() < 0.5 ? -1 : 1
                    k = min(max(d + step, 0), c.domains - 1) % K
                } else {
                    k = rng.int(below: K)
                }
                // Log-normal size factor with mean 1, so the mean library size is meanLibrarySize.
                let size = Foundation.exp(sizeSD * rng.normal() - 0.5 * sizeSD * sizeSD)
                let fullStart = out.full.values.count, panelStart = out.panel.values.count
                rate.withUnsafeBufferPointer { r in
                    theta.withUnsafeBufferPointer { th in
                        let row = k * G
                        for g in 0..<G {
                            let v = sampleNegativeBinomial(mean: r[row + g] * size, theta: th[g], rng: &rng)
                            if v == 0 { continue }
                            out.full.indices.append(Int32(g)); out.full.values.append(Float(v))
                            let j = panelColumn[g]
                            if j >= 0 { out.panel.indices.append(j); out.panel.values.append(Float(v)) }
                        }
                    }
                }
                out.full.rowLengths.append(out.full.values.count - fullStart)
                out.panel.rowLengths.append(out.panel.values.count - panelStart)
                out.localX.append(lx); out.localY.append(ly)
                out.type.append(Int32(k)); out.domain.append(Int32(d))
            }
            return out
        }
        var fullPieces = [CSRPiece](), panelPieces = [CSRPiece]()
        var x = [Double](), y = [Double](), lx = [Double](), ly = [Double]()
        var fov = [Int32](), slide = [Int32](), type = [Int32](), domain = [Int32]()
        x.reserveCapacity(c.cells); y.reserveCapacity(c.cells); lx.reserveCapacity(c.cells); ly.reserveCapacity(c.cells)
        for t in blocks.indices {
            let f = tasks[t].fov, o = layout.origin(f)
            fullPieces.append(blocks[t].full); panelPieces.append(blocks[t].panel)
            blocks[t].full = CSRPiece(); blocks[t].panel = CSRPiece()     // hand the only reference to the pieces
            let block = blocks[t]
            lx.append(contentsOf: block.localX); ly.append(contentsOf: block.localY)
            x.append(contentsOf: block.localX.map { $0 + o.x }); y.append(contentsOf: block.localY.map { $0 + o.y })
            type.append(contentsOf: block.type); domain.append(contentsOf: block.domain)
            fov.append(contentsOf: repeatElement(Int32(f), count: block.type.count))
            slide.append(contentsOf: repeatElement(slideOfFOV[f], count: block.type.count))
        }
        return SpatialPart(full: assembleCSR(&fullPieces, cols: G), panel: assembleCSR(&panelPieces, cols: panel.count),
                           x: x, y: y, localX: lx, localY: ly, fov: fov, slide: slide, type: type, domain: domain,
                           capture: capture, batchFactors: batchFactors)
    }

    // MARK: reference

    struct ReferencePart {
        var counts: CSRMatrix
        var type: [Int32], donor: [Int32]
        var donorFactors: [[Double]]
    }

    static func simulateReference(_ c: SimulationConfig, _ p: GeneProgramme) -> ReferencePart {
        let G = c.genes, K = c.cellTypes, D = max(1, c.referenceDonors), N = c.referenceCells
        var rng = SeededRNG(seed: simulationSeed(c.seed, .reference))
        // Type proportions ~ Dirichlet(α): normalised gamma draws.
        let gam = (0..<K).map { _ in rng.gamma(shape: c.referenceCompositionConcentration) }
        let total = gam.reduce(0, +)
        let cumulative: [Double] = gam.indices.map { k in gam[...k].reduce(0, +) / total }
        let donorFactors = (0..<D).map { _ in (0..<G).map { _ in Foundation.exp(c.referenceBatchEffectSD * rng.normal()) } }
        // Profiles sum to 1 per type, so depth ~ referenceLibrarySize (times the donor factors).
        let rates: [[Double]] = (0..<D).map { d in
            var r = [Double](repeating: 0, count: K * G)
            for k in 0..<K { for g in 0..<G { r[k * G + g] = p.typeProfile[k * G + g] * donorFactors[d][g] * c.referenceLibrarySize } }
            return r
        }
        let theta = p.theta.map { $0 * c.referenceThetaScale }
        let sizeSD = c.referenceLibrarySizeLogSD
        let blockCount = (N + blockSize - 1) / blockSize
        let blocks = ParallelSlots<(CSRPiece, [Int32], [Int32])>.run(blockCount) { b in
            var rng = SeededRNG(seed: simulationSeed(c.seed, .referenceBlock, UInt64(b)))
            let n = min(blockSize, N - b * blockSize)
            var piece = CSRPiece(), types = [Int32](), donors = [Int32]()
            piece.reserve(rows: n, entries: n * G / 3 + 16)
            for _ in 0..<n {
                let u = rng.uniform()
                let k = min(K - 1, cumulative.firstIndex { u < $0 } ?? K - 1)
                let d = rng.int(below: D)
                let size = Foundation.exp(sizeSD * rng.normal() - 0.5 * sizeSD * sizeSD)
                let start = piece.values.count
                rates[d].withUnsafeBufferPointer { r in
                    for g in 0..<G {
                        let v = sampleNegativeBinomial(mean: r[k * G + g] * size, theta: theta[g], rng: &rng)
                        if v != 0 { piece.indices.append(Int32(g)); piece.values.append(Float(v)) }
                    }
                }
                piece.rowLengths.append(piece.values.count - start)
                types.append(Int32(k)); donors.append(Int32(d))
            }
            return (piece, types, donors)
        }
        var pieces = blocks.map(\.0)
        return ReferencePart(counts: assembleCSR(&pieces, cols: G), type: blocks.flatMap(\.1), donor: blocks.flatMap(\.2),
                             donorFactors: donorFactors)
    }
}
