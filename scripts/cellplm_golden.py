#!/usr/bin/env python3
"""Export golden tensors from the reference CellPLM package (PyPI ``cellplm``, import name ``CellPLM``)
for Tessera's Swift CellPLM tests.

    .venv-bench/bin/python scripts/cellplm_golden.py [--out Tests/CellLMTests/Fixtures/cellplm_tiny_golden.tsr]

A tiny OmicsFormer (flowformer 2x32, 4 heads, GMVAE latent 16 with 4 components, NB-MLP decoder,
40 genes, 3 batches) is built from the package's own classes with a fixed seed. The script exports
its parameters, a fixed input, the random draws of one training step (mask, Gumbel uniforms,
Gaussian noise) and every intermediate, loss and gradient of that training step, plus a
deterministic eval forward, and the same for a diagonal-VAE variant under ``vae/``. The random
draws are injected into the forward (monkeypatching ``torch.rand_like``/``torch.randn_like`` and
the mask builder), so the Swift side can replay them exactly. The file is then re-read, every tensor
compared, and the training/eval forwards replayed from the file's tensors alone in a fresh model.
Independent float64 re-computations of the NB and latent losses check the semantics written to meta.

Needs the benchmark venv (torch CPU + cellplm). Output is byte-identical across runs.
"""
import argparse
import contextlib
import hashlib
import importlib.metadata
import math
import os
import platform
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tessera_tensors as tt  # noqa: E402
from cellplm_import import translate_config  # noqa: E402

warnings.filterwarnings("ignore")
import torch  # noqa: E402
from torch import nn  # noqa: E402
from CellPLM.model import OmicsFormer  # noqa: E402
from CellPLM.latent.autoencoders import GumbelSoftmax  # noqa: E402

SEED = 0
NOISE_SEED = 1
N_CELLS, N_GENES, N_BATCHES = 48, 40, 3
GMVAE_LAMDA = 0.0          # free-bits floor for the GMVAE variant (both terms must exceed it)
VAE_LAMDA = 0.1            # free-bits threshold for the VAE variant (KL must exceed it)
VAE_KL_WEIGHT = 1.0
# Large frozen table that is not used by the released forward; left out to keep the fixture small.
OMITTED = ("embedder.pe_enc.pe_enc.weight",)
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "Tests", "CellLMTests", "Fixtures", "cellplm_tiny_golden.tsr")
MAX_BYTES = 2 * 1024 * 1024


# ----------------------------------------------------------------------------------------------
# model and input
# ----------------------------------------------------------------------------------------------

def tiny_kwargs(latent_mod):
    """OmicsFormer keyword arguments of the tiny model (every argument spelled out)."""
    return dict(
        gene_list=[f"GENE{i:02d}" for i in range(N_GENES)], enc_mod="flowformer", enc_hid=32,
        enc_layers=2, enc_head=4, post_latent_dim=16, num_clusters=4, latent_mod=latent_mod,
        dec_mod="nbmlp", dec_hid=32, dec_layers=2, norm="groupnorm", model_dropout=0.0,
        out_dim=N_GENES, batch_num=N_BATCHES, dataset_num=0, platform_num=0, mask_type="input",
        mask_beta=True, mask_node_rate=0.75, mask_feature_rate=0.25, drop_node_rate=0.0,
        max_batch_size=4000, lamda=GMVAE_LAMDA, w_li=5.0, w_en=5.0, w_ce=1.0, cat_pe=False, dae=True,
        pe_type="sin", activation="gelu", head_type=None, dsbn=False, ecs=False, dar=False,
        input_covariate=False,
    )


def build_model(latent_mod, seed=SEED):
    """Build the tiny model with a fixed seed and every Dropout (incl. Flow_Attention's p=0.01) at p=0."""
    torch.manual_seed(seed)
    model = OmicsFormer(**tiny_kwargs(latent_mod))
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    if latent_mod == "vae":
        layer = model.latent.layers[1]
        layer.kl_weight = VAE_KL_WEIGHT
        layer.lamda = VAE_LAMDA
    return model


def make_counts(rng):
    """N x G negative-binomial-like raw counts (gamma-Poisson), every cell non-empty."""
    gene_mean = rng.lognormal(mean=0.2, sigma=1.3, size=N_GENES)
    cell_size = rng.lognormal(mean=0.0, sigma=0.6, size=N_CELLS)
    shape = 0.6
    lam = rng.gamma(shape, gene_mean[None, :] * cell_size[:, None] / shape)
    counts = rng.poisson(lam)
    for i in np.where(counts.sum(1) == 0)[0]:
        counts[i, rng.integers(N_GENES)] = 1
    assert (counts.sum(1) > 0).all() and (counts > 10).sum() >= 5 and (counts == 0).mean() > 0.3
    return counts.astype(np.float32)


