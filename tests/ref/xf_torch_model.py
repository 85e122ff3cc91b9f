"""PyTorch reference of the xfmr decoder-only transformer.

One functional implementation, `forward(params, cfg, ids)`, where params maps
the Hugging Face-style tensor names (docs/config.md §Tensor names) to tensors.
`XfModel` wraps it as an nn.Module (used by bench/bench_torch.py), and the
parity test and the self-test call the functional form directly.

Semantics (see the brief in tests/ref/parity.py and docs/algorithms.md §1, §2, §3, §6):
  x = wte[ids] (+ wpe[t] if learned)
  pre : x += Attn(N1(x)); x += FFN(N2(x)); ...; h = Nfinal(x)
  post: x = N1(x + Attn(x)); x = N2(x + FFN(x)); h = x
  Attn: HF rotate_half RoPE on q, k; GQA query head h uses kv head h // (H/Hkv);
        S = q k^T / sqrt(D), causal, softmax, o_proj.
  FFN : down(act(up x)) or down(act(gate x) * up x)
  logits = h W^T (W = lm_head.weight, or embed_tokens.weight when tied)
  loss = mean CE over targets != -1.
LayerNorm always carries a bias (independent of use_bias); RMSNorm has none.
"""
import math
from collections import OrderedDict

import torch
import torch.nn.functional as F

ACTS = ("gelu", "gelu_tanh", "relu", "silu")

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
}

PRESETS = {
    "bench-gpt": {
        "vocab_size": 8192, "hidden_size": 384, "intermediate_size": 1536,
        "num_hidden_layers": 6, "num_attention_heads": 6, "num_key_value_heads": 6,
        "max_position_embeddings": 256, "hidden_act": "gelu_tanh", "gated_ffn": False,
        "norm_type": "layernorm", "norm_eps": 1e-5, "norm_placement": "pre",
        "position_type": "learned", "use_bias": True, "tie_word_embeddings": True,
        "initializer_range": 0.02,
    },
}


