#!/usr/bin/env python
"""Supervised peers for `tessera-bench quality --part annotate`: label transfer from training cells to test cells
of one h5ad, on the split Tessera made (so every method is scored by the same Swift code on the same cells).

  --data FILE.h5ad --split SPLIT.json   SPLIT: {"column": C, "train": [row...], "test": [row...]}

Methods (all fit on the train rows' labels only; PCA and the spatial neighbourhood use no labels):
  logreg_expr        LogisticRegression(max_iter=2000) on normalize_total(1e4) + log1p expression, standardised
  logreg_expr_bal    the same with class_weight="balanced"
  logreg_expr_cv     the balanced one with C chosen by 5-fold cross-validated macro-F1 over 0.1..100 on the train
                     rows (LogisticRegressionCV): the tuned peer, not in the issue's list
  knn_pca            KNeighborsClassifier(15) on PCA(min(50, genes-1)) of that expression
  logreg_pca_nbhd    LogisticRegression on [PCA, mean PCA of the 10 nearest spatial neighbours] (obsm['spatial'])
  ingest             scanpy's sc.tl.ingest: PCA + neighbours on the train cells, test cells projected onto that PCA
                     and labelled by their neighbours there (embedding_method="pca": the labels do not depend on UMAP)

Prints one JSON object: {"methods": {name: [predicted class per test row]}, "seconds": {name: s}}.
"""
import argparse, json, time, warnings
warnings.filterwarnings("ignore")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--split", required=True)
    a = p.parse_args()
    import numpy as np, scipy.sparse as sp, anndata as ad, scanpy as sc
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors
    from sklearn.preprocessing import StandardScaler
    split = json.load(open(a.split))
    x = ad.read_h5ad(a.data)
    x.X = (x.X.toarray() if sp.issparse(x.X) else np.asarray(x.X)).astype(np.float32)
    sc.pp.normalize_total(x, target_sum=1e4)
    sc.pp.log1p(x)
    tr, te = np.array(split["train"]), np.array(split["test"])
    y = x.obs[split["column"]].astype(str).values
    out, secs = {}, {}

    def timed(name, f):
        t0 = time.perf_counter()
        out[name] = [str(v) for v in f()]
        secs[name] = round(time.perf_counter() - t0, 2)

    X = StandardScaler().fit(x.X[tr]).transform(x.X)
    timed("logreg_expr", lambda: LogisticRegression(max_iter=2000).fit(X[tr], y[tr]).predict(X[te]))
    timed("logreg_expr_bal", lambda: LogisticRegression(max_iter=2000, class_weight="balanced").fit(X[tr], y[tr]).predict(X[te]))
    from sklearn.linear_model import LogisticRegressionCV
    timed("logreg_expr_cv", lambda: LogisticRegressionCV(Cs=[0.1, 0.3, 1, 3, 10, 30, 100], cv=5, max_iter=5000, class_weight="balanced",
                                                         scoring="f1_macro").fit(X[tr], y[tr]).predict(X[te]))
    sc.pp.pca(x, n_comps=min(50, x.n_vars - 1), random_state=0)
    P = x.obsm["X_pca"]
    timed("knn_pca", lambda: KNeighborsClassifier(15).fit(P[tr], y[tr]).predict(P[te]))

    def nbhd():
        xy = np.asarray(x.obsm["spatial"])[:, :2]
        idx = NearestNeighbors(n_neighbors=11).fit(xy).kneighbors(xy, return_distance=False)[:, 1:]
        F = StandardScaler().fit_transform(np.hstack([P, P[idx].mean(axis=1)]))
        return LogisticRegression(max_iter=2000).fit(F[tr], y[tr]).predict(F[te])
    timed("logreg_pca_nbhd", nbhd)

    def ingest():
        ref = ad.AnnData(X=x.X[tr].copy(), obs={"label": y[tr]}, var=x.var[[]].copy())
        ref.obs_names = x.obs_names[tr]
        q = ad.AnnData(X=x.X[te].copy(), var=x.var[[]].copy())
        q.obs_names = x.obs_names[te]
        sc.pp.pca(ref, n_comps=min(50, ref.n_vars - 1), random_state=0)
        sc.pp.neighbors(ref, n_neighbors=15, random_state=0)
        sc.tl.ingest(q, ref, obs="label", embedding_method="pca")   # labels by kNN in ref's PCA; no UMAP needed
        return q.obs["label"].astype(str).values
    timed("ingest", ingest)
    print(json.dumps({"methods": out, "seconds": secs}))


if __name__ == "__main__":
    main()
