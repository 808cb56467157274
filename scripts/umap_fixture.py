#!/usr/bin/env python3
"""Writes Tests/AnalysisTests/Fixtures/umap.json: umap-learn's layouts of real tissue scored by scikit-learn's
trustworthiness, for UMAPTests to compare ours against on the same graph.

Data: osmFISH (../shared/data/osmfish/osmfish_valid_cells.h5ad), log1p of counts per 10,000, all 33 genes. Graph:
scanpy's `pp.neighbors(n_neighbors=15, method="umap", transformer="sklearn")` (exact kNN; our
KNNGraph.connectivities reproduces it, see KNNGraphTests). Layout: scanpy's `tl.umap` (umap-learn's
simplicial_set_embedding, spectral init, 500 epochs) for seeds 0, 1, 2. Also the trustworthiness of a fixed layout
(a fixed projection) so the Swift implementation can be checked against scikit-learn's exactly.

Run: .venv-bench/bin/python scripts/umap_fixture.py
"""
import json, os, warnings
import numpy as np
warnings.filterwarnings("ignore")
import anndata as ad, scanpy as sc, sklearn, umap
from sklearn.manifold import trustworthiness

here = os.path.dirname(__file__)
a = ad.read_h5ad(os.path.join(here, "..", "..", "shared", "data", "osmfish", "osmfish_valid_cells.h5ad"))
a.X = a.X.toarray() if hasattr(a.X, "toarray") else np.asarray(a.X)
sc.pp.normalize_total(a, target_sum=1e4)
sc.pp.log1p(a)
X = np.asarray(a.X, dtype=np.float32)
sc.pp.neighbors(a, n_neighbors=15, use_rep="X", method="umap", transformer="sklearn", random_state=0)
k = 15
scores = []
for seed in (0, 1, 2):
    sc.tl.umap(a, random_state=seed)
    scores.append(float(trustworthiness(X, a.obsm["X_umap"], n_neighbors=k)))
# A tie-free fixed layout: X projected on W[j] = (sin(j + 1), cos(j + 1)), computed in float64 on both sides.
W = np.stack([np.sin(np.arange(X.shape[1]) + 1.0), np.cos(np.arange(X.shape[1]) + 1.0)], 1)
fixed = float(trustworthiness(X, (X.astype(np.float64) @ W).astype(np.float32), n_neighbors=k))
out = {"data": "osmfish log1p CP10k, 33 genes", "cells": int(X.shape[0]), "k": k, "umap_learn_trustworthiness": scores,
       "fixed_layout_trustworthiness": fixed,
       "versions": {"umap-learn": umap.__version__, "scanpy": sc.__version__, "scikit-learn": sklearn.__version__}}
with open(os.path.join(here, "..", "Tests", "AnalysisTests", "Fixtures", "umap.json"), "w") as f:
    json.dump(out, f, indent=1)
print(out)
