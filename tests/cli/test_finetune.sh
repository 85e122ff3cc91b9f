#!/usr/bin/env bash
# Fine-tuning from a model (train --model with weights): the first step's loss
# equals xfmr score on the same batch, from an xfmr checkpoint, its GGUF and
# its llama2.c exports; --init random starts afresh and the log says which;
# fine-tuning stories260K.bin (no tokenizer: byte ids) lowers its loss on the
# corpus. The exports (HF directory, GGUF, llama2.c) keep the live vocab only
# (docs/formats.md), so they also show the padding rows are not needed for
# the same loss. Usage: test_finetune.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL finetune: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")/../.." && pwd)"
S260="$HERE/../shared/data/stories260K.bin"
loss_of() { sed -n 's/.*"loss":\([0-9.]*\).*/\1/p' "$1" | head -1; }

"$X" corpus --out "$T/c.txt" --bytes 60000 --seed 5 > /dev/null
run "$X" train --model llama-tiny --data "$T/c.txt" --out "$T/ck" --steps 20 --batch 4 --seq 64 --threads 2 --quiet
if [ "$rc" -ne 0 ]; then fail "finetune_train" "rc=$rc $(head -c 300 "$T/err")"; exit 1; fi
"$X" export --model "$T/ck" --format hf --out "$T/ck.hf" 2> /dev/null
"$X" export --model "$T/ck" --format gguf --out "$T/ck.gguf" 2> /dev/null
"$X" export --model "$T/ck" --format llama2c --out "$T/ck.bin" 2> /dev/null
# one window of exactly seq + 1 tokens (byte tokenizer: 65 bytes), no validation split: the batch is known
head -c 65 "$T/c.txt" > "$T/w.txt"
for src in ck ck.hf ck.gguf ck.bin; do
    run "$X" score --model "$T/ck" --file "$T/w.txt" --threads 1; want=$(loss_of "$T/out")
    rm -rf "$T/ft"
    run "$X" train --model "$T/$src" --data "$T/w.txt" --out "$T/ft" --steps 1 --batch 1 --seq 64 --val-fraction 0 \
        --eval-every 0 --threads 1 --tokenizer byte
    got=$(loss_of "$T/ft/log.jsonl")
    if [ "$rc" -eq 0 ] && [ -n "$want" ] && [ "$got" = "$want" ] && grep -q "init: the weights of" "$T/err"; then
        pass "finetune_first_loss_is_score_$src ($got)"
    else fail "finetune_first_loss_is_score_$src" "rc=$rc step 1 loss '$got', score '$want' $(head -c 300 "$T/err")"; fi
done
rm -rf "$T/ft"
run "$X" train --model "$T/ck" --init random --data "$T/w.txt" --out "$T/ft" --steps 1 --batch 1 --seq 64 --val-fraction 0 \
    --eval-every 0 --threads 1
got=$(loss_of "$T/ft/log.jsonl")
if [ "$rc" -eq 0 ] && [ "$got" != "$want" ] && grep -q "init: random weights (--init random)" "$T/err" &&
    awk -v l="$got" 'BEGIN { exit !(l > 5.5 && l < 6.5) }'; then pass "finetune_init_random ($got, ln 384 = 5.95)"
else fail "finetune_init_random" "rc=$rc loss '$got' $(head -c 300 "$T/err")"; fi
run "$X" train --model llama-tiny --data "$T/w.txt" --out "$T/fp" --steps 1 --batch 1 --seq 64 --val-fraction 0 --eval-every 0
if [ "$rc" -eq 0 ] && grep -q "init: random weights (the model spec is a preset" "$T/err"; then pass "finetune_preset_is_random"
else fail "finetune_preset_is_random" "rc=$rc $(head -c 300 "$T/err")"; fi
expect_fail "finetune_bad_init" "--init" "$X" train --model "$T/ck" --init zeros --data "$T/w.txt" --out "$T/fz"
"$X" tokenizer train --data "$T/c.txt" --vocab-size 380 --out "$T/tk.json" > /dev/null 2>&1
expect_fail "finetune_other_tokenizer" "$T/ck" "$X" train --model "$T/ck" --tokenizer "$T/tk.json" --data "$T/w.txt" --out "$T/fy"

# ---- stories260K: byte ids of the corpus (the model's tokenizer is not available) ----
if [ ! -f "$S260" ]; then
    echo "SKIP finetune_stories260K: ../shared/data/stories260K.bin is absent"
else
    tail -c 4000 "$T/c.txt" > "$T/held.txt"
    ids=$("$X" tokenizer encode --tokenizer byte --file "$T/held.txt" 2> /dev/null || "$X" tokenizer encode --tokenizer byte --text "$(cat "$T/held.txt")")
    run "$X" score --model "$S260" --ids "$ids"; before=$(loss_of "$T/out")
    run "$X" train --model "$S260" --data "$T/c.txt" --out "$T/s260" --steps 60 --batch 8 --seq 128 --lr 3e-3 \
        --eval-every 0 --threads 2 --quiet
    if [ "$rc" -ne 0 ]; then fail "finetune_stories260K" "rc=$rc $(head -c 300 "$T/err")"; else
        run "$X" score --model "$T/s260" --ids "$ids"; after=$(loss_of "$T/out")
        if awk -v a="$after" -v b="$before" 'BEGIN { exit !(a + 0.5 < b) }'; then
            pass "finetune_stories260K_lowers_loss ($before -> $after on held-out corpus bytes)"
        else fail "finetune_stories260K_lowers_loss" "$before -> $after"; fi
    fi
fi
exit $failed
