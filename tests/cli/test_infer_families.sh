#!/usr/bin/env bash
# Inference for every family on tiny models trained for 3 steps: generate
# (sampling, greedy = --beams 1, beam search) for decoder (MoE), prefix_lm and
# encoder-decoders; score --dump-logits for each family, checked against
# greedy decoding (the KV-cache path) row by row; fill on an encoder; bad
# combinations fail with one line. Usage: test_infer_families.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL infer_families: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
V=384 # every *-tiny preset

"$X" corpus --out "$T/c.txt" --bytes 20000 --seed 3 > /dev/null
# train NAME PRESET: a 3-step checkpoint in $T/NAME
trained=""
for m in mixtral:mixtral-tiny prefix:prefix-tiny t5:t5-tiny bart:bart-tiny bert:bert-tiny; do
    name=${m%%:*} preset=${m#*:}
    run "$X" train --model "$preset" --data "$T/c.txt" --out "$T/$name" --steps 3 --batch 2 --seq 32 --threads 2 --quiet
    if [ "$rc" -eq 0 ] && [ -s "$T/$name/model.safetensors" ]; then
        pass "train_$preset"
        trained="$trained $name"
    else
        fail "train_$preset" "rc=$rc $(head -c 300 "$T/err")"
    fi
done
have() { case " $trained " in *" $1 "*) return 0 ;; esac; return 1; }

# argmax of each row of a float32 [rows, V] file, one per line
argmax() { od -An -v -f -w$((V * 4)) "$1" | awk '{b = 1; for (i = 2; i <= NF; i++) if ($i + 0 > $b + 0) b = i; print b - 1}'; }
# the ids of a text in a checkpoint's tokenizer
ids_of() { "$X" tokenizer encode --tokenizer "$1" --text "$2"; }

PROMPT="Once upon a time"
for name in mixtral prefix t5 bart; do
    have "$name" || continue
    M="$T/$name"
    # --- generate: sampling, greedy, beams ---------------------------------
    run "$X" generate --model "$M" --prompt "$PROMPT" -n 12 --seed 4 --quiet
    if [ "$rc" -eq 0 ] && [ "$(size "$T/out")" -gt 1 ]; then pass "generate_sample_$name"; else fail "generate_sample_$name" "rc=$rc $(cat "$T/err")"; fi
    run "$X" generate --model "$M" --prompt "$PROMPT" -n 12 --temperature 0 --quiet
    cp "$T/out" "$T/greedy.txt"
    run "$X" generate --model "$M" --prompt "$PROMPT" -n 12 --beams 1 --quiet
    if [ "$rc" -eq 0 ] && cmp -s "$T/out" "$T/greedy.txt"; then pass "generate_greedy_is_beams1_$name"
    else fail "generate_greedy_is_beams1_$name" "rc=$rc greedy '$(cat "$T/greedy.txt")' beams 1 '$(cat "$T/out")' $(cat "$T/err")"; fi
    run "$X" generate --model "$M" --prompt "$PROMPT" -n 12 --temperature 0 --print-ids --quiet
    greedy_ids=$(cat "$T/out")
    run "$X" generate --model "$M" --prompt "$PROMPT" -n 12 --beams 1 --print-ids --quiet
    if [ "$rc" -eq 0 ] && [ "$(cat "$T/out")" = "$greedy_ids" ] && [ -n "$greedy_ids" ]; then pass "generate_greedy_ids_$name"
    else fail "generate_greedy_ids_$name" "greedy '$greedy_ids' beams 1 '$(cat "$T/out")' $(cat "$T/err")"; fi
    run "$X" generate --model "$M" --prompt "$PROMPT" -n 12 --beams 4 --length-penalty 0.5 --print-ids
    nb=$(wc -w < "$T/out" | tr -d ' ')
    if [ "$rc" -eq 0 ] && [ "$nb" -ge 1 ] && [ "$nb" -le 12 ] && grep -q '4 beams, score' "$T/err"; then pass "generate_beams4_$name"
    else fail "generate_beams4_$name" "rc=$rc $nb ids: $(cat "$T/out" "$T/err")"; fi
    run "$X" generate --model "$M" --prompt "$PROMPT" -n 12 --beams 3 --quiet
    if [ "$rc" -eq 0 ] && [ "$(size "$T/out")" -gt 1 ]; then pass "generate_beams3_text_$name"; else fail "generate_beams3_text_$name" "rc=$rc $(cat "$T/err")"; fi
    case $name in t5 | bart) # the output is the decoder's text alone, not the prompt
        if ! grep -q "^$PROMPT" "$T/greedy.txt"; then pass "generate_seq2seq_output_$name"; else fail "generate_seq2seq_output_$name" "$(cat "$T/greedy.txt")"; fi ;;
    *)
        if grep -q "^$PROMPT" "$T/greedy.txt"; then pass "generate_continues_prompt_$name"; else fail "generate_continues_prompt_$name" "$(cat "$T/greedy.txt")"; fi ;;
    esac

    # --- score: the full forward agrees with greedy decoding -----------------
    # teacher forcing on the greedy output: row i's argmax is greedy id i
    ng=$(echo "$greedy_ids" | wc -w | tr -d ' ')
    case $name in
    t5 | bart)
        run "$X" score --model "$M" --source "$PROMPT" --ids "$greedy_ids" --dump-logits "$T/l.f32"
        first=1 ;;
    *)
        pids=$(ids_of "$M" "$PROMPT")
        np=$(echo "$pids" | wc -w | tr -d ' ')
        extra=()
        [ "$name" = prefix ] && extra=(--prefix-len "$np")
        run "$X" score --model "$M" --ids "$pids $greedy_ids" "${extra[@]}" --dump-logits "$T/l.f32"
        first=$np ;;
    esac
    got=$(argmax "$T/l.f32" | tail -n +"$first" | head -n "$ng" | tr '\n' ' ' | sed 's/ $//')
    if [ "$rc" -eq 0 ] && [ "$got" = "$greedy_ids" ]; then pass "score_matches_decoding_$name"
    else fail "score_matches_decoding_$name" "rc=$rc argmax '$got' greedy '$greedy_ids' $(cat "$T/err")"; fi