def make_config(d):
    """Fill defaults and validate a config dict (config.json keys)."""
    cfg = dict(DEFAULTS)
    cfg.update({k: v for k, v in d.items() if k != "model_type"})
    if "num_key_value_heads" not in d or d["num_key_value_heads"] is None:
        cfg["num_key_value_heads"] = cfg["num_attention_heads"]
    for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
              "num_attention_heads", "num_key_value_heads", "max_position_embeddings"):
        if not isinstance(cfg.get(k), int) or cfg[k] <= 0:
            raise ValueError(f"config: {k} must be a positive integer")
    C, H, Hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    if C % H or H % Hkv:
        raise ValueError("config: hidden_size % heads and heads % kv_heads must be 0")
    if cfg["hidden_act"] not in ACTS:
        raise ValueError(f"config: hidden_act {cfg['hidden_act']!r}")
    if cfg["norm_type"] not in ("layernorm", "rmsnorm"):
        raise ValueError(f"config: norm_type {cfg['norm_type']!r}")
    if cfg["norm_placement"] not in ("pre", "post"):
        raise ValueError(f"config: norm_placement {cfg['norm_placement']!r}")
    if cfg["position_type"] not in ("learned", "rope", "none"):
        raise ValueError(f"config: position_type {cfg['position_type']!r}")
    if cfg["position_type"] == "rope" and (C // H) % 2:
        raise ValueError("config: rope needs an even head dim")
    return cfg


def param_shapes(cfg):
    """Ordered name -> shape of every trainable tensor."""
    V, C, I = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"]
    L, H, Hkv, P = (cfg["num_hidden_layers"], cfg["num_attention_heads"],
                    cfg["num_key_value_heads"], cfg["max_position_embeddings"])
    D = C // H
    ln = cfg["norm_type"] == "layernorm"
    bias = cfg["use_bias"]
    s = OrderedDict()
    s["model.embed_tokens.weight"] = (V, C)
    if cfg["position_type"] == "learned":
        s["model.embed_positions.weight"] = (P, C)

    def norm(prefix):
        s[prefix + ".weight"] = (C,)
        if ln:
            s[prefix + ".bias"] = (C,)

    def lin(prefix, out, inp):
        s[prefix + ".weight"] = (out, inp)
        if bias:
            s[prefix + ".bias"] = (out,)

    for i in range(L):
        p = f"model.layers.{i}."
        norm(p + "input_layernorm")
        lin(p + "self_attn.q_proj", H * D, C)
        lin(p + "self_attn.k_proj", Hkv * D, C)
        lin(p + "self_attn.v_proj", Hkv * D, C)
        lin(p + "self_attn.o_proj", C, H * D)
        norm(p + "post_attention_layernorm")
        if cfg["gated_ffn"]:
            lin(p + "mlp.gate_proj", I, C)
        lin(p + "mlp.up_proj", I, C)
        lin(p + "mlp.down_proj", C, I)
    if cfg["norm_placement"] == "pre":
        norm("model.norm")
    if not cfg["tie_word_embeddings"]:
        s["lm_head.weight"] = (V, C)
    return s


def init_params(cfg, generator, dtype=torch.float32, mode="gpt",
                matrix_std=0.3, norm_jitter=0.1, bias_std=0.1):
    """mode "gpt": nanoGPT init (N(0, initializer_range), o_proj/down_proj scaled by
    1/sqrt(2L), biases 0, norm weights 1).  mode "test": matrices N(0, matrix_std),
    norm weights 1 + N(0, norm_jitter), biases N(0, bias_std), so every tensor matters."""
    out = OrderedDict()
    std = cfg["initializer_range"]
    L = cfg["num_hidden_layers"]
    for name, shape in param_shapes(cfg).items():
        is_norm = ("layernorm" in name or name.startswith("model.norm"))
        if mode == "test":
            if is_norm and name.endswith(".weight"):
                t = 1.0 + norm_jitter * torch.randn(shape, generator=generator, dtype=torch.float64)
            elif len(shape) == 1:
                t = bias_std * torch.randn(shape, generator=generator, dtype=torch.float64)
            else:
                t = matrix_std * torch.randn(shape, generator=generator, dtype=torch.float64)
        else:
            if is_norm and name.endswith(".weight"):
                t = torch.ones(shape, dtype=torch.float64)
            elif len(shape) == 1:
                t = torch.zeros(shape, dtype=torch.float64)
            else:
                s = std / math.sqrt(2 * L) if (name.endswith("o_proj.weight")
                                                or name.endswith("down_proj.weight")) else std
                t = s * torch.randn(shape, generator=generator, dtype=torch.float64)
        out[name] = t.to(dtype)
    return out


def _act(x, name):
    if name == "gelu":
        return F.gelu(x)
    if name == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu(x)
    return F.silu(x)


def _norm(x, p, prefix, cfg):
    w = p[prefix + ".weight"]
    if cfg["norm_type"] == "layernorm":
        return F.layer_norm(x, (x.shape[-1],), w, p[prefix + ".bias"], cfg["norm_eps"])
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg["norm_eps"]) * w


def _lin(x, p, prefix):
    return F.linear(x, p[prefix + ".weight"], p.get(prefix + ".bias"))


def rope_tables(T, D, theta, dtype, device=None):
    """cos, sin of shape [T, D] in HF layout (cat(freqs, freqs)); computed in float64."""
    inv = theta ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], dim=-1)
    return emb.cos().to(dtype=dtype, device=device), emb.sin().to(dtype=dtype, device=device)


def _rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def _attn(h, p, prefix, cfg, rope, mask):
    B, T, C = h.shape
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = C // H
    q = _lin(h, p, prefix + "q_proj").view(B, T, H, D).transpose(1, 2)
    k = _lin(h, p, prefix + "k_proj").view(B, T, Hkv, D).transpose(1, 2)
    v = _lin(h, p, prefix + "v_proj").view(B, T, Hkv, D).transpose(1, 2)
    if rope is not None:
        cos, sin = rope
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
    if Hkv != H:
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
    s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(D))
    s = s.masked_fill(mask, float("-inf"))
    a = torch.softmax(s, dim=-1)
    o = (a @ v).transpose(1, 2).reshape(B, T, H * D)
    return _lin(o, p, prefix + "o_proj")


def _ffn(x, p, prefix, cfg):
    if cfg["gated_ffn"]:
        u = _act(_lin(x, p, prefix + "gate_proj"), cfg["hidden_act"]) * _lin(x, p, prefix + "up_proj")
    else:
        u = _act(_lin(x, p, prefix + "up_proj"), cfg["hidden_act"])
    return _lin(u, p, prefix + "down_proj")