def make_batches(rng):
    """Batch labels in {0, 1, 2}, each used."""
    batch = rng.integers(0, N_BATCHES, size=N_CELLS)
    batch[:N_BATCHES] = np.arange(N_BATCHES)
    return batch.astype(np.int64)


def x_dict(counts, batch=None):
    """The x_dict the model consumes: sparse raw counts, missing coordinates, all genes measured."""
    d = {
        "x_seq": torch.from_numpy(counts).to_sparse(),
        "coord": torch.full((N_CELLS, 2), -1.0),
        "gene_mask": torch.ones(N_GENES, dtype=torch.bool),
    }
    if batch is not None:
        d["batch"] = torch.from_numpy(batch)
    return d


def draw_mask(model, counts):
    """Draw one training mask with the model's own MaskBuilder. Returns (input_mask int, masked sparse x)."""
    model.train()
    d = model.mask_model.apply_mask(x_dict(counts))
    return d["input_mask"], d["masked_x_seq"]


def draw_noise(n_clusters, latent_dim):
    """Gumbel uniforms U (N x K) and reparameterisation noise for both variants, from their own generator."""
    g = torch.Generator().manual_seed(NOISE_SEED)
    gumbel_u = torch.rand(N_CELLS, n_clusters, generator=g)
    z_eps = torch.randn(N_CELLS, latent_dim, generator=g)
    vae_z_eps = torch.randn(N_CELLS, latent_dim, generator=g)
    return gumbel_u, z_eps, vae_z_eps


# ----------------------------------------------------------------------------------------------
# injecting the random draws
# ----------------------------------------------------------------------------------------------

@contextlib.contextmanager
def replay_noise(rand_like=(), randn_like=()):
    """Replace torch.rand_like / torch.randn_like by queues of given tensors; all must be consumed."""
    queues = {"rand_like": list(rand_like), "randn_like": list(randn_like)}
    originals = {k: getattr(torch, k) for k in queues}

    def fake(kind):
        def draw(ref, *args, **kwargs):
            if not queues[kind]:
                raise RuntimeError(f"unexpected extra torch.{kind} call for shape {tuple(ref.shape)}")
            t = queues[kind].pop(0)
            if tuple(t.shape) != tuple(ref.shape):
                raise RuntimeError(f"torch.{kind}: prepared {tuple(t.shape)} but asked {tuple(ref.shape)}")
            return t.to(dtype=ref.dtype).clone()
        return draw

    for kind in queues:
        setattr(torch, kind, fake(kind))
    try:
        yield
    finally:
        for kind, fn in originals.items():
            setattr(torch, kind, fn)
    left = {k: len(v) for k, v in queues.items() if v}
    if left:
        raise RuntimeError(f"prepared noise not consumed: {left}")


@contextlib.contextmanager
def fixed_mask(model, input_mask, masked_x_seq):
    """Make the model's MaskBuilder use the given mask in training mode (eval mode is unchanged)."""
    builder = model.mask_model
    original = builder.apply_mask

    def apply(d):
        if not builder.training:
            return original(d)
        d["masked_x_seq"] = masked_x_seq
        d["input_mask"] = input_mask
        return d

    builder.apply_mask = apply
    try:
        yield
    finally:
        del builder.apply_mask


@contextlib.contextmanager
def zero_gumbel():
    """Gumbel noise of exactly zero (Tessera's deterministic mode: argmax of the logits)."""
    original = GumbelSoftmax.sample_gumbel
    GumbelSoftmax.sample_gumbel = lambda self, logits, eps=1e-20: torch.zeros_like(logits)
    try:
        yield
    finally:
        GumbelSoftmax.sample_gumbel = original


# ----------------------------------------------------------------------------------------------
# capturing intermediates
# ----------------------------------------------------------------------------------------------

def _copy(t):
    return t.detach().clone()


