#!/usr/bin/env python3
"""Convert a CellPLM checkpoint (``PREFIX.best.ckpt`` + ``PREFIX.config.json``) into a Tessera tensor
file of kind "weights".

    python scripts/cellplm_import.py --ckpt PREFIX.best.ckpt --config PREFIX.config.json --out model.tsr [--verify]

* Tensor names are CellPLM's own state_dict names (the Swift model uses the same names).
* Floating-point tensors are stored as float32 (float16/bfloat16/float64 are widened/narrowed to
  float32 and listed in meta); non-float tensors are skipped and listed in meta.
* The header config is CellPLM's config translated into Tessera's camelCase keys; gene names go to
  meta.geneNames; the original config (minus gene_list) goes to meta.cellplmConfig.
* Configurations the Swift model does not implement are refused with a message naming the file and key.

Needs torch (CPU is enough) and numpy; does not need the cellplm package.
"""
import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tessera_tensors as tt  # noqa: E402

# Defaults of CellPLM's OmicsFormer constructor (cellplm 0.1.0.post2) for keys a config may omit.
# cellplm_make_random_ckpt.py checks this table against the installed package's signature.
OMICSFORMER_DEFAULTS = {
    "batch_num": 0, "dataset_num": 0, "platform_num": 0, "mask_type": "input", "model_dropout": 0.1,
    "activation": "gelu", "norm": "layernorm", "enc_head": 8, "mask_node_rate": 0.5,
    "mask_feature_rate": 0.8, "drop_node_rate": 0.0, "max_batch_size": 2000, "pe_type": "sin",
    "cat_pe": True, "latent_mod": "vae", "w_li": 1.0, "w_en": 1.0, "head_type": None, "dsbn": False,
    "ecs": False, "dar": False, "input_covariate": False, "num_clusters": 16, "dae": True, "lamda": 0.5,
    "mask_beta": False,
}
REQUIRED_KEYS = ("gene_list", "enc_mod", "enc_hid", "enc_layers", "post_latent_dim", "dec_mod",
                 "dec_hid", "dec_layers", "out_dim")
# Constants hard-coded in CellPLM's modules (not configurable there).
GMVAE_HIDDEN = 512          # InferenceNet q(z|x,y) hidden width
DECODER_BOTTLENECK = 128    # NB output block hidden width
ATTENTION_DROPOUT = 0.01    # Flow_Attention inner dropout
KL_WARMUP_STEPS = 10000     # VAELatentLayer KL-weight warm-up
VAE_FREE_BITS = 1.0         # VAELatentLayer default lamda; OmicsFormer does not pass its lamda to it


class UnsupportedConfig(ValueError):
    """A CellPLM configuration that Tessera's model does not implement."""


def config_value(cfg, key):
    """The value of ``key`` in a CellPLM config, falling back to OmicsFormer's default."""
    if key in cfg:
        return cfg[key]
    if key in OMICSFORMER_DEFAULTS:
        return OMICSFORMER_DEFAULTS[key]
    raise KeyError(key)


