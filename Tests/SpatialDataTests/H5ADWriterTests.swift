import Foundation
import Testing
import Tensor
@testable import SpatialData

@Suite struct H5ADWriterTests {
    /// A small dataset touching every column type the writer handles.
    static func sample() -> Dataset {
        let dense = Matrix(rows: 4, cols: 3, data: [1, 0, 2, 0, 0, 0, 5, 1, 0, 0, 3, 7])
        var obs = ObsTable()
        obs["cell_type"] = .categorical(Categorical(codes: [0, 1, -1, 0], categories: ["Astro", "Neuron"], ordered: true))
        obs["area"] = .float([1.5, 2.5, .nan, 4])
        obs["n_tx"] = .int([10, 20, 30, 40])
        obs["valid"] = .bool([true, false, true, true])
        obs["note"] = .string(["a", "b", "c", "ü"])
        obs["maybe"] = .nullableInt([1, 2, 3, 4], missing: [false, true, false, false])
        return Dataset(name: "toy", counts: CSRMatrix(dense: dense), cellIDs: ["c1", "c2", "c3", "c4"],
                       geneIDs: ["ENSG1", "ENSG2", "ENSG3"], geneSymbols: ["Gad2", "Rorb", "Mbp"], measured: [true, false, true],
                       sample: Categorical(labels: ["s1", "s1", "s2", "s2"]), fov: Categorical(labels: ["f1", "f2", "f3", "f3"]),
                       coordinates: Coordinates(x: [0, 10, 20, 30], y: [5, 6, 7, 8], unit: .micrometre),
                       platform: "merscope", obs: obs, metadata: ["simulation.seed": "7"])
    }

    @Test func roundTripThroughOurReader() throws {
        let d = Self.sample()
        let path = TestEnv.tempDir() + "/toy.h5ad"
        try H5ADWriter.write(d, to: path)
        let r = try H5ADReader.read(path: path)
        #expect(r.counts == d.counts)
        #expect(r.cellIDs == d.cellIDs)
        #expect(r.geneIDs == d.geneIDs && r.geneSymbols == d.geneSymbols)
        #expect(r.measured == d.measured)
        #expect(r.sample == d.sample && r.fov == d.fov && r.batch == d.batch)
        #expect(r.coordinates == d.coordinates)
        #expect(r.platform == "merscope")
        #expect(r.metadata["simulation.seed"] == "7")
        for (n, v) in d.obs.columns {
            if case .float(let a) = v, case .float(let b)? = r.obs[n] {
                #expect(zip(a, b).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) })
            } else {
                #expect(r.obs[n] == v, "column \(n)")
            }
        }
    }

    @Test(.enabled(if: TestEnv.hasAnndata, "needs .venv-test (scripts/setup --test-venv)"))
    func anndataReadsWhatWeWrite() throws {
        let d = Self.sample()
        let path = TestEnv.tempDir() + "/toy.h5ad"
        try H5ADWriter.write(d, to: path)
        let out = try TestEnv.runPython("""
        import sys, json, anndata as ad, numpy as np, pandas as pd
        a = ad.read_h5ad(sys.argv[1])
        X = a.X.toarray()
        print(json.dumps({
          "shape": list(a.shape), "X": X.ravel().tolist(), "obs_names": list(a.obs_names), "var_names": list(a.var_names),
          "gene_ids": list(a.var["gene_ids"]), "measured": [bool(v) for v in a.var["measured"]],
          "cell_type": [None if isinstance(v, float) else v for v in a.obs["cell_type"].tolist()],
          "ordered": bool(a.obs["cell_type"].cat.ordered), "cats": list(a.obs["cell_type"].cat.categories),
          "sample": list(a.obs["sample"].astype(str)), "fov": list(a.obs["fov"].astype(str)), "platform": list(a.obs["platform"].astype(str)),
          "area": [None if np.isnan(v) else v for v in a.obs["area"]], "n_tx": [int(v) for v in a.obs["n_tx"]],
          "valid": [bool(v) for v in a.obs["valid"]], "note": list(a.obs["note"]),
          "maybe": [None if v is None or v is pd.NA else int(v) for v in a.obs["maybe"].astype(object)],
          "spatial": a.obsm["spatial"].ravel().tolist(), "unit": str(a.uns["tessera"]["coordinate_unit"]),
        }))
        """, [path])
        struct R: Decodable {
            let shape: [Int]; let X: [Float]; let obs_names: [String]; let var_names: [String]; let gene_ids: [String]; let measured: [Bool]
            let cell_type: [String?]; let ordered: Bool; let cats: [String]; let sample: [String]; let fov: [String]; let platform: [String]
            let area: [Double?]; let n_tx: [Int]; let valid: [Bool]; let note: [String]; let maybe: [Int?]; let spatial: [Double]; let unit: String
        }
        let r = try JSONDecoder().decode(R.self, from: Data(out.utf8))
        #expect(r.shape == [4, 3])
        #expect(r.X == d.counts.toDense().data)
        #expect(r.obs_names == d.cellIDs)
        #expect(r.var_names == ["Gad2", "Rorb", "Mbp"])
        #expect(r.gene_ids == ["ENSG1", "ENSG2", "ENSG3"])
        #expect(r.measured == [true, false, true])
        #expect(r.cell_type == ["Astro", "Neuron", nil, "Astro"])
        #expect(r.ordered && r.cats == ["Astro", "Neuron"])
        #expect(r.sample == ["s1", "s1", "s2", "s2"] && r.fov == ["f1", "f2", "f3", "f3"] && r.platform == Array(repeating: "merscope", count: 4))
        #expect(r.area == [1.5, 2.5, nil, 4])
        #expect(r.n_tx == [10, 20, 30, 40] && r.valid == [true, false, true, true] && r.note == ["a", "b", "c", "ü"])
        #expect(r.maybe == [1, nil, 3, 4])
        #expect(r.spatial == [0, 5, 10, 6, 20, 7, 30, 8])
        #expect(r.unit == "um")
    }

