#!/usr/bin/env python3
"""Hostile variants of a GGUF file for tests/cli/test_gguf.sh.
Usage: gguf_corrupt.py GOOD.gguf OUTDIR -> OUTDIR/<case>.gguf, each with one defect.
Walks the file with its own minimal parser (GGUF v3: header, key/values,
tensor infos) to find where each field lives."""
import struct
import sys

src, out = sys.argv[1], sys.argv[2]
raw = bytearray(open(src, "rb").read())
SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def walk():
    off = 24
    nt, nkv = struct.unpack_from("<QQ", raw, 8)
    kvs = []
    for _ in range(nkv):
        kl = struct.unpack_from("<Q", raw, off)[0]
        key = raw[off + 8:off + 8 + kl].decode()
        kvs.append((key, off))
        off += 8 + kl
        t = struct.unpack_from("<I", raw, off)[0]
        off += 4
        if t == 8:
            off += 8 + struct.unpack_from("<Q", raw, off)[0]
        elif t == 9:
            at, n = struct.unpack_from("<IQ", raw, off)
            kvs[-1] = (key, off)  # array: where its type and count are
            off += 12
            for _ in range(n):
                if at == 8:
                    off += 8 + struct.unpack_from("<Q", raw, off)[0]
                else:
                    off += SIZES[at]
        else:
            off += SIZES[t]
    tensors = {}
    for _ in range(nt):
        nl = struct.unpack_from("<Q", raw, off)[0]
        name = raw[off + 8:off + 8 + nl].decode()
        p = off + 8 + nl
        nd = struct.unpack_from("<I", raw, p)[0]
        tensors[name] = dict(name_off=off + 8, nd_off=p, ne_off=p + 4, type_off=p + 4 + 8 * nd,
                             off_off=p + 4 + 8 * nd + 4, nd=nd)
        off = p + 4 + 8 * nd + 12
    return dict(kvs), tensors


kvs, ts = walk()


def emit(name, edits):
    b = bytearray(raw)
    for pos, data in edits:
        b[pos:pos + len(data)] = data
    open(f"{out}/{name}.gguf", "wb").write(b)


q, k = ts["blk.0.attn_q.weight"], ts["blk.0.attn_k.weight"]
qoff = struct.unpack_from("<Q", raw, q["off_off"])[0]
emit("misaligned", [(q["off_off"], struct.pack("<Q", qoff + 4))])
emit("overlap", [(k["off_off"], struct.pack("<Q", qoff))])
emit("past_end", [(q["off_off"], struct.pack("<Q", 1 << 40))])
emit("dims0", [(q["ne_off"], struct.pack("<Q", 0))])
emit("ndims", [(q["nd_off"], struct.pack("<I", 5))])
ne0, ne1 = struct.unpack_from("<QQ", raw, k["ne_off"])
emit("shape_mismatch", [(k["ne_off"], struct.pack("<QQ", ne1, ne0))])
emit("unknown_type", [(q["type_off"], struct.pack("<I", 2))])
emit("dup_key", [(k["name_off"], b"blk.0.attn_q.weight")])  # a tensor name given twice
emit("str_len", [(24, struct.pack("<Q", 1 << 40))])
emit("arr_len", [(kvs["tokenizer.ggml.tokens"] + 4, struct.pack("<Q", 1 << 40))])
