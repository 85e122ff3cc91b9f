"""PyTorch reference of every xfmr model family and of Mixture-of-Experts FFNs.

Written from the family/MoE specification (the brief of tests/ref/parity_families.py,
docs/algorithms.md §1, §2, §3, §4), independently of the C code in src/model/.  For
arch "decoder" without MoE it computes the same function as xf_torch_model.py (the
self-test of parity_families.py checks that).

Entry points
  make_config(dict)              -> cfg with every default filled in, validated
  param_table(cfg)               -> [(name, shape, kind)], kind in KINDS
  init_params(cfg, generator, ...) -> OrderedDict name -> float64 tensor ("test" init)
  forward(p, cfg, batch, routes=None) -> (logits [B,T,V], moe_loss scalar tensor)
  loss_fn(logits, targets)       -> mean CE over targets != -1
  train(params, cfg, batch, targets, steps) -> the 10-step AdamW recipe of the drivers
  relative_bucket(rel, bidirectional, num_buckets, max_distance)

batch: dict of int tensors; "ids" [B,T] and optionally "lengths" [B], "prefix_len" [B],
"token_types" [B,T], "src" [B,S], "src_lengths" [B], "position_ids" [B,T],
"block_position_ids" [B,T] (None or absent = not given).

Semantics (summary; C hidden, H heads, Hkv kv heads, D = C/H):
  stacks   decoder / prefix_lm: one decoder stack ("model.*"); encoder: one encoder stack
           ("model.*"); encoder_decoder: "encoder.*" (num_hidden_layers) and "decoder.*"
           (num_decoder_layers), sharing "shared.weight".
  embed    x = wte[ids] (+ wpe[pos + position_offset]) (+ tte[types], single stack only)
           (+ wbpe[block], block_position_embeddings: GLM's 2D positions); pos = t, or
           position_ids when given; block = block_position_ids when given, else 0;
           embed_layernorm: x = Norm(x).
  attention S = scale q k^T + relbias + mask, softmax, o_proj; scale 1/sqrt(D) or 1;
           GQA head h -> kv head h // (H/Hkv); a fully blocked row outputs 0 (before o_proj).
  masks    encoder: all keys; decoder: j <= i; prefix_lm: j < P[b] or j <= i; keys
           j >= lengths[b] blocked; encoder keys j >= src_lengths[b] blocked (encoder
           self-attention and cross-attention).
  relative T5 buckets of rel = j - i; bidirectional in encoder stacks, unidirectional
           in decoder stacks (prefix_lm included); table of layer 0 used by every layer.
  blocks   pre : h = x + Attn(N1 x); [h = h + Cross(Nx h)]; out = h + FFN(N2 h); final norm
           post: h = N1(x + Attn x); [h = Nx(h + Cross h)]; out = N2(h + FFN h)
  MoE      l = Wr x; softmax routers s = p = softmax(l); sigmoid s = sigmoid(l),
           p = s / sum s; top-K of s (+ e_score_correction_bias for sigmoid), ties to the
           lower index; weights s_i (softmax_topk) or s_i / sum_sel s (others), times
           routed_scaling_factor; capacity ceil(K N cf / E) claimed rank by rank, token
           by token (b-major); shared experts = dense FFN of width Ns * Ie;
           per layer aux = E/K sum_i F_i P_i, z = mean logsumexp(l)^2;
           moe_loss = sum_layers aux_coef * aux + z_coef * z.
  head     [mlm_transform: h = Norm_t(act(Wt h + bt))]; tied+rescale: h *= C^-0.5;
           logits = h W^T (+ lm_head.bias), W = lm_head.weight or the token embedding.
"""
import math
from collections import OrderedDict

import torch
import torch.nn.functional as F

ARCHS = ("decoder", "encoder", "prefix_lm", "encoder_decoder")
ACTS = ("gelu", "gelu_tanh", "relu", "silu")
ROUTERS = ("softmax_topk_renorm", "softmax_topk", "sigmoid_topk_norm")
# parameter kinds (init and optimizer treatment)
KINDS = ("embed", "matrix", "bias", "norm", "relbias", "router", "ecb")

