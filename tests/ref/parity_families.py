#!/usr/bin/python3
"""Parity test of every model family and of MoE: the C model
(BUILD/tests/tools/ref_driver_batch) against the PyTorch reference xf_torch_families.py.

usage: /usr/bin/python3 tests/ref/parity_families.py --build BUILD [--case NAME ...] [--keep DIR]
       /usr/bin/python3 tests/ref/parity_families.py --selftest
       /usr/bin/python3 tests/ref/parity_families.py --list

For each case: a small config (C=32, 2-3 layers, V=61, T <= 8), seeded weights (matrices
N(0, std), router weights N(0, router_std), norm weights 1 + N(0, 0.1), biases N(0, 0.1),
e_score_correction_bias N(0, ecb_std)), written as MODEL_DIR/{config.json,
model.safetensors} (F32) and BATCH.safetensors ("ids", "targets" I32 [B,T]; optional
"lengths", "prefix_len", "src_lengths" I64 [B]; "token_types" I32 [B,T]; "src" I32 [B,S]),
then
    ref_driver_batch MODEL_DIR BATCH.safetensors OUT.safetensors
and OUT ("logits", "loss", "aux_loss", "grad.<name>", "train_losses",
"train_aux_losses", "final.<name>" of non-trainable tensors) is compared against the
reference computed by torch in float32 (the gate); the float64 reference is printed
alongside, with torch's own fp32-vs-fp64 error.

Checks per case (lines "PASS parity_<case>_<what>" / "FAIL parity_<case>_<what>: ..."):
  routing  (MoE) the reference's own routing is robust: the smallest score gap that
           decides a selection (rank K-1 vs rank K; with a capacity, every consecutive pair
           of ranks 0..K) (softmax routers: in logits; sigmoid: in score + bias)
           over the first forward and all 10 training forwards is >= MARGIN_MIN, fp32 and
           fp64 select and drop identically, and the case exercises what it is meant to
           (dropped tokens, selections changed by the bias, bias updates).
  outputs  every expected key, F32, right shapes; nothing unexpected ("grad." of a
           non-trainable tensor may be absent).
  logits   max|c - ref| / max|ref| <= 1e-4
  loss     mean CE, |c - ref| / |ref| <= 1e-4
  aux      (MoE) weighted router losses, relative 1e-4; dense models: exactly 0
  grads    every trainable tensor: max|c - ref| / max(max|ref|, 1e-2 G) <= 1e-3, with G
           the largest max|ref| over the case's gradients (parity.py's floor rule);
           non-trainable tensors (the reference has no gradient): max|c| <= 1e-3 * 1e-2 G
  adamw    each of the 10 CE losses relative 1e-3
  adamw_aux (MoE) each of the 10 weighted router losses relative 1e-3
  moe_bias (sigmoid router) e_score_correction_bias after 10 steps, relative 1e-5
Exit 1 if any FAIL.
"""
import argparse
import json
import math
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

TOL_BIAS = 1e-5
MARGIN_MIN = 1e-3  # smallest allowed routing score gap in the reference


try:
    import numpy as np
    import torch
except Exception as e:  # noqa: BLE001  (any import failure means skip)
    import parity_common
    parity_common.skip_without_torch("parity_families", "The C model families and MoE are", e)

import xf_safetensors as st  # noqa: E402
import xf_torch_families as xf  # noqa: E402
from parity_common import (GRAD_FLOOR, TOL_GRAD, TOL_LOGITS, TOL_LOSS, TOL_TRAIN, TRAIN_STEPS,  # noqa: E402
                           check_logits, check_loss, check_outputs, check_series, grad_errors, ok,
                           rel_scalar, rel_tensor, report_grads, reporter, run_driver)

# --------------------------------------------------------------------------- cases
BASE = {
    "model_type": "xfmr", "vocab_size": 61, "hidden_size": 32, "intermediate_size": 80,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
    "max_position_embeddings": 16, "rope_theta": 10000.0, "norm_eps": 1e-5,
    "initializer_range": 0.02,
}
GPT2 = dict(BASE, arch="decoder", hidden_act="gelu_tanh", gated_ffn=False,
            norm_type="layernorm", norm_placement="pre", position_type="learned",
            use_bias=True, tie_word_embeddings=True)
LLAMA = dict(BASE, arch="decoder", num_key_value_heads=2, hidden_act="silu", gated_ffn=True,
             norm_type="rmsnorm", norm_eps=1e-6, norm_placement="pre", position_type="rope",
             use_bias=False, tie_word_embeddings=False)
BERT = dict(BASE, arch="encoder", hidden_act="gelu", gated_ffn=False, norm_type="layernorm",
            norm_eps=1e-12, norm_placement="post", position_type="learned", use_bias=True,
            tie_word_embeddings=True, type_vocab_size=2, embed_layernorm=True,
            mlm_transform=True, lm_head_bias=True)
T5 = dict(BASE, arch="encoder_decoder", num_decoder_layers=3, hidden_act="relu",
          gated_ffn=False, norm_type="rmsnorm", norm_eps=1e-6, norm_placement="pre",
          position_type="relative", relative_attention_num_buckets=32,
          relative_attention_max_distance=128, scale_attn_logits=False, use_bias=False,
          tie_word_embeddings=True, rescale_tied_head=True, decoder_start_token_id=0)
BART = dict(BASE, arch="encoder_decoder", hidden_act="gelu", gated_ffn=False,
            norm_type="layernorm", norm_eps=1e-5, norm_placement="post",
            position_type="learned", position_offset=2, use_bias=True,
            tie_word_embeddings=True, embed_layernorm=True, lm_head_bias=True,
            decoder_start_token_id=2)
SMALL_BUCKETS = {"relative_attention_num_buckets": 8, "relative_attention_max_distance": 20}


def moe(router, E, K, **kw):
    d = {"num_experts": E, "num_experts_per_tok": K, "router_type": router,
         "moe_intermediate_size": kw.pop("Ie", 48), "num_shared_experts": kw.pop("Ns", 0),
         "moe_layer_freq": kw.pop("freq", 1), "first_k_dense_layers": kw.pop("fk", 0),
         "routed_scaling_factor": kw.pop("rsf", 1.0),
         "router_bias_update_speed": kw.pop("speed", 0.001),
         "capacity_factor": kw.pop("cf", 0.0), "router_aux_loss_coef": kw.pop("aux", 0.01),
         "router_z_loss_coef": kw.pop("z", 0.0), "router_jitter": 0.0,
         "n_group": kw.pop("groups", 1), "topk_group": kw.pop("topk_group", 1),
         "seq_aux": kw.pop("seq_aux", False)}
    assert not kw, kw
    return d