@contextlib.contextmanager
def capture(model, latent_mod):
    """Forward hooks storing the intermediates of one forward pass into the yielded dict."""
    store, handles = {}, []

    def hook(name, fn=_copy):
        def record(module, args, out):
            store[name] = fn(out)
        return record

    def add(module, name, fn=_copy):
        handles.append(module.register_forward_hook(hook(name, fn)))

    add(model.embedder, "embedder")
    for i, layer in enumerate(model.encoder.layers):
        add(layer, f"layer{i}")
    add(model.pre_latent_norm, "prelatent")
    latent = model.latent.layers[1]
    if latent_mod == "gmvae":
        add(latent.inference, "inference", lambda out: {k: _copy(v) for k, v in out.items()})
    else:
        add(latent.hid_2mu, "latent_mean")
        add(latent.hid_2sigma, "latent_logvar_raw")
    add(latent, "latent_z", lambda out: _copy(out[0]))
    add(model.latent, "loss_latent", lambda out: _copy(torch.as_tensor(out[1], dtype=torch.float32)))
    add(model.decoder, "decoder", lambda out: {k: _copy(out[k]) for k in ("mean", "disp")})
    add(model.objective, "loss_recon", _copy)
    try:
        yield store
    finally:
        for h in handles:
            h.remove()


def as_f32(t):
    """A tensor as a float32 numpy array."""
    return t.detach().cpu().to(torch.float32).contiguous().numpy()


# ----------------------------------------------------------------------------------------------
# forwards
# ----------------------------------------------------------------------------------------------

def train_step(model, latent_mod, counts, batch, mask, noise):
    """Training-mode forward + backward with fixed mask and noise. Returns (tensors, grads, extras)."""
    input_mask, masked_x_seq = mask
    model.train()
    model.zero_grad(set_to_none=True)
    rand = [noise["gumbel_u"]] if latent_mod == "gmvae" else []
    with fixed_mask(model, input_mask, masked_x_seq), replay_noise(rand, [noise["z_eps"]]), \
            capture(model, latent_mod) as st:
        _, loss = model(x_dict(counts, batch))
    loss.backward()
    out = {"embedder": st["embedder"], "layer0": st["layer0"], "layer1": st["layer1"],
           "prelatent": st["prelatent"]}
    if latent_mod == "gmvae":
        inf = st["inference"]
        out.update(latent_logits=inf["logits"], latent_prob=inf["prob_cat"], latent_y=inf["categorical"],
                   latent_mean=inf["mean"], latent_var=inf["var"], latent_z=st["latent_z"],
                   y_mu=inf["y_mean"], y_var=inf["y_var"])
    else:
        out.update(latent_mean=st["latent_mean"],
                   latent_logvar_clamped=torch.clamp(st["latent_logvar_raw"], -5, 5),
                   latent_z=st["latent_z"])
    out.update(decoder_mean=st["decoder"]["mean"], decoder_disp=st["decoder"]["disp"],
               loss_latent=st["loss_latent"], loss_recon=st["loss_recon"], loss=loss.detach())
    grads, grad_none = {}, []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.grad is None:
            grad_none.append(name)
            grads[name] = torch.zeros_like(p)
        else:
            grads[name] = p.grad.detach().clone()
    return out, grads, grad_none


def eval_forward(model, counts):
    """Eval-mode forward: no masking, zero Gumbel noise, no batch labels (mean-batch decoder path)."""
    model.eval()
    zeros = torch.zeros(N_CELLS, model.latent.layers[1].inference.y_mu.out_features)
    with torch.no_grad(), zero_gumbel(), replay_noise((), [zeros]), capture(model, "gmvae") as st:
        model(x_dict(counts, None))
    inf = st["inference"]
    return {"embedder": st["embedder"], "layer0": st["layer0"], "layer1": st["layer1"],
            "prelatent": st["prelatent"], "latent_logits": inf["logits"], "latent_y": inf["categorical"],
            "latent_mean": st["latent_z"], "decoder_mean": st["decoder"]["mean"]}


# ----------------------------------------------------------------------------------------------
# independent float64 re-computation of the losses (documents the semantics)
# ----------------------------------------------------------------------------------------------

def nb_nll(x, mu, theta, eps=1e-10):
    """Negative-binomial NLL with inverse dispersion theta, as CellPLM writes it (eps 1e-10)."""
    from scipy.special import gammaln
    return (gammaln(theta + eps) + gammaln(x + 1.0) - gammaln(x + theta + eps)
            + (theta + x) * np.log(1.0 + mu / (theta + eps)) + x * (np.log(theta + eps) - np.log(mu + eps)))


def reference_recon(counts, mean, disp, mask):
    """L_recon = mean over masked cells of sum over genes of (term A + term B)."""
    x, mu, th, m = (np.asarray(a, np.float64) for a in (counts, mean, disp, mask))
    cells = m.sum(1) > 0
    x, mu, th, m = x[cells], mu[cells], th[cells], m[cells]
    term_a = nb_nll(x, mu / mu.sum(1, keepdims=True) * x.sum(1, keepdims=True), th).sum(1)
    xm, mum, thm = x * m, mu * m, th * m
    term_b = nb_nll(xm, mum / mum.sum(1, keepdims=True) * xm.sum(1, keepdims=True), thm).sum(1)
    return float((term_a + term_b).mean()), int(cells.sum())