DEFAULTS = {
    "arch": "decoder",
    "hidden_act": "gelu_tanh",
    "gated_ffn": False,
    "norm_type": "layernorm",
    "norm_eps": 1e-5,
    "norm_placement": "pre",
    "position_type": "learned",
    "rope_theta": 10000.0,
    "use_bias": True,
    "tie_word_embeddings": True,
    "initializer_range": 0.02,
    "num_decoder_layers": None,          # None: num_hidden_layers
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "scale_attn_logits": True,
    "rescale_tied_head": False,
    "embed_layernorm": False,
    "type_vocab_size": 0,
    "mlm_transform": False,
    "lm_head_bias": False,
    "position_offset": 0,
    "decoder_start_token_id": -1,
    "num_experts": 0,
    "num_experts_per_tok": 2,
    "moe_intermediate_size": None,       # None: intermediate_size
    "num_shared_experts": 0,
    "moe_layer_freq": 1,
    "first_k_dense_layers": 0,
    "router_type": "softmax_topk_renorm",
    "routed_scaling_factor": 1.0,
    "router_bias_update_speed": 0.001,
    "capacity_factor": 0.0,
    "router_aux_loss_coef": 0.01,
    "router_z_loss_coef": 0.0,
    "router_jitter": 0.0,
    "n_group": 1,
    "topk_group": 1,
    "seq_aux": False,
    "block_position_embeddings": False,
}


