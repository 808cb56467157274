#!/usr/bin/env python
"""Peer clustering for `tessera-bench quality` and `tessera-bench speed`: scanpy's PCA + neighbours + Leiden
exactly as ../shared/bench/clustering_baselines.py runs it (its own functions are imported, so the protocol is
the peer's, not a copy), but returning the cluster labels so Tessera can score them on its own split (held-out
cells) with the same code as its own methods.

  quality mode (default): normalize_total(1e4) + log1p -> PCA(min(50, genes-1), random_state=0)
      -> neighbors(15, random_state=0) -> Leiden (igraph, 2 iterations) over clustering_baselines.RES_GRID,
      and KMeans(k, n_init=10, random_state=0) on the PCA for each --k. Also the peer's own summary
      (clustering_baselines.summarise, sklearn ARI/NMI over all cells) per --label column, as a cross-check.
  --graph DIR (speed mode): Leiden alone with leidenalg (sc.tl.leiden flavor='leidenalg') and with igraph on a
      given graph: DIR/indptr.bin (int64), DIR/indices.bin (int32), DIR/data.bin (float32), a symmetric CSR.
  --timing (speed mode): the end-to-end scanpy pipeline timed per step on --data.

Prints one JSON object on stdout.
"""
import argparse, json, os, sys, time, warnings
warnings.filterwarnings("ignore")
HERE = os.environ.get("TESSERA_PEER_BENCH", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
sys.path.insert(0, HERE)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data")
    p.add_argument("--k", type=int, nargs="*", default=[])
    p.add_argument("--label", nargs="*", default=[])
    p.add_argument("--graph")
    p.add_argument("--resolution", type=float, default=1.0)
    p.add_argument("--timing", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if a.graph:
        return leiden_only(a)
    if a.timing:
        return pipeline_timing(a)
    import clustering_baselines as cb   # sets the BLAS/numba threads to 1, as the peer runs
    import numpy as np, scipy.sparse as sp, anndata as ad, scanpy as sc
    from sklearn.cluster import KMeans
    t0 = time.perf_counter()
    x = ad.read_h5ad(a.data)
    x.X = (x.X.toarray() if sp.issparse(x.X) else np.asarray(x.X)).astype(np.float32)
    sc.pp.normalize_total(x, target_sum=1e4)
    sc.pp.log1p(x)
    sc.pp.pca(x, n_comps=min(50, x.n_vars - 1), random_state=0)
    sc.pp.neighbors(x, n_neighbors=15, use_rep="X_pca", random_state=0, key_added="expr")
    grid = cb.leiden_grid(x, "expr")
    km = {k: KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(x.obsm["X_pca"]) for k in a.k}
    summary = {}
    for col in a.label:
        truth = x.obs[col].astype(str).values
        n = len(np.unique(truth))
        kml = km.get(n, KMeans(n_clusters=n, n_init=10, random_state=0).fit_predict(x.obsm["X_pca"]))
        s = cb.summarise(truth, grid, kml, n)
        summary[col] = {k: s[k] for k in ("leiden_res1.0", "leiden_bestARI", "leiden_bestNMI", "leiden_closestK", "kmeans_k=n_labels")}
    out = dict(cells=list(map(str, x.obs_names)), resolutions=cb.RES_GRID,
               leiden={str(r): [int(v) for v in grid[r]] for r in cb.RES_GRID},
               kmeans={str(k): [int(v) for v in km[k]] for k in a.k}, summary=summary,
               seconds=round(time.perf_counter() - t0, 2))
    print(json.dumps(out))


def leiden_only(a):
    """Leiden on a given weighted graph: leidenalg (RBConfiguration, sc.tl.leiden flavor='leidenalg') and
    igraph's community_leiden (sc.tl.leiden flavor='igraph'), both 2 iterations as ours, timed."""
    import numpy as np, scipy.sparse as sp, anndata as ad, scanpy as sc
    from threadpoolctl import threadpool_limits
    indptr = np.fromfile(os.path.join(a.graph, "indptr.bin"), dtype="<i8")
    indices = np.fromfile(os.path.join(a.graph, "indices.bin"), dtype="<i4")
    data = np.fromfile(os.path.join(a.graph, "data.bin"), dtype="<f4")
    n = len(indptr) - 1
    g = sp.csr_matrix((data, indices, indptr), shape=(n, n))
    x = ad.AnnData(sp.csr_matrix((g.shape[0], 1), dtype=np.float32))
    x.obsp["connectivities"] = g
    x.obsp["distances"] = g
    x.uns["neighbors"] = dict(connectivities_key="connectivities", distances_key="distances", params=dict(method="umap"))
    res = {}
    with threadpool_limits(a.threads):
        for flavor in ("leidenalg", "igraph"):
            # Both with 2 iterations, as ours and scanpy's igraph flavour (scanpy's leidenalg default, -1, iterates
            # until no node moves).
            kw = dict(flavor="igraph", n_iterations=2, directed=False) if flavor == "igraph" else dict(flavor="leidenalg", n_iterations=2)
            runs = []
            for rep in range(2):  # the first run includes one-off costs (graph conversion caches, imports)
                t = time.perf_counter()
                sc.tl.leiden(x, resolution=a.resolution, random_state=0, key_added="l", **kw)
                runs.append(time.perf_counter() - t)
            lab = x.obs["l"].astype(int).values
            res[flavor] = dict(seconds=[round(r, 3) for r in runs], communities=int(lab.max() + 1), labels=[int(v) for v in lab])
    print(json.dumps(dict(nodes=int(g.shape[0]), edges=int(g.nnz), leiden=res)))


def pipeline_timing(a):
    """scanpy end to end on --data: read, normalize_total, log1p, PCA(50), neighbors(15), Leiden (igraph), each
    timed; the pipeline runs twice on fresh copies of the matrix, so both the first (imports, numba compilation)
    and the warm times are reported."""
    import numpy as np, anndata as ad, scanpy as sc
    import scipy.sparse as sp
    from threadpoolctl import threadpool_limits
    sc.settings.n_jobs = a.threads
    runs = []
    with threadpool_limits(a.threads):
        t = time.perf_counter(); x0 = ad.read_h5ad(a.data); t_read = round(time.perf_counter() - t, 3)
        # Tessera writes int64 CSR indices; scikit-learn's sparse mean/variance (inside sc.pp.pca) wants int32,
        # as make_synth.py's files have. Untimed, as if the file had been written that way.
        if sp.issparse(x0.X) and x0.X.nnz < 2**31:
            X = sp.csr_matrix(x0.X)
            x0.X = sp.csr_matrix((X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32)), shape=X.shape)
        for rep in range(2):
            x = x0.copy()
            T = {"read": t_read}
            def tick(name, f):
                t = time.perf_counter(); r = f(); T[name] = round(time.perf_counter() - t, 3); return r
            tick("normalize_total", lambda: sc.pp.normalize_total(x, target_sum=1e4))
            tick("log1p", lambda: sc.pp.log1p(x))
            tick("pca", lambda: sc.pp.pca(x, n_comps=50, random_state=0))
            tick("neighbors", lambda: sc.pp.neighbors(x, n_neighbors=15, n_pcs=50, random_state=0))
            tick("leiden_igraph", lambda: sc.tl.leiden(x, resolution=a.resolution, flavor="igraph", n_iterations=2, directed=False, random_state=0))
            runs.append(T)
    truth = x.obs["cell_type"].astype(str).values if "cell_type" in x.obs else None
    from sklearn.metrics import adjusted_rand_score
    ari = float(adjusted_rand_score(truth, x.obs["leiden"].values)) if truth is not None else None
    print(json.dumps(dict(cells=int(x.n_obs), genes=int(x.n_vars), first=runs[0], seconds=runs[1], ari=ari,
                          communities=int(x.obs["leiden"].astype(int).max() + 1))))


if __name__ == "__main__":
    main()
