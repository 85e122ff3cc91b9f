#!/usr/bin/python3
"""SentencePiece models trained here by python3-sentencepiece (Debian), compared
with xfmr id for id.

usage: spm_train_ref.py XFMR CORPUS_DIR WORK_DIR

Writes a training text full of hard cases (accents precomposed and combining,
full-width letters and digits, CJK, emoji and ZWJ sequences, runs of spaces and
tabs, digits, NBSP and other Unicode spaces) into WORK_DIR, trains four models
on it with sentencepiece's own trainer (model_type unigram and bpe, each with
the default nmt_nfkc normalization and with identity; the identity ones also
use byte_fallback, the nmt_nfkc unigram one has user-defined symbols), then for
every corpus case (make_corpus.py's manifest plus held-out hard-case text):
  spmtrain_<model>_encode_<case>  xfmr ids == SentencePieceProcessor.encode(bytes)
  spmtrain_<model>_decode_<case>  xfmr decode(ids) == sentencepiece's decode
                                   (valid UTF-8 cases)
Prints "PASS name", "FAIL name: why" or "SKIP name: why" per check.
"""
import os
import random
import subprocess
import sys

HARD = [
    "café naïve résumé Ångström façade coöperate", "cafe\u0301 nai\u0308ve",  # combining
    "ＡＢＣ ｄｅｆ １２３ ＠＃！", "ｶﾀｶﾅ ﾊﾝｶｸ", "㍻ ㌔ ① ⑵ ﬁ ﬀ ½",  # NFKC folds these
    "日本語のテキスト 中文文本 한국어 텍스트", "漢字かなカナ交じり文。",
    "emoji 😀😃 👍🏽 🇫🇷 👨‍👩‍👧‍👦 ❤️", "tabs\tand\t\ttabs", "a   b    c",
    "  leading", "trailing   ", "nbsp\u00a0here thin\u2009space ideo\u3000space",
    "digits 0 12 345 6789 3.14159 1,000,000", "MiXeD CaSe WORDS", "Zero\u200bwidth",
]


def training_text(rng):
    syll = ["ka", "to", "ri", "mu", "sen", "tion", "er", "ing", "pre", "un", "é", "ö", "ß", "ñ", "ø"]
    lines = []
    for i in range(6000):
        words = []
        for _ in range(rng.randint(1, 14)):
            r = rng.random()
            if r < 0.6:
                words.append("".join(rng.choice(syll) for _ in range(rng.randint(1, 4))))
            elif r < 0.75:
                words.append(str(rng.randint(0, 100000)))
            else:
                words.append(rng.choice(HARD))
        sep = rng.choice([" ", " ", " ", "  ", "\t", " \u3000"])
        lines.append(sep.join(words))
    return "\n".join(lines) + "\n"


def held_out(rng):
    cases = {"hard_%d" % i: h for i, h in enumerate(HARD)}
    chars = "abcé€ＡＢ日本😀 \t\u00a0\u30000123456789.,!ﬁ①\u0301"
    cases["random_mix"] = "".join(rng.choice(chars) for _ in range(3000))
    cases["unseen_script"] = "Ελληνικά кириллица עברית ქართული ᚠᚢᚦ"
    return cases


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: spm_train_ref.py XFMR CORPUS_DIR WORK_DIR")
    xfmr, corpus, work = sys.argv[1:]
    try:
        import sentencepiece as spm
    except ImportError:
        print("%s spmtrain_reference: python3-sentencepiece is not installed" % ("FAIL" if os.environ.get("CI") else "SKIP"))
        return
    os.makedirs(work, exist_ok=True)
    rng = random.Random(1234)
    train = os.path.join(work, "spm_train.txt")
    with open(train, "w", encoding="utf-8") as f:
        f.write(training_text(rng))

    models = []
    for mt in ("unigram", "bpe"):
        for norm in ("nmt_nfkc", "identity"):
            name = "%s_%s" % (mt, norm)
            prefix = os.path.join(work, "spm_" + name)
            kw = dict(input=train, model_prefix=prefix, vocab_size=800, model_type=mt,
                      normalization_rule_name=norm, minloglevel=2, character_coverage=0.995,
                      hard_vocab_limit=False, num_threads=1)
            if norm == "identity":
                kw["byte_fallback"] = True
            elif mt == "unigram":
                kw["user_defined_symbols"] = ["<sep>", "@@", "ＵＳＥＲ"]
            try:
                spm.SentencePieceTrainer.train(**kw)
            except Exception as e:  # noqa: BLE001 (report any trainer failure as one line)
                print("FAIL spmtrain_%s_train: %s" % (name, str(e).splitlines()[0]))
                continue
            models.append((name, prefix + ".model"))
    if not models:
        return
    print("PASS spmtrain_train")

    cases = []
    with open(os.path.join(corpus, "manifest.tsv")) as f:
        for line in f:
            if line.strip():
                name, path, utf8 = line.rstrip("\n").split("\t")
                cases.append((name, path, utf8 == "1"))
    for name, text in held_out(rng).items():
        p = os.path.join(work, "spmtrain_case_%s.txt" % name)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        cases.append((name, p, True))

    ids_file = os.path.join(work, "spmtrain_ids.txt")
    for mname, model in models:
        sp = spm.SentencePieceProcessor(model_file=model)
        bad_enc, bad_dec, n_ok = [], [], 0
        for cname, path, utf8 in cases:
            with open(path, "rb") as f:
                data = f.read()
            want = sp.encode(data)
            out = subprocess.run([xfmr, "tokenizer", "encode", "--tokenizer", model, "--file", path],
                                 capture_output=True)
            if out.returncode != 0:
                bad_enc.append("%s (exit %d: %s)" % (cname, out.returncode,
                                                   out.stderr.decode(errors="replace").strip()))
                continue
            got = [int(x) for x in out.stdout.split()]
            if got != want:
                d = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
                bad_enc.append("%s (%d vs %d ids, first difference at %d: xfmr %s ref %s)"
                               % (cname, len(got), len(want), d, got[d:d + 4], want[d:d + 4]))
                continue
            n_ok += 1
            if not utf8:
                continue
            with open(ids_file, "w") as f:
                f.write(" ".join(map(str, want)))
            out = subprocess.run([xfmr, "tokenizer", "decode", "--tokenizer", model, "--file", ids_file],
                                 capture_output=True)
            if out.returncode != 0 or out.stdout != sp.decode(want).encode("utf-8"):
                bad_dec.append(cname)
        tag = "spmtrain_%s" % mname
        print(("FAIL %s_encode: %s" % (tag, "; ".join(bad_enc[:3]) + (" (+%d more)" % (len(bad_enc) - 3) if len(bad_enc) > 3 else "")))
              if bad_enc else "PASS %s_encode (%d cases)" % (tag, n_ok))
        print(("FAIL %s_decode: differs on %s" % (tag, ", ".join(bad_dec))) if bad_dec else "PASS %s_decode" % tag)


if __name__ == "__main__":
    main()
