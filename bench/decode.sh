#!/usr/bin/env bash
# Decoding benchmark: xfmr generate per weight format at 1 and 2 threads,
# against the memory-bandwidth limit and against llama.cpp on the same weights.
#
# usage: bash bench/decode.sh [BUILD]        (BUILD defaults to build)
# env:   N (generated tokens, default 64), THREADS ("1 2"), DTYPES ("f32 bf16 f16 q8_0"),
#        RUNS (runs per configuration, best kept; default 2), MODEL (a checkpoint dir;
#        default: a 110M LLaMA shape with random weights made once in BUILD/bench,
#        bench/llama110m.json: hidden 768, 12 layers, 12 heads, FFN 2048, vocab 32000)
#
# The bandwidth limit of a format is (read bandwidth) / (weight bytes per token):
# every decode step streams the block and head weights once (xfmr reports the
# bytes; the KV cache at this context is small beside them). The read
# bandwidth is bench/bwprobe.c at the same thread count, measured in this run.
# llama.cpp runs through node-llama-cpp 3.21.1 (tests/interop/setup.sh) on the
# GGUF that `xfmr export --format gguf --dtype D` writes from the same
# checkpoint; where either is missing its columns print SKIP.
# Prints a table, then one JSON line per (format, threads):
#   {"bench":"decode","dtype":..,"threads":..,"xfmr_tok_s":..,"limit_tok_s":..,
#    "of_limit":..,"llamacpp_tok_s":..|null,"ratio":..|null}
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-${BUILD:-build}}"
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
N="${N:-64}"
THREADS="${THREADS:-1 2}"
DTYPES="${DTYPES:-f32 bf16 f16 q8_0}"
RUNS="${RUNS:-2}"
xfmr="$BUILD/xfmr"
work="$BUILD/bench"
mkdir -p "$work"
[ -x "$xfmr" ] || { echo "decode: $xfmr not built (make)" >&2; exit 1; }
[ -x "$BUILD/bench/bwprobe" ] || { echo "decode: $BUILD/bench/bwprobe not built (make bench)" >&2; exit 1; }

# the model: random weights (one optimizer step at learning rate 0)
MODEL="${MODEL:-$work/llama110m}"
if [ ! -f "$MODEL/model.safetensors" ]; then
    tokm="$root/../shared/data/llama2-tokenizer.model"
    [ -f "$tokm" ] || { echo "decode: SKIP model: $tokm missing (the 32000-token vocabulary)" >&2; exit 0; }
    printf 'The quick brown fox jumps over the lazy dog.\n%.0s' $(seq 200) > "$work/text.txt"
    echo "decode: making $MODEL (random weights)" >&2
    "$xfmr" train --model "$root/bench/llama110m.json" --data "$work/text.txt" --tokenizer "$tokm" \
        --out "$MODEL" --steps 1 --lr 0 --min-lr 0 --warmup 0 --batch 1 --seq 32 --eval-every 0 --quiet \
        > "$work/make.log" 2>&1 || { echo "decode: could not make the model:" >&2; tail -5 "$work/make.log" >&2; exit 1; }
fi

# llama.cpp: needs the GGUF writer and node-llama-cpp
lc=""
if "$xfmr" export --help 2>&1 | grep -q gguf && [ -f "$root/tests/interop/setup.sh" ] &&
    bash "$root/tests/interop/setup.sh" "$BUILD" >/dev/null 2>&1; then
    lc="$work/lc"
    mkdir -p "$lc"
    cp "$root/bench/decode_llamacpp.mjs" "$lc/"
    ln -sfn "$BUILD/npm-interop/node_modules" "$lc/node_modules"
else
    echo "decode: SKIP llama.cpp: needs xfmr export --format gguf and tests/interop/setup.sh (node-llama-cpp)" >&2
fi

declare -A BW
for t in $THREADS; do
    BW[$t]=$("$BUILD/bench/bwprobe" 1024 6 "$t" | sed -n 's/.*"gbps":\([0-9.]*\).*/\1/p')
done

best() { sort -g | tail -n 1; }
printf '%-5s %3s %10s %10s %8s %12s %8s\n' dtype thr "xfmr tok/s" "limit" "of limit" "llama.cpp" "ratio" >&2
json=""
for dt in $DTYPES; do
    gguf=""
    if [ -n "$lc" ]; then
        gguf="$work/llama110m-$dt.gguf"
        [ -f "$gguf" ] || "$xfmr" export --model "$MODEL" --format gguf --dtype "$dt" --out "$gguf" >/dev/null 2>&1 || gguf=""
    fi
    for t in $THREADS; do
        xs="" ls="" mb=""
        for r in $(seq "$RUNS"); do
            line=$("$xfmr" generate --model "$MODEL" --prompt "Hello" -n "$N" --temperature 0 --threads "$t" \
                   --dtype "$dt" 2>&1 >/dev/null | tail -n 1)
            xs="$xs $(echo "$line" | sed -n 's/.* \([0-9.]*\) tok\/s.*/\1/p')"
            mb=$(echo "$line" | sed -n 's/.*weights \([0-9.]*\) MB\/token.*/\1/p')
            if [ -n "$gguf" ]; then
                ls="$ls $(node "$lc/decode_llamacpp.mjs" "$gguf" "1 15043" "$N" "$t" 2>/dev/null |
                          sed -n 's/.*"tok_s":\([0-9.]*\).*/\1/p')"
            fi
        done
        x=$(echo $xs | tr ' ' '\n' | best)
        l=$(echo $ls | tr ' ' '\n' | grep . | best)
        read -r limit of ratio < <(awk -v bw="${BW[$t]}" -v mb="$mb" -v x="$x" -v l="$l" 'BEGIN {
            lim = 0; of = 0; r = "null"
            if (mb > 0) lim = bw * 1e3 / mb
            if (lim > 0) of = x / lim
            if (l != "" && l > 0) r = sprintf("%.2f", x / l)
            printf "%.1f %.2f %s\n", lim, of, r }')
        printf '%-5s %3s %10s %10s %8s %12s %8s\n' "$dt" "$t" "$x" "$limit" "$of" "${l:-SKIP}" \
            "$([ "$ratio" = null ] && echo SKIP || echo "$ratio")" >&2
        json="$json{\"bench\":\"decode\",\"dtype\":\"$dt\",\"threads\":$t,\"mb_per_token\":$mb,\"read_gbps\":${BW[$t]},"
        json="$json\"xfmr_tok_s\":$x,\"limit_tok_s\":$limit,\"of_limit\":$of,\"llamacpp_tok_s\":${l:-null},\"ratio\":$ratio}"$'\n'
    done
done
printf '%s' "$json"
