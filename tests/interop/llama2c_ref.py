#!/usr/bin/env python3
"""Independent reference of llama2.c's run.c forward (numpy, float64), used to
check `xfmr score --ids` on llama2.c checkpoints.

Usage: llama2c_ref.py MODEL.bin "ids" OUT.f32  -> writes [T, V] float32 logits.
Reads v0 (headerless), v1 (ak42, f32) and v2 (ak42, q8_0 groups) exactly as
run.c / runq.c do, and applies RoPE as run.c does (pairs (2j, 2j+1) rotated by
pos * 10000^(-2j/head_size)); nothing is shared with xfmr's code."""
import struct
import sys

import numpy as np


def load(path):
    raw = open(path, "rb").read()
    magic = struct.unpack_from("<I", raw, 0)[0]
    if magic == 0x616B3432:
        version = struct.unpack_from("<i", raw, 4)[0]
        dim, hid, nl, nh, nkv, vocab, seq = struct.unpack_from("<7i", raw, 8)
        shared = raw[36]
        gs = struct.unpack_from("<i", raw, 37)[0] if version == 2 else 0
        off = 256
    else:
        version = 0
        dim, hid, nl, nh, nkv, vocab, seq = struct.unpack_from("<7i", raw, 0)
        shared = vocab > 0
        vocab = abs(vocab)
        off = 28
    hs = dim // nh
    kvd = nkv * hs

    def f32(n):
        nonlocal off
        a = np.frombuffer(raw, dtype="<f4", count=n, offset=off).astype(np.float64)
        off += 4 * n
        return a

    def q80(n):
        nonlocal off
        q = np.frombuffer(raw, dtype=np.int8, count=n, offset=off).astype(np.float64)
        off += n
        s = np.frombuffer(raw, dtype="<f4", count=n // gs, offset=off).astype(np.float64)
        off += 4 * (n // gs)
        return (q.reshape(-1, gs) * s[:, None]).reshape(-1)

    w = {}
    shapes = {"wq": (dim, dim), "wk": (kvd, dim), "wv": (kvd, dim), "wo": (dim, dim),
              "w1": (hid, dim), "w2": (dim, hid), "w3": (hid, dim)}
    if version == 0:
        w["emb"] = f32(vocab * dim).reshape(vocab, dim)
        w["att_norm"] = f32(nl * dim).reshape(nl, dim)
        for k in ["wq", "wk", "wv", "wo"]:
            w[k] = f32(nl * shapes[k][0] * shapes[k][1]).reshape(nl, *shapes[k])
        w["ffn_norm"] = f32(nl * dim).reshape(nl, dim)
        for k in ["w1", "w2", "w3"]:
            w[k] = f32(nl * shapes[k][0] * shapes[k][1]).reshape(nl, *shapes[k])
        w["norm"] = f32(dim)
        off += 4 * seq * hs  # freq_cis_real and freq_cis_imag: seq * hs/2 each
        w["cls"] = w["emb"] if shared else f32(vocab * dim).reshape(vocab, dim)
    else:
        w["att_norm"] = f32(nl * dim).reshape(nl, dim)
        w["ffn_norm"] = f32(nl * dim).reshape(nl, dim)
        w["norm"] = f32(dim)
        rd = f32 if version == 1 else q80
        w["emb"] = rd(vocab * dim).reshape(vocab, dim)
        for k in ["wq", "wk", "wv", "wo", "w1", "w2", "w3"]:
            w[k] = np.stack([rd(shapes[k][0] * shapes[k][1]).reshape(shapes[k]) for _ in range(nl)])
        w["cls"] = w["emb"] if shared else rd(vocab * dim).reshape(vocab, dim)
    assert off == len(raw), (off, len(raw))
    return dict(dim=dim, hid=hid, nl=nl, nh=nh, nkv=nkv, vocab=vocab, seq=seq, hs=hs), w


def rmsnorm(x, g):
    return x / np.sqrt(np.mean(x * x) + 1e-5) * g


def forward(p, w, ids):
    dim, nl, nh, nkv, hs = p["dim"], p["nl"], p["nh"], p["nkv"], p["hs"]
    kcache = np.zeros((nl, len(ids), nkv * hs))
    vcache = np.zeros((nl, len(ids), nkv * hs))
    out = []
    for pos, tok in enumerate(ids):
        x = w["emb"][tok].copy()
        for l in range(nl):
            xb = rmsnorm(x, w["att_norm"][l])
            q = w["wq"][l] @ xb
            k = w["wk"][l] @ xb
            v = w["wv"][l] @ xb
            for vec in (q, k):  # run.c: rotate (vec[i], vec[i+1]) with freq of i % hs
                for i in range(0, len(vec), 2):
                    f = 1.0 / 10000.0 ** ((i % hs) / hs)
                    c, s = np.cos(pos * f), np.sin(pos * f)
                    a, b = vec[i], vec[i + 1]
                    vec[i], vec[i + 1] = a * c - b * s, a * s + b * c
            kcache[l, pos] = k
            vcache[l, pos] = v
            att = np.zeros(dim)
            for h in range(nh):
                kh = h // (nh // nkv)
                qh = q[h * hs:(h + 1) * hs]
                ks = kcache[l, :pos + 1, kh * hs:(kh + 1) * hs]
                sc = ks @ qh / np.sqrt(hs)
                sc = np.exp(sc - sc.max())
                sc /= sc.sum()
                att[h * hs:(h + 1) * hs] = sc @ vcache[l, :pos + 1, kh * hs:(kh + 1) * hs]
            x = x + w["wo"][l] @ att
            xb = rmsnorm(x, w["ffn_norm"][l])
            h1 = w["w1"][l] @ xb
            h3 = w["w3"][l] @ xb
            x = x + w["w2"][l] @ (h1 / (1 + np.exp(-h1)) * h3)
        out.append(w["cls"] @ rmsnorm(x, w["norm"]))
    return np.array(out)


if __name__ == "__main__":
    p, w = load(sys.argv[1])
    ids = [int(t) for t in sys.argv[2].split()]
    forward(p, w, ids).astype("<f4").tofile(sys.argv[3])
