#!/usr/bin/env python3
"""Offline look at the issue-15 alternative confidence: would "the held-out score of panel genes at a similar
level" rank genes better than the ensemble agreement? Reads `tessera-bench quality-impute` output (the per-gene
lines of its confidence report) and, per block, prints the Spearman of each gene's Pearson with (a) its
ensemble agreement, (b) its log predicted level, (c) the mean Pearson of the k other test genes nearest in log
predicted level (leave-one-out: what a panel self-evaluation matched by level could give at best, since here
the "panel" genes were scored in the same fits).

    .venv-test/bin/python scripts/impute_confidence_by_level.py bench-output.log [...] [--k 5]
"""
import re
import sys

import numpy as np
from scipy.stats import spearmanr

ROW = re.compile(r"^  (\S+) (-?[0-9.]+) (-?[0-9.]+) ([0-9.e+-]+) ([0-9.e+-]+)( [0-9.e+-]+)+$")


def blocks(path):
    out, cur = {}, None
    for line in open(path):
        if ": confidence (ensemble agreement)" in line:
            cur = line.split(": confidence")[0].strip()
            out[cur] = []
        elif cur is not None and (m := ROW.match(line.rstrip("\n"))):
            out[cur].append([float(m.group(i)) for i in (2, 3, 4)])
        elif cur is not None and not line.startswith("  "):
            cur = None
    return out


def main():
    args, k = sys.argv[1:], 5
    if "--k" in args:
        i = args.index("--k"); k = int(args[i + 1]); del args[i:i + 2]
    if not args:
        sys.exit("usage: impute_confidence_by_level.py BENCH_OUTPUT... [--k 5]")
    for path in args:
        for name, rows in blocks(path).items():
            if len(rows) < k + 2:
                continue
            conf, pearson, level = np.array(rows).T
            lv = np.log(np.maximum(level, 1e-12))
            est = []
            for i in range(len(lv)):
                d = np.abs(lv - lv[i]); d[i] = np.inf
                est.append(pearson[np.argsort(d)[:k]].mean())
            print(f"{name:52s} genes {len(rows):3d}  agreement {spearmanr(conf, pearson)[0]:6.3f}  "
                  f"level {spearmanr(lv, pearson)[0]:6.3f}  {k} nearest by level {spearmanr(est, pearson)[0]:6.3f}")


if __name__ == "__main__":
    main()
