#!/usr/bin/env python3
"""Peer side of `tessera-bench render`: squidpy `pl.spatial_scatter(shape=None)` and datashader (points → shade →
spread → PNG) on the cells `tessera-bench render` wrote (x, y Float32 µm; cluster codes Int32; one gene Float32),
to a 1500 × 1500 PNG, coloured by cluster and by the gene. Prints JSON: CPU and wall seconds per tool and
colouring (first call and best of `--repeat`), and peak RSS beyond the loaded data.

Also `--umap`: umap-learn on the embedding and kNN lists our side wrote (precomputed_knn, so both build the same
fuzzy graph), timed, with trustworthiness of both layouts on the same random 5,000 cells.
"""
import argparse, json, os, resource, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np

def rss_peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f: f.write("5")
    except OSError: pass

def vm_hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"): return int(line.split()[1]) * 1024
    return 0

def vm_rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1]) * 1024
    return 0

def timed(fn, repeat):
    out = []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        out.append((time.process_time() - c0, time.perf_counter() - w0))
    return out

def render(args):
    n = args.cells
    raw = np.fromfile(args.data, dtype=np.uint8)
    x = raw[0:4 * n].view(np.float32); y = raw[4 * n:8 * n].view(np.float32)
    codes = raw[8 * n:12 * n].view(np.int32); gene = raw[12 * n:16 * n].view(np.float32)
    import pandas as pd, anndata as ad, matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt, squidpy as sq, datashader as ds, datashader.transfer_functions as tf
    a = ad.AnnData(X=gene.reshape(-1, 1).astype(np.float32), obs=pd.DataFrame({"cluster": pd.Categorical(codes.astype(str))}))
    a.var_names = ["gene"]
    a.obsm["spatial"] = np.stack([x, y], 1)
    df = pd.DataFrame({"x": x, "y": y, "cluster": pd.Categorical(codes), "gene": gene})
    out = args.out
    res = {}
    base = vm_rss()

    def squidpy(color):
        def f():
            sq.pl.spatial_scatter(a, shape=None, color=color, figsize=(5, 5), dpi=300, legend_loc=None, colorbar=False)
            plt.savefig(os.path.join(out, f"squidpy_{color}.png"), dpi=300); plt.close("all")
        return f

    cats = [str(i) for i in range(20)]
    colours = ["#1f77b4", "#ff7f0e", "#279e68", "#d62728", "#aa40fc", "#8c564b", "#e377c2", "#b5bd61", "#17becf", "#aec7e8",
               "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5", "#ad494a", "#8c6d31"]
    def datashader(color):
        def f():
            cv = ds.Canvas(plot_width=1500, plot_height=1500)
            if color == "cluster":
                agg = cv.points(df, "x", "y", agg=ds.count_cat("cluster"))
                img = tf.shade(agg, color_key=colours[:len(agg.cluster)])
            else:
                agg = cv.points(df, "x", "y", agg=ds.max("gene"))
                img = tf.shade(agg, cmap=["#440154", "#21918c", "#fde725"], how="linear")
            img = tf.spread(img, px=1)
            img.to_pil().save(os.path.join(out, f"datashader_{color}.png"), compress_level=1)
        return f

    for tool, make in (("squidpy", squidpy), ("datashader", datashader)):
        if tool not in args.tools: continue
        for color in ("cluster", "gene"):
            reset_peak()
            first = timed(make(color), 1)[0]
            rest = timed(make(color), args.repeat)
            res[f"{tool}_{color}"] = {"first_cpu": first[0], "first_wall": first[1],
                                      "cpu": min(r[0] for r in rest), "wall": min(r[1] for r in rest),
                                      "peak_beyond_data": max(0, vm_hwm() - base)}
    print(json.dumps(res))

def umap_peer(args):
    import umap
    from umap.umap_ import nearest_neighbors
    from sklearn.manifold import trustworthiness
    n, dim, k = args.cells, args.dim, args.k
    f = lambda name, t: np.fromfile(os.path.join(args.data, name), dtype=t)
    X = f("x.f32", np.float32).reshape(n, dim); idx = f("idx.i32", np.int32).reshape(n, k)
    dist = f("dist.f32", np.float32).reshape(n, k); ours = f("ours.f32", np.float32).reshape(n, 2)
    # umap-learn's knn lists include the point itself first (distance 0).
    knn_i = np.concatenate([np.arange(n)[:, None], idx], 1).astype(np.int64)
    knn_d = np.concatenate([np.zeros((n, 1), np.float32), dist], 1).astype(np.float32)
    c0, w0 = time.process_time(), time.perf_counter()
    m = umap.UMAP(n_neighbors=knn_i.shape[1], precomputed_knn=(knn_i, knn_d, None), random_state=0, n_jobs=1, init="spectral")
    emb = m.fit_transform(X)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    rng = np.random.default_rng(0)
    sub = rng.choice(n, size=min(5000, n), replace=False)
    t_theirs = float(trustworthiness(X[sub], emb[sub], n_neighbors=15))
    t_ours = float(trustworthiness(X[sub], ours[sub], n_neighbors=15))
    print(json.dumps({"umap_learn_cpu": cpu, "umap_learn_wall": wall, "trust_umap_learn": t_theirs, "trust_ours": t_ours,
                      "umap_learn_version": umap.__version__}))

p = argparse.ArgumentParser()
p.add_argument("--data"); p.add_argument("--cells", type=int); p.add_argument("--out", default=".")
p.add_argument("--repeat", type=int, default=2); p.add_argument("--tools", default="squidpy,datashader")
p.add_argument("--umap", action="store_true"); p.add_argument("--dim", type=int); p.add_argument("--k", type=int)
a = p.parse_args()
umap_peer(a) if a.umap else render(a)