def check_supported(cfg, source):
    """Raise UnsupportedConfig naming ``source`` and the key for any configuration we do not support."""
    def refuse(key, why):
        shown = repr(cfg[key]) if key in cfg else f"(absent, default {OMICSFORMER_DEFAULTS.get(key)!r})"
        raise UnsupportedConfig(f"{source}: key '{key}' = {shown}: {why}")

    for key in REQUIRED_KEYS:
        if key not in cfg:
            raise UnsupportedConfig(f"{source}: required key '{key}' is missing")
    rules = [
        ("enc_mod", lambda v: v == "flowformer", "only the 'flowformer' encoder is supported"),
        ("dec_mod", lambda v: v == "nbmlp", "only the 'nbmlp' decoder is supported"),
        ("latent_mod", lambda v: v in ("gmvae", "vae"), "only 'gmvae' and 'vae' latents are supported"),
        ("norm", lambda v: v == "groupnorm", "only 'groupnorm' is supported"),
        ("cat_pe", lambda v: v is False, "concatenated position embeddings (cat_pe true) are not supported"),
        ("dsbn", lambda v: not v, "domain-specific batch norm (dsbn) is not supported"),
        ("ecs", lambda v: not v, "the ECS latent layer is not supported"),
        ("dar", lambda v: not v, "the adversarial latent layer (dar) is not supported"),
        ("input_covariate", lambda v: not v, "input covariate injection is not supported"),
        ("dec_layers", lambda v: v == 2, "only dec_layers 2 (one hidden layer + NB block) is supported"),
        ("mask_type", lambda v: v == "input", "only input masking is supported"),
        ("head_type", lambda v: v is None, "checkpoints with a task head instead of the decoder are not supported"),
        ("platform_num", lambda v: not v, "platform covariates are not supported"),
    ]
    for key, ok, why in rules:
        if not ok(config_value(cfg, key)):
            refuse(key, why)
    if cfg["out_dim"] != len(cfg["gene_list"]):
        raise UnsupportedConfig(f"{source}: key 'out_dim' = {cfg['out_dim']} but 'gene_list' has "
                                f"{len(cfg['gene_list'])} genes")
    hid, heads = cfg["enc_hid"], config_value(cfg, "enc_head")
    if hid % heads:
        raise UnsupportedConfig(f"{source}: key 'enc_head' = {heads} does not divide enc_hid {hid}")
    for key in ("enc_hid", "dec_hid"):
        if cfg[key] % 4:
            raise UnsupportedConfig(f"{source}: key '{key}' = {cfg[key]} is not divisible by 4 GroupNorm groups")


def translate_config(cfg, source="config"):
    """Translate a CellPLM config dict into Tessera's camelCase model config.

    Values follow what the released code actually does (see ``config_notes``), which differs from
    the raw config in two places: mask_beta never reaches the mask builder, and the VAE latent's
    free-bits floor is the layer default rather than the config's lamda.
    """
    check_supported(cfg, source)
    latent = config_value(cfg, "latent_mod")
    return {
        "genes": int(cfg["out_dim"]),
        "hidden": int(cfg["enc_hid"]),
        "layers": int(cfg["enc_layers"]),
        "heads": int(config_value(cfg, "enc_head")),
        "latent": latent,
        "latentDim": int(cfg["post_latent_dim"]),
        "mixtureComponents": int(config_value(cfg, "num_clusters")),
        "gmvaeHidden": GMVAE_HIDDEN,
        "decoderHidden": int(cfg["dec_hid"]),
        "decoderBottleneck": DECODER_BOTTLENECK,
        "batchCount": int(config_value(cfg, "batch_num")),
        "datasetCount": int(config_value(cfg, "dataset_num")),
        "dropout": float(config_value(cfg, "model_dropout")),
        "attentionDropout": ATTENTION_DROPOUT,
        "maskCellRate": float(config_value(cfg, "mask_node_rate")),
        "maskGeneRate": float(config_value(cfg, "mask_feature_rate")),
        "maskBeta": False,  # effective value, see config_notes
        "dropCellRate": float(config_value(cfg, "drop_node_rate")),
        "maxCells": int(config_value(cfg, "max_batch_size")),
        "freeBits": float(config_value(cfg, "lamda")) if latent == "gmvae" else VAE_FREE_BITS,
        "gaussianWeight": float(config_value(cfg, "w_li")),
        "categoricalWeight": float(config_value(cfg, "w_en")),
        "klWarmupSteps": KL_WARMUP_STEPS,
        "positionEmbedding": False,
        "dae": bool(config_value(cfg, "dae")),
    }


