#!/usr/bin/python3
"""PyTorch side of the MoE training benchmark (bench-moe shape).

usage: /usr/bin/python3 bench/bench_torch_moe.py [--batch 8] [--seq 256] [--steps 6]
                                                 [--threads 1] [--warmup 2]

bench-moe is bench-gpt (tests/ref/xf_torch_model.py: V 8192, C 384, 6 layers, 6 heads,
learned positions, LayerNorm, pre-norm, biases, tied head) whose FFNs are MoE layers:
8 experts, top-2, expert width 768, each expert a plain (non-gated, bias-free)
gelu_tanh FFN  w2 · act(w1 · x).  The attention, norms and embeddings are the very
code bench/bench_torch.py times (xf_torch_model's functions); the MoE FFN is the usual
"loop over experts" implementation:

  logits = x Wr^T (router [8, 384], no bias); p = softmax(logits); top-2 of p,
  weights renormalised to sum 1 (softmax_topk_renorm); for each expert e:
  gather its tokens (index_select), run the expert, index_add_ the weighted output
  back (dropless: no capacity).  Aux loss per layer (Switch/Mixtral form)
  aux = E/K * sum_e F_e P_e  (F_e = tokens routed to e / N, P_e = mean router
  probability of e), loss = CE + 0.01 * sum over layers of aux.

Optimizer and timing are bench/bench_torch.py's recipe (AdamW betas 0.9/0.95, wd 0.1
on >= 2-D tensors, clip 1.0, median of the timed steps after --warmup).  gflops
counts only the active experts (K/E of the expert weights per token) plus the router,
as xfmr's bench does.  Prints one JSON line:
  {"impl":"pytorch","model":"bench-moe","threads":K,"step_ms":..,"tokens_per_s":..,...}
"""
import argparse
import json
import math
import os
import sys
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
sys.path.insert(0, HERE)

try:
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001
    print(json.dumps({"impl": "pytorch", "error": f"torch not importable: {e}"}))
    sys.exit(2)

import torch_steps as ts  # noqa: E402
import xf_torch_model as xm  # noqa: E402

# bench-moe (src/model/config.c): bench-gpt + these
MOE = {"num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 768,
       "router_aux_loss_coef": 0.01}


def init_params(cfg, moe, generator):
    """bench-gpt's tensors (nanoGPT init) with each layer's mlp.* replaced by a router
    and E experts (w1 [I, C], w2 [C, I], w2 scaled by 1/sqrt(2L) like down_proj)."""
    dense = xm.init_params(cfg, generator, mode="gpt")
    C, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    E, I = moe["num_experts"], moe["moe_intermediate_size"]
    std = cfg["initializer_range"]
    out = OrderedDict()
    for name, t in dense.items():
        if ".mlp." in name:
            continue
        out[name] = t
        if name.endswith("post_attention_layernorm.bias"):
            pre = name[: -len("post_attention_layernorm.bias")] + "mlp."
            out[pre + "gate.weight"] = std * torch.randn(E, C, generator=generator)
            for e in range(E):
                out[pre + f"experts.{e}.w1.weight"] = std * torch.randn(I, C, generator=generator)
                out[pre + f"experts.{e}.w2.weight"] = (std / math.sqrt(2 * L)) * torch.randn(
                    C, I, generator=generator)
    return out


def moe_ffn(x, p, pre, cfg, moe):
    """x [B, T, C] -> (y [B, T, C], aux loss of this layer)."""
    B, T, C = x.shape
    N = B * T
    E, K = moe["num_experts"], moe["num_experts_per_tok"]
    xf = x.reshape(N, C)
    logits = F.linear(xf, p[pre + "gate.weight"])                  # [N, E]
    probs = torch.softmax(logits, dim=-1)
    w, sel = torch.topk(probs, K, dim=-1)                          # [N, K]
    w = w / w.sum(-1, keepdim=True)
    y = torch.zeros_like(xf)
    flat_sel = sel.reshape(-1)                                     # [N*K], token-major
    flat_w = w.reshape(-1)
    for e in range(E):
        idx = (flat_sel == e).nonzero(as_tuple=True)[0]            # assignment indices
        if idx.numel() == 0:
            continue
        tok = idx // K
        xe = xf.index_select(0, tok)
        h = F.gelu(F.linear(xe, p[pre + f"experts.{e}.w1.weight"]), approximate="tanh")
        out = F.linear(h, p[pre + f"experts.{e}.w2.weight"])
        y = y.index_add(0, tok, out * flat_w.index_select(0, idx)[:, None])
    counts = torch.bincount(flat_sel, minlength=E).to(xf.dtype)
    aux = (E / K) * ((counts / N) * probs.mean(0)).sum()
    return y.view(B, T, C), aux


