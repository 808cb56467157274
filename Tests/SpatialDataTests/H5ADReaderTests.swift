import Foundation
import Testing
import Tensor
@testable import SpatialData

/// Every .h5ad in ../shared/data, with values cross-checked against Python anndata (numbers below were
/// read with anndata 0.12 when the test was written).
@Suite(.enabled(if: TestEnv.hasSharedData, "needs ../shared/data beside the checkout"))
struct H5ADReaderSharedDataTests {
    func read(_ p: String, _ o: H5ADReader.Options = .init()) throws -> Dataset { try H5ADReader.read(path: TestEnv.data(p), options: o) }

    func labelCounts(_ d: Dataset, _ col: String) -> [String: Int] {
        guard case .categorical(let c)? = d.obs[col] else { return [:] }
        return Dictionary(uniqueKeysWithValues: zip(c.categories, c.categoryCounts()))
    }

    @Test func anndata050CompoundTablesAndRawX() throws {
        let d = try read("anndata-archives/v0.5.0/adata.h5ad")
        // X holds scaled values (negative); auto mode falls back to raw.X, as anndata's adata.raw.X.
        #expect(d.metadata["counts.element"] == "raw.X")
        #expect((d.cellCount, d.geneCount, d.counts.nnz) == (700, 765, 174400))
        #expect(abs(d.counts.values.reduce(0.0) { $0 + Double($1) } - 319044.2188) < 0.1)
        #expect(d.cellIDs[0] == "AAAGCCTGGCTAAC-1" && d.geneSymbols[0] == "HES4")
        #expect(abs(d.counts[0, 3] - 1.591) < 1e-3)
        #expect(labelCounts(d, "bulk_labels").count == 10 && labelCounts(d, "bulk_labels")["Dendritic"] == 240)
        #expect(labelCounts(d, "phase") == ["G1": 501, "S": 182, "G2M": 17])
        #expect(labelCounts(d, "louvain").count == 11 && labelCounts(d, "louvain")["0"] == 130)
        #expect(throws: ImportError.self) { try read("anndata-archives/v0.5.0/adata.h5ad", .init(counts: .x)) }
    }

    @Test func anndata07ObjectReferenceCategoriesAndLZF() throws {
        for (v, nnz, sum, first, cats, ordCats) in [("v0.7.0", 228, 285.0, "f", 22, 22), ("v0.7.8", 239, 302.0, "b", 21, 24)] {
            let d = try read("anndata-archives/\(v)/adata.h5ad")
            #expect((d.cellCount, d.geneCount, d.counts.nnz) == (30, 20, nnz), "\(v)")
            #expect(d.counts.values.reduce(0.0) { $0 + Double($1) } == sum)
            #expect(d.cellIDs[0] == "cell0" && d.geneSymbols[0] == "gene0")
            guard case .categorical(let c)? = d.obs["obs_cat"], case .categorical(let o)? = d.obs["cat_ordered"] else {
                Issue.record("categoricals missing in \(v)"); continue
            }
            #expect(c.categories.count == cats && !c.ordered)
            #expect(o.categories.count == ordCats && o.ordered)
            #expect(labelCounts(d, "obs_cat")[first] == 3)
            #expect(d.obs["uint8"]?.typeName == "int" && d.obs["float64"]?.typeName == "float")
            // Layers and raw are selectable.
            let raw = try read("anndata-archives/\(v)/adata.h5ad", .init(counts: .raw))
            #expect(raw.geneCount == 40)
            let layer = try read("anndata-archives/\(v)/adata.h5ad", .init(counts: .layer("sparse")))
            #expect(layer.counts.nnz == 6)
            let dense = try read("anndata-archives/\(v)/adata.h5ad", .init(counts: .layer("array")))
            #expect(dense.geneCount == 20)
        }
    }

    @Test func anndata011WithoutX() throws {
        let d = try read("anndata-archives/v0.11.4/adata.h5ad")
        #expect((d.cellCount, d.geneCount, d.counts.nnz) == (10, 20, 0))
        #expect(d.metadata["counts.element"] == "none (X absent)")
        #expect(throws: ImportError.self) { try read("anndata-archives/v0.11.4/adata.h5ad", .init(counts: .x)) }
    }