def make_config(d):
    """Fill defaults and validate a config dict (config.json keys)."""
    cfg = dict(DEFAULTS)
    cfg.update({k: v for k, v in d.items() if k not in ("model_type", "architectures")})
    if cfg.get("num_key_value_heads") is None:
        cfg["num_key_value_heads"] = cfg["num_attention_heads"]
    if cfg["num_decoder_layers"] is None:
        cfg["num_decoder_layers"] = cfg["num_hidden_layers"]
    if cfg["moe_intermediate_size"] is None:
        cfg["moe_intermediate_size"] = cfg["intermediate_size"]
    for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
              "num_attention_heads", "num_key_value_heads", "max_position_embeddings",
              "num_decoder_layers", "moe_intermediate_size", "moe_layer_freq"):
        if not isinstance(cfg.get(k), int) or cfg[k] <= 0:
            raise ValueError(f"config: {k} must be a positive integer")
    C, H, Hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    if C % H or H % Hkv:
        raise ValueError("config: hidden_size % heads and heads % kv_heads must be 0")
    checks = [("arch", ARCHS), ("hidden_act", ACTS), ("norm_type", ("layernorm", "rmsnorm")),
              ("norm_placement", ("pre", "post")),
              ("position_type", ("learned", "rope", "none", "relative")),
              ("router_type", ROUTERS)]
    for k, allowed in checks:
        if cfg[k] not in allowed:
            raise ValueError(f"config: {k} {cfg[k]!r}")
    if cfg["position_type"] == "rope" and (C // H) % 2:
        raise ValueError("config: rope needs an even head dim")
    E = cfg["num_experts"]
    if E and not (1 <= cfg["num_experts_per_tok"] <= E):
        raise ValueError("config: num_experts_per_tok must be in [1, num_experts]")
    if cfg["router_jitter"]:
        raise ValueError("config: the reference has no router jitter (keep it 0)")
    if cfg["type_vocab_size"] and cfg["arch"] == "encoder_decoder":
        raise ValueError("config: token types are single-stack only")
    if cfg["block_position_embeddings"] and (cfg["position_type"] != "learned"
                                             or cfg["arch"] not in ("decoder", "prefix_lm")):
        raise ValueError("config: block positions need learned positions and one decoder stack")
    return cfg


# --------------------------------------------------------------------------- names
class Names:
    """Tensor names of one stack: "model" (single-stack archs), "encoder" or "decoder"
    (encoder_decoder, HF T5 layout)."""

    def __init__(self, stack):
        self.stack = stack
        self.single = stack == "model"
        self.fi = 1 if stack == "encoder" else 2  # T5 sublayer index of the FFN

    def wte(self):
        return "model.embed_tokens.weight" if self.single else "shared.weight"

    def wpe(self):
        return f"{self.stack}.embed_positions.weight"

    def tte(self):
        return "model.token_type_embeddings.weight"

    def bpe(self):
        return "model.embed_block_positions.weight"

    def emb_norm(self):
        return f"{self.stack}.embed_layernorm"

    def lp(self, l):
        return f"model.layers.{l}." if self.single else f"{self.stack}.block.{l}."

    def n1(self, l):
        return self.lp(l) + ("input_layernorm" if self.single else "layer.0.layer_norm")

    def attn(self, l):
        if self.single:
            return {k: self.lp(l) + f"self_attn.{k}_proj" for k in "qkvo"}
        return {k: self.lp(l) + f"layer.0.SelfAttention.{k}" for k in "qkvo"}

    def relbias(self):
        if self.single:
            return "model.layers.0.self_attn.relative_attention_bias.weight"
        return f"{self.stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"

    def cross(self, l):
        return {k: self.lp(l) + f"layer.1.EncDecAttention.{k}" for k in "qkvo"}

    def nx(self, l):
        return self.lp(l) + "layer.1.layer_norm"

    def n2(self, l):
        return self.lp(l) + ("post_attention_layernorm" if self.single
                             else f"layer.{self.fi}.layer_norm")

    def mlp(self, l, gated):
        """dict gate (or None) / up / down prefixes of the dense FFN."""
        if self.single:
            p = self.lp(l) + "mlp."
            return {"gate": p + "gate_proj" if gated else None, "up": p + "up_proj",
                    "down": p + "down_proj"}
        p = self.lp(l) + f"layer.{self.fi}.DenseReluDense."
        if gated:
            return {"gate": p + "wi_0", "up": p + "wi_1", "down": p + "wo"}
        return {"gate": None, "up": p + "wi", "down": p + "wo"}

    def moe(self, l):
        return self.lp(l) + ("" if self.single else f"layer.{self.fi}.") + "block_sparse_moe."

    def shared(self, l):
        return self.lp(l) + ("" if self.single else f"layer.{self.fi}.") + "mlp.shared_experts."

    def final(self):
        return "model.norm" if self.single else f"{self.stack}.final_layer_norm"


def stacks(cfg):
    """[(Names, kind, num_layers)]; kind "enc" (bidirectional), "dec" (causal), "prefix"."""
    a = cfg["arch"]
    if a == "encoder_decoder":
        return [(Names("encoder"), "enc", cfg["num_hidden_layers"]),
                (Names("decoder"), "dec", cfg["num_decoder_layers"])]
    kind = {"decoder": "dec", "encoder": "enc", "prefix_lm": "prefix"}[a]
    return [(Names("model"), kind, cfg["num_hidden_layers"])]


def layer_is_moe(cfg, l):
    return (cfg["num_experts"] > 0 and l >= cfg["first_k_dense_layers"]
            and l % cfg["moe_layer_freq"] == 0)


# --------------------------------------------------------------------------- param table
def param_table(cfg):
    """Ordered [(name, shape, kind)] of every tensor of the checkpoint."""
    V, C, I = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"]
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = C // H
    ln = cfg["norm_type"] == "layernorm"
    bias = cfg["use_bias"]
    E, Ie, Ns = cfg["num_experts"], cfg["moe_intermediate_size"], cfg["num_shared_experts"]
    gated = cfg["gated_ffn"]
    out = []

    def add(name, shape, kind):
        out.append((name, tuple(shape), kind))

    def norm(prefix):
        add(prefix + ".weight", (C,), "norm")
        if ln:
            add(prefix + ".bias", (C,), "bias")

    def lin(prefix, o, i, with_bias):
        add(prefix + ".weight", (o, i), "matrix")
        if with_bias:
            add(prefix + ".bias", (o,), "bias")

    def attn(names):
        lin(names["q"], H * D, C, bias)
        lin(names["k"], Hkv * D, C, bias)
        lin(names["v"], Hkv * D, C, bias)
        lin(names["o"], C, H * D, bias)

    def embeddings(nm):
        if cfg["position_type"] == "learned":
            add(nm.wpe(), (cfg["max_position_embeddings"] + cfg["position_offset"], C), "embed")
        if nm.single and cfg["block_position_embeddings"]:
            add(nm.bpe(), (cfg["max_position_embeddings"], C), "embed")
        if nm.single and cfg["type_vocab_size"] > 0:
            add(nm.tte(), (cfg["type_vocab_size"], C), "embed")
        if cfg["embed_layernorm"]:
            norm(nm.emb_norm())

    def layer(nm, l, cross):
        norm(nm.n1(l))
        attn(nm.attn(l))
        if l == 0 and cfg["position_type"] == "relative":
            add(nm.relbias(), (cfg["relative_attention_num_buckets"], H), "relbias")
        if cross:
            attn(nm.cross(l))
            norm(nm.nx(l))
        norm(nm.n2(l))
        if layer_is_moe(cfg, l):
            mp = nm.moe(l)
            add(mp + "gate.weight", (E, C), "router")
            if cfg["router_type"] == "sigmoid_topk_norm":
                add(mp + "gate.e_score_correction_bias", (E,), "ecb")
            for e in range(E):
                add(mp + f"experts.{e}.w1.weight", (Ie, C), "matrix")
                add(mp + f"experts.{e}.w2.weight", (C, Ie), "matrix")
                if gated:
                    add(mp + f"experts.{e}.w3.weight", (Ie, C), "matrix")
            if Ns > 0:
                sp = nm.shared(l)
                if gated:
                    add(sp + "gate_proj.weight", (Ns * Ie, C), "matrix")
                add(sp + "up_proj.weight", (Ns * Ie, C), "matrix")
                add(sp + "down_proj.weight", (C, Ns * Ie), "matrix")
        else:
            m = nm.mlp(l, gated)
            if gated:
                lin(m["gate"], I, C, bias)
            lin(m["up"], I, C, bias)
            lin(m["down"], C, I, bias)

    st = stacks(cfg)
    add(st[0][0].wte(), (V, C), "embed")
    for nm, kind, L in st:
        embeddings(nm)
        for l in range(L):
            layer(nm, l, cross=(nm.stack == "decoder"))
        if cfg["norm_placement"] == "pre":
            norm(nm.final())
    if cfg["mlm_transform"]:
        add("mlm_head.dense.weight", (C, C), "matrix")
        add("mlm_head.dense.bias", (C,), "bias")
        norm("mlm_head.norm")
    if not cfg["tie_word_embeddings"]:
        add("lm_head.weight", (V, C), "matrix")
    if cfg["lm_head_bias"]:
        add("lm_head.bias", (V,), "bias")
    names = [n for n, _, _ in out]
    assert len(names) == len(set(names)), "duplicate tensor names"
    return out


def trainable_names(cfg):
    return [n for n, _, k in param_table(cfg) if k != "ecb"]


def init_params(cfg, generator, matrix_std=0.3, norm_jitter=0.1, bias_std=0.1,
                router_std=None, ecb_std=0.0, relbias_std=None):
    """Seeded "test" init in float64: matrices and embeddings N(0, matrix_std), router
    weights N(0, router_std), relative bias tables N(0, relbias_std), norm weights
    1 + N(0, norm_jitter), biases N(0, bias_std), e_score_correction_bias N(0, ecb_std)."""
    router_std = matrix_std if router_std is None else router_std
    relbias_std = matrix_std if relbias_std is None else relbias_std
    std = {"embed": matrix_std, "matrix": matrix_std, "bias": bias_std, "relbias": relbias_std,
           "router": router_std, "ecb": ecb_std}
    out = OrderedDict()
    for name, shape, kind in param_table(cfg):
        r = torch.randn(shape, generator=generator, dtype=torch.float64)
        if kind == "norm":
            out[name] = 1.0 + norm_jitter * r
        else:
            out[name] = std[kind] * r
    return out


# --------------------------------------------------------------------------- pieces
def act(x, name):
    if name == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name == "gelu_tanh":
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if name == "relu":
        return torch.relu(x)
    return x * torch.sigmoid(x)


def norm(x, p, prefix, cfg):
    w = p[prefix + ".weight"]
    eps = cfg["norm_eps"]
    if cfg["norm_type"] == "layernorm":
        mu = x.mean(-1, keepdim=True)
        xc = x - mu
        var = (xc * xc).mean(-1, keepdim=True)
        return xc * torch.rsqrt(var + eps) * w + p[prefix + ".bias"]
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def lin(x, p, prefix):
    y = x @ p[prefix + ".weight"].t()
    b = p.get(prefix + ".bias")
    return y if b is None else y + b


def rope_cos_sin(T, D, theta, dtype):
    """HF layout: angle[t, i] = t * theta^(-2i/D) for i < D/2, repeated for the second half."""
    i = torch.arange(D // 2, dtype=torch.float64)
    inv = torch.pow(torch.tensor(float(theta), dtype=torch.float64), -2.0 * i / D)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().to(dtype), ang.sin().to(dtype)


def apply_rope(x, cos, sin):
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], dim=-1)
    return x * cos + rot * sin


