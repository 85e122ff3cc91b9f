#!/usr/bin/env python3
"""Write a llama-shaped Hugging Face directory for the load benchmark (bench/load.sh).

usage: load_gen.py DIR [hidden layers vocab]   (defaults 1024 8 16000: ~540 MB of f32)

config.json as transformers writes it for LlamaForCausalLM and one model.safetensors
(f32, untied head), laid out by the safetensors format itself: an 8-byte little-endian
header length, the JSON header (dtype, shape, data_offsets per tensor), then the bytes.
The values are seeded random numbers; only their size matters here.
"""
import json
import os
import sys

import numpy as np


def main():
    out = sys.argv[1]
    C, L, V = (int(a) for a in sys.argv[2:5]) if len(sys.argv) >= 5 else (1024, 8, 16000)
    H, KV, I = C // 64, C // 128, (C * 11 // 4 + 63) // 64 * 64
    D = C // H
    shapes = [("model.embed_tokens.weight", (V, C))]
    for l in range(L):
        p = f"model.layers.{l}."
        shapes += [(p + "input_layernorm.weight", (C,)),
                   (p + "self_attn.q_proj.weight", (C, C)),
                   (p + "self_attn.k_proj.weight", (KV * D, C)),
                   (p + "self_attn.v_proj.weight", (KV * D, C)),
                   (p + "self_attn.o_proj.weight", (C, C)),
                   (p + "post_attention_layernorm.weight", (C,)),
                   (p + "mlp.gate_proj.weight", (I, C)),
                   (p + "mlp.up_proj.weight", (I, C)),
                   (p + "mlp.down_proj.weight", (C, I))]
    shapes += [("model.norm.weight", (C,)), ("lm_head.weight", (V, C))]
    header, off = {}, 0
    for name, shp in shapes:
        n = int(np.prod(shp)) * 4
        header[name] = {"dtype": "F32", "shape": list(shp), "data_offsets": [off, off + n]}
        off += n
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(len(hj).to_bytes(8, "little"))
        f.write(hj)
        for name, shp in shapes:
            a = rng.standard_normal(shp, dtype=np.float32) * 0.02
            if name.endswith("norm.weight"):
                a = np.ones(shp, np.float32)
            f.write(a.astype("<f4").tobytes())
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": C,
           "intermediate_size": I, "num_hidden_layers": L, "num_attention_heads": H,
           "num_key_value_heads": KV, "vocab_size": V, "max_position_embeddings": 2048,
           "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": False,
           "hidden_act": "silu", "torch_dtype": "float32", "rope_scaling": None}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    print(f"{out}: {off / 1e6:.0f} MB of f32 weights, {len(shapes)} tensors")


if __name__ == "__main__":
    main()
