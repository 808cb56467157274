#!/usr/bin/env python3
"""Make a randomly initialised CellPLM checkpoint with the released 85M configuration, saved the way
CellPLM's checkpoints are ({'model_state_dict': ...} via torch.save, plus PREFIX.config.json), to
test scripts/cellplm_import.py at full size without the real weights.

    .venv-bench/bin/python scripts/cellplm_make_random_ckpt.py /tmp/cellplm_ckpt
    .venv-bench/bin/python scripts/cellplm_import.py --ckpt /tmp/cellplm_ckpt/20230926_85M_random.best.ckpt \
        --config /tmp/cellplm_ckpt/20230926_85M_random.config.json --out /tmp/cellplm_ckpt/85M.tsr --verify
    .venv-bench/bin/python scripts/cellplm_make_random_ckpt.py /tmp/cellplm_ckpt --check /tmp/cellplm_ckpt/85M.tsr

The output directory must lie outside the repository (the checkpoint is ~330 MB). ``--check`` re-reads
the checkpoint with torch and compares every tensor of the converted file bit-exactly, checks the
header config against the expected translation of the released config, and checks the converter's
table of OmicsFormer defaults against the installed package. Needs the benchmark venv (cellplm).
"""
import argparse
import inspect
import json
import os
import shutil
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import tessera_tensors as tt  # noqa: E402
import cellplm_import  # noqa: E402

DEFAULT_CONFIG = os.path.join(REPO, "..", "shared", "bench", "ref", "20230926_85M.config.json")
DEFAULT_PREFIX = "20230926_85M_random"
# Expected Tessera config for the released 20230926_85M configuration (values from the JSON, the
# OmicsFormer defaults for absent keys, and the effective maskBeta of the released code).
EXPECTED_RELEASED = {
    "genes": 19374, "hidden": 1024, "layers": 4, "heads": 8, "latent": "gmvae", "latentDim": 512,
    "mixtureComponents": 16, "gmvaeHidden": 512, "decoderHidden": 1024, "decoderBottleneck": 128,
    "batchCount": 12596, "datasetCount": 484, "dropout": 0.2, "attentionDropout": 0.01,
    "maskCellRate": 0.75, "maskGeneRate": 0.25, "maskBeta": False, "dropCellRate": 0.3, "maxCells": 4000,
    "freeBits": 5.0, "gaussianWeight": 5.0, "categoricalWeight": 5.0, "klWarmupSteps": 10000,
    "positionEmbedding": False, "dae": True,
}


