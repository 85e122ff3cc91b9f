#!/usr/bin/python3
"""Hugging Face directories against PyTorch: xfmr loading a directory as
transformers saves it gives the logits of an independent torch forward of
that architecture.

usage: /usr/bin/python3 tests/ref/hf_parity.py --build BUILD [--case NAME ...] [--keep DIR]

No transformers package is available offline, so each architecture's forward
is written here from transformers' modeling code (modeling_llama.py,
modeling_mixtral.py, modeling_qwen2.py, modeling_gpt2.py, modeling_bert.py,
modeling_roberta.py, modeling_t5.py, modeling_bart.py), reading the weights
by their HF names and in their HF layouts (Conv1D [in, out], fused c_attn,
final_logits_bias [1, V], ...): it shares nothing with xfmr's name tables.

Per case: small random weights (matrices N(0, 0.2^2), norm gains 1 + N(0, 0.1^2),
biases N(0, 0.2^2)) stored as the case says (F32, F16 or BF16; one file, or
shards with model.safetensors.index.json), config.json in the architecture's
own field names; the reference runs in float64 on the stored (rounded)
weights. BUILD/tests/tools/ref_driver_batch reads the directory through
xf_model_open and its "logits" are compared. Lines:
  PASS|FAIL hf_<case>_logits      max|c - ref| / max|ref| <= 1e-4
  PASS|FAIL hf_<case>_roundtrip   xfmr export --format hf of that directory, and
                                  HF -> xfmr checkpoint -> HF, load back with
                                  bit-identical logits
  PASS|FAIL hf_llama_export_f16   --dtype f16 / bf16: each tensor equals torch's rounding of the
            hf_llama_export_bf16  f32 one bit for bit; logits within 2^-8 (f16) / 2^-5 (bf16) relative
  PASS|FAIL hf_refuse_prefix_lm   a prefix LM is refused in one line naming prefix_lm
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001  (any import failure means skip)
    import parity_common
    parity_common.skip_without_torch("hf_parity", "Hugging Face directories", e)

import xf_safetensors as st  # noqa: E402
from parity_common import TOL_LOGITS, ok, rel_tensor  # noqa: E402

torch.set_default_dtype(torch.float64)
MARGIN_MIN = 1e-3

# ---------------------------------------------------------------- building blocks (float64)

ACT = {
    "silu": F.silu,
    "relu": F.relu,
    "gelu": lambda x: F.gelu(x),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
}


def lin(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


def rms(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def lnorm(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def attend(q, k, v, H, Hkv, mask=None, scale=1.0, bias=None):
    """q [B,T,H*D], k/v [B,S,Hkv*D] -> [B,T,H*D]; KV heads repeated as repeat_kv does."""
    B, T, _ = q.shape
    S = k.shape[1]
    D = q.shape[-1] // H
    q = q.view(B, T, H, D).transpose(1, 2)
    k = k.view(B, S, Hkv, D).transpose(1, 2).repeat_interleave(H // Hkv, dim=1)
    v = v.view(B, S, Hkv, D).transpose(1, 2).repeat_interleave(H // Hkv, dim=1)
    s = q @ k.transpose(-1, -2) * scale
    if bias is not None:
        s = s + bias
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * D)


def causal(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


def rope(x, H, T, theta):
    """LLaMA's rotate_half RoPE on x [B,T,H*D] at positions 0..T-1."""
    B = x.shape[0]
    D = x.shape[-1] // H
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    fr = torch.arange(T, dtype=torch.float64)[:, None] * inv[None]
    emb = torch.cat([fr, fr], -1)
    cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
    x = x.view(B, T, H, D)
    rot = torch.cat([-x[..., D // 2:], x[..., : D // 2]], -1)
    return (x * cos + rot * sin).reshape(B, T, H * D)


# ---------------------------------------------------------------- the architectures


def llama_forward(cfg, sd, b):
    """LlamaForCausalLM (also Mistral, Qwen2 with q/k/v biases, Mixtral's sparse MoE block)."""
    ids = b["ids"]
    T = ids.shape[1]
    H = cfg["num_attention_heads"]
    Hkv = cfg.get("num_key_value_heads", H)
    eps = cfg["rms_norm_eps"]
    theta = cfg.get("rope_theta", 10000.0)
    act = ACT[cfg["hidden_act"]]
    D = cfg["hidden_size"] // H
    h = sd["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = rms(h, sd[p + "input_layernorm.weight"], eps)
        q = lin(x, sd[p + "self_attn.q_proj.weight"], sd.get(p + "self_attn.q_proj.bias"))
        k = lin(x, sd[p + "self_attn.k_proj.weight"], sd.get(p + "self_attn.k_proj.bias"))
        v = lin(x, sd[p + "self_attn.v_proj.weight"], sd.get(p + "self_attn.v_proj.bias"))
        o = attend(rope(q, H, T, theta), rope(k, Hkv, T, theta), v, H, Hkv, causal(T), D ** -0.5)
        h = h + lin(o, sd[p + "self_attn.o_proj.weight"], sd.get(p + "self_attn.o_proj.bias"))
        x = rms(h, sd[p + "post_attention_layernorm.weight"], eps)
        if cfg["model_type"] == "mixtral":
            h = h + mixtral_moe(cfg, sd, p + "block_sparse_moe.", x, act)
        elif cfg["model_type"] == "glm4_moe" and i >= cfg["first_k_dense_replace"]:
            h = h + glm4_moe(cfg, sd, p + "mlp.", x, act)
        else:
            m = p + "mlp."
            g = lin(x, sd[m + "gate_proj.weight"], sd.get(m + "gate_proj.bias"))
            u = lin(x, sd[m + "up_proj.weight"], sd.get(m + "up_proj.bias"))
            h = h + lin(act(g) * u, sd[m + "down_proj.weight"], sd.get(m + "down_proj.bias"))
    h = rms(h, sd["model.norm.weight"], eps)
    tied = cfg.get("tie_word_embeddings", False)
    return h @ (sd["model.embed_tokens.weight"] if tied else sd["lm_head.weight"]).T


def swiglu(x, p, sd, act):
    return lin(act(lin(x, sd[p + "gate_proj.weight"])) * lin(x, sd[p + "up_proj.weight"]), sd[p + "down_proj.weight"])


def glm4_moe(cfg, sd, p, x, act):
    """Glm4MoeMoE (DeepSeek-V3's router): sigmoid scores, choice by score + e_score_correction_bias
    within the best topk_group of n_group groups, weights the chosen scores normalised (norm_topk_prob)
    and scaled by routed_scaling_factor; plus the shared experts on every token."""
    E, K = cfg["n_routed_experts"], cfg["num_experts_per_tok"]
    ng, tg = cfg["n_group"], cfg["topk_group"]
    B, T, C = x.shape
    xf = x.reshape(-1, C)
    scores = lin(xf, sd[p + "gate.weight"]).sigmoid()
    choice = scores + sd[p + "gate.e_score_correction_bias"]
    gs = choice.view(-1, ng, E // ng).topk(2, dim=-1)[0].sum(-1)
    gmask = torch.zeros_like(gs).scatter_(1, gs.topk(tg, dim=-1)[1], 1)
    smask = gmask.unsqueeze(-1).expand(-1, ng, E // ng).reshape(-1, E)
    masked = choice.masked_fill(~smask.bool(), 0.0)
    sel = masked.topk(K, dim=-1)[1]
    srt = masked.sort(-1, descending=True).values
    mixtral_moe.gap = min(getattr(mixtral_moe, "gap", 1.0), float((srt[..., K - 1] - srt[..., K]).min()))
    w = scores.gather(1, sel)
    w = w / (w.sum(-1, keepdim=True) + 1e-20) * cfg["routed_scaling_factor"]
    out = torch.zeros_like(xf)
    for e in range(E):
        we = (w * (sel == e)).sum(-1, keepdim=True)
        out = out + we * swiglu(xf, f"{p}experts.{e}.", sd, act)
    return out.view(B, T, C) + swiglu(x, p + "shared_experts.", sd, act)


def mixtral_moe(cfg, sd, p, x, act):
    """Softmax over all experts, top-k, renormalised; experts w2(act(w1 x) * w3 x)."""
    K = cfg["num_experts_per_tok"]
    logits = lin(x, sd[p + "gate.weight"])
    probs = logits.softmax(-1)
    w, sel = probs.topk(K, -1)
    srt = logits.sort(-1, descending=True).values  # the deciding margin, in logits
    mixtral_moe.gap = min(getattr(mixtral_moe, "gap", 1.0), float((srt[..., K - 1] - srt[..., K]).min()))
    w = w / w.sum(-1, keepdim=True)
    out = torch.zeros_like(x)
    for e in range(cfg["num_local_experts"]):
        q = f"{p}experts.{e}."
        y = lin(act(lin(x, sd[q + "w1.weight"])) * lin(x, sd[q + "w3.weight"]), sd[q + "w2.weight"])
        out = out + (w * (sel == e)).sum(-1, keepdim=True) * y
    return out


def gpt2_forward(cfg, sd, b):
    """GPT2LMHeadModel: Conv1D (x @ W + b, W [in, out]), fused c_attn, tied head."""
    sd = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in sd.items()}
    ids = b["ids"]
    T = ids.shape[1]
    C, H = cfg["n_embd"], cfg["n_head"]
    eps = cfg["layer_norm_epsilon"]
    act = ACT[cfg["activation_function"]]

    def conv(x, n):
        return x @ sd[n + ".weight"] + sd[n + ".bias"]

    def ln(x, n):
        return lnorm(x, sd[n + ".weight"], sd[n + ".bias"], eps)

    h = sd["wte.weight"][ids] + sd["wpe.weight"][torch.arange(T)]
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        q, k, v = conv(ln(h, p + "ln_1"), p + "attn.c_attn").split(C, -1)
        h = h + conv(attend(q, k, v, H, H, causal(T), (C // H) ** -0.5), p + "attn.c_proj")
        h = h + conv(act(conv(ln(h, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj")
    return ln(h, "ln_f") @ sd["wte.weight"].T


def bert_forward(cfg, sd, b):
    """BertForMaskedLM / RobertaForMaskedLM: post-LN encoder, MLM head with transform and bias."""
    rob = cfg["model_type"] == "roberta"
    pre = "roberta." if rob else "bert."
    ids, types = b["ids"], b["token_types"]
    T = ids.shape[1]
    H = cfg["num_attention_heads"]
    D = cfg["hidden_size"] // H
    eps = cfg["layer_norm_eps"]
    act = ACT[cfg["hidden_act"]]

    def L(x, n):
        return lin(x, sd[n + ".weight"], sd[n + ".bias"])

    def ln(x, n):
        return lnorm(x, sd[n + ".weight"], sd[n + ".bias"], eps)

    if rob:  # create_position_ids_from_input_ids: padding_idx + 1 + index of the non-pad tokens
        pad = cfg["pad_token_id"]
        m = (ids != pad).long()
        pos = torch.cumsum(m, 1) * m + pad
    else:
        pos = torch.arange(T)[None].expand_as(ids)
    e = pre + "embeddings."
    h = sd[e + "word_embeddings.weight"][ids] + sd[e + "position_embeddings.weight"][pos] \
        + sd[e + "token_type_embeddings.weight"][types]
    h = ln(h, e + "LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        p = f"{pre}encoder.layer.{i}."
        a = p + "attention."
        o = attend(L(h, a + "self.query"), L(h, a + "self.key"), L(h, a + "self.value"), H, H, None, D ** -0.5)
        h = ln(L(o, a + "output.dense") + h, a + "output.LayerNorm")
        h = ln(L(act(L(h, p + "intermediate.dense")), p + "output.dense") + h, p + "output.LayerNorm")
    W = sd[e + "word_embeddings.weight"]
    if rob:
        t = lnorm(F.gelu(L(h, "lm_head.dense")), sd["lm_head.layer_norm.weight"], sd["lm_head.layer_norm.bias"], eps)
        return t @ W.T + sd["lm_head.bias"]
    t = ln(act(L(h, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm")
    return t @ W.T + sd["cls.predictions.bias"]


def t5_bucket(rel, bidirectional, nb, md):
    """T5Attention._relative_position_bucket (the log part in float32, as there)."""
    ret = torch.zeros_like(rel)
    if bidirectional:
        nb //= 2
        ret = ret + (rel > 0).long() * nb
        n = rel.abs()
    else:
        n = -torch.min(rel, torch.zeros_like(rel))
    me = nb // 2
    large = me + (torch.log(n.float() / me) / math.log(md / me) * (nb - me)).to(torch.long)
    large = torch.min(large, torch.full_like(large, nb - 1))
    return ret + torch.where(n < me, n, large)


def t5_forward(cfg, sd, b):
    """T5ForConditionalGeneration (v1.0 relu and tied with the d_model^-1/2 rescale; v1.1 gated-gelu)."""
    src, dec = b["src"], b["ids"]
    C, H = cfg["d_model"], cfg["num_heads"]
    eps = cfg["layer_norm_epsilon"]
    nb, md = cfg["relative_attention_num_buckets"], cfg["relative_attention_max_distance"]
    ff = cfg["feed_forward_proj"]
    gated = ff.startswith("gated-")
    act = ACT["gelu_new" if ff == "gated-gelu" else ff.replace("gated-", "")]

    def pbias(key, T, bidir):
        rel = torch.arange(T)[None, :] - torch.arange(T)[:, None]
        return sd[key][t5_bucket(rel, bidir, nb, md)].permute(2, 0, 1)[None]

    def ffn(x, p):
        if gated:
            return lin(act(lin(x, sd[p + "wi_0.weight"])) * lin(x, sd[p + "wi_1.weight"]), sd[p + "wo.weight"])
        return lin(act(lin(x, sd[p + "wi.weight"])), sd[p + "wo.weight"])

    def attn(x, kv, p, mask, bias):
        return lin(attend(lin(x, sd[p + "q.weight"]), lin(kv, sd[p + "k.weight"]), lin(kv, sd[p + "v.weight"]), H, H,
                          mask, 1.0, bias), sd[p + "o.weight"])

    h = sd["shared.weight"][src]
    pb = pbias("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", src.shape[1], True)
    for i in range(cfg["num_layers"]):
        p = f"encoder.block.{i}.layer."
        x = rms(h, sd[p + "0.layer_norm.weight"], eps)
        h = h + attn(x, x, p + "0.SelfAttention.", None, pb)
        h = h + ffn(rms(h, sd[p + "1.layer_norm.weight"], eps), p + "1.DenseReluDense.")
    enc = rms(h, sd["encoder.final_layer_norm.weight"], eps)
    T = dec.shape[1]
    h = sd["shared.weight"][dec]
    pb = pbias("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", T, False)
    for i in range(cfg.get("num_decoder_layers", cfg["num_layers"])):
        p = f"decoder.block.{i}.layer."
        x = rms(h, sd[p + "0.layer_norm.weight"], eps)
        h = h + attn(x, x, p + "0.SelfAttention.", causal(T), pb)
        h = h + attn(rms(h, sd[p + "1.layer_norm.weight"], eps), enc, p + "1.EncDecAttention.", None, None)
        h = h + ffn(rms(h, sd[p + "2.layer_norm.weight"], eps), p + "2.DenseReluDense.")
    h = rms(h, sd["decoder.final_layer_norm.weight"], eps)
    if cfg["tie_word_embeddings"]:
        return (h * C ** -0.5) @ sd["shared.weight"].T
    return h @ sd["lm_head.weight"].T


def bart_forward(cfg, sd, b):
    """BartForConditionalGeneration: post-LN, positions read at index + 2, layernorm_embedding,
    tied head plus final_logits_bias."""
    src, dec = b["src"], b["ids"]
    H = cfg["encoder_attention_heads"]
    D = cfg["d_model"] // H
    act = ACT[cfg["activation_function"]]

    def L(x, n):
        return lin(x, sd[n + ".weight"], sd[n + ".bias"])

    def ln(x, n):
        return lnorm(x, sd[n + ".weight"], sd[n + ".bias"], 1e-5)

    def attn(x, kv, p, mask):
        o = attend(L(x, p + "q_proj"), L(kv, p + "k_proj"), L(kv, p + "v_proj"), H, H, mask, D ** -0.5)
        return L(o, p + "out_proj")

    def embed(ids, stack):
        T = ids.shape[1]
        h = sd["model.shared.weight"][ids] + sd[f"model.{stack}.embed_positions.weight"][torch.arange(T) + 2]
        return ln(h, f"model.{stack}.layernorm_embedding")

    h = embed(src, "encoder")
    for i in range(cfg["encoder_layers"]):
        p = f"model.encoder.layers.{i}."
        h = ln(h + attn(h, h, p + "self_attn.", None), p + "self_attn_layer_norm")
        h = ln(h + L(act(L(h, p + "fc1")), p + "fc2"), p + "final_layer_norm")
    enc = h
    h = embed(dec, "decoder")
    for i in range(cfg["decoder_layers"]):
        p = f"model.decoder.layers.{i}."
        h = ln(h + attn(h, h, p + "self_attn.", causal(dec.shape[1])), p + "self_attn_layer_norm")
        h = ln(h + attn(h, enc, p + "encoder_attn.", None), p + "encoder_attn_layer_norm")
        h = ln(h + L(act(L(h, p + "fc1")), p + "fc2"), p + "final_layer_norm")
    return h @ sd["model.shared.weight"].T + sd["final_logits_bias"][0]


# ---------------------------------------------------------------- weights as transformers saves them

class Gen:
    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)
        self.sd = {}

    def mat(self, name, *shape, std=0.2):
        self.sd[name] = torch.randn(*shape, generator=self.g) * std

    def gain(self, name, n, bias=False):
        self.sd[name + ".weight"] = 1 + torch.randn(n, generator=self.g) * 0.1
        if bias:
            self.mat(name + ".bias", n)

    def linear(self, name, out, inp, bias):
        self.mat(name + ".weight", out, inp)
        if bias:
            self.mat(name + ".bias", out)


def llama_weights(cfg, seed):
    g = Gen(seed)
    C, V, I = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H) * (C // H)
    glm = cfg["model_type"] == "glm4_moe"
    qkvb = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    obias = cfg.get("attention_bias", False) and not glm
    g.mat("model.embed_tokens.weight", V, C)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        g.gain(p + "input_layernorm", C)
        g.linear(p + "self_attn.q_proj", C, C, qkvb)
        g.linear(p + "self_attn.k_proj", KV, C, qkvb)
        g.linear(p + "self_attn.v_proj", KV, C, qkvb)
        g.linear(p + "self_attn.o_proj", C, C, obias)
        g.gain(p + "post_attention_layernorm", C)
        if cfg["model_type"] == "mixtral":
            g.mat(p + "block_sparse_moe.gate.weight", cfg["num_local_experts"], C, std=0.5)
            for e in range(cfg["num_local_experts"]):
                q = f"{p}block_sparse_moe.experts.{e}."
                g.mat(q + "w1.weight", I, C)
                g.mat(q + "w2.weight", C, I)
                g.mat(q + "w3.weight", I, C)
        elif glm and i >= cfg["first_k_dense_replace"]:
            E, Ie = cfg["n_routed_experts"], cfg["moe_intermediate_size"]
            g.mat(p + "mlp.gate.weight", E, C, std=0.5)
            g.mat(p + "mlp.gate.e_score_correction_bias", E, std=0.05)
            for q, w in [(f"{p}mlp.experts.{e}.", Ie) for e in range(E)] + \
                    [(p + "mlp.shared_experts.", Ie * cfg["n_shared_experts"])]:
                g.mat(q + "gate_proj.weight", w, C)
                g.mat(q + "up_proj.weight", w, C)
                g.mat(q + "down_proj.weight", C, w)
        else:
            for n, o, k in (("gate_proj", I, C), ("up_proj", I, C), ("down_proj", C, I)):
                g.linear(p + "mlp." + n, o, k, cfg.get("mlp_bias", False))
    g.gain("model.norm", C)
    if not cfg.get("tie_word_embeddings", False):
        g.mat("lm_head.weight", V, C)
    return g.sd


def gpt2_weights(cfg, seed, prefix):
    g = Gen(seed)
    C, V = cfg["n_embd"], cfg["vocab_size"]
    I = cfg.get("n_inner") or 4 * C
    P = cfg["n_positions"]
    g.mat(prefix + "wte.weight", V, C)
    g.mat(prefix + "wpe.weight", P, C)
    for i in range(cfg["n_layer"]):
        p = f"{prefix}h.{i}."
        g.gain(p + "ln_1", C, True)
        g.mat(p + "attn.c_attn.weight", C, 3 * C)  # Conv1D: [in, out]
        g.mat(p + "attn.c_attn.bias", 3 * C)
        g.mat(p + "attn.c_proj.weight", C, C)
        g.mat(p + "attn.c_proj.bias", C)
        g.gain(p + "ln_2", C, True)
        g.mat(p + "mlp.c_fc.weight", C, I)
        g.mat(p + "mlp.c_fc.bias", I)
        g.mat(p + "mlp.c_proj.weight", I, C)
        g.mat(p + "mlp.c_proj.bias", C)
        # the causal-mask buffers older transformers saved
        g.sd[p + "attn.bias"] = torch.ones(1, 1, P, P).tril()
        g.sd[p + "attn.masked_bias"] = torch.tensor(-1e4)
    g.gain(prefix + "ln_f", C, True)
    return g.sd


def bert_weights(cfg, seed):
    g = Gen(seed)
    rob = cfg["model_type"] == "roberta"
    pre = "roberta." if rob else "bert."
    C, V, I = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    e = pre + "embeddings."
    g.mat(e + "word_embeddings.weight", V, C)
    g.mat(e + "position_embeddings.weight", cfg["max_position_embeddings"], C)
    g.mat(e + "token_type_embeddings.weight", cfg["type_vocab_size"], C)
    g.gain(e + "LayerNorm", C, True)
    for i in range(cfg["num_hidden_layers"]):
        p = f"{pre}encoder.layer.{i}."
        for n in ("query", "key", "value"):
            g.linear(p + "attention.self." + n, C, C, True)
        g.linear(p + "attention.output.dense", C, C, True)
        g.gain(p + "attention.output.LayerNorm", C, True)
        g.linear(p + "intermediate.dense", I, C, True)
        g.linear(p + "output.dense", C, I, True)
        g.gain(p + "output.LayerNorm", C, True)
    g.linear(pre + "pooler.dense", C, C, True)  # BertModel's pooler: not used by the MLM head
    if rob:
        g.linear("lm_head.dense", C, C, True)
        g.gain("lm_head.layer_norm", C, True)
        g.mat("lm_head.bias", V)
    else:
        g.linear("cls.predictions.transform.dense", C, C, True)
        g.gain("cls.predictions.transform.LayerNorm", C, True)
        g.mat("cls.predictions.bias", V)
    return g.sd


def t5_weights(cfg, seed):
    g = Gen(seed)
    C, V, I, H = cfg["d_model"], cfg["vocab_size"], cfg["d_ff"], cfg["num_heads"]
    gated = cfg["feed_forward_proj"].startswith("gated-")
    g.mat("shared.weight", V, C, std=1.0)
    for stack, n in (("encoder", cfg["num_layers"]), ("decoder", cfg.get("num_decoder_layers", cfg["num_layers"]))):
        for i in range(n):
            p = f"{stack}.block.{i}.layer."
            g.gain(p + "0.layer_norm", C)
            for w in "qkvo":
                g.mat(p + f"0.SelfAttention.{w}.weight", C, C)
            if i == 0:
                g.mat(p + "0.SelfAttention.relative_attention_bias.weight", cfg["relative_attention_num_buckets"], H,
                      std=1.0)
            f = 1
            if stack == "decoder":
                g.gain(p + "1.layer_norm", C)
                for w in "qkvo":
                    g.mat(p + f"1.EncDecAttention.{w}.weight", C, C)
                f = 2
            g.gain(p + f"{f}.layer_norm", C)
            for w in (("wi_0", "wi_1") if gated else ("wi",)):
                g.mat(p + f"{f}.DenseReluDense.{w}.weight", I, C)
            g.mat(p + f"{f}.DenseReluDense.wo.weight", C, I)
        g.gain(f"{stack}.final_layer_norm", C)
    # the stacks' references to the shared embedding, as older transformers saved them
    g.sd["encoder.embed_tokens.weight"] = g.sd["shared.weight"].clone()
    g.sd["decoder.embed_tokens.weight"] = g.sd["shared.weight"].clone()
    if not cfg["tie_word_embeddings"]:
        g.mat("lm_head.weight", V, C)
    return g.sd


def bart_weights(cfg, seed):
    g = Gen(seed)
    C, V, I = cfg["d_model"], cfg["vocab_size"], cfg["encoder_ffn_dim"]
    g.mat("model.shared.weight", V, C)
    for stack, n in (("encoder", cfg["encoder_layers"]), ("decoder", cfg["decoder_layers"])):
        s = f"model.{stack}."
        g.mat(s + "embed_positions.weight", cfg["max_position_embeddings"] + 2, C)
        g.gain(s + "layernorm_embedding", C, True)
        for i in range(n):
            p = f"{s}layers.{i}."
            atts = ["self_attn"] + (["encoder_attn"] if stack == "decoder" else [])
            for a in atts:
                for w in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    g.linear(f"{p}{a}.{w}", C, C, True)
                g.gain(f"{p}{a}_layer_norm", C, True)
            g.linear(p + "fc1", I, C, True)
            g.linear(p + "fc2", C, I, True)
            g.gain(p + "final_layer_norm", C, True)
    g.sd["final_logits_bias"] = torch.randn(1, V, generator=g.g) * 0.2
    return g.sd


# ---------------------------------------------------------------- cases

V = 61
LL = dict(vocab_size=V, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
          num_key_value_heads=2, max_position_embeddings=64, hidden_act="silu", rms_norm_eps=1e-5,
          rope_theta=10000.0, tie_word_embeddings=False, initializer_range=0.02, bos_token_id=1, eos_token_id=2,
          torch_dtype="float32", use_cache=True, transformers_version="4.46.0")


def cfg_of(base, **kw):
    c = dict(base)
    c.update(kw)
    return c


CASES = {
    "llama": dict(cfg=cfg_of(LL, model_type="llama", architectures=["LlamaForCausalLM"], rope_theta=500000.0,
                             attention_bias=False, mlp_bias=False, rope_scaling=None),
                  weights=llama_weights, fwd=llama_forward, dtype="F32", shards=1),
    "llama_bf16_sharded_tied": dict(cfg=cfg_of(LL, model_type="llama", tie_word_embeddings=True,
                                               num_key_value_heads=1),
                                    weights=llama_weights, fwd=llama_forward, dtype="BF16", shards=3),
    "mistral_f16_window": dict(cfg=cfg_of(LL, model_type="mistral", sliding_window=16, head_dim=8),
                               weights=llama_weights, fwd=llama_forward, dtype="F16", shards=1),
    "qwen2_tied": dict(cfg=cfg_of(LL, model_type="qwen2", tie_word_embeddings=True, use_sliding_window=False,
                                  sliding_window=4096, max_window_layers=2, rms_norm_eps=1e-6),
                       weights=llama_weights, fwd=llama_forward, dtype="F32", shards=2),
    "mixtral": dict(cfg=cfg_of(LL, model_type="mixtral", num_local_experts=4, num_experts_per_tok=2,
                               router_aux_loss_coef=0.02, router_jitter_noise=0.0, sliding_window=None),
                    weights=llama_weights, fwd=llama_forward, dtype="F32", shards=2),
    "glm4_moe": dict(cfg=cfg_of(LL, model_type="glm4_moe", architectures=["Glm4MoeForCausalLM"], num_hidden_layers=3,
                                attention_bias=True, partial_rotary_factor=1.0, use_qk_norm=False, n_routed_experts=8,
                                num_experts_per_tok=3, moe_intermediate_size=16, n_shared_experts=2,
                                first_k_dense_replace=1, routed_scaling_factor=2.5, n_group=1, topk_group=1,
                                norm_topk_prob=True, rope_scaling=None),
                     weights=llama_weights, fwd=llama_forward, dtype="F32", shards=2),
    # DeepSeek-V3's group-limited routing: each token's experts come from the best 1 of 2 groups of 4
    "glm4_moe_grouped": dict(cfg=cfg_of(LL, model_type="glm4_moe", architectures=["Glm4MoeForCausalLM"],
                                        num_hidden_layers=3, attention_bias=False, partial_rotary_factor=1.0,
                                        use_qk_norm=False, n_routed_experts=8, num_experts_per_tok=3,
                                        moe_intermediate_size=16, n_shared_experts=1, first_k_dense_replace=1,
                                        routed_scaling_factor=1.5, n_group=2, topk_group=1, norm_topk_prob=True,
                                        rope_scaling=None),
                             weights=llama_weights, fwd=llama_forward, dtype="F32", shards=1),
    "gpt2": dict(cfg=dict(model_type="gpt2", architectures=["GPT2LMHeadModel"], vocab_size=V, n_embd=32, n_layer=2,
                          n_head=4, n_positions=64, n_inner=None, activation_function="gelu_new",
                          layer_norm_epsilon=1e-5, resid_pdrop=0.1, scale_attn_weights=True),
                 weights=lambda c, s: gpt2_weights(c, s, ""), fwd=gpt2_forward, dtype="F32", shards=1),
    "gpt2_prefixed_f16": dict(cfg=dict(model_type="gpt2", vocab_size=V, n_embd=32, n_layer=2, n_head=2,
                                       n_positions=32, n_inner=80, activation_function="gelu_new",
                                       layer_norm_epsilon=1e-5),
                              weights=lambda c, s: gpt2_weights(c, s, "transformer."), fwd=gpt2_forward,
                              dtype="F16", shards=2),
    "bert": dict(cfg=dict(model_type="bert", architectures=["BertForMaskedLM"], vocab_size=V, hidden_size=32,
                          num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, hidden_act="gelu",
                          max_position_embeddings=32, type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0,
                          position_embedding_type="absolute"),
                 weights=bert_weights, fwd=bert_forward, dtype="F32", shards=1),
    "roberta": dict(cfg=dict(model_type="roberta", vocab_size=V, hidden_size=32, num_hidden_layers=2,
                             num_attention_heads=4, intermediate_size=64, hidden_act="gelu",
                             max_position_embeddings=34, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1,
                             bos_token_id=0, eos_token_id=2),
                    weights=bert_weights, fwd=bert_forward, dtype="F32", shards=1),
    "t5": dict(cfg=dict(model_type="t5", architectures=["T5ForConditionalGeneration"], vocab_size=V, d_model=32,
                        d_kv=8, d_ff=48, num_layers=2, num_decoder_layers=2, num_heads=4,
                        relative_attention_num_buckets=8, relative_attention_max_distance=16,
                        layer_norm_epsilon=1e-6, feed_forward_proj="relu", tie_word_embeddings=True,
                        decoder_start_token_id=0, is_encoder_decoder=True),
               weights=t5_weights, fwd=t5_forward, dtype="F32", shards=1),
    "mt5_bf16": dict(cfg=dict(model_type="mt5", vocab_size=V, d_model=32, d_kv=8, d_ff=40, num_layers=2,
                              num_decoder_layers=3, num_heads=4, relative_attention_num_buckets=8,
                              relative_attention_max_distance=16, layer_norm_epsilon=1e-6,
                              feed_forward_proj="gated-gelu", tie_word_embeddings=False),
                     weights=t5_weights, fwd=t5_forward, dtype="BF16", shards=2),
    "bart": dict(cfg=dict(model_type="bart", architectures=["BartForConditionalGeneration"], vocab_size=V,
                          d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                          decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
                          activation_function="gelu", max_position_embeddings=32, scale_embedding=False,
                          decoder_start_token_id=2, pad_token_id=1, is_encoder_decoder=True),
                 weights=bart_weights, fwd=bart_forward, dtype="F32", shards=1),
}


def stored(t, dtype):
    """The tensor as the file holds it (numpy, bf16 as raw bits) and as xfmr will read it (float64)."""
    if dtype == "F32":
        r = t.to(torch.float32)
        return r.numpy(), r.double()
    if dtype == "F16":
        r = t.to(torch.float16)
        return r.numpy(), r.double()
    r = t.to(torch.bfloat16)
    return r.view(torch.int16).numpy().view(np.uint16), r.double()


def write_dir(d, cfg, sd, dtype, shards):
    """config.json plus one model.safetensors or `shards` shards with the index, as save_pretrained writes."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    names = sorted(sd)
    ref = {}
    files = {}
    for i, n in enumerate(names):
        arr, r = stored(sd[n], dtype)
        ref[n] = r
        k = i * shards // len(names)
        fn = "model.safetensors" if shards == 1 else f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        files.setdefault(fn, {})[n] = arr
    for fn, ts in files.items():
        st.save(os.path.join(d, fn), ts, bf16=set(ts) if dtype == "BF16" else ())
    if shards > 1:
        wm = {n: fn for fn, ts in files.items() for n in ts}
        total = sum(a.nbytes for ts in files.values() for a in ts.values())
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": wm}, f, indent=2)
    return ref


def make_batch(name, cfg, seed):
    g = torch.Generator().manual_seed(seed)
    B, T, S = 2, 7, 6
    lo = 3 if cfg["model_type"] == "roberta" else 0  # RoBERTa's positions skip its pad id (1)
    b = {"ids": torch.randint(lo, V, (B, T), generator=g), "targets": torch.randint(0, V, (B, T), generator=g)}
    if cfg["model_type"] in ("bert", "roberta"):
        b["token_types"] = torch.randint(0, cfg["type_vocab_size"], (B, T), generator=g)
    if cfg["model_type"] in ("t5", "mt5", "bart"):
        b["src"] = torch.randint(0, V, (B, S), generator=g)
    return b


def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)


def driver_logits(build, mdir, bpath, outp):
    cp = run([os.path.join(build, "tests/tools/ref_driver_batch"), mdir, bpath, outp])
    if cp.returncode != 0:
        return None, (cp.stderr.decode(errors="replace") + cp.stdout.decode(errors="replace"))[-400:].strip()
    return st.load(outp)["logits"], ""


def report(name, passed, detail):
    print(f"{'PASS' if passed else 'FAIL'} hf_{name}" + ((": " if not passed else "  # ") + detail if detail else ""),
          flush=True)
    return passed


def run_case(name, case, build, work):
    cfg = case["cfg"]
    d = os.path.join(work, name)
    sd = case["weights"](cfg, 1234)
    ref_sd = write_dir(os.path.join(d, "hf"), cfg, sd, case["dtype"], case["shards"])
    # a batch whose top-k routing is decided by a margin fp32 cannot flip: MARGIN_MIN in router logits
    for seed in range(99, 199):
        b = make_batch(name, cfg, seed)
        mixtral_moe.gap = 1.0
        ref = case["fwd"](cfg, ref_sd, b)
        if mixtral_moe.gap >= MARGIN_MIN:
            break
    bpath = os.path.join(d, "batch.safetensors")
    st.save(bpath, {k: v.to(torch.int32).numpy() for k, v in b.items()})
    c, err = driver_logits(build, os.path.join(d, "hf"), bpath, os.path.join(d, "out.safetensors"))
    results = []
    if c is None:
        results.append(report(f"{name}_logits", False, f"driver failed: {err}"))
        return results
    e, num, den = rel_tensor(c, ref.numpy())
    extra = f"; smallest top-k routing gap {mixtral_moe.gap:.3g}" if cfg["model_type"] in ("mixtral", "glm4_moe") else ""
    results.append(report(f"{name}_logits", ok(e, TOL_LOGITS) and c.shape == tuple(ref.shape),
                          f"{case['dtype']}, {case['shards']} file(s): max|c-ref|/max|ref| = {e:.3g} (abs {num:.3g}, "
                          f"max|ref| {den:.3g}); tol {TOL_LOGITS:g}{extra}"))
    # round trips: HF -> HF, and HF -> xfmr checkpoint -> HF; every reload gives the same logits bit for bit
    xfmr = os.path.join(build, "xfmr")
    steps = [("hf", os.path.join(d, "hf"), os.path.join(d, "rt_hf")),
             ("xfmr", os.path.join(d, "hf"), os.path.join(d, "native")),
             ("hf", os.path.join(d, "native"), os.path.join(d, "rt_native"))]
    problems, types = [], []
    for fmt, src, dst in steps:
        cp = run([xfmr, "export", "--format", fmt, "--model", src, "--out", dst])
        if cp.returncode != 0:
            problems.append(f"export {fmt} of {os.path.basename(src)}: {cp.stderr.decode(errors='replace').strip()}")
            break
        c2, err = driver_logits(build, dst, bpath, os.path.join(d, "out2.safetensors"))
        if c2 is None:
            problems.append(f"{os.path.basename(dst)}: {err}")
            break
        if not np.array_equal(c2, c):
            problems.append(f"{os.path.basename(dst)}: logits differ (max {np.max(np.abs(c2 - c)):.3g})")
        if fmt == "hf":
            with open(os.path.join(dst, "config.json")) as f:
                types.append(json.load(f)["model_type"])
    results.append(report(f"{name}_roundtrip", not problems,
                          "; ".join(problems) if problems else f"{cfg['model_type']} -> {' -> '.join(types)}, "
                          "bit-identical logits"))
    return results


def half_exports(build, work, name):
    """xfmr export --format hf --dtype f16|bf16: every tensor is torch's round-to-nearest-even of the
    f32 one, bit for bit; the logits of the reloaded model stay within that precision."""
    d = os.path.join(work, name)
    ref = st.load(os.path.join(d, "rt_hf", "model.safetensors"))
    c32, _ = driver_logits(build, os.path.join(d, "rt_hf"), os.path.join(d, "batch.safetensors"),
                           os.path.join(d, "out_f32.safetensors"))
    results = []
    for dt, tdt in (("f16", torch.float16), ("bf16", torch.bfloat16)):
        out = os.path.join(d, "rt_" + dt)
        cp = run([os.path.join(build, "xfmr"), "export", "--format", "hf", "--dtype", dt, "--model",
                  os.path.join(d, "rt_hf"), "--out", out])
        if cp.returncode != 0:
            results.append(report(f"{name}_export_{dt}", False, cp.stderr.decode(errors="replace").strip()))
            continue
        got = st.load(os.path.join(out, "model.safetensors"))
        bad = [k for k in ref if k not in got or not np.array_equal(
            np.asarray(got[k], dtype=np.float32), torch.from_numpy(ref[k]).to(tdt).float().numpy())]
        c, err = driver_logits(build, out, os.path.join(d, "batch.safetensors"), os.path.join(d, "out_h.safetensors"))
        e = rel_tensor(c, c32)[0] if c is not None and c32 is not None else float("nan")
        tol = 2.0 ** -5 if dt == "bf16" else 2.0 ** -8  # 8 units of the format's precision (2^-8, 2^-11)
        results.append(report(f"{name}_export_{dt}", not bad and len(got) == len(ref) and ok(e, tol),
                              f"{len(ref)} tensors rounded as torch rounds them"
                              + (f"; differing: {', '.join(bad[:4])}" if bad else "")
                              + f"; logits vs f32 export {e:.3g} (bound {tol:.3g}){err}"))
    return results


def refuse_prefix(build, work):
    """A prefix LM (an xfmr checkpoint of llama's shape with arch prefix_lm) is refused."""
    src = os.path.join(work, "llama", "native")
    pre = os.path.join(work, "prefix_native")
    if not os.path.isdir(src):
        return report("refuse_prefix_lm", False, "no llama checkpoint to start from")
    shutil.copytree(src, pre)
    with open(os.path.join(pre, "config.json")) as f:
        cfg = json.load(f)
    cfg["arch"] = "prefix_lm"
    with open(os.path.join(pre, "config.json"), "w") as f:
        json.dump(cfg, f)
    out = os.path.join(work, "prefix_hf")
    cp = run([os.path.join(build, "xfmr"), "export", "--format", "hf", "--model", pre, "--out", out])
    err = cp.stderr.decode(errors="replace").strip()
    good = cp.returncode != 0 and len(err.splitlines()) == 1 and "prefix_lm" in err and not os.path.exists(out)
    return report("refuse_prefix_lm", good, f"exit {cp.returncode}: {err}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--case", action="append")
    ap.add_argument("--keep")
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="xf_hf_parity_")
    os.makedirs(work, exist_ok=True)
    results = []
    try:
        for name in a.case or list(CASES):
            results += run_case(name, CASES[name], a.build, work)
        if not a.case or "llama" in a.case:
            results += half_exports(a.build, work, "llama")
            results.append(refuse_prefix(a.build, work))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