def log_normal(x, mu, var, eps=1e-8):
    """Sum over the last axis of log N(x; mu, var + eps)."""
    var = var + eps
    return -0.5 * np.sum(np.log(2 * np.pi) + np.log(var) + (x - mu) ** 2 / var, axis=-1)


def reference_gmvae_terms(t, n_clusters):
    """The Gaussian (single-sample KL) and categorical (KL to uniform) terms before the free-bits max."""
    f = {k: np.asarray(t[k].numpy(), np.float64) for k in
         ("latent_z", "latent_mean", "latent_var", "y_mu", "y_var", "latent_logits")}
    gauss = np.mean(log_normal(f["latent_z"], f["latent_mean"], f["latent_var"])
                    - log_normal(f["latent_z"], f["y_mu"], f["y_var"]))
    logits = f["latent_logits"] - f["latent_logits"].max(1, keepdims=True)
    logq = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    cat = np.mean(np.sum(np.exp(logq) * logq, 1)) + np.log(n_clusters)
    return float(gauss), float(cat)


def reference_vae_kl(t, kl_weight):
    """KL(q || N(0, I)) summed over dims, mean over cells, with CellPLM's sigma = sqrt(exp(lv) + 1e-4)."""
    mu = np.asarray(t["latent_mean"].numpy(), np.float64)
    lv = 2 * np.log(np.sqrt(np.exp(np.asarray(t["latent_logvar_clamped"].numpy(), np.float64)) + 1e-4))
    return float(-0.5 * np.sum(1 + lv - mu ** 2 - np.exp(lv), 1).mean() * kl_weight)


def check_close(name, ref, got, rtol=1e-4):
    """Assert a float32 torch value agrees with a float64 reference."""
    if not math.isclose(ref, got, rel_tol=rtol, abs_tol=1e-4):
        raise AssertionError(f"{name}: float64 reference {ref} vs torch {got}")


# ----------------------------------------------------------------------------------------------
# assembling the file
# ----------------------------------------------------------------------------------------------

def param_tensors(model, prefix):
    """(name, array) for every state_dict entry except OMITTED; plus lists of kinds."""
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    buffers = [n for n, _ in model.named_buffers()]
    items = [(f"{prefix}param/{n}", as_f32(t)) for n, t in model.state_dict().items() if n not in OMITTED]
    return items, {"trainable": trainable, "frozen": frozen, "buffers": buffers}


def omitted_info(model):
    """Describe the tensors left out of the fixture (shape, checksum, how to rebuild)."""
    sd = model.state_dict()
    return [{"name": n, "shape": list(sd[n].shape), "dtype": "f32", "requiresGrad": False,
             "sha256F32LE": hashlib.sha256(as_f32(sd[n]).astype("<f4").tobytes()).hexdigest(),
             "reason": "frozen 2-D sinusoidal PE table (100x100 grid), not used by the released forward "
                       "(the embedder adds a literal 0); deterministic, rebuilt by the model constructor; "
                       "left out to keep the fixture under 2 MB"} for n in OMITTED]