    @Test func osmfish() throws {
        let d = try read("osmfish/osmfish_valid_cells.h5ad")
        #expect((d.cellCount, d.geneCount, d.counts.nnz) == (4839, 33, 110647))
        #expect(d.counts.values.reduce(0.0) { $0 + Double($1) } == 898778)
        #expect(d.cellIDs[0] == "cell_778" && d.geneSymbols[0] == "Gad2")
        #expect((0..<4).map { d.counts[0, $0] } == [35, 41, 0, 7])
        #expect(labelCounts(d, "ClusterName").count == 31 && labelCounts(d, "ClusterName")["pyramidal L4"] == 526)
        #expect(labelCounts(d, "Region").count == 11 && labelCounts(d, "Region")["Layer 6"] == 1015)
        let xy = try #require(d.coordinates)
        #expect(abs(xy.x[0] - 18171.230942376023) < 1e-9 && abs(xy.y[0] - 24590.795274569497) < 1e-9)
        #expect(abs(xy.x.max()! - 23895.58588501429) < 1e-6 && abs(xy.y.max()! - 48290.235862140864) < 1e-6)
    }

    @Test func osmfishPair() throws {
        let s = try read("osmfish-tissue-pair/tissue_osmfish_spatial.h5ad")
        #expect((s.cellCount, s.geneCount, s.counts.nnz) == (3405, 33, 79036))
        #expect(s.counts.values.reduce(0.0) { $0 + Double($1) } == 650913)
        #expect(labelCounts(s, "Region").count == 7 && labelCounts(s, "ClusterName")["Pyramidal L6"] == 436)
        #expect(s.coordinates?.y.min() == 16327.76468)
        let r = try read("osmfish-tissue-pair/tissue_scrna_reference.h5ad")
        #expect((r.cellCount, r.geneCount, r.counts.nnz) == (1000, 33, 7999))
        #expect(r.counts.values.reduce(0.0) { $0 + Double($1) } == 4991835)
        #expect(r.coordinates == nil && r.counts[0, 3] == 164)
    }

    @Test func seqfishPairDenseX() throws {
        let s = try read("seqfish-tasic-pair/seqfish_cortex.h5ad")
        #expect((s.cellCount, s.geneCount, s.counts.nnz) == (1597, 113, 180163))
        #expect(s.counts.values.reduce(0.0) { $0 + Double($1) } == 7733579)
        #expect((0..<4).map { s.counts[0, $0] } == [68, 41, 25, 39])
        #expect(labelCounts(s, "cell_type")["Glutamatergic Neuron"] == 859 && labelCounts(s, "spatial_domain").count == 9)
        #expect(s.coordinates?.x.first == 265.76 && s.coordinates?.y.min() == -4027.93)
        let t = try read("seqfish-tasic-pair/tasic_scrna_113genes.h5ad")
        #expect((t.cellCount, t.geneCount, t.counts.nnz) == (1723, 113, 194641))
        #expect(labelCounts(t, "cell_type")["GABA-ergic Neuron"] == 761 && labelCounts(t, "dissection")["All"] == 750)
    }

    @Test func visiumH5ADMatchesTheTenXMatrix() throws {
        let d = try read("visium-10x-mini/test_data.h5ad")
        #expect((d.cellCount, d.geneCount, d.counts.nnz) == (49, 1999, 22372))
        #expect(d.cellIDs[0] == "AAATTGCGGCGGTTCT-1" && d.geneSymbols[0] == "4732440D04Rik")
        #expect(labelCounts(d, "leiden").count == 5 && labelCounts(d, "leiden")["0"] == 27 && labelCounts(d, "leiden")["2"] == 19)
        #expect(d.coordinates?.x.first == 337 && d.coordinates?.y.first == 439)
        #expect(d.coordinates?.unit == .pixel)
    }
}