    @Test(.enabled(if: TestEnv.hasAnndata && TestEnv.hasSharedData, "needs .venv-test and ../shared/data"))
    func realDatasetRoundTripsThroughAnndata() throws {
        let d = try H5ADReader.read(path: TestEnv.data("osmfish/osmfish_valid_cells.h5ad"))
        let path = TestEnv.tempDir() + "/osmfish.h5ad"
        try H5ADWriter.write(d, to: path)
        let out = try TestEnv.runPython("""
        import sys, anndata as ad, numpy as np
        a = ad.read_h5ad(sys.argv[1]); b = ad.read_h5ad(sys.argv[2])
        assert a.shape == b.shape, (a.shape, b.shape)
        assert (a.X != b.X).nnz == 0
        assert list(a.obs_names) == list(b.obs_names) and list(a.var_names) == list(b.var_names)
        for c in ["ClusterName", "Region"]:
            assert list(a.obs[c].astype(str)) == list(b.obs[c].astype(str)), c
            assert list(a.obs[c].cat.categories) == list(b.obs[c].cat.categories), c
        for c in ["X", "Y", "size_um2", "ClusterID", "Total_molecules"]:
            assert np.array_equal(a.obs[c].to_numpy(), b.obs[c].to_numpy()), c
        assert np.allclose(a.obsm["spatial"], b.obsm["spatial"])
        print("ok", a.shape[0], a.obs["ClusterName"].nunique())
        """, [TestEnv.data("osmfish/osmfish_valid_cells.h5ad"), path])
        #expect(out.hasPrefix("ok 4839 31"), "\(out)")
    }