def forward(p, cfg, moe, ids):
    """xf_torch_model.forward (pre-norm, learned positions) with MoE FFNs."""
    B, T = ids.shape
    wte = p["model.embed_tokens.weight"]
    x = F.embedding(ids, wte) + p["model.embed_positions.weight"][:T]
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    aux = x.new_zeros(())
    for i in range(cfg["num_hidden_layers"]):
        lp = f"model.layers.{i}."
        x = x + xm._attn(xm._norm(x, p, lp + "input_layernorm", cfg), p, lp + "self_attn.",
                         cfg, None, mask)
        y, a = moe_ffn(xm._norm(x, p, lp + "post_attention_layernorm", cfg), p, lp + "mlp.",
                       cfg, moe)
        x = x + y
        aux = aux + a
    x = xm._norm(x, p, "model.norm", cfg)
    return x @ wte.t(), aux


class MoeModel(torch.nn.Module):
    def __init__(self, cfg, moe, generator):
        super().__init__()
        self.cfg, self.moe = cfg, moe
        params = init_params(cfg, moe, generator)
        self.names = list(params.keys())
        self.params = torch.nn.ParameterDict(
            {k.replace(".", "__"): torch.nn.Parameter(v.clone()) for k, v in params.items()})

    def named_tensors(self):
        return OrderedDict((k, self.params[k.replace(".", "__")]) for k in self.names)

    def forward(self, ids, targets):
        logits, aux = forward(self.named_tensors(), self.cfg, self.moe, ids)
        ce = xm.loss_fn(logits, targets)
        return ce, ce + self.moe["router_aux_loss_coef"] * aux


def main():
    ap = argparse.ArgumentParser(description="PyTorch MoE training-step benchmark")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=6, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1337)
    args = ap.parse_args()

    ts.setup(args.threads, args.seed)
    cfg = xm.make_config(xm.PRESETS["bench-gpt"])
    if args.seq > cfg["max_position_embeddings"]:
        raise SystemExit("bench_torch_moe: --seq exceeds max_position_embeddings")
    model = MoeModel(cfg, MOE, torch.Generator().manual_seed(args.seed))
    model.train()
    V, B, T = cfg["vocab_size"], args.batch, args.seq
    g = torch.Generator().manual_seed(args.seed)
    data = torch.randint(0, V, (args.warmup + args.steps, B, T + 1), generator=g)

    def step_loss(it):
        ce, loss = model(data[it, :, :T], data[it, :, 1:])
        return loss, ce

    r = ts.train_steps(model, step_loss, args.warmup, args.steps)
    tokens = B * T
    E, K = MOE["num_experts"], MOE["num_experts_per_tok"]
    C, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    # 6 per matmul weight per token it sees (experts: K/E of the tokens), tied head
    # included, embeddings and biases excluded; attention 12·L·T·C per token.
    expert_w = L * E * 2 * MOE["moe_intermediate_size"] * C
    other_w = L * (4 * C * C + E * C) + V * C
    flops = 6 * (other_w + expert_w * K / E) * tokens + 12 * L * C * T * tokens
    print(json.dumps(ts.result(r, tokens, flops, model="bench-moe", threads=args.threads, batch=B, seq=T,
                               steps=args.steps)), flush=True)
    if not all(math.isfinite(v) for v in r["losses"]):
        print("bench_torch_moe: non-finite loss", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