def case(name, cfg, B, T, seed, S=None, lengths=None, prefix_len=None, src_lengths=None,
         types=False, targets="random", std=0.3, router_std=None, ecb_std=0.0,
         expect=(), glm=False):
    return {"name": name, "cfg": cfg, "B": B, "T": T, "S": S, "seed": seed, "glm": glm,
            "lengths": lengths, "prefix_len": prefix_len, "src_lengths": src_lengths,
            "types": types, "targets": targets, "std": std, "router_std": router_std,
            "ecb_std": ecb_std, "expect": tuple(expect)}


CASES = [
    # ---- encoder
    case("bert", BERT, 3, 8, 101, lengths=[8, 5, 2], types=True, targets="mlm"),
    case("enc_rel_rms", dict(BASE, arch="encoder", num_key_value_heads=2, hidden_act="silu",
                             gated_ffn=True, norm_type="rmsnorm", norm_eps=1e-6,
                             norm_placement="pre", position_type="relative", use_bias=False,
                             tie_word_embeddings=False, **SMALL_BUCKETS),
         2, 8, 102, lengths=[8, 6], targets="mlm"),
    # ---- prefix LM
    case("prefix_rope", dict(LLAMA, arch="prefix_lm"), 3, 8, 103, prefix_len=[3, 0, 8],
         targets="prefix"),
    case("prefix_learned", dict(GPT2, arch="prefix_lm"), 3, 8, 104, prefix_len=[5, 0, 2],
         lengths=[8, 8, 6], targets="prefix"),
    # GLM's 2D positions: part A at 0..P-1 (block 0), part B's spans at a position of A
    # (repeats) with block positions 1, 2, .. restarting at each span
    case("glm_2d", dict(GPT2, arch="prefix_lm", block_position_embeddings=True), 3, 8, 143,
         prefix_len=[5, 3, 4], lengths=[8, 7, 8], targets="prefix", glm=True),
    case("prefix_rel", dict(GPT2, arch="prefix_lm", position_type="relative",
                            norm_type="rmsnorm", use_bias=False, **SMALL_BUCKETS),
         2, 8, 105, prefix_len=[4, 0], targets="prefix"),
    # ---- decoder with padding
    case("dec_pad", GPT2, 3, 8, 106, lengths=[8, 5, 1]),
    case("dec_pad_rope", LLAMA, 2, 8, 107, lengths=[3, 8]),
    case("dec_empty_row", GPT2, 2, 8, 108, lengths=[8, 0]),
    # ---- encoder-decoder
    case("t5", T5, 2, 7, 109, S=8, std=0.15),
    case("t5v11", dict(T5, num_decoder_layers=2, tie_word_embeddings=False,
                       rescale_tied_head=False, gated_ffn=True, hidden_act="gelu_tanh",
                       **SMALL_BUCKETS), 2, 8, 110, S=6, std=0.15),
    case("bart", BART, 2, 7, 111, S=8),
    case("encdec_pad", dict(GPT2, arch="encoder_decoder", num_key_value_heads=2,
                            tie_word_embeddings=False), 3, 7, 112, S=8,
         lengths=[7, 3, 5], src_lengths=[8, 4, 1]),
    # ---- MoE
    case("moe_mixtral", dict(LLAMA, **moe("softmax_topk_renorm", 4, 2, Ie=48, z=0.001)),
         2, 8, 113, router_std=0.5),
    case("moe_switch", dict(GPT2, num_hidden_layers=3, hidden_act="relu",
                            tie_word_embeddings=False,
                            **moe("softmax_topk", 4, 1, Ie=64, cf=1.0, freq=2, z=0.001)),
         2, 8, 118, router_std=0.5, expect=("drops",)),
    case("moe_deepseek", dict(LLAMA, **moe("sigmoid_topk_norm", 6, 2, Ie=24, Ns=2, fk=1,
                                           rsf=2.5, speed=0.01)),
         2, 8, 135, router_std=0.3, ecb_std=0.15, expect=("bias_changes",)),
    case("moe_deepseek_groups", dict(LLAMA, **moe("sigmoid_topk_norm", 8, 2, Ie=24, Ns=1,
                                                  rsf=2.5, groups=4, topk_group=2,
                                                  seq_aux=True, aux=0.1)),
         2, 8, 141, router_std=0.3, ecb_std=0.15),
    case("moe_v2_groups", dict(GPT2, **moe("softmax_topk", 6, 2, Ie=24, groups=3, topk_group=1,
                                           seq_aux=True, aux=0.05, z=0.001)),
         2, 8, 139, router_std=0.5),
    case("moe_prefix", dict(GPT2, arch="prefix_lm", hidden_act="gelu",
                            **moe("softmax_topk", 4, 2, Ie=40, cf=1.25, z=0.001)),
         2, 8, 123, prefix_len=[3, 0], targets="prefix", router_std=0.5, expect=("drops",)),
    case("moe_encoder", dict(BERT, **moe("softmax_topk_renorm", 4, 2, Ie=40, Ns=1)),
         2, 8, 127, lengths=[8, 5], types=True, targets="mlm", router_std=0.5),
    case("moe_encdec", dict(T5, num_decoder_layers=2, hidden_act="silu", gated_ffn=True,
                            **moe("softmax_topk_renorm", 4, 2, Ie=32, Ns=1, z=0.001)),
         2, 7, 118, S=8, lengths=[6, 7], src_lengths=[8, 5], std=0.15, router_std=0.5),
]
CASE_NAMES = [c["name"] for c in CASES]
assert len(set(CASE_NAMES)) == len(CASE_NAMES)