def config_notes(cfg):
    """Human-readable notes on where the translated config deliberately differs from the raw one."""
    notes = []
    if config_value(cfg, "mask_beta"):
        notes.append("maskBeta: config says mask_beta=true, but OmicsFormer passes it positionally into "
                     "MaskBuilder's edge_mask slot, so MaskBuilder.mask_beta stays False: every masked "
                     "cell uses the constant mask_feature_rate. maskBeta is written as false.")
    if config_value(cfg, "latent_mod") == "vae":
        notes.append(f"freeBits: OmicsFormer does not pass lamda to the VAE latent layer; its default "
                     f"{VAE_FREE_BITS} applies (config lamda={config_value(cfg, 'lamda')!r}). For the VAE "
                     "the floor is a hard threshold (KL below it -> loss 0), not max(lamda, KL).")
    notes.append("positionEmbedding: the released embedder adds a literal 0 instead of the PE; the PE "
                 "table is still in the checkpoint and is converted.")
    return notes


def load_config(path):
    """Load a CellPLM ``.config.json``."""
    try:
        with open(path) as f:
            cfg = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise SystemExit(f"error: {path}: cannot read config: {err}")
    if not isinstance(cfg, dict):
        raise SystemExit(f"error: {path}: config is not a JSON object")
    return cfg


def load_state_dict(path):
    """Load the state dict stored under 'model_state_dict' of a CellPLM ``.ckpt`` (on the CPU)."""
    import torch
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # older pickles may hold non-tensor objects the safe loader refuses
        obj = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(obj, dict) or "model_state_dict" not in obj:
        keys = sorted(obj.keys()) if isinstance(obj, dict) else type(obj).__name__
        raise SystemExit(f"error: {path}: no 'model_state_dict' in checkpoint (found {keys})")
    return obj["model_state_dict"]


def expected_shapes(cfg):
    """Shapes of key tensors implied by the config, to catch a config/checkpoint mismatch early."""
    g, d, z = cfg["out_dim"], cfg["enc_hid"], cfg["post_latent_dim"]
    shapes = {
        "embedder.feat_enc.emb": (g, d),
        "embedder.extra_linear.0.weight": (d, d),
        f"encoder.layers.{cfg['enc_layers'] - 1}.self_attn.query_projection.weight": (d, d),
        f"encoder.layers.{cfg['enc_layers'] - 1}._ff_block.0.weight": (2 * d, d),
        "pre_latent_norm.norm.weight": (d,),
        "decoder.layers.0.0.weight": (cfg["dec_hid"], z),
        "decoder.out_layer.dec_1.weight": (DECODER_BOTTLENECK, cfg["dec_hid"]),
        "decoder.out_layer.dec_mean.0.weight": (g, DECODER_BOTTLENECK),
        "decoder.out_layer.dec_disp": (g,),
    }
    if config_value(cfg, "latent_mod") == "gmvae":
        k = config_value(cfg, "num_clusters")
        shapes["latent.layers.1.inference.inference_qyx.0.logits.weight"] = (k, d)
        shapes["latent.layers.1.inference.inference_qzyx.0.weight"] = (GMVAE_HIDDEN, d + k)
        shapes["latent.layers.1.inference.inference_qzyx.2.mu.weight"] = (z, GMVAE_HIDDEN)
    else:
        shapes["latent.layers.1.hid_2mu.weight"] = (z, d)
        shapes["latent.layers.1.hid_2sigma.weight"] = (z, d)
    for cov, key in (("batch", "batch_num"), ("dataset", "dataset_num")):
        n = config_value(cfg, key)
        name = f"decoder.covariate_layers.0.{cov}.0.weight"
        if n:
            shapes[name] = (n, cfg["dec_hid"])
    return shapes


def check_shapes(state, cfg, ckpt_path):
    """Check that the checkpoint's tensors match the config (names and shapes of key tensors)."""
    for name, shape in expected_shapes(cfg).items():
        if name not in state:
            raise SystemExit(f"error: {ckpt_path}: tensor '{name}' expected by the config is missing")
        if tuple(state[name].shape) != tuple(shape):
            raise SystemExit(f"error: {ckpt_path}: tensor '{name}' has shape {tuple(state[name].shape)}, "
                             f"config implies {tuple(shape)}")
    extra = f"encoder.layers.{cfg['enc_layers']}.norm1.weight"
    if extra in state:
        raise SystemExit(f"error: {ckpt_path}: has more encoder layers than enc_layers={cfg['enc_layers']}")