def semantics(model, st_hard_err, mean_vs_sum):
    """Notes on the reference's behaviour that are easy to get wrong (read from the modules)."""
    gn = model.embedder.extra_linear[3]
    ln = model.encoder.layers[0].norm1
    attn = model.encoder.layers[0].self_attn
    gelu = model.encoder.layers[0]._ff_block[1]
    prelu = model.decoder.layers[0][1]
    return {
        "groupNorm": f"GroupNorm({gn.num_groups} groups, eps={gn.eps}), biased variance over each group's "
                     "contiguous channels of one cell, per-channel affine; used in embedder and decoder",
        "layerNorm": f"LayerNorm eps={ln.eps}, affine; pre-LN in each Flowformer layer + pre-latent LayerNorm",
        "prelu": f"PReLU with ONE shared slope (num_parameters={prelu.num_parameters}), init "
                 f"{float(prelu.weight[0])}; decoder hidden layer and each covariate branch have their own",
        "gelu": f"exact erf GELU (approximate='{gelu.approximate}') in the Flowformer FFN (d -> 2d -> d)",
        "flowAttention": f"eps={attn.eps} added to both operands of every flow dot product; conserved source "
                         "clamped to [-1,1]; softmax over cells times N; sigmoid allocation; inner dropout "
                         "p=0.01 hard-coded (set to 0 here)",
        "embedder": "log1p of (masked) raw counts, sparse x gene-embedding matmul, + literal 0 (PE disabled), "
                    "Linear -> ReLU -> Dropout -> GroupNorm; embedder.norm0 and pe_enc.missing_pe are unused",
        "nbLoss": "eps 1e-10; NLL = lgamma(th+eps)+lgamma(x+1)-lgamma(x+th+eps)+(th+x)log(1+mu/(th+eps))"
                  "+x(log(th+eps)-log(mu+eps)). Only masked cells (cells with >=1 masked entry) count. "
                  "Term A: all genes of a masked cell, decoder means rescaled so their sum equals the cell's "
                  "raw-count total. Term B (dae, training only): counts, means and theta multiplied by the "
                  "0/1 mask (unmasked entries then contribute exactly 0), means rescaled to the masked-count "
                  "total. loss_recon = mean over masked cells of sum over genes of (A + B). Targets are the "
                  "UNMASKED raw counts. Term B uses the full-width decoder output, so it only works with "
                  "gene_mask covering all genes.",
        "latentFreeBitsGMVAE": "max(lamda, term) is Python's max on a float and a 0-d tensor: when term > "
                               "lamda the tensor is returned and gradient flows; otherwise the float lamda "
                               "is returned (constant, no gradient). A NaN term compares False and is "
                               "silently replaced by lamda. Applied separately to the Gaussian and the "
                               "categorical term; loss_latent = w_li*max(lamda,gauss) + w_en*max(lamda,cat).",
        "latentGaussTerm": "mean over cells of [log N(z; mu, var+1e-8) - log N(z; y_mu, y_var+1e-8)] summed "
                           "over latent dims (single-sample estimate; can be negative). var, y_var = softplus.",
        "latentCatTerm": "mean over cells of sum_k p_k log p_k + log K (KL to uniform, <= log K). With the "
                         "released lamda 5 > log 16 this term is always clamped (constant 25, no gradient).",
        "gumbel": "training: y = softmax(logits + g) (temperature 1, soft), g = -log(-log(U + 1e-20) + 1e-20), "
                  "U = noise/gumbel_u; eval: hard one-hot of argmax(logits + g) written as the straight-through "
                  "expression (onehot - y).detach() + y, which can differ from exact 0/1 by float32 rounding "
                  f"(max deviation in eval/latent_y here: {st_hard_err:.3g}). The reference draws Gumbel noise in "
                  "eval too, so its embeddings are stochastic; here eval uses g = 0 (argmax of the logits).",
        "evalLoss": "in eval the GMVAE still computes its latent loss, drawing a Gaussian sample (randn_like; "
                    "zeros here) that only affects the loss, and the NB loss uses all cells, term A only",
        "reparameterize": "z = mu + eps * sqrt(var + 1e-10) (GMVAE); eval output is mu (the cell embedding)",
        "decoderDisp": "disp = clamp(exp(dec_disp), 1e-4, 1e4) repeated to N x G (one value per gene)",
        "decoderMean": "mean = clamp(exp(Linear(ReLU(Linear(h)))), 1e-5, 1e6), N x G, before any size-factor "
                       "rescale; NaN hazard: if the pre-activation exceeds ~88, exp gives inf and the clamp's "
                       "zero gradient times inf gives NaN in backward",
        "decoderCovariates": "decoder hidden = GroupNorm(Dropout(PReLU(Linear(z)))); then += "
                             "GroupNorm(PReLU(batch_emb[b])) when 'batch' is given; when it is not given, the "
                             "SUM of all rows of the batch table (detached) goes through the same PReLU+"
                             "GroupNorm. Not the mean: GroupNorm is scale-invariant only up to eps; using the "
                             f"mean row instead changes eval/decoder_mean by up to {mean_vs_sum:.3g} here.",
        "maskBeta": "mask_beta=True is passed positionally into MaskBuilder's edge_mask slot, so "
                    "MaskBuilder.mask_beta stays False: every masked cell uses the constant rate "
                    "mask_feature_rate (no Beta draw). Cells chosen: int(mask_node_rate*N) by "
                    "np.random.permutation; entries: torch.rand(N,G) <= rate.",
        "vaeLatent": "logvar = clamp(Linear, -5, 5); sigma = sqrt(exp(logvar) + 1e-4); the KL uses "
                     "2*log(sigma) as logvar; z = mu + sigma*eps; KL = -0.5*sum(1+lv-mu^2-exp(lv)) mean over "
                     "cells times kl_weight; if KL < lamda the loss is the int 0 (hard threshold, not max). "
                     "kl_weight starts at 0 and rises by 1/10000 per training forward (after the loss); "
                     "OmicsFormer does not pass lamda, so the layer default 1.0 applies in the package.",
        "lossTotal": "loss = loss_latent + loss_recon (the latent PlaceholderLayer adds a 0 tensor first)",
        "dropout": "every nn.Dropout has p=0 here (model_dropout 0 and the Flow_Attention p=0.01 patched)",
    }