def forward(p, cfg, ids):
    """ids: int tensor [B, T] -> logits [B, T, V] in the parameters' dtype."""
    B, T = ids.shape
    wte = p["model.embed_tokens.weight"]
    dtype, dev = wte.dtype, wte.device
    x = F.embedding(ids.long(), wte)
    if cfg["position_type"] == "learned":
        x = x + p["model.embed_positions.weight"][:T]
    rope = None
    if cfg["position_type"] == "rope":
        rope = rope_tables(T, cfg["hidden_size"] // cfg["num_attention_heads"],
                           float(cfg["rope_theta"]), dtype, dev)
    mask = torch.ones(T, T, dtype=torch.bool, device=dev).triu(1)  # True = blocked (j > i)
    pre = cfg["norm_placement"] == "pre"
    for i in range(cfg["num_hidden_layers"]):
        lp = f"model.layers.{i}."
        if pre:
            x = x + _attn(_norm(x, p, lp + "input_layernorm", cfg), p, lp + "self_attn.", cfg, rope, mask)
            x = x + _ffn(_norm(x, p, lp + "post_attention_layernorm", cfg), p, lp + "mlp.", cfg)
        else:
            x = _norm(x + _attn(x, p, lp + "self_attn.", cfg, rope, mask), p, lp + "input_layernorm", cfg)
            x = _norm(x + _ffn(x, p, lp + "mlp.", cfg), p, lp + "post_attention_layernorm", cfg)
    if pre:
        x = _norm(x, p, "model.norm", cfg)
    W = p["lm_head.weight"] if "lm_head.weight" in p else wte
    return x @ W.t()


def loss_fn(logits, targets):
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1).long(), ignore_index=-1)


def get_lr(it, lr_max=1e-3, min_lr=1e-4, warmup=2, decay=10):
    """nanoGPT train.py get_lr."""
    if it < warmup:
        return lr_max * (it + 1) / (warmup + 1)
    if it > decay:
        return min_lr
    ratio = (it - warmup) / (decay - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr_max - min_lr)


def adamw_losses(params, cfg, ids, targets, steps=10, betas=(0.9, 0.95), eps=1e-8,
                 wd=0.1, clip=1.0, lr_fn=get_lr):
    """Manual AdamW (PyTorch semantics) on one batch; returns the loss before each step.
    Step k: forward, backward, global-norm clip (scale 1/(norm+1e-6) if norm > clip),
    p -= lr*wd*p for ndim >= 2, then the bias-corrected Adam update."""
    ps = OrderedDict((k, v.detach().clone().requires_grad_(True)) for k, v in params.items())
    m = {k: torch.zeros_like(v) for k, v in ps.items()}
    v2 = {k: torch.zeros_like(v) for k, v in ps.items()}
    losses = []
    b1, b2 = betas
    for it in range(steps):
        for t in ps.values():
            t.grad = None
        loss = loss_fn(forward(ps, cfg, ids), targets)
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            norm = torch.sqrt(sum((t.grad.double() ** 2).sum() for t in ps.values())).item()
            scale = clip / (norm + 1e-6) if norm > clip else 1.0
            lr = lr_fn(it)
            step = it + 1
            bc1 = 1.0 - b1 ** step
            bc2 = 1.0 - b2 ** step
            for k, t in ps.items():
                g = t.grad * scale
                if t.dim() >= 2:
                    t.mul_(1.0 - lr * wd)
                m[k].mul_(b1).add_(g, alpha=1.0 - b1)
                v2[k].mul_(b2).addcmul_(g, g, value=1.0 - b2)
                denom = (v2[k].sqrt() / math.sqrt(bc2)).add_(eps)
                t.addcdiv_(m[k], denom, value=-lr / bc1)
    return losses


class XfModel(torch.nn.Module):
    """nn.Module wrapper; parameters live in a ParameterDict under mangled names
    ('.' -> '__'); named_tensors() gives the real names."""

    def __init__(self, cfg, params=None, generator=None, mode="gpt"):
        super().__init__()
        self.cfg = make_config(cfg)
        if params is None:
            params = init_params(self.cfg, generator or torch.Generator().manual_seed(0), mode=mode)
        self.names = list(params.keys())
        self.params = torch.nn.ParameterDict(
            {k.replace(".", "__"): torch.nn.Parameter(v.clone()) for k, v in params.items()})

    def named_tensors(self):
        return OrderedDict((k, self.params[k.replace(".", "__")]) for k in self.names)

    def forward(self, ids, targets=None):
        logits = forward(self.named_tensors(), self.cfg, ids)
        loss = None if targets is None else loss_fn(logits, targets)
        return logits, loss
