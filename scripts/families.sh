#!/usr/bin/env bash
# Learning check for every family (issue: "each family, trained with its
# objective on tinyshakespeare for a few hundred steps, gets far below
# ln(vocab) on held-out data"), and MoE against the dense model with the same
# active parameters. Writes logs, curves and samples under OUT (default
# build/families) and prints a Markdown table for docs/families.md.
#
# usage: bash scripts/families.sh [DATA]      (DATA: default ../shared/data/tinyshakespeare.txt,
#        or, where that is absent, 1 MB of the built-in corpus written by xfmr corpus)
# env:   STEPS (300), ENC_STEPS (900: MLM learns from 15% of the tokens),
#        MOE_STEPS (800), BATCH (8), SEQ (128), OUT, BUILD, THREADS (2)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
X=$BUILD/xfmr
DATA=${1:-../shared/data/tinyshakespeare.txt}
STEPS=${STEPS:-300}
ENC_STEPS=${ENC_STEPS:-900}
MOE_STEPS=${MOE_STEPS:-800}
BATCH=${BATCH:-8}
SEQ=${SEQ:-128}
THREADS=${THREADS:-2}
OUT=${OUT:-$BUILD/families}
mkdir -p "$OUT"
if [ ! -f "$DATA" ] && [ $# -eq 0 ]; then
    echo "$DATA not found: using the built-in corpus (xfmr corpus)" >&2
    DATA=$OUT/corpus.txt
    "$X" corpus --out "$DATA" --bytes 1000000 --seed 1
fi
COMMON=(--data "$DATA" --batch "$BATCH" --seq "$SEQ" --lr 2e-3 --min-lr 2e-4 --warmup 30
        --eval-every 50 --threads "$THREADS" --quiet)

train() { # name model objective [steps [eval batches]]
    local name=$1 model=$2 obj=$3 steps=${4:-$STEPS} evals=${5:-8}
    rm -rf "${OUT:?}/$name"
    echo "training $name ($model, $obj, $steps steps) ..." >&2
    "$X" train --model "$model" --objective "$obj" --out "$OUT/$name" "${COMMON[@]}" --steps "$steps" \
        --eval-batches "$evals"
}
val() { grep '"val_loss"' "$OUT/$1/log.jsonl" | tail -1 | sed 's/.*"val_loss":\([0-9.]*\).*/\1/'; }
first_val() { grep '"val_loss"' "$OUT/$1/log.jsonl" | head -1 | sed 's/.*"val_loss":\([0-9.]*\).*/\1/'; }

train decoder llama-tiny clm
train prefix prefix-tiny prefix
train encoder bert-tiny mlm "$ENC_STEPS"
train t5 t5-tiny span
train bart bart-tiny span
# MoE against the dense model with the same active parameters, longer, 16 evaluation batches
train dense800 llama-tiny clm "$MOE_STEPS" 16
train mixtral mixtral-tiny clm "$MOE_STEPS" 16
train deepseek deepseek-tiny clm "$MOE_STEPS" 16

"$X" plot --out "$OUT/moe-vs-dense.svg" \
    --labels "llama-tiny (dense),mixtral-tiny (8 experts top-2),deepseek-tiny (16 fine-grained top-3 + 1 shared)" \
    --title "MoE vs dense, same active parameters: tinyshakespeare, $MOE_STEPS steps" \
    "$OUT/dense800/log.jsonl" "$OUT/mixtral/log.jsonl" "$OUT/deepseek/log.jsonl" > /dev/null
"$X" plot --out "$OUT/families.svg" --labels "decoder clm,prefix_lm prefix,encoder mlm,T5 span,BART span" \
    --title "Families on tinyshakespeare ($STEPS steps; validation loss per predicted token)" \
    "$OUT/decoder/log.jsonl" "$OUT/prefix/log.jsonl" "$OUT/encoder/log.jsonl" "$OUT/t5/log.jsonl" \
    "$OUT/bart/log.jsonl" > /dev/null

echo "| family | preset | objective | first val loss | final val loss | ln(vocab 384) |"
echo "|---|---|---|---|---|---|"
for r in "decoder llama-tiny clm" "prefix prefix-tiny prefix" "encoder bert-tiny mlm" \
         "t5 t5-tiny span" "bart bart-tiny span" "dense800 llama-tiny clm" "mixtral mixtral-tiny clm" \
         "deepseek deepseek-tiny clm"; do
    set -- $r
    echo "| $1 | $2 | $3 | $(first_val "$1") | $(val "$1") | 5.95 |"
done
echo
echo "samples:"
"$X" generate --model "$OUT/decoder" --prompt "ROMEO:" -n 120 --temperature 0.8 --top-k 40 --seed 7 2>/dev/null || true
echo "---"
"$X" generate --model "$OUT/prefix" --prompt "KING HENRY:" -n 120 --temperature 0.8 --top-k 40 --seed 7 2>/dev/null || true
echo "---"
"$X" generate --model "$OUT/t5" --prompt "First Citizen: We are accounted poor <extra_id_0>, the patricians good." -n 40 --beams 4 2>/dev/null || true
echo "---"
"$X" fill --model "$OUT/encoder" --text "ROMEO: I will [MASK]o to the friar." 2>/dev/null || true
echo "---"
"$X" generate --model "$OUT/deepseek" --prompt "JULIET:" -n 120 --temperature 0.8 --top-k 40 --seed 7 2>/dev/null || true
