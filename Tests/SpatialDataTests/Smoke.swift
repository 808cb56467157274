import Testing
import Foundation
@testable import SpatialData

@Suite struct Smoke {
    @Test func all() throws {
        for p in ["anndata-archives/v0.5.0/adata.h5ad", "anndata-archives/v0.7.0/adata.h5ad", "anndata-archives/v0.7.8/adata.h5ad", "anndata-archives/v0.11.4/adata.h5ad", "osmfish/osmfish_valid_cells.h5ad", "osmfish-tissue-pair/tissue_osmfish_spatial.h5ad", "osmfish-tissue-pair/tissue_scrna_reference.h5ad", "seqfish-tasic-pair/seqfish_cortex.h5ad", "seqfish-tasic-pair/tasic_scrna_113genes.h5ad", "visium-10x-mini/test_data.h5ad"] {
            do {
                let d = try H5ADReader.read(path: "../shared/data/" + p)
                print(p, d.cellCount, d.geneCount, d.counts.nnz, d.obs.columns.map { "\($0.name):\($0.values.typeName)" }, d.coordinates.map { "\($0.unit) \($0.x.prefix(2))" } ?? "nocoords", d.metadata["counts.element"]!, d.metadata["source.layout"]!)
            } catch { print(p, "ERROR", error) }
        }
    }
}