def make_batch(c, cfg, g):
    """-> (batch dict of int64 tensors, targets int64 [B,T])."""
    B, T, V = c["B"], c["T"], cfg["vocab_size"]
    batch = {"ids": torch.randint(0, V, (B, T), generator=g)}
    targets = torch.randint(0, V, (B, T), generator=g)
    if c["targets"] == "mlm":  # about half of the positions scored
        keep = torch.rand(B, T, generator=g) < 0.5
        keep[:, 0] = True
        targets = torch.where(keep, targets, torch.full_like(targets, -1))
    if c["prefix_len"] is not None:
        P = torch.tensor(c["prefix_len"], dtype=torch.int64)
        batch["prefix_len"] = P
        if c["targets"] == "prefix":  # scored from the last prefix token on
            t = torch.arange(T)[None, :]
            targets = torch.where(t < (P[:, None] - 1), torch.full_like(targets, -1), targets)
    if c["lengths"] is not None:
        Ln = torch.tensor(c["lengths"], dtype=torch.int64)
        batch["lengths"] = Ln
        targets = torch.where(torch.arange(T)[None, :] >= Ln[:, None],
                              torch.full_like(targets, -1), targets)
    if c["types"]:
        batch["token_types"] = torch.randint(0, cfg["type_vocab_size"], (B, T), generator=g)
    if c["glm"]:
        pos = torch.arange(T).repeat(B, 1)
        blk = torch.zeros(B, T, dtype=torch.int64)
        for b in range(B):
            Pb = int(c["prefix_len"][b])
            for t in range(Pb, T):
                new_span = t == Pb or bool(torch.rand(1, generator=g) < 0.3)
                pos[b, t] = (torch.randint(0, Pb, (1,), generator=g) if new_span else pos[b, t - 1])
                blk[b, t] = 1 if new_span else blk[b, t - 1] + 1
        batch["position_ids"] = pos
        batch["block_position_ids"] = blk
    if cfg["arch"] == "encoder_decoder":
        batch["src"] = torch.randint(0, V, (B, c["S"]), generator=g)
        if c["src_lengths"] is not None:
            batch["src_lengths"] = torch.tensor(c["src_lengths"], dtype=torch.int64)
    assert int((targets != -1).sum()) > 0
    return batch, targets


def batch_file_tensors(batch, targets):
    out = {}
    for k, v in batch.items():
        out[k] = v.to(torch.int32) if v.dim() == 2 else v.to(torch.int64)
    out["targets"] = targets.to(torch.int32)
    return out


def build_case(c):
    """-> (cfg, params64 rounded to fp32, batch, targets)."""
    cfg = xf.make_config(c["cfg"])
    g = torch.Generator().manual_seed(1000 + c["seed"])
    p64 = xf.init_params(cfg, g, matrix_std=c["std"], router_std=c["router_std"],
                         ecb_std=c["ecb_std"])
    batch, targets = make_batch(c, cfg, g)
    p64 = {k: v.to(torch.float32).to(torch.float64) for k, v in p64.items()}
    return cfg, p64, batch, targets


# --------------------------------------------------------------------------- reference
def reference(params64, cfg, batch, targets, dtype):
    kinds = {n: k for n, _, k in xf.param_table(cfg)}
    p = {k: v.to(dtype).clone().requires_grad_(kinds[k] != "ecb") for k, v in params64.items()}
    routes = []
    logits, moe_loss = xf.forward(p, cfg, batch, routes)
    loss = xf.loss_fn(logits, targets)
    (loss + moe_loss).backward()
    # a tensor the forward never touched (an expert that got no token) has gradient 0
    grads = {k: (v.grad.detach().clone() if v.grad is not None else torch.zeros_like(v.detach()))
             for k, v in p.items() if kinds[k] != "ecb"}
    ces, moes, final, troutes = xf.train({k: v.to(dtype) for k, v in params64.items()}, cfg,
                                         batch, targets, steps=TRAIN_STEPS)
    return {"logits": logits.detach(), "loss": loss.item(), "aux": float(moe_loss),
            "grads": grads, "train": np.array(ces, dtype=np.float64),
            "train_aux": np.array(moes, dtype=np.float64),
            "final": {k: v for k, v in final.items() if kinds[k] == "ecb"},
            "routes": [routes] + troutes}


def routing_check(cfg, c, r32, r64, params64):
    """(passed, detail) for the reference's routing robustness (MoE cases)."""
    problems = []
    margin = min(rec["margin"] for fw in r64["routes"] for rec in fw)
    margin32 = min(rec["margin"] for fw in r32["routes"] for rec in fw)
    same = all(torch.equal(a["sel"], b["sel"]) and torch.equal(a["kept"], b["kept"])
               for fa, fb in zip(r32["routes"], r64["routes"]) for a, b in zip(fa, fb))
    if not same:
        problems.append("fp32 and fp64 references route differently")
    if not margin >= MARGIN_MIN:
        problems.append(f"smallest routing gap {margin:.3g} < {MARGIN_MIN:g}")
    drops = sum(rec["dropped"] for rec in r64["routes"][0])
    drops_all = sum(rec["dropped"] for fw in r64["routes"] for rec in fw)
    caps = sorted({rec["cap"] for rec in r64["routes"][0] if rec["cap"] is not None})
    detail = (f"{len(r64['routes'][0])} MoE layers; smallest gap {margin:.3g} (fp32 {margin32:.3g},"
              f" need >= {MARGIN_MIN:g}); fp32/fp64 routes identical: {same}")
    if cfg["capacity_factor"] > 0:
        detail += f"; capacity {caps}, dropped {drops} (first forward), {drops_all} (all 11)"
    if "drops" in c["expect"] and drops == 0:
        problems.append("no token dropped by capacity")
    if cfg["router_type"] == "sigmoid_topk_norm":
        changed = sum(rec["bias_changed"] for rec in r64["routes"][0])
        moved = max(float((r64["final"][k] - params64[k]).abs().max()) for k in r64["final"])
        detail += (f"; selections changed by e_score_correction_bias: {changed}; "
                   f"bias moved by up to {moved:.3g} in {TRAIN_STEPS} updates")
        if "bias_changes" in c["expect"] and changed == 0:
            problems.append("e_score_correction_bias changes no selection")
        if moved == 0:
            problems.append("the bias update never moved the bias")
    if problems:
        return False, "; ".join(problems) + "; " + detail
    return True, detail


