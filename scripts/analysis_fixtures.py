#!/usr/bin/env python3
"""Generates the reference fixtures for Tests/AnalysisTests (PCA, kNN, UMAP connectivities, Leiden, k-means,
metrics) with scikit-learn / scanpy / leidenalg from seeded inputs. The inputs are written into the fixtures too.

Run with the bench environment:  .venv-bench/bin/python scripts/analysis_fixtures.py
"""
import json
import os
import warnings

import numpy as np

warnings.filterwarnings("ignore")

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "AnalysisTests", "Fixtures")


def r(a, digits=7):
    """Rounds to `digits` significant digits so the JSON stays small; returns nested lists."""
    a = np.asarray(a, dtype=np.float64)
    return [float(f"{v:.{digits}g}") for v in a.ravel()]


def dump(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    print(f"{name}: {os.path.getsize(path) / 1024:.1f} KB")


def flip(loadings):
    """Sign convention: each component's (row's) largest-|loading| entry is positive."""
    idx = np.argmax(np.abs(loadings), axis=1)
    return np.sign(loadings[np.arange(loadings.shape[0]), idx])


def main():
    from sklearn.datasets import make_blobs
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler
    from sklearn.neighbors import NearestNeighbors
    from sklearn.cluster import KMeans
    from sklearn import metrics as skm
    from scipy.optimize import linear_sum_assignment
    import scipy.sparse as sp
    import scanpy as sc
    import anndata as ad
    import igraph as ig
    import leidenalg

    # --- inputs: 300 points from 5 Gaussian blobs in 20-D, and a small count matrix ---
    X, y = make_blobs(n_samples=300, centers=5, n_features=20, cluster_std=1.5, random_state=0)
    X = np.asarray(r(X, 6), dtype=np.float64).reshape(300, 20).astype(np.float32)
    rng = np.random.default_rng(7)
    n_cells, n_genes = 80, 30
    mu = rng.gamma(2.0, 2.0, size=n_genes)
    groups = rng.integers(0, 3, size=n_cells)
    shift = rng.gamma(1.0, 1.0, size=(3, n_genes))
    counts = rng.poisson(mu[None, :] * shift[groups]).astype(np.float32)
    logc = np.log1p(counts).astype(np.float32)
    dump("blobs.json", {"rows": 300, "cols": 20, "x": r(X, 6), "labels": y.tolist(),
                        "countRows": n_cells, "countCols": n_genes, "counts": counts.ravel().astype(int).tolist()})

    # --- PCA (blobs, unscaled, k=10; log counts, scaled with StandardScaler (ddof 0), k=5) ---
    def pca_ref(M, k, scale):
        M = M.astype(np.float64)
        if scale:
            M = StandardScaler().fit_transform(M)
        p = PCA(n_components=k, svd_solver="full").fit(M)
        s = flip(p.components_)
        return {"k": k, "scale": scale, "scores": r(p.transform(M) * s[None, :]),
                "loadings": r(p.components_ * s[:, None]), "ratio": r(p.explained_variance_ratio_, 10)}
    dump("pca.json", {"blobs": pca_ref(X, 10, False), "counts": pca_ref(logc, 5, True)})

    # --- exact kNN (k=15, self excluded) and scanpy's UMAP connectivities (n_neighbors=15 incl. self) ---
    nn = NearestNeighbors(n_neighbors=16, algorithm="brute").fit(X.astype(np.float64))
    d, idx = nn.kneighbors(X.astype(np.float64))
    adata = ad.AnnData(X.astype(np.float32))
    sc.pp.neighbors(adata, n_neighbors=15, use_rep="X", method="umap", transformer="sklearn", random_state=0)
    C = sp.csr_matrix(adata.obsp["connectivities"])
    C.sort_indices()
    dump("knn.json", {"k": 15, "indices": idx[:, 1:].ravel().tolist(), "distances": r(d[:, 1:], 5),
                      "scanpyNeighbors": 15, "indptr": C.indptr.tolist(), "colIndices": C.indices.tolist(),
                      "values": r(C.data, 7)})

    # --- Leiden (leidenalg, RBConfiguration, undirected graph from the connectivities). The blob graph is
    # nearly disconnected; the resolution sweep runs on a graph of uniform points (stored as its upper triangle).
    def igraph_of(Cm):
        U = sp.triu(Cm, k=1).tocoo()
        g = ig.Graph(n=Cm.shape[0], edges=list(zip(U.row.tolist(), U.col.tolist())), directed=False)
        g.es["weight"] = U.data.tolist()
        return g, U

    g, _ = igraph_of(C)
    part = leidenalg.find_partition(g, leidenalg.RBConfigurationVertexPartition, weights="weight",
                                    resolution_parameter=1.0, n_iterations=2, seed=0)
    labels = np.array(part.membership)
    print("leidenalg res 1: clusters", len(set(labels)), "ARI vs blobs", skm.adjusted_rand_score(y, labels),
          "quality", part.quality())
    X2 = np.random.default_rng(3).uniform(size=(300, 4))  # no cluster structure: the count follows the resolution
    a2 = ad.AnnData(X2.astype(np.float32))
    sc.pp.neighbors(a2, n_neighbors=15, use_rep="X", method="umap", transformer="sklearn", random_state=0)
    C2 = sp.csr_matrix(a2.obsp["connectivities"])
    g2, U2 = igraph_of(C2)
    U2 = U2.tocsr(); U2.sort_indices(); U2 = U2.tocoo()
    vals = np.asarray(r(U2.data, 6))
    g2.es["weight"] = vals.tolist()
    res_table = []
    for res in [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4]:
        counts_seed, quals = [], []
        for seed in range(5):
            p = leidenalg.find_partition(g2, leidenalg.RBConfigurationVertexPartition, weights="weight",
                                         resolution_parameter=res, n_iterations=2, seed=seed)
            counts_seed.append(len(set(p.membership)))
            quals.append(p.quality())
        res_table.append({"resolution": res, "clusters": counts_seed, "quality": quals})
        print("  res", res, "clusters", counts_seed, "quality", max(quals))
    dump("leiden.json", {"labels": labels.tolist(), "quality": part.quality(),
                         "modularity": g.modularity(labels.tolist(), weights="weight"),
                         "sweepRows": U2.row.tolist(), "sweepCols": U2.col.tolist(), "sweepValues": vals.tolist(),
                         "table": res_table})

    # --- k-means (k=5 on the blobs; k=3, the number of groups, on the scaled log counts) ---
    def km_ref(M, k):
        km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(M.astype(np.float64))
        return {"k": k, "labels": km.labels_.tolist(), "inertia": float(km.inertia_), "centroids": r(km.cluster_centers_)}
    dump("kmeans.json", {"blobs": km_ref(X, 5), "counts": km_ref(StandardScaler().fit_transform(logc), 3)})

    # --- metrics ---
    m = np.random.default_rng(11)
    a = m.integers(0, 5, size=200)
    b = np.where(m.random(200) < 0.7, (a + 1) % 6, m.integers(0, 6, size=200))  # relabelled, noisy, 6 clusters
    x = m.normal(size=100)
    yv = 0.6 * x + m.normal(size=100)
    t = m.integers(0, 4, size=150)
    p = np.where(m.random(150) < 0.75, t, m.integers(0, 5, size=150))  # 5th label only in predictions
    cont = skm.cluster.contingency_matrix(a, b)
    ri, ci = linear_sum_assignment(-cont)
    ta, tb = np.unique(a), np.unique(b)
    mapping = {tb[j]: ta[i] for i, j in zip(ri, ci)}
    b_aligned = np.array([mapping.get(v, -1) for v in b])
    dump("metrics.json", {
        "a": a.tolist(), "b": b.tolist(), "ari": skm.adjusted_rand_score(a, b),
        "nmi": skm.normalized_mutual_info_score(a, b, average_method="arithmetic"),
        "x": r(x, 9), "y": r(yv, 9),
        "pearson": float(np.corrcoef(np.asarray(r(x, 9)), np.asarray(r(yv, 9)))[0, 1]),
        "cosine": float(np.dot(r(x, 9), r(yv, 9)) / np.linalg.norm(r(x, 9)) / np.linalg.norm(r(yv, 9))),
        "t": t.tolist(), "p": p.tolist(), "macroF1": skm.f1_score(t, p, average="macro"),
        "alignedMacroF1": skm.f1_score(a, b_aligned, labels=ta, average="macro"),
    })


if __name__ == "__main__":
    main()
