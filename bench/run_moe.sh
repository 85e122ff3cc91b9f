#!/usr/bin/env bash
# MoE training benchmark: what the experts cost, in xfmr and in PyTorch, in one run.
#
# usage: bash bench/run_moe.sh [BUILD]    (BUILD defaults to build)
# env:   STEPS (default 6), BATCH (8), SEQ (256), THREADS (2),
#        PYTHON (/usr/bin/python3; Debian's python3-torch)
#
# Runs, in this order, at the same batch and sequence length:
#   BUILD/xfmr bench train --model bench-gpt ...      (xfmr dense)
#   BUILD/xfmr bench train --model bench-moe ...      (xfmr MoE: 8 experts, top-2, width 768)
#   bench/bench_torch.py --config bench-gpt            (PyTorch dense)
#   bench/bench_torch_moe.py                           (PyTorch MoE, loop over experts)
# each PyTorch model with 1 thread and with THREADS threads, the better run kept.
# bench-moe's active FFN per token (2 x 768) equals bench-gpt's 1536, so the MoE/dense
# ratios measure the routing, gather/scatter and small-GEMM overhead.  Prints one
# summary line and then one JSON line:
#   {"bench":"train_moe", ..., "ratios":{"xfmr_moe_over_dense":..,
#    "pytorch_moe_over_dense":.., "xfmr_over_pytorch_moe":.., "xfmr_over_pytorch_dense":..}}
# Targets: xfmr moe/dense >= 0.85, xfmr moe / pytorch moe >= 2 (PyTorch's own
# moe/dense is about 0.6 for reference).
# Exit status: 0 when both xfmr runs produced a result (PyTorch missing only nulls
# its ratios), 1 otherwise.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
BUILD="${1:-${BUILD:-build}}"
STEPS="${STEPS:-6}"
BATCH="${BATCH:-8}"
SEQ="${SEQ:-256}"
THREADS="${THREADS:-2}"
PY="${PYTHON:-/usr/bin/python3}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# last line of a file that looks like a JSON object
json_line() { grep -E '^[[:space:]]*\{' "$1" | tail -n 1; }

rc=0
# xfmr_run NAME MODEL: BUILD/xfmr bench train, result line in $tmp/NAME.json
xfmr_run() {
    local name="$1" model="$2" r
    echo "bench: xfmr $model ($BUILD/xfmr bench train --model $model --batch $BATCH --seq $SEQ --steps $STEPS --threads $THREADS)" >&2
    "$BUILD/xfmr" bench train --model "$model" --batch "$BATCH" --seq "$SEQ" \
        --steps "$STEPS" --threads "$THREADS" >"$tmp/$name.out" 2>"$tmp/$name.err"
    r=$?
    if [ $r -ne 0 ] || [ -z "$(json_line "$tmp/$name.out")" ]; then
        echo "bench: xfmr $model failed (exit $r):" >&2
        tail -n 20 "$tmp/$name.err" "$tmp/$name.out" >&2
        rc=1
    else
        json_line "$tmp/$name.out" >"$tmp/$name.json"
    fi
}

# torch_run NAME SCRIPT ARGS...: 1 and THREADS threads, every result line in $tmp/NAME.json
torch_run() {
    local name="$1" script="$2" t
    shift 2
    for t in $(printf '%s\n' 1 "$THREADS" | sort -un); do
        echo "bench: pytorch $(basename "$script")${*:+ $*} --threads $t" >&2
        if "$PY" "$script" "$@" --batch "$BATCH" --seq "$SEQ" --steps "$STEPS" --threads "$t" \
            >"$tmp/$name$t.out" 2>"$tmp/$name$t.err"; then
            json_line "$tmp/$name$t.out" >>"$tmp/$name.json"
        else
            echo "bench: pytorch $(basename "$script") --threads $t failed:" >&2
            tail -n 20 "$tmp/$name$t.err" >&2
        fi
    done
}

if [ -x "$BUILD/xfmr" ]; then
    xfmr_run xf_dense bench-gpt
    xfmr_run xf_moe bench-moe
else
    echo "bench: $BUILD/xfmr not found (run make first)" >&2
    rc=1
fi

if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "bench: SKIP pytorch: torch not importable by $PY (install python3-torch)" >&2
else
    torch_run pt_dense "$here/bench_torch.py" --config bench-gpt
    torch_run pt_moe "$here/bench_torch_moe.py"
fi

# Summarise with whatever python is there (json only; torch not needed).
SUMPY="$PY"; command -v "$SUMPY" >/dev/null 2>&1 || SUMPY=python3
TMP="$tmp" BATCH="$BATCH" SEQ="$SEQ" STEPS="$STEPS" THREADS="$THREADS" "$SUMPY" - <<'EOF'
import json, os

tmp = os.environ["TMP"]

def read(name):
    out = []
    path = os.path.join(tmp, name + ".json")
    if os.path.isfile(path):
        for line in open(path):
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return [r for r in out if r.get("tokens_per_s")]

def best(rows):
    return max(rows, key=lambda r: r["tokens_per_s"]) if rows else None

xd, xm = best(read("xf_dense")), best(read("xf_moe"))
pd_runs, pm_runs = read("pt_dense"), read("pt_moe")
pd, pm = best(pd_runs), best(pm_runs)

def ratio(a, b):
    return round(a["tokens_per_s"] / b["tokens_per_s"], 3) if a and b else None

ratios = {"xfmr_moe_over_dense": ratio(xm, xd), "pytorch_moe_over_dense": ratio(pm, pd),
          "xfmr_over_pytorch_moe": ratio(xm, pm), "xfmr_over_pytorch_dense": ratio(xd, pd)}

def tok(x):
    return "n/a" if not x else f"{x['tokens_per_s']} tok/s ({x['step_ms']} ms/step, {x['threads']}t)"

def r(k):
    return "n/a" if ratios[k] is None else ratios[k]

print(f"bench train MoE B={os.environ['BATCH']} T={os.environ['SEQ']} steps={os.environ['STEPS']}: "
      f"xfmr dense {tok(xd)}, moe {tok(xm)} | pytorch dense {tok(pd)}, moe {tok(pm)} | "
      f"xfmr moe/dense = {r('xfmr_moe_over_dense')} (target >= 0.85), "
      f"pytorch moe/dense = {r('pytorch_moe_over_dense')} (reference ~0.6), "
      f"xfmr moe/pytorch moe = {r('xfmr_over_pytorch_moe')} (target >= 2), "
      f"xfmr dense/pytorch dense = {r('xfmr_over_pytorch_dense')}")
print(json.dumps({"bench": "train_moe", "batch": int(os.environ["BATCH"]),
                  "seq": int(os.environ["SEQ"]), "steps": int(os.environ["STEPS"]),
                  "xfmr_dense": xd, "xfmr_moe": xm, "pytorch_dense": pd, "pytorch_moe": pm,
                  "pytorch_runs": {"dense": pd_runs, "moe": pm_runs}, "ratios": ratios}))
EOF
exit $rc