def relative_bucket(rel, bidirectional, num_buckets, max_distance):
    """HF T5Attention._relative_position_bucket for one relative position (key - query),
    with the logarithm in double precision."""
    nb = num_buckets
    bucket = 0
    if bidirectional:
        nb //= 2
        if rel > 0:
            bucket += nb
        n = abs(rel)
    else:
        n = max(-rel, 0)
    max_exact = nb // 2
    if n < max_exact:
        return bucket + n
    large = max_exact + int(math.log(n / max_exact) / math.log(max_distance / max_exact)
                            * (nb - max_exact))
    return bucket + min(large, nb - 1)


def relative_bias(p, cfg, nm, Tq, Tk, bidirectional):
    """[H, Tq, Tk] = table[bucket(j - i), h]."""
    nb, md = cfg["relative_attention_num_buckets"], cfg["relative_attention_max_distance"]
    idx = torch.tensor([[relative_bucket(j - i, bidirectional, nb, md) for j in range(Tk)]
                        for i in range(Tq)], dtype=torch.long)
    return p[nm.relbias()][idx].permute(2, 0, 1)


def key_allowed(lengths, B, Tk):
    """[B, Tk] bool: key j < lengths[b] (all True when lengths is None)."""
    if lengths is None:
        return torch.ones(B, Tk, dtype=torch.bool)
    return torch.arange(Tk)[None, :] < lengths.long()[:, None]


