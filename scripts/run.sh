#!/usr/bin/env bash
# The main job (make run): make the built-in corpus, train a small GPT on it
# for a couple of minutes on all cores, save the checkpoint, print a sample.
# Override with DATA=file.txt (any UTF-8 text), MODEL=preset|config, STEPS=N, OUT=dir.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
XFMR=$BUILD/xfmr
OUT=${OUT:-$BUILD/run/model}
MODEL=${MODEL:-llama-tiny}
STEPS=${STEPS:-900}
mkdir -p "$BUILD/run"
if [ -z "${DATA:-}" ]; then
    DATA=$BUILD/run/corpus.txt
    [ -f "$DATA" ] || "$XFMR" corpus --out "$DATA" --bytes 2000000 --seed 1
fi
rm -rf "$OUT"
echo "training $MODEL on $DATA for $STEPS steps -> $OUT (log: $OUT/log.jsonl)"
"$XFMR" train --model "$MODEL" --data "$DATA" --out "$OUT" --steps "$STEPS" \
    --batch 8 --seq 256 --lr 2e-3 --min-lr 2e-4 --warmup 50 --eval-every 100 --eval-batches 4
"$XFMR" plot --out "$OUT/loss.svg" --title "$MODEL on $(basename "$DATA")" "$OUT/log.jsonl" > /dev/null
echo "loss curve: $OUT/loss.svg"
echo
echo "sample (xfmr generate --model $OUT --prompt 'Once upon a time' -n 400):"
"$XFMR" generate --model "$OUT" --prompt "Once upon a time" -n 400 --temperature 0.8 --top-k 40 --seed 7
