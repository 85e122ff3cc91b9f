#!/usr/bin/python3
"""T5-style Unigram tokenizer.json files made from SentencePiece models that
python3-sentencepiece trains here, with sentencepiece's own ids for t5_ref.mjs.

usage: t5_convert.py CORPUS_DIR WORK_DIR

For each normalization rule (nmt_nfkc, the default, and nfkc_cf): trains a
unigram model (T5's special layout: <pad>=0 </s>=1 <unk>=2, no <s>) on
spm_train_ref.py's generated hard-case text, then writes WORK_DIR/t5_<rule>/
  tokenizer.json         our own conversion, T5's layout: normalizer
                         Sequence[Precompiled(the model's charsmap, base64),
                         Replace(" {2,}" -> " ")], pre_tokenizer
                         Sequence[WhitespaceSplit, Metaspace(always)], model
                         Unigram (pieces and scores in id order, unk_id),
                         Metaspace decoder, TemplateProcessing "A </s>"
  tokenizer_config.json  for transformers.js
  spm_ids.json           {case: ids} from SentencePieceProcessor.encode
and WORK_DIR/t5_cases/<case>.txt: every corpus case (make_corpus.py's
manifest) as the text a JavaScript/Python string holds (invalid UTF-8 replaced
by U+FFFD per maximal ill-formed subsequence), plus spm_train_ref.py's held-out
hard cases and a few of this test's own. The precompiled_charsmap bytes are
read from the .model protobuf by hand (field 3 normalizer_spec, its field 2).
Prints one line: "PASS t5_convert (...)", or SKIP/FAIL with the reason.
"""
import base64
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spm_train_ref import HARD, held_out, training_text  # noqa: E402

EXTRA = {
    "t5_cased_marks": "A\u0301B\u0308 E\u0301cole Ｅ\u0301 ÅNGSTRÖM Ǆ ǅ ǆ ΣΊΣΥΦΟΣ",
    "t5_spaces": "  two  spaces \t tab\u3000ideographic\u00a0nbsp  \r\n crlf  ",
    "t5_ligatures": "ﬁne ﬂow ﬃ ﬀ ½ ① ⑵ ㍻ ㌔ ™ ℡",
    "t5_hangul": "한국어 \u1100\u1161\u11a8 \u1112\u1161\u11ab",
}


def varint(b, i):
    v = s = 0
    while True:
        if i >= len(b):
            raise ValueError("truncated varint")
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def fields(b):
    """(field number, wire type, value) of one protobuf message."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        f, w = key >> 3, key & 7
        if w == 0:
            v, i = varint(b, i)
        elif w == 1:
            v, i = b[i:i + 8], i + 8
        elif w == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif w == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % w)
        yield f, w, v


def charsmap(model_bytes):
    for f, w, v in fields(model_bytes):
        if f == 3 and w == 2:
            for g, x, u in fields(v):
                if g == 2 and x == 2:
                    return bytes(u)
    return b""


def convert(sp, blob):
    n = sp.get_piece_size()
    vocab = [[sp.id_to_piece(i), float(sp.get_score(i))] for i in range(n)]
    specials = [i for i in range(n) if sp.is_control(i) or sp.is_unknown(i)]
    meta = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    eos = sp.eos_id()
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": sp.id_to_piece(i), "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True} for i in specials],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(blob).decode("ascii")},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, meta]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [eos], "tokens": ["</s>"]}}},
        "decoder": meta,
        "model": {"type": "Unigram", "unk_id": sp.unk_id(), "vocab": vocab, "byte_fallback": False},
    }


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: t5_convert.py CORPUS_DIR WORK_DIR")
    corpus, work = sys.argv[1:]
    miss = "FAIL" if os.environ.get("CI") else "SKIP"
    try:
        import sentencepiece as spm
    except ImportError:
        print("%s t5_convert: python3-sentencepiece is not installed" % miss)
        sys.exit(1)
    os.makedirs(work, exist_ok=True)
    rng = random.Random(4321)
    train = os.path.join(work, "t5_train.txt")
    with open(train, "w", encoding="utf-8") as f:
        f.write(training_text(rng))
        f.write("\n".join(HARD) + "\n")
    cdir = os.path.join(work, "t5_cases")
    os.makedirs(cdir, exist_ok=True)
    cases = {}
    with open(os.path.join(corpus, "manifest.tsv")) as f:
        for line in f:
            if line.strip():
                name, path, _ = line.rstrip("\n").split("\t")
                with open(path, "rb") as g:
                    data = g.read()
                if len(data) > 100000:  # the long ones add time, not coverage
                    data = data[:data.rindex(b"\n", 0, 100000) + 1]
                    name += "_head"
                cases[name] = data.decode("utf-8", errors="replace")
    cases.update(held_out(random.Random(99)))
    cases.update(EXTRA)
    for name, text in cases.items():
        with open(os.path.join(cdir, name + ".txt"), "w", encoding="utf-8", newline="") as f:
            f.write(text)
    made = []
    for rule in ("nmt_nfkc", "nfkc_cf"):
        d = os.path.join(work, "t5_" + rule)
        os.makedirs(d, exist_ok=True)
        prefix = os.path.join(d, "spiece")
        spm.SentencePieceTrainer.train(input=train, model_prefix=prefix, vocab_size=1000, model_type="unigram",
                                       normalization_rule_name=rule, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                                       minloglevel=2, character_coverage=0.995, hard_vocab_limit=False,
                                       num_threads=1)
        with open(prefix + ".model", "rb") as f:
            blob = charsmap(f.read())
        if not blob:
            print("FAIL t5_convert: %s model has no precompiled_charsmap" % rule)
            sys.exit(1)
        sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
        with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(convert(sp, blob), f, ensure_ascii=False)
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({"tokenizer_class": "T5Tokenizer", "eos_token": "</s>", "unk_token": "<unk>",
                       "pad_token": "<pad>", "clean_up_tokenization_spaces": False}, f)
        with open(os.path.join(d, "spm_ids.json"), "w") as f:
            json.dump({name: sp.encode(text) for name, text in cases.items()}, f)
        made.append("%s (%d pieces, charsmap %d bytes)" % (rule, sp.get_piece_size(), len(blob)))
    print("PASS t5_convert (%s; %d cases)" % (", ".join(made), len(cases)))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 (one FAIL line, no traceback)
        print("FAIL t5_convert: %s" % str(e).splitlines()[0])
        sys.exit(1)