def split_tensors(state):
    """Split a state dict into float32 numpy arrays to keep, converted names and skipped names."""
    import torch
    kept, converted, skipped = [], [], []
    for name, tensor in state.items():
        if not torch.is_tensor(tensor) or not tensor.is_floating_point():
            skipped.append({"name": name, "dtype": str(getattr(tensor, "dtype", type(tensor).__name__))})
            continue
        if tensor.dtype != torch.float32:
            converted.append({"name": name, "from": str(tensor.dtype)})
            tensor = tensor.float()
        kept.append((name, tensor.detach().cpu().contiguous().numpy()))
    return kept, converted, skipped


def sha256_file(path, chunk=1 << 24):
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def build_meta(cfg, args, converted, skipped, n_params, torch_version):
    """The meta object of the weights file."""
    return {
        "source": "CellPLM checkpoint",
        "ckptFile": os.path.basename(args.ckpt),
        "configFile": os.path.basename(args.config),
        "ckptSha256": sha256_file(args.ckpt),
        "converter": "scripts/cellplm_import.py",
        "torchVersion": torch_version,
        "parameterCount": n_params,
        "geneNames": list(cfg["gene_list"]),
        "cellplmConfig": {k: v for k, v in cfg.items() if k != "gene_list"},
        "configNotes": config_notes(cfg),
        "convertedToFloat32": converted,
        "skippedNonFloat": skipped,
        "nameConvention": "CellPLM state_dict names; Linear weights are out x in (row-major)",
    }


def verify(out_path, kept, config):
    """Re-read the written file and check every tensor bit-exactly and the config."""
    header, tensors = tt.read_tensors(out_path, mmap=True)
    if header["kind"] != "weights" or header["config"] != config:
        raise SystemExit(f"error: {out_path}: header kind/config do not match what was written")
    if list(tensors) != [name for name, _ in kept]:
        raise SystemExit(f"error: {out_path}: tensor names/order differ from the checkpoint")
    for name, arr in kept:
        got = tensors[name]
        if got.shape != arr.shape or got.tobytes() != np.ascontiguousarray(arr, "<f4").tobytes():
            raise SystemExit(f"error: {out_path}: tensor '{name}' does not round-trip bit-exactly")
    return len(kept)


def main(argv=None):
    """Command line entry point."""
    p = argparse.ArgumentParser(description="Convert a CellPLM .ckpt + .config.json to a Tessera weights file.")
    p.add_argument("--ckpt", required=True, help="PREFIX.best.ckpt (torch pickle with 'model_state_dict')")
    p.add_argument("--config", required=True, help="PREFIX.config.json")
    p.add_argument("--out", required=True, help="output .tsr file")
    p.add_argument("--verify", action="store_true", help="re-read the output and check it bit-exactly")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    cfg = load_config(args.config)
    try:
        config = translate_config(cfg, args.config)
    except UnsupportedConfig as err:
        raise SystemExit(f"error: {err}")
    import torch
    state = load_state_dict(args.ckpt)
    t_load = time.perf_counter() - t0
    check_shapes(state, cfg, args.ckpt)
    kept, converted, skipped = split_tensors(state)
    n_params = int(sum(a.size for _, a in kept))
    meta = build_meta(cfg, args, converted, skipped, n_params, torch.__version__)
    size = tt.write_tensors(args.out, kept, "weights", config, meta)
    t_write = time.perf_counter() - t0 - t_load
    print(f"wrote {args.out}: {len(kept)} tensors, {n_params:,} values, {size:,} bytes; "
          f"skipped {len(skipped)} non-float, converted {len(converted)} to float32; "
          f"load {t_load:.1f}s write {t_write:.1f}s")
    if args.verify:
        t1 = time.perf_counter()
        n = verify(args.out, kept, config)
        print(f"verified {n} tensors bit-exactly and the config in {time.perf_counter() - t1:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
