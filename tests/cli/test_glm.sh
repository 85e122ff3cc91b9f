#!/usr/bin/env bash
# GLM blank infilling from the command line (docs/objectives.md §GLM): the
# preview of parts A and B with both position rows (glm and gmask), training
# a tiny prefix LM with GLM's 2D positions, and generate filling the masks of
# a prompt (it runs, fills every mask, each fill stops at [eop], the text
# around the blanks is kept). Usage: test_glm.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then
    echo "SKIP glm: no $X"
    exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

for i in $(seq 60); do
    echo "The cat sat on the mat. The dog ran in the park. A bird sang a song in the tree."
done > "$T/t.txt"

# ---- preview ----
run "$X" prepare --data "$T/t.txt" --objective glm --arch prefix_lm --seq 64 --preview 3
if [ "$rc" -ne 0 ] || [ -s "$T/err" ]; then
    fail preview_glm "exit $rc: $(head -c 300 "$T/err")"
else
    # per example: part A with [MASK], part B of [sop] spans, a target row ending in [eop],
    # and the A / B tables whose position rows are checked below
    if [ "$(grep -c '^part A: .*\[MASK\]' "$T/out")" -eq 3 ] && [ "$(grep -c '^part B: *\[sop\]' "$T/out")" -eq 3 ] &&
        [ "$(grep -c '^predicts: .*\[eop\]$' "$T/out")" -eq 3 ] && [ "$(grep -c '^  position' "$T/out")" -eq 6 ] &&
        [ "$(grep -c '^  block' "$T/out")" -eq 6 ]; then
        pass preview_glm
    else
        fail preview_glm "$(head -c 800 "$T/out")"
    fi
    # part A: positions 0..|A|-1 and blocks all 0; part B: each span's position is one of A's
    # [MASK] columns, blocks count 1, 2, ... from each [sop]
    if awk '
        /^--- example/ { ex++ }
        /^A / { part = "A"; n = split($0, tok, " ") - 1; for (i = 1; i <= n; i++) a[ex, i - 1] = tok[i + 1]; na = n; next }
        /^B / { part = "B"; n = split($0, tok, " ") - 1; for (i = 1; i <= n; i++) b[i] = tok[i + 1]; nb = n; next }
        /^  position/ {
            n = split($0, p, " ") - 1
            for (i = 1; i <= n; i++) {
                v = p[i + 1]
                if (part == "A" && v != i - 1) { print "A position " i - 1 " is " v; bad = 1 }
                if (part == "B" && a[ex, v] != "[MASK]") { print "B token " i - 1 " points at " a[ex, v]; bad = 1 }
            }
            next
        }
        /^  block/ {
            n = split($0, q, " ") - 1
            for (i = 1; i <= n; i++) {
                v = q[i + 1]
                if (part == "A" && v != 0) { print "A block " v; bad = 1 }
                if (part == "B") {
                    want = (b[i] == "[sop]") ? 1 : prev + 1
                    if (v != want) { print "B block " i - 1 " is " v ", want " want; bad = 1 }
                    prev = v
                }
            }
        }
        END { exit bad || ex != 3 }' "$T/out" > "$T/why"; then
        pass preview_glm_positions
    else
        fail preview_glm_positions "$(head -c 400 "$T/why")"
    fi
fi
run "$X" prepare --data "$T/t.txt" --objective gmask --arch decoder --seq 40 --preview 2
if [ "$rc" -eq 0 ] && [ "$(grep -c '^part A: .*\[gMASK\]$' "$T/out")" -eq 2 ] &&
    [ "$(grep -c '^part B: *\[sop\][^[]*$' "$T/out")" -eq 2 ]; then
    pass preview_gmask
else
    fail preview_gmask "exit $rc: $(head -c 600 "$T/out") $(head -c 300 "$T/err")"
fi
expect_fail glm_encoder_refused "objective glm" "$X" prepare --data "$T/t.txt" --objective glm --arch encoder_decoder
# a tokenizer without [sop]/[eop]/[gMASK] or sentinels: refused naming the token
run "$X" tokenizer train --data "$T/t.txt" --out "$T/tok.json" --vocab-size 300 --sentinels 0
if [ "$rc" -eq 0 ]; then
    expect_fail glm_tokens_refused "[sop]" "$X" prepare --data "$T/t.txt" --tokenizer "$T/tok.json" --objective glm --arch prefix_lm
else
    fail glm_tokens_refused "tokenizer train: exit $rc: $(head -c 300 "$T/err")"
