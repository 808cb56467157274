import Foundation
import Testing
import Tensor
@testable import SpatialData

/// `H5ADWriter.write(_:to:extras:)`: embeddings, extra obs columns, a layer with its own genes (one the dataset
/// lacks, one it has) and uns entries, read back by our reader and by Python anndata.
@Suite struct H5ADExtrasTests {
    static func extras() -> H5ADExtras {
        var e = H5ADExtras()
        e.obsm = [("X_tessera", Matrix(rows: 4, cols: 2, data: [0.5, -1, 2, 3, 4.25, 5, 6, 7]))]
        e.obs["leiden"] = .categorical(Categorical(codes: [1, 0, 0, 1], categories: ["0", "1"]))
        e.obs["score"] = .float([0.1, 0.2, 0.3, 0.4])
        e.layers = [.init(name: "imputed", genes: ["Sst", "MBP"], values: Matrix(rows: 4, cols: 2, data: [1, 2, 3, 4, 5, 6, 7, 8]))]
        e.tessera = [("workflow", .string("embed")), ("parameters", .string("{\"resolution\":1}"))]
        e.uns = [("leiden", .dict([("params", .dict([("resolution", .number(1)), ("n_neighbors", .number(15))]))])),
                 ("scores", .numbers([0.5, 0.25]))]
        return e
    }

    @Test func layerGenesJoinVarAndOurReaderStillReadsTheCounts() throws {
        let d = H5ADWriterTests.sample()
        let path = TestEnv.tempDir() + "/extras.h5ad"
        try H5ADWriter.write(d, to: path, extras: Self.extras())
        let r = try H5ADReader.read(path: path)
        #expect(r.geneSymbols == ["Gad2", "Rorb", "Mbp", "Sst"])
        #expect(r.measured == [true, false, true, false])
        #expect(r.counts.rows == 4 && r.counts.cols == 4)
        #expect(r.counts.toDense().data == [1, 0, 2, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0, 3, 7, 0])
        #expect(r.obs["leiden"] == .categorical(Categorical(codes: [1, 0, 0, 1], categories: ["0", "1"])))
    }

