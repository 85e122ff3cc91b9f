#!/usr/bin/env bash
# Training benchmark: xfmr against PyTorch on the same model (bench-gpt), after
# the tokenizer benchmarks (bench_tokenizer.sh, bench_tokenizer_hf.sh).
#
# usage: bash bench/run.sh [BUILD]        (BUILD defaults to build)
# env:   STEPS (default 6), BATCH (8), SEQ (256), MODEL (bench-gpt), THREADS (2),
#        DTYPE (fp32; bf16 runs xfmr with bf16 matmul inputs, PyTorch stays fp32),
#        PYTHON (/usr/bin/python3; Debian's python3-torch)
#
# Runs   BUILD/xfmr bench train --model MODEL --batch B --seq T --steps S --threads THREADS
# and    bench/bench_torch.py with 1 thread and with THREADS threads, keeps PyTorch's
# better run (higher tokens/s), prints one summary line and then one JSON line:
#   {"bench":"train", ..., "xfmr":{...}, "pytorch":{...}, "ratio":xfmr_tok_s/pytorch_tok_s,
#    "cpu_ratio":pytorch_cpu_ms/xfmr_cpu_ms}   (CPU time per step, each side's median)
# Exit status: 0 when the xfmr run produced a result (PyTorch missing only nulls the
# ratio), 1 otherwise.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
BUILD="${1:-${BUILD:-build}}"
STEPS="${STEPS:-6}"
BATCH="${BATCH:-8}"
SEQ="${SEQ:-256}"
MODEL="${MODEL:-bench-gpt}"
THREADS="${THREADS:-2}"
DTYPE="${DTYPE:-fp32}"
PY="${PYTHON:-/usr/bin/python3}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# last line of a file that looks like a JSON object
json_line() { grep -E '^[[:space:]]*\{' "$1" | tail -n 1; }

# tokenizers first (their lines end before the train summary, which stays the
# last JSON line): GPT-2 vs js-tiktoken, real tokenizer.json files vs
# transformers.js. TOKENIZERS=0 skips them.
if [ "${TOKENIZERS:-1}" != 0 ] && [ -x "$BUILD/xfmr" ]; then
    bash "$here/bench_tokenizer.sh" "$BUILD" || echo "bench: bench_tokenizer.sh failed" >&2
    bash "$here/bench_tokenizer_hf.sh" "$BUILD" || echo "bench: bench_tokenizer_hf.sh failed" >&2
fi

xf_rc=0
if [ -x "$BUILD/xfmr" ]; then
    echo "bench: xfmr ($BUILD/xfmr bench train --model $MODEL --batch $BATCH --seq $SEQ --steps $STEPS --threads $THREADS --dtype $DTYPE)" >&2
    "$BUILD/xfmr" bench train --model "$MODEL" --batch "$BATCH" --seq "$SEQ" \
        --steps "$STEPS" --threads "$THREADS" --dtype "$DTYPE" >"$tmp/xf.out" 2>"$tmp/xf.err"
    xf_rc=$?
    if [ $xf_rc -ne 0 ] || [ -z "$(json_line "$tmp/xf.out")" ]; then
        echo "bench: xfmr failed (exit $xf_rc):" >&2
        tail -n 20 "$tmp/xf.err" "$tmp/xf.out" >&2
        [ $xf_rc -eq 0 ] && xf_rc=1
    else
        json_line "$tmp/xf.out" >"$tmp/xf.json"
    fi
else
    echo "bench: $BUILD/xfmr not found (run make first)" >&2
    xf_rc=1
fi

torch_ok=1
if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "bench: SKIP pytorch: torch not importable by $PY (install python3-torch)" >&2
    torch_ok=0
else
    for t in $(printf '%s\n' 1 "$THREADS" | sort -un); do
        echo "bench: pytorch --threads $t" >&2
        if "$PY" "$here/bench_torch.py" --config "$MODEL" --batch "$BATCH" --seq "$SEQ" \
            --steps "$STEPS" --threads "$t" >"$tmp/pt$t.out" 2>"$tmp/pt$t.err"; then
            json_line "$tmp/pt$t.out" >>"$tmp/pt.json"
        else
            echo "bench: pytorch --threads $t failed:" >&2
            tail -n 20 "$tmp/pt$t.err" >&2
        fi
    done
fi

# Summarise with whatever python is there (json only; torch not needed).
SUMPY="$PY"; command -v "$SUMPY" >/dev/null 2>&1 || SUMPY=python3
XF_JSON="$tmp/xf.json" PT_JSON="$tmp/pt.json" MODEL="$MODEL" BATCH="$BATCH" SEQ="$SEQ" \
STEPS="$STEPS" THREADS="$THREADS" "$SUMPY" - <<'EOF'
import json, os

def read(path):
    out = []
    if os.path.isfile(path):
        for line in open(path):
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out

xf = read(os.environ["XF_JSON"])
xf = xf[-1] if xf else None
pts = [p for p in read(os.environ["PT_JSON"]) if "tokens_per_s" in p]
pt = max(pts, key=lambda p: p["tokens_per_s"]) if pts else None
ratio = None
if xf and pt and xf.get("tokens_per_s") and pt["tokens_per_s"]:
    ratio = round(xf["tokens_per_s"] / pt["tokens_per_s"], 3)

# CPU time per step (all threads), each side's own median: on a shared machine
# this ratio moves less than the wall-clock one
cpu_ratio = None
if xf and pt and xf.get("cpu_ms") and pt.get("cpu_ms"):
    cpu_ratio = round(pt["cpu_ms"] / xf["cpu_ms"], 3)

def f(x, k):
    return "n/a" if not x or x.get(k) is None else x[k]

print(f"bench train {os.environ['MODEL']} B={os.environ['BATCH']} T={os.environ['SEQ']} "
      f"steps={os.environ['STEPS']}: xfmr {f(xf, 'tokens_per_s')} tok/s "
      f"({f(xf, 'step_ms')} ms/step, {os.environ['THREADS']} threads) | pytorch "
      f"{f(pt, 'tokens_per_s')} tok/s ({f(pt, 'step_ms')} ms/step, {f(pt, 'threads')} threads; "
      f"runs: {', '.join(str(p['threads']) + 't ' + str(p['tokens_per_s']) for p in pts) or 'none'})"
      f" | xfmr/pytorch = {ratio if ratio is not None else 'n/a'}"
      f" (CPU ms per step: {f(xf, 'cpu_ms')} vs {f(pt, 'cpu_ms')}, pytorch/xfmr = "
      f"{cpu_ratio if cpu_ratio is not None else 'n/a'})")
print(json.dumps({"bench": "train", "model": os.environ["MODEL"],
                  "batch": int(os.environ["BATCH"]), "seq": int(os.environ["SEQ"]),
                  "steps": int(os.environ["STEPS"]), "xfmr": xf, "pytorch": pt,
                  "pytorch_runs": pts, "ratio": ratio, "cpu_ratio": cpu_ratio}))
EOF
exit $xf_rc