def mean_vs_sum_batch(model, counts):
    """How much eval/decoder_mean changes if the mean batch row replaced the (reference) summed row."""
    cov = model.decoder.covariate_layers[0]["batch"]
    original = cov[0].weight.data.clone()
    with torch.no_grad():
        ref = eval_forward(model, counts)["decoder_mean"]
        cov[0].weight.data.div_(cov[0].weight.shape[0])  # sum of scaled rows == mean of original rows
        alt = eval_forward(model, counts)["decoder_mean"]
        cov[0].weight.data.copy_(original)
    return float((ref - alt).abs().max())


def argmax_margin(eval_out):
    """Smallest gap between the two largest eval logits of any cell."""
    top2 = torch.topk(eval_out["latent_logits"], 2, dim=1).values
    return float((top2[:, 0] - top2[:, 1]).min())


def straight_through_error(eval_out):
    """Largest deviation of the eval hard one-hot (straight-through arithmetic) from exact 0/1."""
    y = eval_out["latent_y"]
    exact = torch.nn.functional.one_hot(eval_out["latent_logits"].argmax(1), y.shape[1]).float()
    return float((y - exact).abs().max())


def build_variant(latent_mod, prefix, counts, batch, mask, noise):
    """Build one variant, run its training step (and eval for GMVAE); return tensors and meta parts."""
    model = build_model(latent_mod)
    params, kinds = param_tensors(model, prefix)  # before the step: parameters as used by the forward
    train, grads, grad_none = train_step(model, latent_mod, counts, batch, mask, noise)
    items = params + [(f"{prefix}train/{k}", as_f32(v.reshape(1) if v.dim() == 0 else v))
                      for k, v in train.items()]
    items += [(f"{prefix}grad/{n}", as_f32(g)) for n, g in grads.items()]
    info = {"parameters": kinds, "gradNone": grad_none}
    return model, items, train, info


def verify_losses(gm_train, vae_train, counts, mask_np, n_clusters):
    """Compare both variants' losses with the float64 re-computation; return the numbers for meta."""
    recon, n_masked = reference_recon(counts, gm_train["decoder_mean"], gm_train["decoder_disp"], mask_np)
    check_close("gmvae loss_recon", recon, float(gm_train["loss_recon"]))
    gauss, cat = reference_gmvae_terms(gm_train, n_clusters)
    latent = 5.0 * max(GMVAE_LAMDA, gauss) + 5.0 * max(GMVAE_LAMDA, cat)
    check_close("gmvae loss_latent", latent, float(gm_train["loss_latent"]))
    check_close("gmvae loss", latent + recon, float(gm_train["loss"]))
    vrecon, _ = reference_recon(counts, vae_train["decoder_mean"], vae_train["decoder_disp"], mask_np)
    check_close("vae loss_recon", vrecon, float(vae_train["loss_recon"]))
    kl = reference_vae_kl(vae_train, VAE_KL_WEIGHT)
    check_close("vae loss_latent", kl if kl >= VAE_LAMDA else 0.0, float(vae_train["loss_latent"]))
    if not (gauss > GMVAE_LAMDA and cat > GMVAE_LAMDA and kl > VAE_LAMDA):
        raise AssertionError(f"a latent term is clamped: gauss {gauss} cat {cat} kl {kl}")
    return {"maskedCells": n_masked, "gmvaeGaussTerm": gauss, "gmvaeCatTerm": cat,
            "gmvaeGaussActive": gauss > GMVAE_LAMDA, "gmvaeCatActive": cat > GMVAE_LAMDA,
            "vaeKL": kl, "vaeKLActive": kl > VAE_LAMDA,
            "float64ReferenceAgrees": "loss_recon, loss_latent and loss of both variants within rel 1e-4"}


