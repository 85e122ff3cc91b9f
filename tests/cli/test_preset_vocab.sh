#!/usr/bin/env bash
# A user's own tokenizer with a preset, and --set overrides (issue 13 item 8):
#  - `train --model PRESET --tokenizer T` sizes the vocabulary from T, padded up
#    to a multiple of 64, and the padding ids are never generated;
#  - an explicit config.json too small for the tokenizer is still refused;
#  - --set KEY=VALUE overrides config fields for train, info and bench, with
#    config.json's checks and one-line errors, and is refused on --resume.
# Usage: test_preset_vocab.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL preset_vocab: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

"$X" corpus --out "$T/corpus.txt" --bytes 60000 --seed 3 > /dev/null
TR=(--data "$T/corpus.txt" --batch 2 --seq 32 --steps 2 --eval-every 0 --threads 1 --quiet)
run "$X" tokenizer train --data "$T/corpus.txt" --vocab-size 650 --out "$T/tok.json"
[ "$rc" -eq 0 ] || fail preset_vocab_tokenizer "$(cat "$T/err")"
ids=$("$X" tokenizer info --tokenizer "$T/tok.json" | sed 's/.*"vocab_size":\([0-9]*\).*/\1/')

# the preset takes the tokenizer's size, padded to a multiple of 64
run "$X" train --model llama-tiny --tokenizer "$T/tok.json" --out "$T/m" "${TR[@]}"
want=$(( (ids + 63) / 64 * 64 ))
if [ "$rc" -eq 0 ] && grep -q "\"vocab_size\": $want," "$T/m/config.json"; then pass preset_vocab_from_tokenizer
else fail preset_vocab_from_tokenizer "rc $rc, want vocab_size $want for $ids ids: $(cat "$T/err")"; fi

# padding ids [ids, want) are never sampled, even at a high temperature
# (near uniform at this temperature: unmasked, ~8% of the draws would be padding)
bad=0 count=0
for seed in 1 2 3; do
    out=$("$X" generate --model "$T/m" -n 120 --temperature 8 --seed $seed --print-ids --quiet 2>/dev/null) || bad=1
    for i in $out; do
        case "$i" in *[!0-9]*) bad=1 ;; *) count=$((count + 1)); [ "$i" -ge "$ids" ] && bad=1 ;; esac
    done
done
if [ $bad -eq 0 ] && [ $count -ge 150 ]; then pass preset_vocab_padding_never_sampled
else fail preset_vocab_padding_never_sampled "$count ids, an id >= $ids or a failure: $out"; fi

# without --tokenizer a preset keeps its own vocab_size
run "$X" train --model llama-tiny --out "$T/m2" "${TR[@]}"
if [ "$rc" -eq 0 ] && grep -q '"vocab_size": 384,' "$T/m2/config.json"; then pass preset_vocab_default_byte
else fail preset_vocab_default_byte "$(cat "$T/err")"; fi

# an explicit config.json smaller than the tokenizer is refused, nothing written
cat > "$T/small.json" <<'JSON'
{"vocab_size": 384, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
 "num_attention_heads": 2, "max_position_embeddings": 64}
JSON
expect_fail preset_vocab_config_refused "vocab_size is 384" "$X" train --model "$T/small.json" --tokenizer "$T/tok.json" --out "$T/m3" "${TR[@]}"
[ -e "$T/m3" ] && fail preset_vocab_config_refused_no_output "created $T/m3"

# --set: exact size, too small, bad values, unknown keys
run "$X" train --model llama-tiny --tokenizer "$T/tok.json" --set vocab_size=$ids --set num_hidden_layers=1 --out "$T/m4" "${TR[@]}"
if [ "$rc" -eq 0 ] && grep -q "\"vocab_size\": $ids," "$T/m4/config.json" && grep -q '"num_hidden_layers": 1,' "$T/m4/config.json"
then pass preset_vocab_set_train; else fail preset_vocab_set_train "$(cat "$T/err")"; fi
expect_fail preset_vocab_set_too_small "vocab_size is 300" "$X" train --model llama-tiny --tokenizer "$T/tok.json" --set vocab_size=300 --out "$T/m5" "${TR[@]}"
expect_fail preset_vocab_set_bad_value "hidden_size" "$X" train --model llama-tiny --set hidden_size=big --out "$T/m5" "${TR[@]}"
expect_fail preset_vocab_set_unknown "unknown field \"hiddensize\"" "$X" train --model llama-tiny --set hiddensize=64 --out "$T/m5" "${TR[@]}"
expect_fail preset_vocab_set_invalid "num_key_value_heads" "$X" train --model llama-tiny --set num_key_value_heads=3 --out "$T/m5" "${TR[@]}"
expect_fail preset_vocab_set_syntax "KEY=VALUE" "$X" train --model llama-tiny --set hidden_size --out "$T/m5" "${TR[@]}"
[ -e "$T/m5" ] && fail preset_vocab_set_no_output "created $T/m5"
expect_fail preset_vocab_set_resume "--resume" "$X" train --resume --out "$T/m" --set hidden_size=64 "${TR[@]}"

# info and bench take --set too
run "$X" info --model llama-tiny --set hidden_size=96 --set num_attention_heads=6 --set num_key_value_heads=3
if [ "$rc" -eq 0 ] && grep -q '"hidden_size": 96' "$T/out"; then pass preset_vocab_set_info; else fail preset_vocab_set_info "$(cat "$T/err")"; fi
expect_fail preset_vocab_set_info_bad "arch" "$X" info --model llama-tiny --set arch=sideways
run "$X" bench train --model llama-tiny --set num_hidden_layers=1 --set vocab_size=128 --steps 1 --batch 1 --seq 16 --threads 1
if [ "$rc" -eq 0 ] && grep -q '"params"' "$T/out"; then pass preset_vocab_set_bench; else fail preset_vocab_set_bench "$(cat "$T/err")"; fi
expect_fail preset_vocab_set_bench_bad "max_position_embeddings" "$X" bench train --model llama-tiny --set max_position_embeddings=-1 --steps 1
exit $failed