# --------------------------------------------------------------------------- one case
def run_case(c, driver, workdir, results):
    name = c["name"]
    cfg, params64, batch, targets = build_case(c)
    kinds = {n: k for n, _, k in xf.param_table(cfg)}
    trainable = [k for k in params64 if kinds[k] != "ecb"]
    buffers = [k for k in params64 if kinds[k] == "ecb"]
    is_moe = cfg["num_experts"] > 0

    report = reporter(name, results)

    mdir = os.path.join(workdir, name, "model")
    os.makedirs(mdir, exist_ok=True)
    with open(os.path.join(mdir, "config.json"), "w") as f:
        json.dump(c["cfg"], f, indent=1)
    st.save(os.path.join(mdir, "model.safetensors"),
            {k: v.to(torch.float32) for k, v in params64.items()})
    bpath = os.path.join(workdir, name, "batch.safetensors")
    st.save(bpath, batch_file_tensors(batch, targets))
    outp = os.path.join(workdir, name, "out.safetensors")

    r32 = reference(params64, cfg, batch, targets, torch.float32)
    r64 = reference(params64, cfg, batch, targets, torch.float64)
    if is_moe:
        report("routing", *routing_check(cfg, c, r32, r64, params64))

    # tiny shapes: one thread is faster than paying OpenMP's synchronisation
    out = run_driver(driver, mdir, bpath, outp, report, env=dict(os.environ, OMP_NUM_THREADS="1"))
    if out is None:
        return

    # --- expected keys
    B, T, V = c["B"], c["T"], cfg["vocab_size"]
    expect = {"logits": (B, T, V), "loss": (1,), "aux_loss": (1,),
              "train_losses": (TRAIN_STEPS,), "train_aux_losses": (TRAIN_STEPS,)}
    optional = {}
    for k, v in params64.items():
        if kinds[k] == "ecb":
            optional["grad." + k] = tuple(v.shape)
            expect["final." + k] = tuple(v.shape)
        else:
            expect["grad." + k] = tuple(v.shape)
    check_outputs(out, expect, report, optional)
    check_logits(out, r32, r64, expect["logits"], report)
    check_loss(out, r32, r64, report)

    # --- weighted router losses
    if "aux_loss" in out and out["aux_loss"].size == 1:
        ca = float(out["aux_loss"].reshape(-1)[0])
        if is_moe:
            e32 = rel_scalar(ca, r32["aux"])
            report("aux", ok(e32, TOL_LOSS),
                   f"c {ca:.7g} ref {r32['aux']:.7g} (fp64 {r64['aux']:.9g}); rel {e32:.3g}, "
                   f"vs fp64 {rel_scalar(ca, r64['aux']):.3g}; tol {TOL_LOSS:g}")
        else:
            report("aux", ca == 0.0, f"dense model: c {ca:.3g}, expected 0")
    else:
        report("aux", False, "aux_loss missing or wrong size")

    # --- gradients
    fails, worst, base_worst, G32 = grad_errors(out, r32, r64, params64, trainable)
    for k in buffers:  # no gradient in the reference: absent, or ~0 by the floor rule
        key = "grad." + k
        if key in out and tuple(out[key].shape) == tuple(params64[k].shape):
            e32, num, den = rel_tensor(out[key], np.zeros(params64[k].shape), GRAD_FLOOR * G32)
            if not ok(e32, TOL_GRAD):
                fails.append(f"{k} (not trainable; reference has no gradient): max|c| {num:.3g}")
    report_grads(fails, worst, base_worst, len(params64),
                 f"{len(trainable)} tensors (+{len(buffers)} buffers)", report)

    # --- AdamW training losses
    check_series(out, "train_losses", "adamw", r32["train"], r64["train"], report)
    if is_moe:
        check_series(out, "train_aux_losses", "adamw_aux", r32["train_aux"], r64["train_aux"], report)

    # --- the balancing bias after 10 updates
    if buffers:
        fails = []
        worst = 0.0
        for k in buffers:
            key = "final." + k
            if key not in out or tuple(out[key].shape) != tuple(params64[k].shape):
                fails.append(f"{k}: missing/wrong shape")
                continue
            e32, num, den = rel_tensor(out[key], r32["final"][k])
            worst = max(worst, e32)
            if not ok(e32, TOL_BIAS):
                fails.append(f"{k}: rel {e32:.3g} (abs {num:.3g}); c {np.round(out[key], 6)} ref "
                             f"{np.round(r32['final'][k].numpy(), 6)} start "
                             f"{np.round(params64[k].numpy(), 6)}")
        report("moe_bias", not fails, "; ".join(fails) if fails else
               f"{len(buffers)} tensors; worst rel {worst:.3g}; tol {TOL_BIAS:g}")