def describe_groups():
    """Short description of each tensor group."""
    return {
        "param/": "every state_dict entry of the GMVAE model (PyTorch names and shapes, Linear weight out x in) "
                  "except meta.omitted; values before the training step",
        "input/": "counts N x G raw counts (unmasked), batch i32 labels, gene_mask all ones, input_mask N x G "
                  "1 = masked, masked_counts = counts with masked entries set to 0 (what the embedder sees)",
        "noise/": "gumbel_u N x K uniforms replacing rand_like in GumbelSoftmax.sample_gumbel; z_eps N x latent "
                  "replacing randn_like in Gaussian.reparameterize (training forward)",
        "train/": "training-mode forward with input/input_mask and noise/*, batch labels passed to the decoder: "
                  "embedder, layer0, layer1 (encoder layer outputs), prelatent (after pre-latent LayerNorm), "
                  "latent_logits, latent_prob (softmax), latent_y (Gumbel-softmax sample), latent_mean, "
                  "latent_var (softplus), latent_z, y_mu, y_var (prior p(z|y)), decoder_mean (NB means before "
                  "rescale), decoder_disp (N x G), loss_latent, loss_recon, loss (shape [1])",
        "grad/": "d loss / d parameter for every trainable parameter (zeros where PyTorch's grad is None; see "
                 "gradNone)",
        "eval/": "eval-mode forward on the unmasked counts, Gumbel noise = 0, no batch labels (decoder uses the "
                 "summed batch table): embedder, layer0, layer1, prelatent, latent_logits, latent_y (hard, "
                 "straight-through), latent_mean (= cell embedding), decoder_mean",
        "vae/": "diagonal-VAE variant, same input and mask: vae/param/*, vae/noise/z_eps (randn_like in "
                "VAELatentLayer), vae/train/{embedder,layer0,layer1,prelatent,latent_mean,"
                "latent_logvar_clamped,latent_z,decoder_mean,decoder_disp,loss_latent,loss_recon,loss}, "
                "vae/grad/*",
    }


def export(out_path):
    """Run everything, write the fixture, re-read and replay it. Returns (file size, tensors)."""
    torch.set_num_threads(1)
    np.random.seed(SEED)
    rng = np.random.default_rng(SEED)
    counts, batch = make_counts(rng), make_batches(rng)

    probe = build_model("gmvae")
    n_clusters = probe.latent.layers[1].num_clusters
    latent_dim = probe.latent.layers[1].inference.y_mu.out_features
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    mask = draw_mask(probe, counts)
    mask_np = mask[0].numpy().astype(np.float32)
    masked_counts = mask[1].to_dense().numpy().astype(np.float32)
    gumbel_u, z_eps, vae_z_eps = draw_noise(n_clusters, latent_dim)

    gm_model, gm_items, gm_train, gm_info = build_variant(
        "gmvae", "", counts, batch, mask, {"gumbel_u": gumbel_u, "z_eps": z_eps})
    ev = eval_forward(gm_model, counts)  # backward() changed no parameter: same weights as param/*
    _, vae_items, vae_train, vae_info = build_variant(
        "vae", "vae/", counts, batch, mask, {"z_eps": vae_z_eps})
    loss_info = verify_losses(gm_train, vae_train, counts, mask_np, n_clusters)

    tensors = [("input/counts", counts), ("input/batch", batch.astype(np.int32)),
               ("input/gene_mask", np.ones(N_GENES, np.float32)), ("input/input_mask", mask_np),
               ("input/masked_counts", masked_counts),
               ("noise/gumbel_u", as_f32(gumbel_u)), ("noise/z_eps", as_f32(z_eps))]
    tensors += gm_items
    tensors += [(f"eval/{k}", as_f32(v)) for k, v in ev.items()]
    tensors += [("vae/noise/z_eps", as_f32(vae_z_eps))] + vae_items

    kwargs = tiny_kwargs("gmvae")
    meta = {
        "description": "Golden tensors of the reference CellPLM package for Tessera's Swift CellPLM tests; "
                       "regenerate with .venv-bench/bin/python scripts/cellplm_golden.py",
        "generator": "scripts/cellplm_golden.py",
        "versions": {"torch": torch.__version__, "cellplm": importlib.metadata.version("cellplm"),
                     "numpy": np.__version__, "python": platform.python_version()},
        "seed": SEED, "noiseSeed": NOISE_SEED, "torchThreads": 1,
        "omicsFormerKwargs": kwargs,
        "vae": {"omicsFormerKwargs": tiny_kwargs("vae"), "klWeight": VAE_KL_WEIGHT, "lamda": VAE_LAMDA,
                "note": "layer.kl_weight and layer.lamda set on the VAELatentLayer after construction "
                        "(the package starts kl_weight at 0 and uses lamda 1.0)",
                "parameters": vae_info["parameters"], "gradNone": vae_info["gradNone"],
                "config": dict(translate_config(tiny_kwargs("vae")), freeBits=VAE_LAMDA)},
        "parameters": gm_info["parameters"], "gradNone": gm_info["gradNone"],
        "omitted": omitted_info(gm_model),
        "groups": describe_groups(),
        "input": {"cells": N_CELLS, "genes": N_GENES, "zeroFraction": float((counts == 0).mean()),
                  "maxCount": float(counts.max()), "countsAbove10": int((counts > 10).sum()),
                  "maskedCells": int((mask_np.sum(1) > 0).sum()), "maskedEntries": int(mask_np.sum())},
        "losses": loss_info,
        "eval": {"argmaxMinMargin": argmax_margin(ev),
                 "note": "smallest gap between the top two eval logits of a cell (near-ties would make the "
                         "hard branch choice fragile)"},
        "semantics": semantics(gm_model, straight_through_error(ev), mean_vs_sum_batch(gm_model, counts)),
    }
    size = tt.write_tensors(out_path, tensors, "golden", translate_config(kwargs), meta)
    check_file(out_path, tensors)
    replay_from_file(out_path)
    return size, tensors