    @Test(.enabled(if: TestEnv.hasAnndata, "needs .venv-test (scripts/setup --test-venv)"))
    func simulatedTissueOpensInAnndata() throws {
        let t = TissueSimulator.simulate(.tiny)
        let dir = TestEnv.tempDir()
        try H5ADWriter.write(t.spatial, to: dir + "/spatial.h5ad")
        try H5ADWriter.write(t.reference, to: dir + "/reference.h5ad")
        #expect(try H5ADReader.read(path: dir + "/spatial.h5ad") .counts == t.spatial.counts)
        let out = try TestEnv.runPython("""
        import sys, anndata as ad
        s = ad.read_h5ad(sys.argv[1] + "/spatial.h5ad"); r = ad.read_h5ad(sys.argv[1] + "/reference.h5ad")
        held = s.uns["tessera"]["metadata"]["simulation.held_out_genes"].split(",")
        assert not set(held) & set(s.var_names) and set(held) <= set(r.var_names)
        print(s.shape[0], s.shape[1], r.shape[1], s.obs["cell_type"].nunique(), s.obs["fov"].nunique(), s.obsm["spatial"].shape[1], int(s.X.sum()))
        """, [dir])
        let want = "\(t.spatial.cellCount) \(t.spatial.geneCount) \(t.reference.geneCount) 4 4 2 \(Int(t.spatial.counts.values.reduce(0.0) { $0 + Double($1) }))"
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == want)
    }

    @Test func awkwardColumnNamesBecomeValidElements() throws {
        var d = Self.sample()
        d.obs["area/um2"] = .float([1, 2, 3, 4])
        d.obs[""] = .int([1, 2, 3, 4])
        d.obs["_index"] = .string(["a", "b", "c", "d"])
        d.obs["area_um2"] = .int([5, 6, 7, 8])
        let path = TestEnv.tempDir() + "/names.h5ad"
        try H5ADWriter.write(d, to: path)
        let r = try H5ADReader.read(path: path)
        #expect(r.obs["area_um2"] == .float([1, 2, 3, 4]) && r.obs["area_um2_2"] == .int([5, 6, 7, 8]))
        #expect(r.obs.names.contains { $0.hasPrefix("column_") } && r.cellIDs == d.cellIDs)
        #expect(H5ADWriter.elementNames(["a/b", "a_b", "", "_index"]) == ["a_b", "a_b_2", "column_3", "column_4"])
    }

    @Test func failedWriteLeavesNothing() throws {
        var d = Self.sample()
        d.cellIDs[1] = "c1"   // duplicate id: validation refuses before any byte is written
        let dir = TestEnv.tempDir()
        #expect(throws: ImportError.self) { try H5ADWriter.write(d, to: dir + "/bad.h5ad") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    /// The calls that broke on int32 indices with int64 indptr ("Output dtype not compatible with inputs"):
    /// scanpy's QC metrics on X and on a layer, and rank_genes_groups, on a simulated tissue written with a layer
    /// (and with the layer's appended genes filled into X, `xFromLayer`).
    /// Also checks the index types on disk are one type, int32, as anndata writes them.
    @Test(.enabled(if: TestEnv.hasScanpy, "needs scanpy in .venv-test (scripts/setup --test-venv)"))
    func scanpyQCAndRankGenesGroupsRunOnWhatWeWrite() throws {
        let t = TissueSimulator.simulate(.tiny)
        let d = t.spatial
        var extras = H5ADExtras()
        let genes = ["NotInPanel1", "NotInPanel2", "NotInPanel3", d.geneSymbols[0]]   // three appended to var, one measured
        extras.layers = [.init(name: "imputed", genes: genes,
                               values: Matrix(rows: d.cellCount, cols: genes.count, data: (0..<(d.cellCount * genes.count)).map { Float($0 % 7) }))]
        let dir = TestEnv.tempDir()
        try H5ADWriter.write(d, to: dir + "/plain.h5ad")
        try H5ADWriter.write(d, to: dir + "/layer.h5ad", extras: extras)
        extras.xFromLayer = "imputed"   // X holds the three appended genes' layer values too
        try H5ADWriter.write(d, to: dir + "/filled.h5ad", extras: extras)
        let out = try TestEnv.runPython("""
        import sys, h5py, numpy as np, scanpy as sc
        for name in ["plain", "layer", "filled"]:
            path = sys.argv[1] + "/" + name + ".h5ad"
            with h5py.File(path) as f:
                groups = ["X"] + (["layers/imputed"] if name != "plain" else [])
                for g in groups:
                    assert f[g]["indices"].dtype == np.int32 and f[g]["indptr"].dtype == np.int32, (g, f[g]["indices"].dtype, f[g]["indptr"].dtype)
            a = sc.read_h5ad(path)
            obs, var = sc.pp.calculate_qc_metrics(a, percent_top=None, inplace=False)
            assert np.allclose(obs["total_counts"].to_numpy(), np.asarray(a.X.sum(axis=1)).ravel())
            assert a.X.has_sorted_indices
            if name != "plain":
                lo, _ = sc.pp.calculate_qc_metrics(a, layer="imputed", percent_top=None, inplace=False)
                assert np.allclose(lo["total_counts"].to_numpy(), np.asarray(a.layers["imputed"].sum(axis=1)).ravel())
            sc.pp.normalize_total(a); sc.pp.log1p(a)
            sc.tl.rank_genes_groups(a, "cell_type", method="wilcoxon")
            print(name, int(obs["total_counts"].sum()), len(a.uns["rank_genes_groups"]["names"][0]))
        """, [dir])
        let total = Int(d.counts.values.reduce(0.0) { $0 + Double($1) })
        let m = extras.layers[0].values
        let appended = Int((0..<m.rows).reduce(0.0) { s, i in s + (0..<3).reduce(0.0) { $0 + Double(m[i, $1]) } })
        #expect(out.split(separator: "\n").map(String.init) == ["plain \(total) 4", "layer \(total) 4", "filled \(total + appended) 4"], "\(out)")
    }
}