def self_blocked(kind, B, T, lengths, prefix_len):
    """[B, 1, T, T] bool, True = blocked."""
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    if kind == "enc":
        allowed = torch.ones(B, T, T, dtype=torch.bool)
    elif kind == "dec":
        allowed = (j <= i).expand(B, T, T)
    else:
        P = torch.zeros(B, dtype=torch.long) if prefix_len is None else prefix_len.long()
        allowed = (j[None] < P[:, None, None]) | (j <= i)[None]
    allowed = allowed & key_allowed(lengths, B, T)[:, None, :]
    return ~allowed[:, None]


def attention(xq, xkv, p, names, cfg, blocked, bias=None, rope=None):
    B, Tq, C = xq.shape
    Tk = xkv.shape[1]
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = C // H
    q = lin(xq, p, names["q"]).view(B, Tq, H, D).transpose(1, 2)
    k = lin(xkv, p, names["k"]).view(B, Tk, Hkv, D).transpose(1, 2)
    v = lin(xkv, p, names["v"]).view(B, Tk, Hkv, D).transpose(1, 2)
    if rope is not None:
        cos, sin = rope
        q = apply_rope(q, cos[:Tq], sin[:Tq])
        k = apply_rope(k, cos[:Tk], sin[:Tk])
    kvh = torch.tensor([h // (H // Hkv) for h in range(H)], dtype=torch.long)
    k = k[:, kvh]
    v = v[:, kvh]
    scale = 1.0 / math.sqrt(D) if cfg["scale_attn_logits"] else 1.0
    s = (q @ k.transpose(-1, -2)) * scale
    if bias is not None:
        s = s + bias
    full = blocked.all(-1, keepdim=True)  # rows with no allowed key
    s = s.masked_fill(blocked, float("-inf")).masked_fill(full, 0.0)
    a = torch.softmax(s, dim=-1).masked_fill(full, 0.0)
    o = (a @ v).transpose(1, 2).reshape(B, Tq, H * D)
    return lin(o, p, names["o"])


def dense_ffn(x, p, cfg, names):
    if names["gate"] is not None:
        u = act(lin(x, p, names["gate"]), cfg["hidden_act"]) * lin(x, p, names["up"])
    else:
        u = act(lin(x, p, names["up"]), cfg["hidden_act"])
    return lin(u, p, names["down"])


def moe_ffn(x, p, cfg, pre, shared_pre, routes):
    """MoE FFN over x [B, T, C]; returns (y [B,T,C], weighted router loss of this layer).
    Appends a routing record to `routes` (a list) when given."""
    B, T, C = x.shape
    N = B * T
    E, K = cfg["num_experts"], cfg["num_experts_per_tok"]
    rt = cfg["router_type"]
    gated = cfg["gated_ffn"]
    xf = x.reshape(N, C)
    logits = xf @ p[pre + "gate.weight"].t()                      # [N, E]
    if rt == "sigmoid_topk_norm":
        s = torch.sigmoid(logits)
        prob = s / s.sum(-1, keepdim=True)
        ecb = p[pre + "gate.e_score_correction_bias"].detach()
        score = s.detach() + ecb
        margin_space = score                                         # O(1) values
    else:
        s = torch.softmax(logits, dim=-1)
        prob = s
        score = s.detach()
        margin_space = logits.detach()                               # same order as s
    G, TG = cfg["n_group"], cfg["topk_group"]
    if G > 1 and TG < G:
        # group-limited routing: DeepSeek-V3 scores a group by the sum of its two best
        # keys, V2 (softmax) by its best; experts outside the TG best groups are out
        grouped = score.view(N, G, E // G)
        if rt == "sigmoid_topk_norm" and E // G > 1:
            gscore = grouped.topk(2, dim=-1).values.sum(-1)
        else:
            gscore = grouped.max(-1).values
        gorder = torch.sort(-gscore, dim=-1, stable=True).indices    # ties: lower group
        keep = torch.zeros(N, G, dtype=torch.bool)
        keep.scatter_(1, gorder[:, :TG], True)
        score = score.masked_fill(~keep.repeat_interleave(E // G, dim=1), float("-inf"))
        gs_sorted = gscore.gather(1, gorder)
        group_margin = float((gs_sorted[:, TG - 1] - gs_sorted[:, TG]).min())
        margin_space = torch.where(score.isinf(), torch.full_like(margin_space, float("-inf")),
                                   margin_space)
    else:
        group_margin = float("inf")
    # top-K, ties to the lower index: stable sort of the negated scores
    order = torch.sort(-score, dim=-1, stable=True).indices         # [N, E]
    sel = order[:, :K]                                               # rank 0 = best
    # routing robustness: the smallest score gap that decides anything (the K-th vs the
    # (K+1)-th choice; with a capacity the order of the ranks 0..K matters as well)
    ranked = margin_space.gather(1, order)
    if K >= E:
        margin = float("inf")
    elif cfg["capacity_factor"] > 0:
        margin = float((ranked[:, :K] - ranked[:, 1:K + 1]).min())
    else:
        margin = float((ranked[:, K - 1] - ranked[:, K]).min())
    margin = min(margin, group_margin)
    w = s.gather(1, sel)
    if rt != "softmax_topk":
        w = w / w.sum(-1, keepdim=True)
    w = w * cfg["routed_scaling_factor"]
    kept = torch.ones(N, K, dtype=torch.bool)
    cap = None
    if cfg["capacity_factor"] > 0:
        cap = math.ceil(K * N * cfg["capacity_factor"] / E)
        used = [0] * E
        for r in range(K):
            for t in range(N):
                e = int(sel[t, r])
                if used[e] < cap:
                    used[e] += 1
                else:
                    kept[t, r] = False
    y = torch.zeros_like(xf)
    for e in range(E):
        tok, r = ((sel == e) & kept).nonzero(as_tuple=True)
        if tok.numel() == 0:
            continue
        xe = xf[tok]
        ep = pre + f"experts.{e}."
        h = act(xe @ p[ep + "w1.weight"].t(), cfg["hidden_act"])
        if gated:
            h = h * (xe @ p[ep + "w3.weight"].t())
        out = h @ p[ep + "w2.weight"].t()
        y = y.index_add(0, tok, out * w[tok, r][:, None])
    if cfg["num_shared_experts"] > 0:
        sp = shared_pre
        names = {"gate": sp + "gate_proj" if gated else None, "up": sp + "up_proj",
                 "down": sp + "down_proj"}
        y = y + dense_ffn(xf, p, cfg, names)
    counts = torch.bincount(sel.reshape(-1), minlength=E)           # before capacity
    Fr = counts.to(xf.dtype) / N
    P = prob.mean(0)
    aux = (E / K) * (Fr * P).sum()
    if cfg["seq_aux"]:
        # DeepSeek-V3's sequence-wise balance loss: the same sum per sequence, averaged
        one_hot = torch.zeros(B, T, E, dtype=xf.dtype).scatter_add_(
            2, sel.view(B, T, K), torch.ones(B, T, K, dtype=xf.dtype))
        Fb = one_hot.sum(1) / T                                     # [B, E]
        Pb = prob.view(B, T, E).mean(1)
        aux = ((E / K) * (Fb * Pb).sum(-1)).mean()
    z = torch.logsumexp(logits, dim=-1).pow(2).mean()
    loss = cfg["router_aux_loss_coef"] * aux + cfg["router_z_loss_coef"] * z
    if routes is not None:
        rec = {"layer": pre, "sel": sel.clone(), "kept": kept.clone(), "counts": counts.clone(),
               "margin": margin, "dropped": int((~kept).sum()), "cap": cap,
               "aux": float(aux), "z": float(z), "N": N}
        if rt == "sigmoid_topk_norm":
            plain = torch.sort(-s.detach(), dim=-1, stable=True).indices[:, :K]
            rec["bias_changed"] = int(sum(set(plain[t].tolist()) != set(sel[t].tolist())
                                          for t in range(N)))
        routes.append(rec)
    return y.view(B, T, C), loss


def embed(p, cfg, nm, ids, types, pos=None, blk=None):
    B, T = ids.shape
    x = p[nm.wte()][ids.long()]
    if cfg["position_type"] == "learned":
        off = cfg["position_offset"]
        x = x + (p[nm.wpe()][off:off + T] if pos is None else p[nm.wpe()][pos.long() + off])
    if nm.single and cfg["block_position_embeddings"]:
        x = x + (p[nm.bpe()][0] if blk is None else p[nm.bpe()][blk.long()])
    if nm.single and cfg["type_vocab_size"] > 0:
        tt = torch.zeros(B, T, dtype=torch.long) if types is None else types.long()
        x = x + p[nm.tte()][tt]
    if cfg["embed_layernorm"]:
        x = norm(x, p, nm.emb_norm(), cfg)
    return x


def run_stack(p, cfg, nm, kind, L, ids, types=None, lengths=None, prefix_len=None,
              enc=None, routes=None, pos=None, blk=None):
    """One stack; enc = (encoder output [B,S,C], cross blocked [B,1,T,S]) for the
    decoder of an encoder_decoder.  Returns (final stream, weighted MoE loss)."""
    B, T = ids.shape
    x = embed(p, cfg, nm, ids, types, pos, blk)
    dtype = x.dtype
    blocked = self_blocked(kind, B, T, lengths, prefix_len)
    bias = None
    if cfg["position_type"] == "relative":
        bias = relative_bias(p, cfg, nm, T, T, bidirectional=(kind == "enc"))
    rope = None
    if cfg["position_type"] == "rope":
        rope = rope_cos_sin(T, cfg["hidden_size"] // cfg["num_attention_heads"],
                            cfg["rope_theta"], dtype)
    pre = cfg["norm_placement"] == "pre"
    moe_loss = torch.zeros((), dtype=dtype)

    def ffn(h, l):
        if layer_is_moe(cfg, l):
            return moe_ffn(h, p, cfg, nm.moe(l), nm.shared(l), routes)
        return dense_ffn(h, p, cfg, nm.mlp(l, cfg["gated_ffn"])), None

    for l in range(L):
        an = nm.attn(l)
        if pre:
            h = x + _self(norm(x, p, nm.n1(l), cfg), p, an, cfg, blocked, bias, rope)
            if enc is not None:
                h = h + attention(norm(h, p, nm.nx(l), cfg), enc[0], p, nm.cross(l), cfg, enc[1])
            f, ml = ffn(norm(h, p, nm.n2(l), cfg), l)
            x = h + f
        else:
            h = norm(x + _self(x, p, an, cfg, blocked, bias, rope), p, nm.n1(l), cfg)
            if enc is not None:
                h = norm(h + attention(h, enc[0], p, nm.cross(l), cfg, enc[1]), p, nm.nx(l), cfg)
            f, ml = ffn(h, l)
            x = norm(h + f, p, nm.n2(l), cfg)
        if ml is not None:
            moe_loss = moe_loss + ml
    if pre:
        x = norm(x, p, nm.final(), cfg)
    return x, moe_loss


def _self(h, p, names, cfg, blocked, bias, rope):
    return attention(h, h, p, names, cfg, blocked, bias, rope)


def _opt(batch, k):
    v = batch.get(k)
    return None if v is None else torch.as_tensor(v)


def forward(p, cfg, batch, routes=None):
    """-> (logits [B, T, V], weighted MoE loss (0-dim tensor)) in the parameters' dtype."""
    ids = torch.as_tensor(batch["ids"])
    B, T = ids.shape
    st = stacks(cfg)
    if cfg["arch"] == "encoder_decoder":
        (enm, _, Le), (dnm, _, Ld) = st
        src = torch.as_tensor(batch["src"])
        S = src.shape[1]
        src_len = _opt(batch, "src_lengths")
        enc_out, m1 = run_stack(p, cfg, enm, "enc", Le, src, lengths=src_len, routes=routes)
        cross_blocked = (~key_allowed(src_len, B, S))[:, None, None, :].expand(B, 1, T, S)
        h, m2 = run_stack(p, cfg, dnm, "dec", Ld, ids, lengths=_opt(batch, "lengths"),
                          enc=(enc_out, cross_blocked), routes=routes)
        moe_loss = m1 + m2
        nm = dnm
    else:
        nm, kind, L = st[0]
        h, moe_loss = run_stack(p, cfg, nm, kind, L, ids, types=_opt(batch, "token_types"),
                                lengths=_opt(batch, "lengths"),
                                prefix_len=_opt(batch, "prefix_len"), routes=routes,
                                pos=_opt(batch, "position_ids"), blk=_opt(batch, "block_position_ids"))
    if cfg["mlm_transform"]:
        h = norm(act(lin(h, p, "mlm_head.dense"), cfg["hidden_act"]), p, "mlm_head.norm", cfg)
    if cfg["tie_word_embeddings"]:
        W = p[nm.wte()]
        if cfg["rescale_tied_head"]:
            h = h * (cfg["hidden_size"] ** -0.5)
    else:
        W = p["lm_head.weight"]
    logits = h @ W.t()
    if cfg["lm_head_bias"]:
        logits = logits + p["lm_head.bias"]
    return logits, moe_loss


def loss_fn(logits, targets):
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), torch.as_tensor(targets).reshape(-1).long(),
                           ignore_index=-1)


def get_lr(it, lr_max=1e-3, min_lr=1e-4, warmup=2, decay=10):
    """nanoGPT train.py get_lr."""
    if it < warmup:
        return lr_max * (it + 1) / (warmup + 1)
    if it > decay:
        return min_lr
    ratio = (it - warmup) / (decay - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr_max - min_lr)


def update_bias(ps, cfg, loads):
    """DeepSeek-V3 balancing: b_e += speed * sign(mean(load) - load_e) for every sigmoid
    MoE layer; loads: {layer prefix: counts [E]} accumulated since the last update."""
    if cfg["router_type"] != "sigmoid_topk_norm":
        return
    with torch.no_grad():
        for pre, load in loads.items():
            load = load.to(torch.float64)
            b = ps[pre + "gate.e_score_correction_bias"]
            b.add_(torch.sign(load.mean() - load).to(b.dtype), alpha=cfg["router_bias_update_speed"])


def train(params, cfg, batch, targets, steps=10, betas=(0.9, 0.95), eps=1e-8, wd=0.1,
          clip=1.0, lr_fn=get_lr):
    """The drivers' AdamW recipe on one batch.  Step k: forward, record the mean CE and
    the weighted MoE loss, backward of their sum, global-norm clip over the trainable
    tensors (scale clip/(norm+1e-6) if norm > clip), decoupled decay lr*wd on ndim >= 2,
    bias-corrected Adam update, then the MoE bias update.  Tensors of kind "ecb" are not
    trained.  Returns (ce losses, moe losses, final params, routes per step)."""
    kinds = {n: k for n, _, k in param_table(cfg)}
    ps = OrderedDict((k, v.detach().clone()) for k, v in params.items())
    tr = [k for k in ps if kinds[k] != "ecb"]
    for k in tr:
        ps[k].requires_grad_(True)
    m = {k: torch.zeros_like(ps[k]) for k in tr}
    v2 = {k: torch.zeros_like(ps[k]) for k in tr}
    b1, b2 = betas
    ces, moes, all_routes = [], [], []
    for it in range(steps):
        for k in tr:
            ps[k].grad = None
        routes = []
        logits, moe_loss = forward(ps, cfg, batch, routes)
        ce = loss_fn(logits, targets)
        ces.append(ce.item())
        moes.append(float(moe_loss))
        (ce + moe_loss).backward()
        with torch.no_grad():
            for k in tr:  # a tensor the forward never touched (an expert without tokens)
                if ps[k].grad is None:
                    ps[k].grad = torch.zeros_like(ps[k])
            gn = torch.sqrt(sum((ps[k].grad.double() ** 2).sum() for k in tr)).item()
            scale = clip / (gn + 1e-6) if gn > clip else 1.0
            lr = lr_fn(it)
            step = it + 1
            bc1 = 1.0 - b1 ** step
            bc2 = 1.0 - b2 ** step
            for k in tr:
                t = ps[k]
                g = t.grad * scale
                if t.dim() >= 2:
                    t.mul_(1.0 - lr * wd)
                m[k].mul_(b1).add_(g, alpha=1.0 - b1)
                v2[k].mul_(b2).addcmul_(g, g, value=1.0 - b2)
                denom = (v2[k].sqrt() / math.sqrt(bc2)).add_(eps)
                t.addcdiv_(m[k], denom, value=-lr / bc1)
        update_bias(ps, cfg, {r["layer"]: r["counts"] for r in routes})
        all_routes.append(routes)
    return ces, moes, OrderedDict((k, v.detach()) for k, v in ps.items()), all_routes
