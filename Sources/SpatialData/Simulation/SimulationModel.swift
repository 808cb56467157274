import Foundation
import Tensor

/// Independent random streams, so that e.g. the layout does not change when expression parameters do.
enum SimulationStream: UInt64 {
    case genes = 1, heldOut, platform, layout, spatialBlock, reference, referenceBlock
}

/// A seed for stream `stream`, part `a`, sub-part `b`, derived from the config seed by SplitMix64
/// finalisers (well mixed, so neighbouring blocks get unrelated streams).
func simulationSeed(_ seed: UInt64, _ stream: SimulationStream, _ a: UInt64 = 0, _ b: UInt64 = 0) -> UInt64 {
    func mix(_ v: UInt64) -> UInt64 {
        var z = v &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    return mix(mix(mix(mix(seed) ^ stream.rawValue) ^ a) ^ (b &* 0x2545_F491_4F6C_DD1D))
}

/// The per-gene and per-type truth shared by the spatial tissue and the reference: base means, NB
/// dispersions, marker genes, and each type's expression profile (a composition summing to 1).
struct GeneProgramme: Sendable {
    let genes: Int
    let types: Int
    /// NB inverse dispersion per gene.
    let theta: [Double]
    /// Type of which gene g is a marker, -1 for none.
    let markerOf: [Int]
    /// Row-major types × genes relative means; each row sums to 1.
    let typeProfile: [Double]

    init(_ c: SimulationConfig) {
        var rng = SeededRNG(seed: simulationSeed(c.seed, .genes))
        let G = c.genes, K = c.cellTypes
        genes = G; types = K
        var baseLog = (0..<G).map { _ in c.geneLogMean + c.geneLogSD * rng.normal() }
        theta = (0..<G).map { _ in Foundation.exp(Foundation.log(c.dispersionTheta) + c.dispersionLogSD * rng.normal()) }
        var logFC = [Double](repeating: 0, count: K * G)
        var markerOf = [Int](repeating: -1, count: G)
        var perm = Array(0..<G)
        for i in stride(from: G - 1, to: 0, by: -1) { perm.swapAt(i, rng.int(below: i + 1)) }   // Fisher–Yates
        let m = c.effectiveMarkersPerType
        for k in 0..<K {
            for g in perm[(k * m)..<((k + 1) * m)] {
                markerOf[g] = k
                logFC[k * G + g] = c.markerLogFoldChange + 0.15 * c.markerLogFoldChange * rng.normal()
                baseLog[g] = 0.7 * rng.normal()                      // markers are moderately expressed
            }
        }
        // Sister types (2c, 2c+1) share class c's broad programme; markers keep only their own effect.
        let classes = (K + 1) / 2
        for cl in 0..<classes {
            for g in 0..<G {
                let on = rng.uniform() < c.classGeneFraction
                let effect = c.classEffectSD * rng.normal()
                guard on, markerOf[g] < 0 else { continue }
                for k in [2 * cl, 2 * cl + 1] where k < K { logFC[k * G + g] += effect }
            }
        }
        for i in 0..<(K * G) { logFC[i] += c.sharedEffectSD * rng.normal() }
        var profile = [Double](repeating: 0, count: K * G)
        for k in 0..<K {
            var sum = 0.0
            for g in 0..<G { let v = Foundation.exp(baseLog[g] + logFC[k * G + g]); profile[k * G + g] = v; sum += v }
            for g in 0..<G { profile[k * G + g] /= sum }
        }
        self.markerOf = markerOf
        self.typeProfile = profile
    }

    /// Mean of a gene's relative expression over types (used to pick expressed genes to hold out).
    func meanOverTypes(_ g: Int) -> Double {
        var s = 0.0
        for k in 0..<types { s += typeProfile[k * genes + g] }
        return s / Double(types)
    }

    /// Held-out genes: drawn at random from the top `heldOutPoolFraction` of genes by mean, sorted.
    func heldOutGenes(_ c: SimulationConfig) -> [Int] {
        let n = c.heldOutCount
        guard n > 0 else { return [] }
        let means = (0..<genes).map(meanOverTypes)
        let byMean = (0..<genes).sorted { means[$0] != means[$1] ? means[$0] > means[$1] : $0 < $1 }
        var pool = Array(byMean.prefix(max(n, Int((c.heldOutPoolFraction * Double(genes)).rounded()))))
        var rng = SeededRNG(seed: simulationSeed(c.seed, .heldOut))
        for i in 0..<n { pool.swapAt(i, i + rng.int(below: pool.count - i)) }   // partial Fisher–Yates
        return pool.prefix(n).sorted()
    }
}

/// Where the layers lie: per-domain thicknesses shared by all FOVs, per-FOV wave phases, the dominant type
/// of each domain, and the FOV grid.
struct TissueLayout: Sendable {
    let boundaries: [Double]            // domains - 1 increasing depths in (0, 1)
    let phases: [(Double, Double)]      // per FOV
    let gridColumns: Int
    let size: Double
    let waviness: Double

    init(_ c: SimulationConfig) {
        var rng = SeededRNG(seed: simulationSeed(c.seed, .layout))
        let widths = (0..<max(1, c.domains)).map { _ in 0.6 + 0.8 * rng.uniform() }
        let total = widths.reduce(0, +)
        var acc = 0.0, b = [Double]()
        for w in widths.dropLast() { acc += w; b.append(acc / total) }
        boundaries = b
        phases = (0..<c.fovs).map { _ in (2 * Double.pi * rng.uniform(), 2 * Double.pi * rng.uniform()) }
        gridColumns = Int(Double(c.fovs).squareRoot().rounded(.up))
        size = c.fovSizeMicrons
        waviness = c.boundaryWaviness
    }

    /// Global origin of FOV f (FOVs tile a grid left to right, then top to bottom).
    func origin(_ f: Int) -> (x: Double, y: Double) {
        (Double(f % gridColumns) * size, Double(f / gridColumns) * size)
    }

    /// The domain (layer) at FOV-local position (lx, ly) in µm: depth is y plus two sine waves in x.
    func domain(fov f: Int, lx: Double, ly: Double) -> Int {
        let u = lx / size
        let depth = ly / size + waviness * Foundation.sin(2 * .pi * 1.5 * u + phases[f].0)
            + 0.5 * waviness * Foundation.sin(2 * .pi * 4 * u + phases[f].1)
        var d = 0
        while d < boundaries.count && depth >= boundaries[d] { d += 1 }
        return d
    }
}

/// Negative-binomial counts (mean μ, inverse dispersion θ, variance μ + μ²/θ): the gamma–Poisson mixture's
/// distribution, sampled by inversion of its CDF from one uniform per entry. Since P(0) = (1+μ/θ)^-θ ≥
/// e^-μ ≥ 1-μ, a uniform below 1-μ is a zero without any transcendental call, which makes sparse rows
/// cheap; large means (where the CDF walk would be long) draw gamma then Poisson.
@inline(__always)
func sampleNegativeBinomial(mean mu: Double, theta: Double, rng: inout SeededRNG) -> Int {
    if mu <= 0 { return 0 }
    if mu > 40 { return rng.negativeBinomial(mean: mu, theta: theta) }
    let u = rng.uniform()
    if u < 1 - mu { return 0 }
    let q = mu / (theta + mu)
    var p = Foundation.exp(theta * Foundation.log1p(-q))
    var cdf = p, k = 0
    while u >= cdf {
        k += 1
        p *= (Double(k) - 1 + theta) / Double(k) * q
        cdf += p
        if p <= cdf * 1e-17 && Double(k) > mu { break }     // rounding: the remaining tail is negligible
    }
    return k
}

/// Rows of counts for a block of cells, as CSR pieces: per-row lengths, column ids and values. The
/// spatial sampler fills a full (all genes) and a panel piece in the same pass.
struct CSRPiece: Sendable {
    var rowLengths: [Int] = []
    var indices: [Int32] = []
    var values: [Float] = []

    mutating func reserve(rows: Int, entries: Int) {
        rowLengths.reserveCapacity(rows); indices.reserveCapacity(entries); values.reserveCapacity(entries)
    }
}

/// Assembles pieces (in order) into one CSR matrix, releasing each piece once copied.
func assembleCSR(_ pieces: inout [CSRPiece], cols: Int) -> CSRMatrix {
    let rows = pieces.reduce(0) { $0 + $1.rowLengths.count }
    let nnz = pieces.reduce(0) { $0 + $1.values.count }
    var indptr = [Int](); indptr.reserveCapacity(rows + 1); indptr.append(0)
    var indices = [Int32](); indices.reserveCapacity(nnz)
    var values = [Float](); values.reserveCapacity(nnz)
    var at = 0
    for i in pieces.indices {
        for n in pieces[i].rowLengths { at += n; indptr.append(at) }
        indices.append(contentsOf: pieces[i].indices)
        values.append(contentsOf: pieces[i].values)
        pieces[i] = CSRPiece()
    }
    return CSRMatrix(rows: rows, cols: cols, indptr: indptr, indices: indices, values: values)
}

/// Fixed-size slots written from `DispatchQueue.concurrentPerform`, one slot per iteration (no two
/// iterations touch the same slot, so results do not depend on scheduling).
final class ParallelSlots<T>: @unchecked Sendable {
    private let base: UnsafeMutablePointer<T?>
    let count: Int
    init(_ count: Int) {
        self.count = count
        base = .allocate(capacity: max(1, count))
        base.initialize(repeating: nil, count: count)
    }
    deinit { base.deinitialize(count: count); base.deallocate() }
    func set(_ i: Int, _ v: T) { base[i] = v }
    func take(_ i: Int) -> T? { let v = base[i]; base[i] = nil; return v }

    /// Runs `body` for 0..<count in parallel and returns the results in order.
    static func run(_ count: Int, _ body: @Sendable (Int) -> T) -> [T] {
        let slots = ParallelSlots<T>(count)
        DispatchQueue.concurrentPerform(iterations: count) { i in slots.set(i, body(i)) }
        return (0..<count).map { slots.take($0)! }
    }
}

/// "0000042" for (42, 7): zero-padded decimal without String(format:) (cheap for a million ids).
func zeroPadded(_ n: Int, width: Int) -> String {
    let s = String(n)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}
