#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz harness into tests/fuzz/corpus/<reader>/.

usage: /usr/bin/python3 tests/fuzz/make_seeds.py BUILD_DIR    (needs BUILD_DIR/xfmr and
python3-sentencepiece). The seeds are committed; this script records how they
were made. Every seed is small (a few kB) so that the fuzzer mutates
structure, not bulk.
"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
xfmr = os.path.join(sys.argv[1] if len(sys.argv) > 1 else "build", "xfmr")
tmp = tempfile.mkdtemp()
TEXT = ("Once upon a time there was a little fox. The fox said: \"Hello, world!\" 123 caf\u00e9 "
        "\u65e5\u672c \U0001F600\nShe ran to the river and back again.\n") * 8


def put(reader, name, data):
    d = os.path.join(here, "corpus", reader)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def run(*args):
    subprocess.run([xfmr, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def st_bytes(tensors, meta=None):
    """A safetensors file (docs/formats.md §1) from [(name, dtype, shape, raw bytes)]."""
    hdr, off = {}, 0
    if meta:
        hdr["__metadata__"] = meta
    for name, dt, shape, raw in tensors:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(t[3] for t in tensors)


text_path = os.path.join(tmp, "text.txt")
with open(text_path, "w") as f:
    f.write(TEXT)

# ---- config.json
tiny = {"vocab_size": 384, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
        "num_attention_heads": 2, "max_position_embeddings": 8}
put("config", "tiny.json", json.dumps(tiny))
put("config", "llama.json", json.dumps(dict(tiny, hidden_act="silu", gated_ffn=True, norm_type="rmsnorm",
                                            position_type="rope", use_bias=False, num_key_value_heads=1,
                                            tie_word_embeddings=False)))
put("config", "t5.json", json.dumps(dict(tiny, arch="encoder_decoder", position_type="relative",
                                         norm_type="rmsnorm", scale_attn_logits=False, num_decoder_layers=2,
                                         relative_attention_num_buckets=8, relative_attention_max_distance=16)))
put("config", "moe.json", json.dumps(dict(tiny, num_experts=4, num_experts_per_tok=2, router_type="sigmoid_topk_norm",
                                          num_shared_experts=1, capacity_factor=1.25)))
put("config", "bert.json", json.dumps(dict(tiny, arch="encoder", norm_placement="post", type_vocab_size=2,
                                           mlm_transform=True, lm_head_bias=True, embed_layernorm=True)))

# ---- safetensors: the tiny model's own weights, and a mixed-dtype file
cfg = os.path.join(tmp, "tiny.json")
with open(cfg, "w") as f:
    json.dump(tiny, f)
run("train", "--model", cfg, "--data", text_path, "--out", os.path.join(tmp, "ck"), "--steps", "1",
    "--batch", "1", "--seq", "8", "--quiet", "--val-fraction", "0")
put("safetensors", "tiny_model.safetensors", open(os.path.join(tmp, "ck", "model.safetensors"), "rb").read())
put("safetensors", "mixed.safetensors", st_bytes([
    ("a", "F32", [2, 3], struct.pack("<6f", *range(6))),
    ("b", "BF16", [4], b"\x80\x3f" * 4),
    ("c", "I64", [], struct.pack("<q", 7)),
    ("d", "F16", [0, 3], b""),
    ("e", "U8", [3], b"xyz")], {"producer": "xfmr", "format": "pt"}))
put("safetensors", "empty.safetensors", st_bytes([]))

# ---- tokenizer.json (trained by xfmr), both merge spellings
for name, extra in (("list", []), ("legacy", ["--legacy-merges"])):
    out = os.path.join(tmp, name + ".json")
    run("tokenizer", "train", "--data", text_path, "--vocab-size", "400", "--out", out, *extra)
    put("tokenizer_json", name + ".json", open(out, "rb").read())

# ---- GPT-2 encoder.json NUL vocab.bpe
bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b)
        cs.append(256 + n)
        n += 1
byte_tok = [chr(c) for c in cs]
enc = {t: i for i, t in enumerate(byte_tok)}
merges = [("\u0120", "t"), ("h", "e"), ("\u0120t", "he"), ("o", "n")]
for a, b in merges:
    enc[a + b] = len(enc)
enc["<|endoftext|>"] = len(enc)
bpe = "#version: 0.2\n" + "".join("%s %s\n" % m for m in merges)
put("gpt2", "small", json.dumps(enc, ensure_ascii=False).encode() + b"\0" + bpe.encode())

# ---- SentencePiece .model (trained with python3-sentencepiece) and tokenizer.bin from it
import sentencepiece as spm  # noqa: E402

prefix = os.path.join(tmp, "sp")
spm.SentencePieceTrainer.train(input=text_path, model_prefix=prefix, vocab_size=330, model_type="bpe",
                               byte_fallback=True, character_coverage=1.0, normalization_rule_name="identity",
                               minloglevel=2)
put("spm_model", "bpe_bytefallback.model", open(prefix + ".model", "rb").read())
spm.SentencePieceTrainer.train(input=text_path, model_prefix=prefix + "2", vocab_size=70, model_type="bpe",
                               normalization_rule_name="identity", add_dummy_prefix=False,
                               user_defined_symbols=["<mask>"], minloglevel=2)
put("spm_model", "bpe_plain.model", open(prefix + "2.model", "rb").read())
sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
pieces = []
for i in range(sp.get_piece_size()):
    p = sp.id_to_piece(i).replace("\u2581", " ")
    if i == sp.bos_id():
        p = "\n<s>\n"
    elif i == sp.eos_id():
        p = "\n</s>\n"
    pieces.append((sp.get_score(i), p.encode()))
binf = struct.pack("<I", max(len(p) for _, p in pieces))
for score, p in pieces:
    binf += struct.pack("<fi", score, len(p)) + p
put("llama2c_tokenizer", "small.bin", binf)

# ---- token data files and text
tok_path = os.path.join(tmp, "data.bin")
run("prepare", "--data", text_path, "--out", tok_path)
put("tokens", "byte.tok", open(tok_path, "rb").read())
put("tokens", "text.txt", TEXT[:300])

# ---- input<TAB>target pairs
put("pairs", "pairs.tsv", "translate: the cat\tle chat\nhello\tbonjour\r\n\nsum 2 3\t5\n")
put("pairs", "one.tsv", "a\tb")

# ---- --ids strings
put("ids", "spaces", "72 101 108 108 111")
put("ids", "commas", "1,2,3,\n4\t5\r\n")
put("ids", "big", "2147483647 0 359 360")

# ---- dictionary of config field names for the config harness
src = open(os.path.join(root, "src", "model", "config.c")).read()
fields = sorted(set(re.findall(r"XF\((\w+),", src)))
with open(os.path.join(here, "config.dict"), "w") as f:
    for k in fields + ["arch", "model_type"]:
        f.write('"\\"%s\\""\n' % k)
    for v in ["decoder", "encoder", "prefix_lm", "encoder_decoder", "rope", "relative", "learned", "none",
              "rmsnorm", "layernorm", "pre", "post", "silu", "gelu", "gelu_tanh", "relu", "true", "false", "null"]:
        f.write('"%s"\n' % v)
print("seeds written")