done

# --- score: sizes and outputs per family ------------------------------------
IDS="72 101 108 108 111 32 119"
if have mixtral; then
    run "$X" score --model "$T/mixtral" --ids "$IDS" --dump-logits "$T/l.f32"
    if [ "$rc" -eq 0 ] && grep -q '^{"tokens":7,"loss":[0-9.]*,"ppl":[0-9.]*}$' "$T/out" && [ "$(size "$T/l.f32")" = $((7 * V * 4)) ]; then
        pass score_decoder_dump; else fail score_decoder_dump "rc=$rc $(cat "$T/out" "$T/err")"; fi
    run "$X" score --model "$T/mixtral" --ids "$IDS" --prefix-len 3
    if [ "$rc" -eq 0 ] && grep -q '"prefix":3,"scored":4,' "$T/out"; then pass score_decoder_prefix_len; else fail score_decoder_prefix_len "$(cat "$T/out" "$T/err")"; fi
fi
if have prefix; then
    run "$X" score --model "$T/prefix" --ids "$IDS" --prefix-len 3 --dump-logits "$T/l.f32"
    if [ "$rc" -eq 0 ] && grep -q '^{"tokens":7,"prefix":3,"scored":4,"loss":[0-9.]*,"ppl":[0-9.]*}$' "$T/out" && [ "$(size "$T/l.f32")" = $((7 * V * 4)) ]; then
        pass score_prefix_dump; else fail score_prefix_dump "rc=$rc $(cat "$T/out" "$T/err")"; fi
    # the prefix is bidirectional: its rows differ from the causal ones; the loss covers fewer tokens
    run "$X" score --model "$T/prefix" --ids "$IDS" --dump-logits "$T/causal.f32"
    if [ "$rc" -eq 0 ] && grep -q '^{"tokens":7,"loss"' "$T/out" && ! cmp -s "$T/l.f32" "$T/causal.f32"; then
        pass score_prefix_is_bidirectional; else fail score_prefix_is_bidirectional "$(cat "$T/out" "$T/err")"; fi
    run "$X" score --model "$T/prefix" --ids "$IDS" --prefix-len 0 --dump-logits "$T/p0.f32"
    if [ "$rc" -eq 0 ] && cmp -s "$T/p0.f32" "$T/causal.f32"; then pass score_prefix_zero_is_causal; else fail score_prefix_zero_is_causal "$(cat "$T/err")"; fi
