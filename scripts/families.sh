#!/usr/bin/env bash
# Learning check for every family (issue: "each family, trained with its
# objective on tinyshakespeare for a few hundred steps, gets far below
# ln(vocab) on held-out data"), and MoE against the dense model with the same
# active parameters. Writes logs, curves and samples under OUT (default
# build/families) and prints a Markdown table for docs/families.md.
#
# usage: bash scripts/families.sh [DATA]      (DATA: default ../shared/data/tinyshakespeare.txt)
# env:   STEPS (300), BATCH (8), SEQ (128), OUT, BUILD, THREADS (2)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
X=$BUILD/xfmr
DATA=${1:-../shared/data/tinyshakespeare.txt}
STEPS=${STEPS:-300}
BATCH=${BATCH:-8}
SEQ=${SEQ:-128}
THREADS=${THREADS:-2}
OUT=${OUT:-$BUILD/families}
mkdir -p "$OUT"
COMMON=(--data "$DATA" --steps "$STEPS" --batch "$BATCH" --seq "$SEQ" --lr 2e-3 --min-lr 2e-4 --warmup 30
        --eval-every 50 --eval-batches 8 --threads "$THREADS" --quiet)

train() { # name model objective
    local name=$1 model=$2 obj=$3
    rm -rf "${OUT:?}/$name"
    echo "training $name ($model, $obj) ..." >&2
    "$X" train --model "$model" --objective "$obj" --out "$OUT/$name" "${COMMON[@]}"
}
val() { grep '"val_loss"' "$OUT/$1/log.jsonl" | tail -1 | sed 's/.*"val_loss":\([0-9.]*\).*/\1/'; }
first_val() { grep '"val_loss"' "$OUT/$1/log.jsonl" | head -1 | sed 's/.*"val_loss":\([0-9.]*\).*/\1/'; }

train decoder llama-tiny clm
train prefix prefix-tiny prefix
train encoder bert-tiny mlm
train t5 t5-tiny span
train bart bart-tiny span
train mixtral mixtral-tiny clm

"$X" plot --out "$OUT/moe-vs-dense.svg" --labels "llama-tiny (dense),mixtral-tiny (8 experts, top-2)" \
    --title "MoE vs dense, same active parameters: tinyshakespeare, $STEPS steps" \
    "$OUT/decoder/log.jsonl" "$OUT/mixtral/log.jsonl" > /dev/null
"$X" plot --out "$OUT/families.svg" --labels "decoder clm,prefix_lm prefix,encoder mlm,T5 span,BART span" \
    --title "Families on tinyshakespeare ($STEPS steps; validation loss per predicted token)" \
    "$OUT/decoder/log.jsonl" "$OUT/prefix/log.jsonl" "$OUT/encoder/log.jsonl" "$OUT/t5/log.jsonl" \
    "$OUT/bart/log.jsonl" > /dev/null

echo "| family | preset | objective | first val loss | final val loss | ln(vocab 384) |"
echo "|---|---|---|---|---|---|"
for r in "decoder llama-tiny clm" "prefix prefix-tiny prefix" "encoder bert-tiny mlm" \
         "t5 t5-tiny span" "bart bart-tiny span" "mixtral mixtral-tiny clm"; do
    set -- $r
    echo "| $1 | $2 | $3 | $(first_val "$1") | $(val "$1") | 5.95 |"
done
echo
echo "samples:"
"$X" generate --model "$OUT/decoder" --prompt "ROMEO:" -n 120 --temperature 0.8 --top-k 40 --seed 7 2>/dev/null || true
echo "---"
"$X" generate --model "$OUT/prefix" --prompt "KING HENRY:" -n 120 --temperature 0.8 --top-k 40 --seed 7 2>/dev/null || true
echo "---"
"$X" generate --model "$OUT/t5" --prompt "First Citizen: We are accounted poor citizens, the patricians good." -n 80 --seed 7 2>/dev/null || true
echo "---"
"$X" fill --model "$OUT/encoder" --text "ROMEO: I will [MASK]o to the friar." 2>/dev/null || true
echo "---"
"$X" generate --model "$OUT/mixtral" --prompt "JULIET:" -n 120 --temperature 0.8 --top-k 40 --seed 7 2>/dev/null || true