# --------------------------------------------------------------------------- selftest
def naive_forward(p, cfg, batch):
    """Independent loop-based float64 numpy forward of any family (self-test only).
    -> (logits [B,T,V], weighted MoE loss)."""
    P = {k: v.detach().double().numpy() for k, v in p.items()}
    C, H, Hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = C // H
    eps = cfg["norm_eps"]
    a = cfg["hidden_act"]

    def actf(x):
        if a == "gelu":
            return np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
        if a == "gelu_tanh":
            return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
        if a == "relu":
            return np.maximum(x, 0)
        return x / (1 + np.exp(-x))

    def nrm(x, pre):
        w = P[pre + ".weight"]
        if cfg["norm_type"] == "layernorm":
            mu = x.mean()
            var = ((x - mu) ** 2).mean()
            return (x - mu) / math.sqrt(var + eps) * w + P[pre + ".bias"]
        return x / math.sqrt((x ** 2).mean() + eps) * w

    def ln(x, pre):
        y = P[pre + ".weight"] @ x
        return y + P[pre + ".bias"] if pre + ".bias" in P else y

    def rope(vec, t):
        out = vec.copy()
        for i in range(D // 2):
            ang = t * cfg["rope_theta"] ** (-2.0 * i / D)
            x1, x2 = vec[i], vec[i + D // 2]
            out[i] = x1 * math.cos(ang) - x2 * math.sin(ang)
            out[i + D // 2] = x2 * math.cos(ang) + x1 * math.sin(ang)
        return out

    def get(k, b):
        v = batch.get(k)
        return None if v is None else int(v[b])

    def attn(xq, xkv, names, allowed, relb, use_rope):
        """xq, xkv: lists of vectors of one row."""
        Tq, Tk = len(xq), len(xkv)
        qs = [ln(xq[i], names["q"]).reshape(H, D) for i in range(Tq)]
        ks = [ln(xkv[j], names["k"]).reshape(Hkv, D) for j in range(Tk)]
        vs = [ln(xkv[j], names["v"]).reshape(Hkv, D) for j in range(Tk)]
        if use_rope:
            qs = [np.stack([rope(q[h], i) for h in range(H)]) for i, q in enumerate(qs)]
            ks = [np.stack([rope(k[h], j) for h in range(Hkv)]) for j, k in enumerate(ks)]
        scale = 1 / math.sqrt(D) if cfg["scale_attn_logits"] else 1.0
        outs = []
        for i in range(Tq):
            o = np.zeros((H, D))
            js = [j for j in range(Tk) if allowed(i, j)]
            for h in range(H):
                kh = h // (H // Hkv)
                if not js:
                    continue
                s = np.array([qs[i][h] @ ks[j][kh] * scale + (relb(i, j, h) if relb else 0.0)
                              for j in js])
                e = np.exp(s - s.max())
                w = e / e.sum()
                o[h] = sum(w[n] * vs[j][kh] for n, j in enumerate(js))
            outs.append(ln(o.reshape(-1), names["o"]))
        return outs

    def dense(x, names):
        if names["gate"] is not None:
            u = actf(ln(x, names["gate"])) * ln(x, names["up"])
        else:
            u = actf(ln(x, names["up"]))
        return ln(u, names["down"])

    moe_total = [0.0]

    def moe_layer(rows, pre, spre):
        """rows: list over b of lists over t of vectors -> same shape."""
        E, K = cfg["num_experts"], cfg["num_experts_per_tok"]
        toks = [(b, t) for b in range(len(rows)) for t in range(len(rows[b]))]
        N = len(toks)
        Wr = P[pre + "gate.weight"]
        sels, ws, probs, lses = [], [], [], []
        for b, t in toks:
            lg = Wr @ rows[b][t]
            lses.append(math.log(sum(math.exp(v) for v in lg)))
            if cfg["router_type"] == "sigmoid_topk_norm":
                s = 1 / (1 + np.exp(-lg))
                pr = s / s.sum()
                score = s + P[pre + "gate.e_score_correction_bias"]
            else:
                s = np.exp(lg - lg.max())
                s = s / s.sum()
                pr = s
                score = s
            G, TG = cfg["n_group"], cfg["topk_group"]
            if G > 1 and TG < G:
                gsz = E // G
                sig = cfg["router_type"] == "sigmoid_topk_norm"
                gsc = [sum(sorted(score[g * gsz:(g + 1) * gsz])[-2:]) if sig and gsz > 1
                       else max(score[g * gsz:(g + 1) * gsz]) for g in range(G)]
                best = sorted(range(G), key=lambda g: (-gsc[g], g))[:TG]
                score = np.array([score[e] if e // gsz in best else -np.inf for e in range(E)])
            sel = sorted(range(E), key=lambda e: (-score[e], e))[:K]
            w = np.array([s[e] for e in sel])
            if cfg["router_type"] != "softmax_topk":
                w = w / w.sum()
            sels.append(sel)
            ws.append(w * cfg["routed_scaling_factor"])
            probs.append(pr)
        keep = [[True] * K for _ in range(N)]
        if cfg["capacity_factor"] > 0:
            cap = math.ceil(K * N * cfg["capacity_factor"] / E)
            used = [0] * E
            for r in range(K):
                for n in range(N):
                    e = sels[n][r]
                    if used[e] < cap:
                        used[e] += 1
                    else:
                        keep[n][r] = False
        out = [[None] * len(r) for r in rows]
        for n, (b, t) in enumerate(toks):
            x = rows[b][t]
            y = np.zeros(C)
            for r in range(K):
                if not keep[n][r]:
                    continue
                ep = pre + f"experts.{sels[n][r]}."
                h = actf(P[ep + "w1.weight"] @ x)
                if cfg["gated_ffn"]:
                    h = h * (P[ep + "w3.weight"] @ x)
                y = y + ws[n][r] * (P[ep + "w2.weight"] @ h)
            if cfg["num_shared_experts"] > 0:
                y = y + dense(x, {"gate": spre + "gate_proj" if cfg["gated_ffn"] else None,
                                  "up": spre + "up_proj", "down": spre + "down_proj"})
            out[b][t] = y
        Fr = [sum(e in sel for sel in sels) / N for e in range(E)]
        Pm = [sum(pr[e] for pr in probs) / N for e in range(E)]
        aux = E / K * sum(f * q for f, q in zip(Fr, Pm))
        if cfg["seq_aux"]:  # per sequence (row b), averaged over the rows
            aux = 0.0
            for b in range(len(rows)):
                ns = [n for n, (bb, _) in enumerate(toks) if bb == b]
                Tb = len(ns)
                aux += E / K * sum(sum(e in sels[n] for n in ns) / Tb *
                                   sum(probs[n][e] for n in ns) / Tb for e in range(E))
            aux /= len(rows)
        z = sum(v * v for v in lses) / N
        moe_total[0] += cfg["router_aux_loss_coef"] * aux + cfg["router_z_loss_coef"] * z
        return out

    def stack(nm, kind, L, ids, types, lens, prefs, enc):
        Bn, T = len(ids), len(ids[0])
        rows = []
        for b in range(Bn):
            xs = []
            for t in range(T):
                x = P[nm.wte()][ids[b][t]].copy()
                if cfg["position_type"] == "learned":
                    pt = t if batch.get("position_ids") is None else int(batch["position_ids"][b][t])
                    x = x + P[nm.wpe()][pt + cfg["position_offset"]]
                if nm.single and cfg["block_position_embeddings"]:
                    bl = 0 if batch.get("block_position_ids") is None else int(batch["block_position_ids"][b][t])
                    x = x + P[nm.bpe()][bl]
                if nm.single and cfg["type_vocab_size"] > 0:
                    x = x + P[nm.tte()][types[b][t] if types is not None else 0]
                if cfg["embed_layernorm"]:
                    x = nrm(x, nm.emb_norm())
                xs.append(x)
            rows.append(xs)
        nb, md = cfg["relative_attention_num_buckets"], cfg["relative_attention_max_distance"]
        relb = None
        if cfg["position_type"] == "relative":
            tab = P[nm.relbias()]

            def relb(i, j, h):
                return tab[xf.relative_bucket(j - i, kind == "enc", nb, md), h]
        pre = cfg["norm_placement"] == "pre"
        for l in range(L):
            def allowed_fn(b):
                ln_ = lens[b] if lens is not None else T
                Pb = prefs[b] if prefs is not None else 0
                if kind == "enc":
                    return lambda i, j: j < ln_
                if kind == "dec":
                    return lambda i, j: j <= i and j < ln_
                return lambda i, j: (j < Pb or j <= i) and j < ln_

            hs = []
            for b in range(Bn):
                xs = rows[b]
                src = [nrm(x, nm.n1(l)) for x in xs] if pre else xs
                at = attn(src, src, nm.attn(l), allowed_fn(b), relb,
                          cfg["position_type"] == "rope")
                h = [xs[t] + at[t] for t in range(T)]
                if not pre:
                    h = [nrm(v, nm.n1(l)) for v in h]
                if enc is not None:
                    eo, slen = enc
                    sl = slen[b] if slen is not None else len(eo[b])
                    q = [nrm(v, nm.nx(l)) for v in h] if pre else h
                    ca = attn(q, eo[b], nm.cross(l), lambda i, j: j < sl, None, False)
                    h = [h[t] + ca[t] for t in range(T)]
                    if not pre:
                        h = [nrm(v, nm.nx(l)) for v in h]
                hs.append(h)
            fin = [[nrm(v, nm.n2(l)) for v in h] for h in hs] if pre else hs
            if xf.layer_is_moe(cfg, l):
                f = moe_layer(fin, nm.moe(l), nm.shared(l))
            else:
                f = [[dense(v, nm.mlp(l, cfg["gated_ffn"])) for v in r] for r in fin]
            rows = [[hs[b][t] + f[b][t] for t in range(T)] for b in range(Bn)]
            if not pre:
                rows = [[nrm(v, nm.n2(l)) for v in r] for r in rows]
        if pre:
            rows = [[nrm(v, nm.final()) for v in r] for r in rows]
        return rows

    ids = np.asarray(batch["ids"]).tolist()
    Bn = len(ids)
    lens = None if batch.get("lengths") is None else [get("lengths", b) for b in range(Bn)]
    if cfg["arch"] == "encoder_decoder":
        src = np.asarray(batch["src"]).tolist()
        sl = (None if batch.get("src_lengths") is None
              else [get("src_lengths", b) for b in range(Bn)])
        eo = stack(xf.Names("encoder"), "enc", cfg["num_hidden_layers"], src, None, sl, None,
                   None)
        nm = xf.Names("decoder")
        rows = stack(nm, "dec", cfg["num_decoder_layers"], ids, None, lens, None, (eo, sl))
    else:
        nm = xf.Names("model")
        kind = {"decoder": "dec", "encoder": "enc", "prefix_lm": "prefix"}[cfg["arch"]]
        types = None if batch.get("token_types") is None else np.asarray(
            batch["token_types"]).tolist()
        prefs = (None if batch.get("prefix_len") is None
                 else [get("prefix_len", b) for b in range(Bn)])
        rows = stack(nm, kind, cfg["num_hidden_layers"], ids, types, lens, prefs, None)
    W = P["lm_head.weight"] if not cfg["tie_word_embeddings"] else P[nm.wte()]
    logits = np.zeros((Bn, len(ids[0]), cfg["vocab_size"]))
    for b in range(Bn):
        for t in range(len(ids[0])):
            h = rows[b][t]
            if cfg["mlm_transform"]:
                h = nrm(actf(ln(h, "mlm_head.dense")), "mlm_head.norm")
            if cfg["tie_word_embeddings"] and cfg["rescale_tied_head"]:
                h = h * cfg["hidden_size"] ** -0.5
            logits[b, t] = W @ h + (P["lm_head.bias"] if cfg["lm_head_bias"] else 0.0)
    return logits, moe_total[0]


# documented bucket boundaries (docs/algorithms.md §2.3; 32 buckets, distance 128)
BIDIR_BOUNDS = [(8, 8), (12, 9), (16, 10), (23, 11), (32, 12), (46, 13), (64, 14), (91, 15)]
UNI_BOUNDS = [(16, 16), (19, 17), (21, 18), (24, 19), (27, 20), (31, 21), (35, 22), (40, 23),
              (46, 24), (52, 25), (59, 26), (67, 27), (77, 28), (87, 29), (99, 30), (113, 31)]


def expected_bucket(n, bounds, nexact):
    if n < nexact:
        return n
    return [bk for lo, bk in bounds if n >= lo][-1]


def tiny(c_in):
    """A smaller copy of a case config for the slow loop forward and gradcheck."""
    c = dict(c_in, vocab_size=13, hidden_size=16, intermediate_size=12,
             num_attention_heads=4, max_position_embeddings=9)
    if c.get("num_experts"):
        c["moe_intermediate_size"] = 8
    return c


def selftest(only=None):
    results = []

    def rep(name, passed, detail=""):
        print(f"{'PASS' if passed else 'FAIL'} selftest_{name}" + (f": {detail}" if detail else ""),
              flush=True)
        results.append(bool(passed))

    # 1. safetensors round trip
    try:
        st._selftest()
        rep("safetensors_roundtrip", True)
    except Exception as e:  # noqa: BLE001
        rep("safetensors_roundtrip", False, repr(e))

    # 2. decoder without MoE == xf_torch_model (forward, gradients, AdamW losses)
    import parity
    import xf_torch_model as xm
    for name, cfg_in, B, T, kind, seed in parity.CASES:
        cfg = xf.make_config(cfg_in)
        cm = xm.make_config(cfg_in)
        g = torch.Generator().manual_seed(1000 + seed)
        p = xm.init_params(cm, g, dtype=torch.float64, mode="test",
                           matrix_std=parity.case_std(cm))
        ids, tg = parity.make_batch(cm, B, T, kind, g)
        names_ok = [n for n, _, _ in xf.param_table(cfg)] == list(p.keys())
        pa = {k: v.clone().requires_grad_(True) for k, v in p.items()}
        pb = {k: v.clone().requires_grad_(True) for k, v in p.items()}
        la = xm.forward(pa, cm, ids)
        lb, mb = xf.forward(pb, cfg, {"ids": ids})
        xm.loss_fn(la, tg).backward()
        (xf.loss_fn(lb, tg) + mb).backward()
        el = float((la - lb).abs().max() / la.abs().max())
        G = max(float(pa[k].grad.abs().max()) for k in p)
        eg = max(rel_tensor(pb[k].grad, pa[k].grad, GRAD_FLOOR * G)[0] for k in p)
        ta = xm.adamw_losses(p, cm, ids, tg)
        tb = xf.train(p, cfg, {"ids": ids}, tg)[0]
        et = max(abs(x - y) / abs(x) for x, y in zip(ta, tb))
        rep(f"same_as_xf_torch_model_{name}", names_ok and el < 1e-12 and eg < 1e-9 and et < 1e-12,
            f"names {'same' if names_ok else 'DIFFER'}; logits {el:.3g} grads {eg:.3g} "
            f"adamw {et:.3g}")

    # 3. relative buckets against the documented boundaries (32 buckets, distance 128)
    bad = []
    for n in range(0, 300):
        eb = expected_bucket(n, BIDIR_BOUNDS, 8)
        for rel, off in ((-n, 0), (n, 16 if n > 0 else 0)):
            if xf.relative_bucket(rel, True, 32, 128) != eb + off:
                bad.append(f"bidir rel {rel}: {xf.relative_bucket(rel, True, 32, 128)} != {eb + off}")
        eu = expected_bucket(n, UNI_BOUNDS, 16)
        if xf.relative_bucket(-n, False, 32, 128) != eu:
            bad.append(f"uni rel {-n}: {xf.relative_bucket(-n, False, 32, 128)} != {eu}")
        if n > 0 and xf.relative_bucket(n, False, 32, 128) != 0:
            bad.append(f"uni rel {n} (future) not bucket 0")
    rep("relative_buckets_documented", not bad, "; ".join(bad[:6]))
    # the small tables of the cases: no log value within 1e-6 of an integer for |rel| < 9,
    # so float32 vs float64 logarithms cannot pick different buckets
    close = []
    for nbk, md in ((8, 20), (32, 128)):
        for bidir in (True, False):
            nb = nbk // 2 if bidir else nbk
            me = nb // 2
            for n in range(me + 1, 9):
                v = math.log(n / me) / math.log(md / me) * (nb - me)
                if abs(v - round(v)) < 1e-6:
                    close.append(f"nb {nbk} md {md} bidir {bidir} n {n}: {v!r}")
    small = [xf.relative_bucket(r, True, 8, 20) for r in range(-7, 8)] + \
        [xf.relative_bucket(r, False, 8, 20) for r in range(-7, 8)]
    rep("relative_buckets_cases", not close,
        ("; ".join(close) if close else "no boundary within 1e-6") +
        f"; (8, 20) buckets rel -7..7: bidir {small[:15]} uni {small[15:]}")

    # 4. every family against the independent loop forward (float64), tiny shapes
    for c in CASES:
        if only and c["name"] not in only:
            continue
        cfg = xf.make_config(tiny(c["cfg"]))
        g = torch.Generator().manual_seed(c["seed"])
        p = xf.init_params(cfg, g, matrix_std=0.4, router_std=c["router_std"] and 0.8,
                           ecb_std=c["ecb_std"])
        cc = dict(c, B=c["B"], T=min(c["T"], 6), S=c["S"] and min(c["S"], 7),
                  lengths=c["lengths"] and [min(v, 6) for v in c["lengths"]],
                  prefix_len=c["prefix_len"] and [min(v, 6) for v in c["prefix_len"]],
                  src_lengths=c["src_lengths"] and [min(v, 7) for v in c["src_lengths"]])
        batch, tg = make_batch(cc, cfg, g)
        routes = []
        la, ma = xf.forward(p, cfg, batch, routes)
        lb, mb = naive_forward(p, cfg, batch)
        el = float(np.max(np.abs(la.detach().numpy() - lb)) / np.max(np.abs(lb)))
        em = abs(float(ma) - mb) / abs(mb) if mb else abs(float(ma))
        info = ""
        if routes:
            info = (f"; gap {min(r['margin'] for r in routes):.3g} dropped "
                    f"{sum(r['dropped'] for r in routes)}")
        rep(f"loop_forward_{c['name']}", el < 1e-12 and em < 1e-12,
            f"logits {el:.3g} moe loss {em:.3g}{info}")

    # 5. gradcheck (float64) of CE + MoE losses w.r.t. every trainable tensor
    gc = ["bert", "enc_rel_rms", "prefix_rope", "prefix_learned", "glm_2d", "dec_empty_row", "t5", "bart",
          "encdec_pad", "moe_mixtral", "moe_switch", "moe_deepseek", "moe_deepseek_groups",
          "moe_v2_groups", "moe_prefix", "moe_encdec"]
    for c in CASES:
        if c["name"] not in gc or (only and c["name"] not in only):
            continue
        small_cfg = dict(tiny(c["cfg"]), hidden_size=8, intermediate_size=6,
                         num_attention_heads=2, num_key_value_heads=min(
                             2, c["cfg"]["num_key_value_heads"]), vocab_size=7)
        if small_cfg.get("num_experts"):
            small_cfg["moe_intermediate_size"] = 4
        cfg = xf.make_config(small_cfg)
        g = torch.Generator().manual_seed(7 + c["seed"])
        p = xf.init_params(cfg, g, matrix_std=0.5, router_std=c["router_std"] and 1.0,
                           ecb_std=c["ecb_std"])
        cc = dict(c, B=2, T=4, S=c["S"] and 5,
                  lengths=c["lengths"] and [min(v, 4) for v in c["lengths"][:2]],
                  prefix_len=c["prefix_len"] and [min(v, 4) for v in c["prefix_len"][:2]],
                  src_lengths=c["src_lengths"] and [min(v, 5) for v in c["src_lengths"][:2]])
        batch, tg = make_batch(cc, cfg, g)
        kinds = {n: k for n, _, k in xf.param_table(cfg)}
        names = [k for k in p if kinds[k] != "ecb"]
        fixed = {k: v for k, v in p.items() if kinds[k] == "ecb"}
        leaves = tuple(p[k].clone().requires_grad_(True) for k in names)
        routes = []
        xf.forward(p, cfg, batch, routes)
        gap = min((r["margin"] for r in routes), default=float("inf"))

        def f(*ts, names=names, cfg=cfg, batch=batch, tg=tg, fixed=fixed):
            d = dict(zip(names, ts), **fixed)
            lo, mo = xf.forward(d, cfg, batch)
            return xf.loss_fn(lo, tg) + mo

        try:
            passed = torch.autograd.gradcheck(f, leaves, eps=1e-6, atol=1e-6, rtol=1e-4,
                                              fast_mode=True)
            rep(f"gradcheck_{c['name']}", bool(passed) and gap > 1e-4,
                f"{sum(t.numel() for t in leaves)} params; routing gap {gap:.3g}")
        except Exception as e:  # noqa: BLE001
            rep(f"gradcheck_{c['name']}", False, str(e).splitlines()[0][:300])

    # 6. the AdamW recipe of train() == torch.optim.AdamW (float64, a MoE case)
    c = CASES[CASE_NAMES.index("moe_mixtral")]
    cfg, p, batch, tg = build_case(c)
    mine = xf.train(p, cfg, batch, tg)[0]
    ps = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    opt = torch.optim.AdamW([{"params": [v for v in ps.values() if v.dim() >= 2],
                              "weight_decay": 0.1},
                             {"params": [v for v in ps.values() if v.dim() < 2],
                              "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    theirs = []
    for it in range(TRAIN_STEPS):
        for gr in opt.param_groups:
            gr["lr"] = xf.get_lr(it)
        opt.zero_grad(set_to_none=True)
        lo, mo = xf.forward(ps, cfg, batch)
        ce = xf.loss_fn(lo, tg)
        theirs.append(ce.item())
        (ce + mo).backward()
        torch.nn.utils.clip_grad_norm_(list(ps.values()), 1.0)
        opt.step()
    err = max(abs(x - y) / abs(y) for x, y in zip(mine, theirs))
    rep("adamw_vs_torch_optim", err < 1e-10 and mine[-1] < mine[0],
        f"max rel {err:.3g}; losses {mine[0]:.4f} -> {mine[-1]:.4f}")

    # 7. per parity case: fp32-vs-fp64 noise of torch itself and routing robustness
    for c in CASES:
        if only and c["name"] not in only:
            continue
        cfg, p64, batch, tg = build_case(c)
        r32 = reference(p64, cfg, batch, tg, torch.float32)
        r64 = reference(p64, cfg, batch, tg, torch.float64)
        el = rel_tensor(r32["logits"], r64["logits"])[0]
        G = max(float(v.abs().max()) for v in r64["grads"].values())
        eg = max(rel_tensor(r32["grads"][k], r64["grads"][k], GRAD_FLOOR * G)[0]
                 for k in r64["grads"])
        et = max(rel_scalar(a, b) for a, b in zip(r32["train"], r64["train"]))
        passed = el < TOL_LOGITS / 10 and eg < TOL_GRAD / 10 and et < TOL_TRAIN / 10
        detail = (f"logits {el:.3g} grads {eg:.3g} adamw {et:.3g}; losses "
                  f"{r64['train'][0]:.4f} -> {r64['train'][-1]:.4f}")
        if cfg["num_experts"]:
            ea = max(rel_scalar(a, b) for a, b in zip(r32["train_aux"], r64["train_aux"]))
            passed = passed and ea < TOL_TRAIN / 10
            rok, rdetail = routing_check(cfg, c, r32, r64, p64)
            passed = passed and rok
            detail += f"; aux {ea:.3g} ({r64['train_aux'][0]:.4g}); {rdetail}"
        rep(f"fp32_vs_fp64_{c['name']}", passed, detail)

    nfail = results.count(False)
    print(f"selftest: {len(results) - nfail} passed, {nfail} failed")
    return 1 if nfail else 0


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--build", default="build", help="build directory (default build)")
    ap.add_argument("--driver", help="driver path (default BUILD/tests/tools/ref_driver_batch)")
    ap.add_argument("--case", action="append", help="run only these cases (repeatable)")
    ap.add_argument("--keep", help="write the case files under this directory and keep them")
    ap.add_argument("--selftest", action="store_true", help="check the reference itself")
    ap.add_argument("--list", action="store_true", help="list the cases")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    if args.case:
        unknown = set(args.case) - set(CASE_NAMES)
        if unknown:
            print(f"FAIL parity_args: unknown case(s) {sorted(unknown)}")
            return 1

    if args.list:
        for c in CASES:
            extra = {k: c[k] for k in ("S", "lengths", "prefix_len", "src_lengths")
                     if c[k] is not None}
            print(c["name"], f"B={c['B']} T={c['T']} targets={c['targets']}",
                  json.dumps(extra), json.dumps({k: v for k, v in c["cfg"].items()
                                                 if k not in BASE or BASE[k] != v}))
        return 0
    if args.selftest:
        return selftest(args.case)

    driver = os.path.abspath(args.driver or os.path.join(args.build, "tests", "tools",
                                                         "ref_driver_batch"))
    cases = [c for c in CASES if not args.case or c["name"] in args.case]
    if not os.path.isfile(driver):
        print(f"FAIL parity_families_driver: {driver} not found (build it: make tests-build)")
        return 1
    results = []
    workdir = args.keep or tempfile.mkdtemp(prefix="xf_parity_families_")
    try:
        for c in cases:
            try:
                run_case(c, driver, workdir, results)
            except Exception as e:  # noqa: BLE001
                print(f"FAIL parity_{c['name']}_harness: {type(e).__name__}: {e}", flush=True)
                results.append(False)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    nfail = results.count(False)
    print(f"parity_families: {len(results) - nfail} passed, {nfail} failed ({len(cases)} cases)")
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