    @Test func badExtrasAreRefusedWithTheElementNamed() throws {
        let d = H5ADWriterTests.sample()
        var e = H5ADExtras()
        e.obsm = [("X_tessera", Matrix(rows: 3, cols: 2))]
        #expect { try H5ADWriter.write(d, to: TestEnv.tempDir() + "/bad.h5ad", extras: e) } throws: {
            "\($0)".contains("obsm/X_tessera") && "\($0)".contains("3 rows for 4 cells")
        }
        e = H5ADExtras()
        e.layers = [.init(name: "imputed", genes: ["A", "B"], values: Matrix(rows: 4, cols: 3))]
        #expect { try H5ADWriter.write(d, to: TestEnv.tempDir() + "/bad.h5ad", extras: e) } throws: { "\($0)".contains("layers/imputed") }
        e = H5ADExtras()
        e.tessera = [("platform", .string("x"))]
        #expect { try H5ADWriter.write(d, to: TestEnv.tempDir() + "/bad.h5ad", extras: e) } throws: { "\($0)".contains("uns/tessera/platform") }
    }

    @Test(.enabled(if: TestEnv.hasAnndata, "needs .venv-test (scripts/setup --test-venv)"))
    func anndataReadsTheExtras() throws {
        let path = TestEnv.tempDir() + "/extras.h5ad"
        try H5ADWriter.write(H5ADWriterTests.sample(), to: path, extras: Self.extras())
        let out = try TestEnv.runPython("""
        import sys, json, anndata as ad, numpy as np
        a = ad.read_h5ad(sys.argv[1])
        L = a.layers["imputed"]
        L = L.toarray() if hasattr(L, "toarray") else np.asarray(L)
        print(json.dumps({
          "shape": list(a.shape), "var": list(a.var_names), "X": a.X.toarray().ravel().tolist(),
          "emb_dtype": str(a.obsm["X_tessera"].dtype), "emb": a.obsm["X_tessera"].ravel().tolist(),
          "leiden": list(a.obs["leiden"].astype(str)), "leiden_cat": str(a.obs["leiden"].dtype) == "category",
          "score": a.obs["score"].tolist(), "cell_type": str(a.obs["cell_type"].dtype) == "category",
          "layer": L.ravel().tolist(), "genes": list(a.uns["imputed_genes"]),
          "workflow": str(a.uns["tessera"]["workflow"]), "params": json.loads(str(a.uns["tessera"]["parameters"])),
          "platform": str(a.uns["tessera"]["platform"]),
          "resolution": float(a.uns["leiden"]["params"]["resolution"]), "scores": list(map(float, a.uns["scores"])),
        }))
        """, [path])
        struct R: Decodable {
            let shape: [Int]; let `var`: [String]; let X: [Float]; let emb_dtype: String; let emb: [Float]; let leiden: [String]
            let leiden_cat: Bool; let score: [Double]; let cell_type: Bool; let layer: [Float]; let genes: [String]; let workflow: String
            let params: [String: Double]; let platform: String; let resolution: Double; let scores: [Double]
        }
        let r = try JSONDecoder().decode(R.self, from: Data(out.utf8))
        #expect(r.shape == [4, 4])
        #expect(r.var == ["Gad2", "Rorb", "Mbp", "Sst"])
        #expect(r.X == [1, 0, 2, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0, 3, 7, 0])
        #expect(r.emb_dtype == "float32" && r.emb == [0.5, -1, 2, 3, 4.25, 5, 6, 7])
        #expect(r.leiden == ["1", "0", "0", "1"] && r.leiden_cat && r.cell_type)
        #expect(r.score == [0.1, 0.2, 0.3, 0.4])
        // Columns: Gad2 Rorb Mbp Sst; the layer's Sst values are 1,3,5,7 and its MBP (= Mbp) values 2,4,6,8.
        #expect(r.layer == [0, 0, 2, 1, 0, 0, 4, 3, 0, 0, 6, 5, 0, 0, 8, 7])
        #expect(r.genes == ["Sst", "MBP"])
        #expect(r.workflow == "embed" && r.params == ["resolution": 1] && r.platform == "merscope")
        #expect(r.resolution == 1 && r.scores == [0.5, 0.25])
    }

    /// `xFromLayer`: the layer's values fill X for genes the dataset does not measure (Rorb, unmeasured with stray
    /// values, and Sst, appended), measured genes keep their counts (Mbp, though the layer has it), zeros are not
    /// stored, rows stay sorted (Rorb sits between measured columns), and our reader drops the filled values again.
    static func filledExtras() -> H5ADExtras {
        var e = H5ADExtras()
        e.layers = [.init(name: "imputed", genes: ["Sst", "MBP", "Rorb"],
                          values: Matrix(rows: 4, cols: 3, data: [1, 2, 0, 11, 12, 13, 21, 22, 23, 31, 32, 33]))]
        e.xFromLayer = "imputed"
        return e
    }

    @Test func xFromLayerFillsUnmeasuredGenesAndOurReaderDropsThem() throws {
        let path = TestEnv.tempDir() + "/filled.h5ad"
        try H5ADWriter.write(H5ADWriterTests.sample(), to: path, extras: Self.filledExtras())
        let r = try H5ADReader.read(path: path)
        #expect(r.geneSymbols == ["Gad2", "Rorb", "Mbp", "Sst"] && r.measured == [true, false, true, false])
        #expect(r.counts.toDense().data == [1, 0, 2, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 7, 0], "only counts come back")
        #expect(r.metadata["counts.dropped_from_layer"]?.hasPrefix("7 values of 2 genes") == true, "\(r.metadata)")
        #expect(r.vars["imputed"] == nil)
        var e = H5ADExtras()
        e.xFromLayer = "nope"
        #expect { try H5ADWriter.write(H5ADWriterTests.sample(), to: TestEnv.tempDir() + "/bad.h5ad", extras: e) } throws: { "\($0)".contains("names no layer") }
        e = Self.filledExtras(); e.layers[0].name = "measured"; e.xFromLayer = "measured"
        #expect { try H5ADWriter.write(H5ADWriterTests.sample(), to: TestEnv.tempDir() + "/bad.h5ad", extras: e) } throws: { "\($0)".contains("var column") }
    }

    @Test(.enabled(if: TestEnv.hasAnndata, "needs .venv-test (scripts/setup --test-venv)"))
    func anndataReadsTheFilledX() throws {
        let path = TestEnv.tempDir() + "/filled.h5ad"
        try H5ADWriter.write(H5ADWriterTests.sample(), to: path, extras: Self.filledExtras())
        let out = try TestEnv.runPython("""
        import sys, json, h5py, anndata as ad, numpy as np
        with h5py.File(sys.argv[1]) as f:
            types = [str(f["X"]["indices"].dtype), str(f["X"]["indptr"].dtype)]
        a = ad.read_h5ad(sys.argv[1])
        print(json.dumps({"X": a.X.toarray().ravel().tolist(), "sorted": bool(a.X.has_sorted_indices), "nnz": int(a.X.nnz),
          "types": types, "imputed": [bool(v) for v in a.var["imputed"]], "measured": [bool(v) for v in a.var["measured"]],
          "from": str(a.uns["tessera"]["x_from_layer"])}))
        """, [path])
        struct R: Decodable { let X: [Float]; let sorted: Bool; let nnz: Int; let types: [String]; let imputed, measured: [Bool]; let from: String }
        let r = try JSONDecoder().decode(R.self, from: Data(out.utf8))
        // Columns Gad2 Rorb Mbp Sst: Rorb from the layer (0 in row 0, not stored), Sst from the layer, Mbp counts.
        #expect(r.X == [1, 0, 2, 1, 0, 13, 0, 11, 5, 23, 0, 21, 0, 33, 7, 31])
        #expect(r.sorted && r.nnz == 11 && r.types == ["int32", "int32"])
        #expect(r.imputed == [false, true, false, true] && r.measured == [true, false, true, false] && r.from == "imputed")
    }
}
