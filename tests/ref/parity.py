#!/usr/bin/python3
"""Parity test: the C model (BUILD/tests/tools/ref_driver) against the PyTorch reference.

usage: /usr/bin/python3 tests/ref/parity.py --build BUILD [--case NAME ...] [--keep DIR]
       /usr/bin/python3 tests/ref/parity.py --selftest
       /usr/bin/python3 tests/ref/parity.py --list

For each case: build a small config, init weights (seeded; matrices N(0, 0.3), less for
C > 48 (case_std); norm weights 1 + N(0, 0.1); biases N(0, 0.1)), write
MODEL_DIR/{config.json, model.safetensors} (F32) and BATCH.safetensors ("inputs",
"targets" I32 [B,T]), run
    ref_driver MODEL_DIR BATCH.safetensors OUT.safetensors
and compare OUT ("logits", "loss", "grad.<name>", "train_losses") against the
reference computed by torch in float32 (the gate); the float64 reference is printed
alongside as information, together with the fp32-vs-fp64 error of torch itself.

Error measures (ref = torch float32 result):
  tensor  : max|c - ref| / max|ref|   (one scalar per tensor; max|ref| of that tensor)
  gradient: max|c - ref| / max(max|ref|, 1e-2 * G), G = the largest max|ref| over all
            gradient tensors of the case.  The floor matters only for gradients that
            are analytically ~0 (k_proj.bias: a key bias shifts every score of a row
            equally, so softmax is invariant; its true gradient is 0 and fp32 gives
            ~1e-9 noise), which would otherwise divide noise by noise.  With learned
            or no positions k_proj.bias is such a tensor; with RoPE it is not.
  scalar  : |c - ref| / |ref|
Tolerances: logits 1e-4, loss 1e-4, every gradient tensor 1e-3, each of the 10 AdamW
losses 1e-3.

Output: one line per case and check: "PASS parity_<case>_<what>" or
"FAIL parity_<case>_<what>: detail".  Exit 1 if any FAIL.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import numpy as np
    import torch
except Exception as e:  # noqa: BLE001  (any import failure means skip)
    import parity_common
    parity_common.skip_without_torch("parity", "The C model is", e)

import xf_safetensors as st  # noqa: E402
import xf_torch_model as xm  # noqa: E402
from parity_common import (GRAD_FLOOR, TOL_GRAD, TOL_LOGITS, TOL_TRAIN, TRAIN_STEPS,  # noqa: E402
                           check_logits, check_loss, check_outputs, check_series, grad_errors,
                           rel_scalar, rel_tensor, report_grads, reporter, run_driver)

# --------------------------------------------------------------------------- cases
BASE = {
    "arch": "decoder", "model_type": "xfmr",
    "vocab_size": 61, "hidden_size": 32, "intermediate_size": 80,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
    "max_position_embeddings": 16, "rope_theta": 10000.0, "norm_eps": 1e-5,
    "initializer_range": 0.02,
}
GPT2 = dict(BASE, hidden_act="gelu_tanh", gated_ffn=False, norm_type="layernorm",
            norm_placement="pre", position_type="learned", use_bias=True,
            tie_word_embeddings=True)
LLAMA = dict(BASE, vocab_size=67, hidden_size=48, intermediate_size=96,
             num_attention_heads=4, num_key_value_heads=2, hidden_act="silu",
             gated_ffn=True, norm_type="rmsnorm", norm_eps=1e-6, norm_placement="pre",
             position_type="rope", use_bias=False, tie_word_embeddings=False)

# name -> (config, B, T, targets kind, seed)
CASES = [
    ("gpt2", GPT2, 2, 9, "random", 1),
    ("llama", LLAMA, 3, 11, "random", 2),
    ("postnorm", dict(GPT2, norm_placement="post"), 2, 9, "random", 3),
    ("postnorm_rms", dict(LLAMA, norm_placement="post"), 2, 10, "random", 4),
    ("mqa", dict(LLAMA, num_key_value_heads=1), 2, 9, "random", 5),
    ("gpt2_untied", dict(GPT2, tie_word_embeddings=False, num_hidden_layers=3), 2, 16,
     "random", 6),
    ("llama_tied", dict(LLAMA, tie_word_embeddings=True, rope_theta=500.0), 2, 9,
     "random", 7),
    ("gelu", dict(GPT2, hidden_act="gelu"), 2, 9, "random", 8),
    ("geglu", dict(LLAMA, hidden_act="gelu", use_bias=True, num_key_value_heads=4), 2, 9,
     "random", 9),
    ("relu", dict(GPT2, hidden_act="relu", tie_word_embeddings=False), 2, 9, "random", 10),
    ("posnone", dict(GPT2, position_type="none"), 2, 9, "random", 11),
    ("ignore", GPT2, 3, 9, "ignore", 12),
    ("llama_ignore", LLAMA, 2, 9, "ignore", 13),
    ("ln_nobias", dict(GPT2, use_bias=False, gated_ffn=True, hidden_act="silu"), 2, 9,
     "random", 14),
    # wider shapes, so blocked/threaded kernel paths are exercised too
    ("gpt2_wide", dict(GPT2, vocab_size=257, hidden_size=128, intermediate_size=512,
                       num_attention_heads=4, num_key_value_heads=4,
                       max_position_embeddings=64), 2, 64, "random", 15),
    ("llama_wide", dict(LLAMA, vocab_size=131, hidden_size=128, intermediate_size=352,
                        num_attention_heads=8, num_key_value_heads=2,
                        max_position_embeddings=64), 3, 33, "ignore", 16),
]


def case_std(cfg):
    """Matrix init std: 0.3 for the small cases, shrunk as 0.3*sqrt(48/C) for wider ones so
    logits stay O(5) and the fp32 reference stays well-conditioned."""
    return 0.3 * min(1.0, (48.0 / cfg["hidden_size"]) ** 0.5)


def make_batch(cfg, B, T, kind, g):
    V = cfg["vocab_size"]
    inputs = torch.randint(0, V, (B, T), generator=g, dtype=torch.int64)
    targets = torch.randint(0, V, (B, T), generator=g, dtype=torch.int64)
    if kind == "ignore":
        # row 0: a few ignored positions (incl. first and last); row 1: some ignored;
        # with B >= 3, row 2 is entirely ignored.
        targets[0, [0, 3, T - 1]] = -1
        targets[1, 1::2] = -1
        if B >= 3:
            targets[2, :] = -1
    return inputs.to(torch.int32), targets.to(torch.int32)


# --------------------------------------------------------------------------- reference
def reference(params64, cfg, inputs, targets, dtype):
    p = {k: v.to(dtype).clone().requires_grad_(True) for k, v in params64.items()}
    logits = xm.forward(p, cfg, inputs)
    loss = xm.loss_fn(logits, targets)
    loss.backward()
    grads = {k: v.grad.detach().clone() for k, v in p.items()}
    train = xm.adamw_losses({k: v.to(dtype) for k, v in params64.items()}, cfg, inputs,
                            targets, steps=TRAIN_STEPS)
    return {"logits": logits.detach(), "loss": loss.item(), "grads": grads,
            "train": np.array(train, dtype=np.float64)}


# --------------------------------------------------------------------------- one case
def run_case(name, cfg_in, B, T, kind, seed, driver, workdir, results):
    cfg = xm.make_config(cfg_in)
    g = torch.Generator().manual_seed(1000 + seed)
    params64 = xm.init_params(cfg, g, dtype=torch.float64, mode="test",
                              matrix_std=case_std(cfg))
    inputs, targets = make_batch(cfg, B, T, kind, g)

    mdir = os.path.join(workdir, name, "model")
    os.makedirs(mdir, exist_ok=True)
    with open(os.path.join(mdir, "config.json"), "w") as f:
        json.dump(cfg_in, f, indent=1)
    st.save(os.path.join(mdir, "model.safetensors"),
            {k: v.to(torch.float32) for k, v in params64.items()})
    batch = os.path.join(workdir, name, "batch.safetensors")
    st.save(batch, {"inputs": inputs, "targets": targets})
    outp = os.path.join(workdir, name, "out.safetensors")

    report = reporter(name, results)

    # references: parameters are first rounded to fp32 so both see the same weights
    params64 = {k: v.to(torch.float32).to(torch.float64) for k, v in params64.items()}
    r32 = reference(params64, cfg, inputs, targets, torch.float32)
    r64 = reference(params64, cfg, inputs, targets, torch.float64)

    out = run_driver(driver, mdir, batch, outp, report)
    if out is None:
        return

    # --- expected keys
    V = cfg["vocab_size"]
    expect = {"logits": (B, T, V), "loss": (1,), "train_losses": (TRAIN_STEPS,)}
    for k, v in params64.items():
        expect["grad." + k] = tuple(v.shape)
    check_outputs(out, expect, report)
    check_logits(out, r32, r64, expect["logits"], report)
    check_loss(out, r32, r64, report)
    fails, worst, base_worst, _ = grad_errors(out, r32, r64, params64, list(params64))
    report_grads(fails, worst, base_worst, len(params64), f"{len(params64)} tensors", report)
    check_series(out, "train_losses", "adamw", r32["train"], r64["train"], report)


# --------------------------------------------------------------------------- selftest
def naive_forward(p, cfg, ids):
    """Independent loop-based float64 numpy forward (for the self-test only)."""
    import math
    p = {k: v.detach().double().numpy() for k, v in p.items()}
    ids = ids.numpy()
    B, T = ids.shape
    C = cfg["hidden_size"]
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = C // H
    eps = cfg["norm_eps"]

    def act(x):
        a = cfg["hidden_act"]
        if a == "gelu":
            return np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.ravel()]).reshape(x.shape)
        if a == "gelu_tanh":
            return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
        if a == "relu":
            return np.maximum(x, 0)
        return x / (1 + np.exp(-x))

    def norm(x, pre):
        w = p[pre + ".weight"]
        if cfg["norm_type"] == "layernorm":
            mu = x.mean()
            var = ((x - mu) ** 2).mean()
            return (x - mu) / math.sqrt(var + eps) * w + p[pre + ".bias"]
        return x / math.sqrt((x ** 2).mean() + eps) * w

    def lin(x, pre):
        y = p[pre + ".weight"] @ x
        if pre + ".bias" in p:
            y = y + p[pre + ".bias"]
        return y

    def rope(vec, t):
        out = vec.copy()
        for i in range(D // 2):
            ang = t * cfg["rope_theta"] ** (-2.0 * i / D)
            a, b = vec[i], vec[i + D // 2]
            out[i] = a * math.cos(ang) - b * math.sin(ang)
            out[i + D // 2] = b * math.cos(ang) + a * math.sin(ang)
        return out

    logits = np.zeros((B, T, cfg["vocab_size"]))
    W = p.get("lm_head.weight", p["model.embed_tokens.weight"])
    for b in range(B):
        xs = [p["model.embed_tokens.weight"][ids[b, t]].copy() for t in range(T)]
        if cfg["position_type"] == "learned":
            xs = [xs[t] + p["model.embed_positions.weight"][t] for t in range(T)]
        for li in range(cfg["num_hidden_layers"]):
            lp = f"model.layers.{li}."
            pre = cfg["norm_placement"] == "pre"

            def attn(hs):
                qs, ks, vs = [], [], []
                for t in range(T):
                    q = lin(hs[t], lp + "self_attn.q_proj").reshape(H, D)
                    k = lin(hs[t], lp + "self_attn.k_proj").reshape(Hkv, D)
                    v = lin(hs[t], lp + "self_attn.v_proj").reshape(Hkv, D)
                    if cfg["position_type"] == "rope":
                        q = np.stack([rope(q[h], t) for h in range(H)])
                        k = np.stack([rope(k[h], t) for h in range(Hkv)])
                    qs.append(q), ks.append(k), vs.append(v)
                outs = []
                for i in range(T):
                    o = np.zeros((H, D))
                    for h in range(H):
                        kh = h // (H // Hkv)
                        s = np.array([qs[i][h] @ ks[j][kh] / math.sqrt(D) for j in range(i + 1)])
                        e = np.exp(s - s.max())
                        a = e / e.sum()
                        o[h] = sum(a[j] * vs[j][kh] for j in range(i + 1))
                    outs.append(lin(o.reshape(-1), lp + "self_attn.o_proj"))
                return outs

            def ffn(x):
                if cfg["gated_ffn"]:
                    u = act(lin(x, lp + "mlp.gate_proj")) * lin(x, lp + "mlp.up_proj")
                else:
                    u = act(lin(x, lp + "mlp.up_proj"))
                return lin(u, lp + "mlp.down_proj")

            if pre:
                a = attn([norm(x, lp + "input_layernorm") for x in xs])
                xs = [xs[t] + a[t] for t in range(T)]
                xs = [x + ffn(norm(x, lp + "post_attention_layernorm")) for x in xs]
            else:
                a = attn(xs)
                xs = [norm(xs[t] + a[t], lp + "input_layernorm") for t in range(T)]
                xs = [norm(x + ffn(x), lp + "post_attention_layernorm") for x in xs]
        for t in range(T):
            h = norm(xs[t], "model.norm") if cfg["norm_placement"] == "pre" else xs[t]
            logits[b, t] = W @ h
    return logits


def selftest():
    results = []

    def rep(name, passed, detail=""):
        print(f"{'PASS' if passed else 'FAIL'} selftest_{name}" + (f": {detail}" if detail else ""),
              flush=True)
        results.append(passed)

    # 1. safetensors round trip
    try:
        st._selftest()
        rep("safetensors_roundtrip", True)
    except Exception as e:  # noqa: BLE001
        rep("safetensors_roundtrip", False, repr(e))

    # also with torch tensors incl. int32 batch
    with tempfile.TemporaryDirectory() as d:
        t = {"inputs": torch.arange(6, dtype=torch.int32).view(2, 3),
             "w": torch.randn(4, 5), "s": torch.tensor([2.5])}
        st.save(os.path.join(d, "b.safetensors"), t)
        back = st.load(os.path.join(d, "b.safetensors"))
        rep("safetensors_torch", all(np.array_equal(back[k], t[k].numpy()) and
                                     back[k].dtype == t[k].numpy().dtype for k in t))

    # 2. schedule values
    lrs = [xm.get_lr(i) for i in range(10)]
    exp0 = [1e-3 / 3, 2e-3 / 3, 1e-3]
    rep("get_lr", abs(lrs[0] - exp0[0]) < 1e-15 and abs(lrs[1] - exp0[1]) < 1e-15 and
        abs(lrs[2] - 1e-3) < 1e-15 and abs(xm.get_lr(10) - 1e-4) < 1e-15 and
        abs(xm.get_lr(6) - 5.5e-4) < 1e-12 and abs(xm.get_lr(11) - 1e-4) < 1e-15,
        " ".join(f"{x:.6g}" for x in lrs))

    # 3. forward against an independent loop implementation (float64)
    tiny = dict(BASE, vocab_size=11, hidden_size=12, intermediate_size=20,
                num_hidden_layers=2, num_attention_heads=3, num_key_value_heads=3,
                max_position_embeddings=6)
    for name, cfg_in, B, T, kind, seed in CASES:
        over = {k: v for k, v in cfg_in.items() if k not in BASE or k in (
            "num_key_value_heads",)}
        c = dict(tiny, **over)
        H = 4 if c["num_key_value_heads"] in (2, 4) else 3
        c["num_attention_heads"] = H
        c["hidden_size"] = 4 * H if c["position_type"] == "rope" else 3 * H
        if c["num_key_value_heads"] not in (1,):
            c["num_key_value_heads"] = 2 if cfg_in["num_key_value_heads"] < cfg_in[
                "num_attention_heads"] else H
        cfg = xm.make_config(c)
        g = torch.Generator().manual_seed(seed)
        p = xm.init_params(cfg, g, dtype=torch.float64, mode="test")
        ids = torch.randint(0, cfg["vocab_size"], (2, 5), generator=g)
        a = xm.forward(p, cfg, ids).detach().numpy()
        b = naive_forward(p, cfg, ids)
        err = float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
        rep(f"naive_forward_{name}", err < 1e-12,
            f"max rel {err:.3g} (H={cfg['num_attention_heads']} Hkv={cfg['num_key_value_heads']} "
            f"C={cfg['hidden_size']})")

    # 4. gradcheck (float64) on tiny configs, w.r.t. every parameter
    gc_cases = [
        ("gpt2", dict(GPT2, vocab_size=7, hidden_size=8, intermediate_size=12,
                      num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                      max_position_embeddings=5)),
        ("llama_gqa", dict(LLAMA, vocab_size=7, hidden_size=8, intermediate_size=10,
                           num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                           max_position_embeddings=5)),
        ("post_gelu", dict(GPT2, vocab_size=7, hidden_size=8, intermediate_size=12,
                           num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                           norm_placement="post", hidden_act="gelu", tie_word_embeddings=False,
                           max_position_embeddings=5)),
        ("post_rms_relu_none", dict(LLAMA, vocab_size=7, hidden_size=8, intermediate_size=10,
                                    num_hidden_layers=1, num_attention_heads=2,
                                    num_key_value_heads=2, norm_placement="post",
                                    hidden_act="relu", gated_ffn=False, position_type="none",
                                    use_bias=True, max_position_embeddings=5)),
    ]
    for name, c in gc_cases:
        cfg = xm.make_config(c)
        g = torch.Generator().manual_seed(7)
        p = xm.init_params(cfg, g, dtype=torch.float64, mode="test")
        ids = torch.randint(0, cfg["vocab_size"], (2, 4), generator=g)
        tg = torch.randint(0, cfg["vocab_size"], (2, 4), generator=g)
        tg[1, 2] = -1
        names = list(p.keys())
        leaves = tuple(p[k].clone().requires_grad_(True) for k in names)

        def f(*ts, names=names, cfg=cfg, ids=ids, tg=tg):
            return xm.loss_fn(xm.forward(dict(zip(names, ts)), cfg, ids), tg)

        try:
            passed = torch.autograd.gradcheck(f, leaves, eps=1e-6, atol=1e-6, rtol=1e-4)
            rep(f"gradcheck_{name}", bool(passed), f"{sum(t.numel() for t in leaves)} params")
        except Exception as e:  # noqa: BLE001
            rep(f"gradcheck_{name}", False, str(e).splitlines()[0][:300])

    # 5. manual AdamW + clip + schedule == torch.optim.AdamW (float64)
    cfg = xm.make_config(dict(GPT2))
    g = torch.Generator().manual_seed(3)
    p = xm.init_params(cfg, g, dtype=torch.float64, mode="test")
    ids, tg = make_batch(cfg, 2, 9, "ignore", g)
    mine = xm.adamw_losses(p, cfg, ids, tg)
    ps = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    decay = [v for v in ps.values() if v.dim() >= 2]
    nodecay = [v for v in ps.values() if v.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    theirs = []
    for it in range(10):
        for gr in opt.param_groups:
            gr["lr"] = xm.get_lr(it)
        opt.zero_grad(set_to_none=True)
        loss = xm.loss_fn(xm.forward(ps, cfg, ids), tg)
        theirs.append(loss.item())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(ps.values()), 1.0)
        opt.step()
    err = max(abs(a - b) / abs(b) for a, b in zip(mine, theirs))
    rep("adamw_vs_torch_optim", err < 1e-10 and mine[-1] < mine[0],
        f"max rel {err:.3g}; losses {mine[0]:.4f} -> {mine[-1]:.4f}")

    # 6. fp32 vs fp64 reference noise for the parity cases (information + sanity)
    for name, cfg_in, B, T, kind, seed in CASES:
        cfg = xm.make_config(cfg_in)
        g = torch.Generator().manual_seed(1000 + seed)
        p64 = xm.init_params(cfg, g, dtype=torch.float64, mode="test",
                             matrix_std=case_std(cfg))
        ids, tg = make_batch(cfg, B, T, kind, g)
        p64 = {k: v.float().double() for k, v in p64.items()}
        r32 = reference(p64, cfg, ids, tg, torch.float32)
        r64 = reference(p64, cfg, ids, tg, torch.float64)
        el = rel_tensor(r32["logits"], r64["logits"])[0]
        G = max(float(r64["grads"][k].abs().max()) for k in p64)
        eg = max(rel_tensor(r32["grads"][k], r64["grads"][k], GRAD_FLOOR * G)[0] for k in p64)
        et = max(rel_scalar(a, b) for a, b in zip(r32["train"], r64["train"]))
        rep(f"fp32_vs_fp64_{name}", el < TOL_LOGITS / 10 and eg < TOL_GRAD / 10 and et < TOL_TRAIN / 10,
            f"logits {el:.3g} grads {eg:.3g} adamw {et:.3g}; losses "
            f"{r64['train'][0]:.4f} -> {r64['train'][-1]:.4f}")

    nfail = results.count(False)
    print(f"selftest: {len(results) - nfail} passed, {nfail} failed")
    return 1 if nfail else 0


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--build", default="build", help="build directory (default build)")
    ap.add_argument("--driver", help="driver path (default BUILD/tests/tools/ref_driver)")
    ap.add_argument("--case", action="append", help="run only these cases (repeatable)")
    ap.add_argument("--keep", help="write the case files under this directory and keep them")
    ap.add_argument("--selftest", action="store_true", help="check the reference itself")
    ap.add_argument("--list", action="store_true", help="list the cases")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))

    if args.list:
        for name, c, B, T, kind, seed in CASES:
            print(name, f"B={B} T={T} targets={kind}",
                  json.dumps({k: v for k, v in c.items() if k not in ("arch", "model_type")}))
        return 0
    if args.selftest:
        return selftest()

    driver = args.driver or os.path.join(args.build, "tests", "tools", "ref_driver")
    driver = os.path.abspath(driver)
    cases = [c for c in CASES if not args.case or c[0] in args.case]
    if args.case:
        unknown = set(args.case) - {c[0] for c in CASES}
        if unknown:
            print(f"FAIL parity_args: unknown case(s) {sorted(unknown)}")
            return 1
    if not os.path.isfile(driver):
        print(f"FAIL parity_driver: {driver} not found (build it: make tests-build)")
        return 1
    results = []
    workdir = args.keep or tempfile.mkdtemp(prefix="xf_parity_")
    try:
        for name, cfg_in, B, T, kind, seed in cases:
            try:
                run_case(name, cfg_in, B, T, kind, seed, driver, workdir, results)
            except Exception as e:  # noqa: BLE001
                print(f"FAIL parity_{name}_harness: {type(e).__name__}: {e}", flush=True)
                results.append(False)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    nfail = results.count(False)
    print(f"parity: {len(results) - nfail} passed, {nfail} failed ({len(cases)} cases)")
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