fi
for name in t5 bart; do
    have "$name" || continue
    M="$T/$name"
    run "$X" score --model "$M" --source "Hello" --ids "$IDS" --dump-logits "$T/l.f32"
    if [ "$rc" -eq 0 ] && grep -q '^{"tokens":7,"source_tokens":6,"loss":[0-9.]*,"ppl":[0-9.]*}$' "$T/out" && [ "$(size "$T/l.f32")" = $((7 * V * 4)) ]; then
        pass "score_seq2seq_dump_$name"; else fail "score_seq2seq_dump_$name" "rc=$rc $(cat "$T/out" "$T/err")"; fi
    cp "$T/out" "$T/a.json"
    # --source TEXT is the text's ids with EOS appended
    eos=$(sed -n 's/.*"id": *\([0-9]*\), *"content": *"<|endoftext|>".*/\1/p' "$M/tokenizer.json" | head -1)
    run "$X" score --model "$M" --source-ids "$(ids_of "$M" Hello) $eos" --ids "$IDS" --dump-logits "$T/l2.f32"
    if [ "$rc" -eq 0 ] && cmp -s "$T/l.f32" "$T/l2.f32" && cmp -s "$T/out" "$T/a.json"; then pass "score_seq2seq_source_text_is_ids_$name"
    else fail "score_seq2seq_source_text_is_ids_$name" "eos=$eos $(cat "$T/out" "$T/err")"; fi
    # <extra_id_K> in a text is the tokenizer's sentinel K (byte tokenizer: 359 - K)
    run "$X" score --model "$M" --source "He<extra_id_0>llo<extra_id_2>" --ids "$IDS" --dump-logits "$T/ls.f32"
    cp "$T/out" "$T/s.json"
    run "$X" score --model "$M" --source-ids "$(ids_of "$M" He) 359 $(ids_of "$M" llo) 357 $eos" --ids "$IDS" --dump-logits "$T/ls2.f32"
    if [ "$rc" -eq 0 ] && cmp -s "$T/ls.f32" "$T/ls2.f32" && cmp -s "$T/out" "$T/s.json"; then pass "score_seq2seq_sentinels_$name"
    else fail "score_seq2seq_sentinels_$name" "$(cat "$T/out" "$T/s.json" "$T/err")"; fi
    # another source gives other logits; the same call gives the same bytes
    run "$X" score --model "$M" --source "Goodbye" --ids "$IDS" --dump-logits "$T/l3.f32"
    if [ "$rc" -eq 0 ] && ! cmp -s "$T/l.f32" "$T/l3.f32"; then pass "score_seq2seq_uses_source_$name"; else fail "score_seq2seq_uses_source_$name" "$(cat "$T/err")"; fi
    run "$X" score --model "$M" --text "Hi there" --source "Hello"
    if [ "$rc" -eq 0 ] && grep -q '"tokens":8,"source_tokens":6' "$T/out"; then pass "score_seq2seq_text_$name"; else fail "score_seq2seq_text_$name" "$(cat "$T/out" "$T/err")"; fi
done
if have bert; then
    run "$X" score --model "$T/bert" --text "Hello world" --dump-logits "$T/l.f32"
    if [ "$rc" -eq 0 ] && [ "$(cat "$T/out")" = '{"tokens":11,"positions":11}' ] && [ "$(size "$T/l.f32")" = $((11 * V * 4)) ]; then
        pass score_encoder_dump; else fail score_encoder_dump "rc=$rc $(cat "$T/out" "$T/err")"; fi
fi