def repo_root_of(path):
    """The enclosing directory that holds a .git entry, or None."""
    path = os.path.realpath(path)
    while True:
        if os.path.exists(os.path.join(path, ".git")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def check_outside_repo(out_dir):
    """Refuse an output directory inside this repository."""
    repo = os.path.realpath(REPO)
    target = os.path.realpath(out_dir)
    if target == repo or target.startswith(repo + os.sep) or repo_root_of(out_dir) == repo:
        raise SystemExit(f"error: {out_dir} is inside the repository {repo}; write the checkpoint elsewhere "
                         "(e.g. /tmp/cellplm_ckpt)")


def paths(out_dir, prefix):
    """Checkpoint and config paths for a prefix, as CellPLM's load_pretrain names them."""
    return (os.path.join(out_dir, f"{prefix}.best.ckpt"), os.path.join(out_dir, f"{prefix}.config.json"))


def make_checkpoint(config_path, out_dir, prefix, seed):
    """Build OmicsFormer(**config) with random weights and save it with its config. Returns timings."""
    import torch
    warnings.filterwarnings("ignore")
    from CellPLM.model import OmicsFormer
    with open(config_path) as f:
        cfg = json.load(f)
    os.makedirs(out_dir, exist_ok=True)
    ckpt, cfg_out = paths(out_dir, prefix)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    model = OmicsFormer(**cfg)
    t_build = time.perf_counter() - t0
    n_params = sum(p.numel() for p in model.parameters())
    t1 = time.perf_counter()
    torch.save({"model_state_dict": model.state_dict()}, ckpt)
    t_save = time.perf_counter() - t1
    shutil.copyfile(config_path, cfg_out)
    print(f"built OmicsFormer ({n_params:,} parameters, {len(model.state_dict())} state_dict entries) in "
          f"{t_build:.1f}s; saved {ckpt} ({os.path.getsize(ckpt):,} bytes) in {t_save:.1f}s; config {cfg_out}")


def check_defaults():
    """Compare cellplm_import.OMICSFORMER_DEFAULTS with the installed OmicsFormer signature."""
    from CellPLM.model import OmicsFormer
    sig = inspect.signature(OmicsFormer.__init__).parameters
    bad = {k: (v, sig[k].default if k in sig else "(no such argument)")
           for k, v in cellplm_import.OMICSFORMER_DEFAULTS.items()
           if k not in sig or sig[k].default != v}
    if bad:
        raise SystemExit(f"error: OMICSFORMER_DEFAULTS disagree with the package: {bad}")
    print(f"converter defaults table matches OmicsFormer's signature ({len(cellplm_import.OMICSFORMER_DEFAULTS)} keys)")


def check_converted(tsr_path, out_dir, prefix):
    """Compare a converted file with the checkpoint (bit-exact) and its config with the expectation."""
    import torch
    ckpt, cfg_path = paths(out_dir, prefix)
    with open(cfg_path) as f:
        cfg = json.load(f)
    t0 = time.perf_counter()
    state = torch.load(ckpt, map_location="cpu", weights_only=True)["model_state_dict"]
    header, tensors = tt.read_tensors(tsr_path, mmap=True)
    floats = [n for n, t in state.items() if t.is_floating_point()]
    if list(tensors) != floats:
        raise SystemExit(f"error: {tsr_path}: tensor names differ from the checkpoint's float tensors")
    for name in floats:
        want = state[name].float().contiguous().numpy()
        got = tensors[name]
        if got.shape != want.shape or got.dtype != np.dtype("<f4") or got.tobytes() != want.tobytes():
            raise SystemExit(f"error: {tsr_path}: tensor {name} differs from the checkpoint")
    expected = cellplm_import.translate_config(cfg, cfg_path)
    if cfg.get("name") == "20230926_75M_50M" and expected != EXPECTED_RELEASED:
        raise SystemExit(f"error: translation of the released config is wrong: {expected}")
    if header["kind"] != "weights" or header["config"] != expected:
        raise SystemExit(f"error: {tsr_path}: header config {header['config']} != {expected}")
    if header["meta"].get("geneNames") != cfg["gene_list"]:
        raise SystemExit(f"error: {tsr_path}: meta.geneNames differs from the config's gene_list")
    n_values = sum(int(np.prod(tensors[n].shape)) for n in floats)
    print(f"checked {len(floats)} tensors ({n_values:,} values) bit-exactly, config and gene names "
          f"in {time.perf_counter() - t0:.1f}s; skipped non-float: {header['meta']['skippedNonFloat']}")


def main(argv=None):
    """Command line entry point."""
    p = argparse.ArgumentParser(description="Make a random CellPLM checkpoint with the released config.")
    p.add_argument("out_dir", help="directory outside the repository, e.g. /tmp/cellplm_ckpt")
    p.add_argument("--config", default=DEFAULT_CONFIG, help="CellPLM config json (default: released 85M)")
    p.add_argument("--prefix", default=DEFAULT_PREFIX, help="file prefix (PREFIX.best.ckpt, PREFIX.config.json)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check", metavar="TSR", help="instead of making a checkpoint, check a converted file "
                                                  "against the one in out_dir")
    a = p.parse_args(argv)
    check_outside_repo(a.out_dir)
    if a.check:
        check_defaults()
        check_converted(a.check, a.out_dir, a.prefix)
    else:
        if not os.path.exists(a.config):
            raise SystemExit(f"error: {a.config}: config not found (pass --config)")
        make_checkpoint(a.config, a.out_dir, a.prefix, a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
