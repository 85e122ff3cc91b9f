#!/usr/bin/env bash
# Hugging Face directories through the CLI: a trained checkpoint exported with
# its tokenizer is read back by every command with the same logits and the same
# generated text; bad directories fail in one line naming the file; a refused
# export writes nothing. Usage: test_hf.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL hf_cli: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

"$X" corpus --out "$T/corpus.txt" --bytes 30000 --seed 5 > /dev/null
"$X" train --model llama-tiny --data "$T/corpus.txt" --out "$T/ck" --steps 2 --batch 2 --seq 32 \
    --threads 1 --quiet 2> "$T/err" || fail hf_cli_train "$(cat "$T/err")"

# --- export with the tokenizer, read back by score / generate / info ------
run "$X" export --model "$T/ck" --format hf --out "$T/hf"
if [ "$rc" -ne 0 ]; then fail hf_cli_export "$(cat "$T/err")"; else pass hf_cli_export; fi
for f in config.json model.safetensors tokenizer.json tokenizer_config.json; do
    [ -s "$T/hf/$f" ] || fail "hf_cli_export_$f" "missing"
done
if grep -q '"model_type":[[:space:]]*"llama"' "$T/hf/config.json" && grep -q '"rms_norm_eps"' "$T/hf/config.json"; then
    pass hf_cli_config_names; else fail hf_cli_config_names "$(head -c 300 "$T/hf/config.json")"; fi
# the preset pads vocab_size (VP) past the tokenizer's ids (NV); the export keeps
# the live rows only (docs/formats.md §Hugging Face directories)
VP=$(grep -o '"vocab_size":[[:space:]]*[0-9]*' "$T/ck/config.json" | grep -o '[0-9]*$')
NV=$(grep -o '"vocab_size":[[:space:]]*[0-9]*' "$T/hf/config.json" | grep -o '[0-9]*$')
if [ "${VP:-0}" -gt "${NV:-0}" ] && [ "${NV:-0}" -gt 0 ]; then pass "hf_cli_export_live_vocab ($NV of $VP rows)"
else fail hf_cli_export_live_vocab "vocab_size ${VP:-?} -> ${NV:-?}"; fi
PY=/usr/bin/python3
HERE="$(cd "$(dirname "$0")/../.." && pwd)"
check_same() { # NAME A B [extra failure text]: B (the padded model's logits) equals A over the live vocab, -inf past it
    if ! $PY -c 'import numpy' 2>/dev/null; then
        if [ -n "${CI:-}" ]; then fail "$1" "/usr/bin/python3 has no numpy (CI)"; else echo "SKIP $1: /usr/bin/python3 has no numpy"; fi
    elif [ -s "$2" ] && r=$($PY "$HERE/tests/interop/cmp_logits.py" "$2" "$3" "$NV" 0 --width-b "$VP"); then pass "$1 ($r)"
    else fail "$1" "${r:-} ${4:-}"; fi
}
"$X" score --model "$T/ck" --text "The quick brown fox" --dump-logits "$T/a.bin" > "$T/a.json" 2> "$T/err"
"$X" score --model "$T/hf" --text "The quick brown fox" --dump-logits "$T/b.bin" > "$T/b.json" 2>> "$T/err"
check_same hf_cli_score_same_logits "$T/b.bin" "$T/a.bin" "$(cat "$T/err")"
if cmp -s "$T/a.json" "$T/b.json"; then pass hf_cli_score_same_loss; else fail hf_cli_score_same_loss "$(cat "$T/a.json" "$T/b.json")"; fi
"$X" generate --model "$T/ck" --prompt "The" -n 12 --temperature 0 > "$T/g1" 2> "$T/err"
"$X" generate --model "$T/hf" --prompt "The" -n 12 --temperature 0 > "$T/g2" 2>> "$T/err"
if [ -s "$T/g1" ] && cmp -s "$T/g1" "$T/g2"; then pass hf_cli_generate_same; else
    fail hf_cli_generate_same "$(cat "$T/err")"; fi