def check_file(path, tensors):
    """Re-read the file and compare every tensor bit-exactly with what was written."""
    header, got = tt.read_tensors(path)
    if list(got) != [n for n, _ in tensors]:
        raise AssertionError("tensor names differ after reload")
    for name, arr in tensors:
        a = np.ascontiguousarray(arr)
        if got[name].shape != a.shape or got[name].tobytes() != a.astype(got[name].dtype).tobytes():
            raise AssertionError(f"{name} differs after reload")
    return header


def load_params(model, t, prefix):
    """Load a model's parameters from the file's tensors (omitted ones come from the constructor)."""
    sd = model.state_dict()
    for name in sd:
        if name in OMITTED:
            continue
        sd[name] = torch.from_numpy(np.array(t[f"{prefix}param/{name}"]))
    model.load_state_dict(sd)


def compare(label, expected, actual):
    """Bit-exact comparison of a replayed tensor with the stored one."""
    e = np.asarray(expected)
    a = as_f32(actual).reshape(e.shape)
    if not np.array_equal(e, a):
        raise AssertionError(f"replay {label}: max diff {np.abs(e - a).max()}")


def replay_from_file(path):
    """Rebuild both variants from the file alone (other seed), replay train+eval, compare bit-exactly."""
    _, t = tt.read_tensors(path)
    counts = np.array(t["input/counts"])
    batch = np.array(t["input/batch"]).astype(np.int64)
    mask = torch.from_numpy(np.array(t["input/input_mask"])).int()
    masked = torch.from_numpy(np.array(t["input/masked_counts"])).to_sparse()
    for latent_mod, prefix in (("gmvae", ""), ("vae", "vae/")):
        model = build_model(latent_mod, seed=SEED + 123)
        load_params(model, t, prefix)
        noise = {"z_eps": torch.from_numpy(np.array(t[f"{prefix}noise/z_eps"]))}
        if latent_mod == "gmvae":
            noise["gumbel_u"] = torch.from_numpy(np.array(t["noise/gumbel_u"]))
        train, grads, _ = train_step(model, latent_mod, counts, batch, (mask, masked), noise)
        for k, v in train.items():
            compare(f"{prefix}train/{k}", t[f"{prefix}train/{k}"], v)
        for k, v in grads.items():
            compare(f"{prefix}grad/{k}", t[f"{prefix}grad/{k}"], v)
        if latent_mod == "gmvae":
            load_params(model, t, prefix)
            for k, v in eval_forward(model, counts).items():
                compare(f"eval/{k}", t[f"eval/{k}"], v)


def main(argv=None):
    """Command line entry point."""
    p = argparse.ArgumentParser(description="Export CellPLM golden tensors for the Swift tests.")
    p.add_argument("--out", default=DEFAULT_OUT, help="output .tsr (default: the committed fixture path)")
    p.add_argument("--list", action="store_true", help="print every tensor name and shape")
    a = p.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    size, tensors = export(a.out)
    if a.list:
        for name, arr in tensors:
            print(f"{name} {list(np.shape(arr))}")
    digest = hashlib.sha256(open(a.out, "rb").read()).hexdigest()
    print(f"wrote {a.out}: {len(tensors)} tensors, {size:,} bytes, sha256 {digest}; reload and replay OK")
    if size >= MAX_BYTES:
        raise SystemExit(f"error: {a.out} is {size} bytes, over the {MAX_BYTES}-byte fixture budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