fi

# ---- train and fill ----
run "$X" train --model gpt2-tiny --set arch=prefix_lm --set block_position_embeddings=true \
    --set num_hidden_layers=2 --set hidden_size=64 --set intermediate_size=128 --set max_position_embeddings=64 \
    --data "$T/t.txt" --objective glm --out "$T/m" --steps 150 --batch 8 --seq 48 --lr 3e-3 --quiet \
    --eval-every 50 --threads 1
if [ "$rc" -eq 0 ] && grep -q '"val_loss"' "$T/m/log.jsonl" && grep -q '"block_position_embeddings": true' "$T/m/config.json"; then
    pass train_glm
else
    fail train_glm "exit $rc: $(head -c 300 "$T/err")"
fi
# the validation loss falls: the first evaluation against the last
first=$(grep -m1 val_loss "$T/m/log.jsonl" | sed 's/.*"val_loss":\([0-9.e+-]*\).*/\1/')
last=$(grep val_loss "$T/m/log.jsonl" | tail -1 | sed 's/.*"val_loss":\([0-9.e+-]*\).*/\1/')
if awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }'; then pass train_glm_learns; else fail train_glm_learns "$first -> $last"; fi

run "$X" generate --model "$T/m" --prompt "The cat sat on the [MASK]. The dog ran in the [MASK]." --temperature 0 -n 40
if [ "$rc" -ne 0 ]; then
    fail generate_glm_fill "exit $rc: $(head -c 300 "$T/err")"
elif ! grep -q '2 blanks filled, 2 ended at \[eop\]' "$T/err"; then
    fail generate_glm_fill "not every blank filled and ended: $(cat "$T/err")"
elif ! grep -q '^The cat sat on the .*\. The dog ran in the .*\.$' "$T/out" || grep -qF '[MASK]' "$T/out"; then
    fail generate_glm_fill "output: $(cat "$T/out")"
else
    pass generate_glm_fill
fi
run "$X" generate --model "$T/m" --prompt "The cat sat on the mat. [gMASK]" --temperature 0 -n 30
if [ "$rc" -eq 0 ] && grep -q '1 blanks filled' "$T/err" && grep -q '^The cat sat on the mat\. ' "$T/out"; then
    pass generate_gmask_fill
else
    fail generate_gmask_fill "exit $rc: $(cat "$T/out") $(cat "$T/err")"
fi
# other families: RoPE prefix LM and decoder (plain positions), gmask
for combo in prefix-tiny:glm llama-tiny:glm prefix-tiny:gmask gpt2-tiny:gmask; do
    m=${combo%%:*} o=${combo##*:}
    run "$X" train --model "$m" --objective "$o" --data "$T/t.txt" --out "$T/$m-$o" --steps 3 --batch 2 --seq 32 \
        --eval-every 3 --eval-batches 1 --threads 1 --quiet
    if [ "$rc" -eq 0 ] && grep -q '"val_loss"' "$T/$m-$o/log.jsonl"; then pass "train_${m}_$o"; else
        fail "train_${m}_$o" "exit $rc: $(head -c 300 "$T/err")"; fi
done
# resume bit for bit through glm with 2D positions: 6 steps = 3 + 3
G=(--model gpt2-tiny --set arch=prefix_lm --set block_position_embeddings=true --set num_hidden_layers=1
   --data "$T/t.txt" --objective glm --batch 2 --seq 32 --eval-every 0 --threads 1 --quiet --decay-steps 6)
"$X" train "${G[@]}" --out "$T/r6" --steps 6 2> /dev/null
"$X" train "${G[@]}" --out "$T/r3" --steps 3 2> /dev/null
"$X" train --resume --out "$T/r3" --data "$T/t.txt" --steps 6 --quiet 2> "$T/err"
a=$(grep '"loss"' "$T/r6/log.jsonl" | sed 's/,"tokens_per_s".*//')
b=$(grep '"loss"' "$T/r3/log.jsonl" | sed 's/,"tokens_per_s".*//')
if [ -n "$a" ] && [ "$a" = "$b" ] && [ "$(echo "$a" | wc -l)" -eq 6 ]; then pass train_resume_glm; else
    fail train_resume_glm "$(head -c 200 "$T/err") | $a | $b"; fi
# --glm with nothing to fill, and on a model with no GLM tokens in its prompt
expect_fail generate_glm_no_mask "[MASK]" "$X" generate --model "$T/m" --prompt "no blanks here" --glm -n 5
exit $failed