/// Layouts written by today's anndata / h5py (newer HDF5 than Debian's), built on the fly in the test venv.
@Suite(.enabled(if: TestEnv.hasAnndata, "needs .venv-test (scripts/setup --test-venv)"))
struct H5ADReaderModernLayoutTests {
    @Test func layoutsFromCurrentAnndata() throws {
        let dir = TestEnv.tempDir()
        _ = try TestEnv.runPython("""
        import sys, numpy as np, pandas as pd, anndata as ad, scipy.sparse as sp, h5py
        d = sys.argv[1]
        rng = np.random.default_rng(0)
        X = sp.random(50, 12, density=0.3, format="csr", dtype=np.float32, random_state=1)
        X.data = np.round(X.data * 10) + 1
        obs = pd.DataFrame({"cell_type": pd.Categorical(rng.choice(["a", "b", "c"], 50)),
                            "n": pd.array(rng.integers(0, 5, 50), dtype="Int64"),
                            "flag": pd.array(rng.integers(0, 2, 50).astype(bool), dtype="boolean"),
                            "name": pd.array([f"n{i}" if i % 7 else None for i in range(50)], dtype="string"),
                            "fov": pd.Categorical([f"fov{i % 3}" for i in range(50)])},
                           index=[f"c{i}" for i in range(50)])
        obs.loc["c3", "n"] = pd.NA
        var = pd.DataFrame(index=[f"g{i}" for i in range(12)])
        a = ad.AnnData(X=X, obs=obs, var=var)
        a.layers["counts"] = X * 2
        a.obsm["spatial"] = rng.random((50, 2)) * 100
        a.write_h5ad(f"{d}/csr.h5ad")
        b = a.copy(); b.X = sp.csc_matrix(b.X); del b.layers["counts"]; b.write_h5ad(f"{d}/csc.h5ad")
        c = a.copy(); c.X = c.X.toarray(); del c.layers["counts"]; c.write_h5ad(f"{d}/dense.h5ad", compression="gzip")
        e = a.copy(); del e.layers["counts"]; e.obsm["spatial"] = pd.DataFrame({"x": a.obsm["spatial"][:, 0], "y": a.obsm["spatial"][:, 1]}, index=a.obs_names)
        e.write_h5ad(f"{d}/spatial_df.h5ad")
        with h5py.File(f"{d}/latest.h5ad", "w", libver="latest") as f:
            ad.io.write_elem(f, "/", e)
        with h5py.File(f"{d}/csr.h5ad", "a") as f:   # int64 indices, as anndata writes for large matrices
            ind = f["X/indices"][:].astype(np.int64); del f["X/indices"]; f["X/indices"] = ind
        import hdf5plugin
        with h5py.File(f"{d}/zstd.h5ad", "w") as f:
            ad.io.write_elem(f, "/", e, dataset_kwargs=dict(**hdf5plugin.Zstd()))
        np.save(f"{d}/X.npy", a.X.toarray()); np.save(f"{d}/xy.npy", a.obsm["spatial"])
        """, [dir])
        let csr = try H5ADReader.read(path: dir + "/csr.h5ad", options: .init(counts: .x))
        let csc = try H5ADReader.read(path: dir + "/csc.h5ad")
        let dense = try H5ADReader.read(path: dir + "/dense.h5ad")
        let df = try H5ADReader.read(path: dir + "/spatial_df.h5ad")
        for d in [csc, dense, df] { #expect(d.counts.toDense() == csr.counts.toDense()) }
        #expect(csr.cellCount == 50 && csr.geneCount == 12)
        // Auto mode prefers layers["counts"].
        let auto = try H5ADReader.read(path: dir + "/csr.h5ad")
        #expect(auto.metadata["counts.element"] == "layers/counts")
        #expect(auto.counts.values == csr.counts.values.map { $0 * 2 })
        // Nullable columns keep their missing values; fov fills the FOV field.
        guard case .nullableInt(_, let m)? = csr.obs["n"], case .nullableBool? = csr.obs["flag"], case .categorical(let names)? = csr.obs["name"] else {
            Issue.record("nullable columns not read: \(csr.obs.names)"); return
        }
        #expect(m[3] && m.filter { $0 }.count == 1)
        #expect(names.codes[0] == -1 && names.label(1) == "n1")
        #expect(csr.fov?.categories == ["fov0", "fov1", "fov2"])
        #expect(df.coordinates?.x == csr.coordinates?.x && df.coordinates?.y == csr.coordinates?.y)
        // libver='latest' headers that libhdf5 1.10 cannot decode get a clear error with the fix.
        do {
            _ = try H5ADReader.read(path: dir + "/latest.h5ad")
            Issue.record("a libver='latest' file should be refused by libhdf5 1.10")
        } catch let e as ImportError {
            #expect(e.kind == .unsupported && e.description.contains("libver='latest'") && e.description.contains("write_h5ad"))
        }
        // A filter this libhdf5 lacks is named, with the fix.
        do {
            _ = try H5ADReader.read(path: dir + "/zstd.h5ad")
            Issue.record("zstd-compressed file should be refused")
        } catch let e as ImportError {
            #expect(e.kind == .unsupported)
            #expect(e.description.contains("filter") && e.description.contains("compression='gzip'"))
        }
    }
}
