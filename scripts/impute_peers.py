#!/usr/bin/env python
"""Peer imputation methods on a split chosen by `tessera-bench quality-impute`, so ours and the peers are scored
on the same genes of the same cells.

Runs the methods of ../shared/bench/imputation_baselines.py unchanged (its loading, normalisation, SpaGE-style,
Tangram and kNN code and its metric function), only on a given split:
  --pair B   seqFISH + Tasic (log1p of the cross-platform-normalised values, both sides)
  --pair C   osmFISH + Allen pair (normalize_total 1e4 on all genes + log1p, both sides)
  --pair custom --spatial S.h5ad --reference R.h5ad   any pair of count h5ads, normalised as C (development data)
  --heldout g1,g2,...   one fit on the other genes, all listed genes predicted at once
  --logo                leave-one-gene-out over every gene (one fit per gene)
Prints one JSON line: {method: {"genes": [...], "pearson": [...], "cosine": [...], "wall_s": s, "n_fits": k}}
(a constant prediction gives pearson null, as the peer script's NaN).
"""
import argparse, json, os, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--shared-data", required=True)
ap.add_argument("--pair", choices=["B", "C", "custom"], required=True)
ap.add_argument("--spatial", help="--pair custom: spatial h5ad of counts with every scored gene")
ap.add_argument("--reference", help="--pair custom: reference h5ad of counts")
ap.add_argument("--heldout", default="")
ap.add_argument("--logo", action="store_true")
ap.add_argument("--methods", default="knn20,spage,tangram")
ap.add_argument("--epochs", type=int, default=1000)
a = ap.parse_args()
os.environ["TESSERA_SHARED_DATA"] = a.shared_data
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(a.shared_data)), "bench"))
import numpy as np  # noqa: E402
import imputation_baselines as ib  # noqa: E402

ib.NUM_EPOCHS = a.epochs
if a.pair == "custom" and not (a.spatial and a.reference):
    ap.error("--pair custom needs --spatial S.h5ad and --reference R.h5ad (count h5ads with the scored genes)")
if a.pair == "custom":
    # Counts on both sides, normalised as pair C (normalize_total 1e4 over the shared genes, log1p).
    import anndata as ad
    s, r = ad.read_h5ad(a.spatial), ad.read_h5ad(a.reference)
    genes = [g for g in s.var_names if g in set(r.var_names)]
    S, R = ib.dense(s[:, genes].X), ib.dense(r[:, genes].X)
    S = np.log1p(S / np.maximum(S.sum(1, keepdims=True), 1e-12) * 1e4)
    R = np.log1p(R / np.maximum(R.sum(1, keepdims=True), 1e-12) * 1e4)
    genes = np.array(genes)
else:
    S, R, genes = ib.load(a.pair)
n = len(genes)
index = {g.lower(): i for i, g in enumerate(genes)}
if a.logo:
    splits = [(np.array([j for j in range(n) if j != i]), np.array([i])) for i in range(n)]
else:
    names = [g for g in a.heldout.split(",") if g]
    missing = [g for g in names if g.lower() not in index]
    if missing or not names:
        sys.exit(f"impute_peers.py: genes {missing or '(none)'} are not genes of pair {a.pair}; pass --heldout with its gene names")
    te = np.array(sorted(index[g.lower()] for g in names))
    splits = [(np.setdiff1d(np.arange(n), te), te)]
n_pv = 50 if a.pair == "B" else 30
out = {}
for meth in a.methods.split(","):
    t0 = time.perf_counter()
    preds = {}
    for tr, te in splits:
        p, _ = ib.run_method(meth, S, R, genes, tr, te, n_pv)
        for k, g in enumerate(te):
            preds[int(g)] = p[:, k]
    gi = sorted(preds)
    M = ib.metrics(S[:, gi], np.stack([preds[g] for g in gi], 1))
    out[meth] = dict(genes=[str(genes[g]) for g in gi],
                     pearson=[None if np.isnan(x) else float(x) for x in M[:, 0]],
                     cosine=[float(x) for x in M[:, 1]],
                     wall_s=round(time.perf_counter() - t0, 1), n_fits=len(splits))
    print(f"{meth}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
print(json.dumps(out))
