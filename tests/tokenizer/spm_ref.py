#!/usr/bin/python3
"""Compares xfmr's SentencePiece tokenizers with python3-sentencepiece (Debian).

usage: spm_ref.py XFMR CORPUS_DIR SHARED_DATA_DIR

For every corpus case (see make_corpus.py) and each of Llama 2's
tokenizer.model and llama2.c's tokenizer.bin:
  spm_<kind>_encode_<case>  xfmr ids == SentencePieceProcessor.encode(bytes)
  spm_<kind>_decode_<case>  xfmr decode(ids) == SentencePieceProcessor.decode(ids)
Prints "PASS name", "FAIL name: why" or "SKIP name: why" per check.
"""
import os
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: spm_ref.py XFMR CORPUS_DIR SHARED_DATA_DIR")
    xfmr, corpus, shared = sys.argv[1:]
    try:
        import sentencepiece as spm
    except ImportError:
        # CI installs it (deps.txt), so there its absence is a failure
        print("%s spm_reference: python3-sentencepiece is not installed" % ("FAIL" if os.environ.get("CI") else "SKIP"))
        return
    model = os.path.join(shared, "llama2-tokenizer.model")
    binf = os.path.join(shared, "llama2-tokenizer.bin")
    if not os.path.exists(model):
        print("SKIP spm_reference: %s not found" % model)
        return
    sp = spm.SentencePieceProcessor(model_file=model)
    specs = [("model", model)]
    if os.path.exists(binf):
        specs.append(("bin", binf))
    else:
        print("SKIP spm_bin: %s not found" % binf)

    rows = []
    with open(os.path.join(corpus, "manifest.tsv")) as f:
        for line in f:
            if line.strip():
                rows.append(line.rstrip("\n").split("\t"))

    # test vector from llama2.c test.c (BOS on)
    for kind, spec in specs:
        out = subprocess.run([xfmr, "tokenizer", "encode", "--tokenizer", spec, "--bos", "--text",
                              "I believe the meaning of life is"], capture_output=True)
        got = out.stdout.decode().split()
        want = "1 306 4658 278 6593 310 2834 338".split()
        if got == want:
            print("PASS spm_%s_llama2c_vector" % kind)
        else:
            print("FAIL spm_%s_llama2c_vector: got %s" % (kind, " ".join(got)))

    tmp = tempfile.NamedTemporaryFile(prefix="xfmr_spm_ids_", suffix=".txt", delete=False)
    tmp.close()
    try:
        for name, path, _utf8 in rows:
            with open(path, "rb") as f:
                data = f.read()
            want = sp.encode(data)
            want_text = sp.decode(want).encode("utf-8")
            for kind, spec in specs:
                tag = "spm_%s_encode_%s" % (kind, name)
                out = subprocess.run([xfmr, "tokenizer", "encode", "--tokenizer", spec, "--file", path],
                                     capture_output=True)
                if out.returncode != 0:
                    print("FAIL %s: xfmr exited with %d: %s" % (tag, out.returncode,
                                                                out.stderr.decode(errors="replace").strip()))
                    continue
                got = [int(x) for x in out.stdout.split()]
                if got == want:
                    print("PASS " + tag)
                else:
                    d = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
                    print("FAIL %s: %d ids vs %d; first difference at %d: xfmr %s ref %s"
                          % (tag, len(got), len(want), d, got[d:d + 5], want[d:d + 5]))
                    continue
                tag = "spm_%s_decode_%s" % (kind, name)
                os.unlink(tmp.name)  # a new file: rewriting in place makes ext4 flush (slow)
                with open(tmp.name, "w") as f:
                    f.write(" ".join(map(str, want)))
                out = subprocess.run([xfmr, "tokenizer", "decode", "--tokenizer", spec, "--file", tmp.name],
                                     capture_output=True)
                if out.returncode != 0:
                    print("FAIL %s: xfmr exited with %d" % (tag, out.returncode))
                elif out.stdout == want_text:
                    print("PASS " + tag)
                else:
                    print("FAIL %s: decoded %d bytes, sentencepiece %d" % (tag, len(out.stdout), len(want_text)))
    finally:
        os.unlink(tmp.name)


if __name__ == "__main__":
    main()
