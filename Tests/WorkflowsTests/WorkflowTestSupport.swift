import Foundation
import SpatialData
@testable import Workflows

/// Shared pieces of the workflow tests: a simulated tissue written as h5ad files, job folders, running a job
/// through `WorkflowRunner`, reading its events, and Python anndata (.venv-test) for read-back checks.
enum WorkflowTestSupport {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = root.appendingPathComponent(".venv-test/bin/python").path
    static var hasAnndata: Bool { FileManager.default.isExecutableFile(atPath: python) }
    /// Whether the test venv has scanpy (`scripts/setup --test-venv` installs it), found without starting Python.
    static var hasScanpy: Bool {
        let lib = root.appendingPathComponent(".venv-test/lib").path
        let pythons = (try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? []
        return pythons.contains { FileManager.default.fileExists(atPath: "\(lib)/\($0)/site-packages/scanpy/__init__.py") }
    }

    /// A Python check that a result h5ad works in scanpy as users call it: X's index arrays are one type (int32),
    /// `calculate_qc_metrics` on X (and on `layers['imputed']` when present) and `rank_genes_groups` by `groupby`
    /// run; X of `var['imputed']` genes equals their layer. Prints "scanpy ok". Arguments: the file, the obs column to group by.
    static let scanpyCheck = """
    import sys, h5py, numpy as np, scanpy as sc
    path, groupby = sys.argv[1], sys.argv[2]
    with h5py.File(path) as f:
        for g in ["X"] + (["layers/imputed"] if "imputed" in f["layers"] else []):
            assert f[g]["indices"].dtype == f[g]["indptr"].dtype == np.int32, (g, f[g]["indices"].dtype, f[g]["indptr"].dtype)
    a = sc.read_h5ad(path)
    if "imputed" in a.var:   # X of the imputed genes (genes the dataset does not measure) is the layer's
        m = a.var["imputed"].to_numpy(bool)
        assert np.array_equal(a.X[:, m].toarray(), a.layers["imputed"][:, m].toarray()) and a.X.has_sorted_indices
    sc.pp.calculate_qc_metrics(a, percent_top=None, inplace=True)
    if "imputed" in a.layers: sc.pp.calculate_qc_metrics(a, layer="imputed", percent_top=None, inplace=False)
    sc.pp.normalize_total(a); sc.pp.log1p(a)
    sc.tl.rank_genes_groups(a, groupby, method="wilcoxon")
    print("scanpy ok")
    """

    static func catalog() throws -> WorkflowCatalog { try WorkflowCatalog.load(directory: root.appendingPathComponent("workflows")) }

    static func tempDir(_ tag: String) -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(tag)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// A small simulated tissue (1,200 cells × 120 genes in 4 FOVs, 4 types, 600 reference cells), written once
    /// per test process: spatial.h5ad and reference.h5ad.
    static let tissue: (spatial: String, reference: String, sim: SimulatedTissue) = {
        var c = SimulationConfig(cells: 1_200, genes: 120, fovs: 4, cellTypes: 4, seed: 3)
        c.markerGenesPerType = 8
        c.referenceCells = 600
        c.meanLibrarySize = 80
        let sim = TissueSimulator.simulate(c)
        let dir = tempDir("tissue")
        let s = dir.appendingPathComponent("spatial.h5ad").path, r = dir.appendingPathComponent("reference.h5ad").path
        try! H5ADWriter.write(sim.spatial, to: s)
        try! H5ADWriter.write(sim.reference, to: r)
        return (s, r, sim)
    }()

    /// Creates a job folder for `workflow` (version from the catalog) and returns it.
    static func job(_ workflow: String, inputs: [String: String], parameters: [String: JSONValue], seed: UInt64 = 5,
                    version: String? = nil) throws -> JobFolder {
        let f = JobFolder(tempDir("job"))
        let v = try version ?? catalog().spec(named: workflow).version
        try f.create(spec: .init(jobID: f.url.lastPathComponent, workflow: workflow, version: v, parameters: parameters, inputs: inputs, seed: seed))
        return f
    }

    static func run(_ f: JobFolder, cancelled: @escaping @Sendable () -> Bool = { false }) throws -> JobFolder.Exit {
        WorkflowRunner.run(folder: f, catalog: try catalog(), implementations: WorkflowRegistry.all, cancelled: cancelled)
    }

    static func events(_ f: JobFolder) throws -> [JobEvent] { try JobEventReader.read(f, from: 0).events }

    static func metrics(_ f: JobFolder) throws -> [String: Double] {
        let d = try Data(contentsOf: f.artifacts.appendingPathComponent("metrics.json"))
        guard case .object(let o) = try JSONDecoder().decode(JSONValue.self, from: d), case .object(let m)? = o["metrics"] else { return [:] }
        return m.compactMapValues(\.doubleValue)
    }

    /// Returns true after it has been asked `after` times: a cancel flag that trips mid-run.
    final class CancelAfter: @unchecked Sendable {
        private var calls = 0
        private let after: Int
        private let lock = NSLock()
        init(_ after: Int) { self.after = after }
        var flag: @Sendable () -> Bool {
            { [self] in lock.lock(); defer { lock.unlock() }; calls += 1; return calls > after }
        }
    }

    static func runPython(_ script: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            throw NSError(domain: "python", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: String(decoding: e, as: UTF8.self)])
        }
        return String(decoding: o, as: UTF8.self)
    }
}