run "$X" info --model "$T/hf"
if [ "$rc" -eq 0 ] && grep -q 'parameters:' "$T/out"; then pass hf_cli_info; else fail hf_cli_info "$(cat "$T/err")"; fi
# back to an xfmr checkpoint: the same logits again
"$X" export --model "$T/hf" --format xfmr --out "$T/back" 2> /dev/null
"$X" score --model "$T/back" --text "The quick brown fox" --dump-logits "$T/c.bin" > /dev/null 2>&1
check_same hf_cli_back_to_xfmr "$T/c.bin" "$T/a.bin"
# the same round trip for a gpt2-style model (Conv1D, fused c_attn) and a Mixtral MoE:
# xfmr -> HF -> xfmr and the HF directory itself give the checkpoint's logits bit for bit
for p in gpt2-tiny mixtral-tiny; do
    run "$X" train --model $p --data "$T/corpus.txt" --out "$T/ck-$p" --steps 1 --batch 2 --seq 32 --threads 1 --quiet
    "$X" export --model "$T/ck-$p" --format hf --out "$T/hf-$p" 2> "$T/err" &&
        "$X" export --model "$T/hf-$p" --format xfmr --out "$T/back-$p" 2>> "$T/err"
    "$X" score --model "$T/ck-$p" --text "The quick brown fox" --dump-logits "$T/a-$p.bin" > /dev/null 2>> "$T/err"
    "$X" score --model "$T/hf-$p" --text "The quick brown fox" --dump-logits "$T/h-$p.bin" > /dev/null 2>> "$T/err"
    "$X" score --model "$T/back-$p" --text "The quick brown fox" --dump-logits "$T/b-$p.bin" > /dev/null 2>> "$T/err"
    check_same "hf_cli_roundtrip_dir_$p" "$T/h-$p.bin" "$T/a-$p.bin" "$(cat "$T/err")"
    check_same "hf_cli_roundtrip_xfmr_$p" "$T/b-$p.bin" "$T/a-$p.bin" "$(cat "$T/err")"
done

# --- bad directories: one line naming the file ----------------------------
mk() { rm -rf "$T/bad"; cp -r "$T/hf" "$T/bad"; }
mk; printf '{"model_type": "falcon", "vocab_size": 384}' > "$T/bad/config.json"
expect_fail hf_cli_bad_model_type config.json "$X" score --model "$T/bad" --text "x"
grep -q 'supported: .*llama' "$T/err" || fail hf_cli_bad_model_type_lists "$(cat "$T/err")"
mk; sed -i 's/"rms_norm_eps"/"rope_scaling": {"type": "dynamic"}, "rms_norm_eps"/' "$T/bad/config.json"
expect_fail hf_cli_bad_rope_scaling config.json "$X" info --model "$T/bad"
mk; head -c 100 "$T/hf/config.json" > "$T/bad/config.json"
expect_fail hf_cli_truncated_config config.json "$X" generate --model "$T/bad" --prompt a
mk; head -c 5000 "$T/hf/model.safetensors" > "$T/bad/model.safetensors"
expect_fail hf_cli_truncated_weights model.safetensors "$X" score --model "$T/bad" --text "x"
mk; printf '{"weight_map": {"model.norm.weight": "model-00001-of-00002.safetensors"}}' \
    > "$T/bad/model.safetensors.index.json"
expect_fail hf_cli_missing_shard model-00001-of-00002.safetensors "$X" score --model "$T/bad" --text "x"

# --- a refused export writes nothing, and leaves an existing directory as it was
sed 's/"arch": "decoder"/"arch": "prefix_lm"/' "$T/ck/config.json" > "$T/pfx.json"
mkdir -p "$T/pfx" && cp "$T/ck/model.safetensors" "$T/ck/tokenizer.json" "$T/pfx/" && cp "$T/pfx.json" "$T/pfx/config.json"
expect_fail hf_cli_refuse_prefix_lm prefix_lm "$X" export --model "$T/pfx" --format hf --out "$T/pfx_hf"
[ -e "$T/pfx_hf" ] && fail hf_cli_refuse_writes_nothing "$T/pfx_hf exists" || pass hf_cli_refuse_writes_nothing
sum1=$(cat "$T/hf"/* | md5sum)
run "$X" export --model "$T/pfx" --format hf --out "$T/hf"
sum2=$(cat "$T/hf"/* | md5sum)
if [ "$rc" -ne 0 ] && [ "$sum1" = "$sum2" ]; then pass hf_cli_refuse_keeps_existing; else
    fail hf_cli_refuse_keeps_existing "rc $rc"; fi
exit $failed