# --- fill ----------------------------------------------------------------------
if have bert; then
    run "$X" fill --model "$T/bert" --text "The [MASK] sat on the <mask>." --top 3
    heads=$(grep -c '^mask [12] at token [0-9]*:$' "$T/out")
    preds=$(grep -c '^  [01]\.[0-9]\{6\}  ".*"$' "$T/out")
    if [ "$rc" -eq 0 ] && [ "$heads" = 2 ] && [ "$preds" = 6 ] && [ "$(wc -l < "$T/out")" = 8 ]; then pass fill_top3_two_masks
    else fail fill_top3_two_masks "rc=$rc heads=$heads preds=$preds $(cat "$T/out" "$T/err")"; fi
    # the first mask is token 4 ("The " is 4 bytes); probabilities descend
    if grep -q '^mask 1 at token 4:$' "$T/out" && grep '^  ' "$T/out" | head -3 | awk '{print $1}' | sort -rc 2> /dev/null; then
        pass fill_positions_sorted; else fail fill_positions_sorted "$(cat "$T/out")"; fi
    run "$X" fill --model "$T/bert" --text "[MASK]"
    if [ "$rc" -eq 0 ] && [ "$(grep -c '^  ' "$T/out")" = 5 ]; then pass fill_default_top5; else fail fill_default_top5 "$(cat "$T/out" "$T/err")"; fi
    cp -r "$T/bert" "$T/nomask"
    sed -i 's/<mask>/<msk>/g' "$T/nomask/tokenizer.json"
    expect_fail fill_no_mask_token "no mask token" "$X" fill --model "$T/nomask" --text "a [MASK]"
    expect_fail fill_text_without_mask "[MASK]" "$X" fill --model "$T/bert" --text "no masks here"
    expect_fail fill_top_zero "--top" "$X" fill --model "$T/bert" --text "[MASK]" --top 0
    expect_fail generate_on_encoder "xfmr fill" "$X" generate --model "$T/bert" --prompt "x"
    expect_fail score_source_on_encoder "--source" "$X" score --model "$T/bert" --text "ab" --source "x"
fi

# --- bad combinations: one line, non-zero exit -----------------------------------
if have mixtral; then
    expect_fail fill_on_decoder "arch decoder" "$X" fill --model "$T/mixtral" --text "The [MASK] sat"
    expect_fail score_source_on_decoder "--source" "$X" score --model "$T/mixtral" --text "abc" --source "x"
    expect_fail score_source_ids_on_decoder "--source" "$X" score --model "$T/mixtral" --text "abc" --source-ids "1 2"
    expect_fail generate_beams_65 "--beams" "$X" generate --model "$T/mixtral" --beams 65
    expect_fail generate_beams_0 "--beams" "$X" generate --model "$T/mixtral" --beams 0
    expect_fail generate_length_penalty_nan "--length-penalty" "$X" generate --model "$T/mixtral" --beams 2 --length-penalty nan
fi
if have prefix; then
    expect_fail score_prefix_beyond_length "--prefix-len" "$X" score --model "$T/prefix" --ids "$IDS" --prefix-len 9
    expect_fail score_prefix_equal_length "--prefix-len" "$X" score --model "$T/prefix" --ids "$IDS" --prefix-len 7
    expect_fail score_prefix_negative "--prefix-len" "$X" score --model "$T/prefix" --ids "$IDS" --prefix-len -2
fi
if have t5; then
    expect_fail score_seq2seq_without_source "--source" "$X" score --model "$T/t5" --ids "$IDS"
    expect_fail score_prefix_len_on_seq2seq "--prefix-len" "$X" score --model "$T/t5" --ids "$IDS" --source "x" --prefix-len 2
    expect_fail score_source_and_ids "--source" "$X" score --model "$T/t5" --ids "$IDS" --source "x" --source-ids "1"
    expect_fail score_source_out_of_vocab "source" "$X" score --model "$T/t5" --ids "$IDS" --source-ids "1 99999"
    expect_fail fill_on_seq2seq "arch encoder_decoder" "$X" fill --model "$T/t5" --text "[MASK]"
    expect_fail generate_seq2seq_long_source "256 positions" "$X" generate --model "$T/t5" --prompt "$(head -c 400 "$T/c.txt")"
    expect_fail score_seq2seq_long_target "256 positions" "$X" score --model "$T/t5" --source "x" --text "$(head -c 400 "$T/c.txt")"
fi

# --- help ----------------------------------------------------------------------
if "$X" generate --help | grep -q -- '--beams K' && "$X" generate --help | grep -q -- '--length-penalty' &&
   "$X" score --help | grep -q -- '--prefix-len P' && "$X" score --help | grep -q -- '--source-ids' &&
   "$X" fill --help | grep -q -- '--top K' && "$X" --help | grep -q '^  fill '; then
    pass infer_help; else fail infer_help "a help text lacks the new flags"; fi
exit $failed
