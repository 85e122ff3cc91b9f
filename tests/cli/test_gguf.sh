#!/usr/bin/env bash
# GGUF (docs/formats.md §GGUF): export llama (dense, Mixtral MoE) and gpt2
# models, run them in llama.cpp (npm node-llama-cpp, pinned in tests/interop)
# and compare with xfmr: the f32 files' next-token log-probabilities within
# 1e-4 relative of xfmr's log-softmax and 64 greedy tokens identical; the f16,
# bf16 and q8_0 files of a trained llama-tiny give xfmr's greedy tokens. Read
# back: f32 bit for bit, the quantised ones within their precision, the
# tokenizer carried. Hostile files: one line naming the file.
# Usage: test_gguf.sh BUILD_DIR
set -u
B="${1:-build}"
X="$B/xfmr"
if [ ! -x "$X" ]; then echo "FAIL gguf: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")/../.." && pwd)"
PY=/usr/bin/python3
havepy=0; $PY -c 'import numpy' 2>/dev/null && havepy=1
missing() { # name why: SKIP, or FAIL in CI where the references are installed
    if [ -n "${CI:-}" ]; then fail "$1" "$2 (CI)"; else echo "SKIP $1: $2"; fi
}
# the byte tokenizer's 360 ids; the presets pad vocab_size to a multiple of 64
# (VP, read from the checkpoint). The export writes the live 360 rows only, so
# llama.cpp can never sample a padding row (docs/formats.md §GGUF); xfmr's
# logits over the padding are -inf, and the comparisons take the first V.
V=360
IDS="5 17 99 3 250 8 41 77 120 6 33 200 14 9"

"$X" corpus --out "$T/c.txt" --bytes 200000 --seed 3 > /dev/null
train() { # NAME PRESET STEPS BATCH
    run "$X" train --model "$2" --data "$T/c.txt" --out "$T/$1" --steps "$3" --batch "$4" --seq 64 --threads 2 --quiet
    if [ "$rc" -ne 0 ]; then fail "gguf_train_$1" "rc=$rc $(head -c 300 "$T/err")"; return 1; fi
    "$X" score --model "$T/$1" --ids "$IDS" --dump-logits "$T/$1.f32" > /dev/null
}
# a trained llama-tiny (the quantised files must keep its greedy tokens), fresh gpt2 and Mixtral models
train ll llama-tiny 150 8; train gp gpt2-tiny 2 2; train mx mixtral-tiny 2 2
VP=$(grep -o '"vocab_size":[[:space:]]*[0-9]*' "$T/ll/config.json" | grep -o '[0-9]*$')
if [ "${VP:-0}" -gt $V ]; then pass "gguf_padded_vocab ($VP rows, $V live)"; else fail gguf_padded_vocab "vocab_size '${VP:-}' is not padded past $V"; fi

# ---- export and read back ------------------------------------------------------
for m in ll mx gp; do
    for d in f32 f16 bf16 q8_0; do
        run "$X" export --model "$T/$m" --format gguf --dtype $d --out "$T/$m-$d.gguf"
        if [ "$rc" -ne 0 ]; then fail "gguf_export_${m}_$d" "rc=$rc $(cat "$T/err")"; fi
    done
done
if [ $havepy -eq 1 ]; then
    for m in ll mx; do
        run "$X" score --model "$T/$m-f32.gguf" --ids "$IDS" --dump-logits "$T/$m-rt.f32"
        if [ "$rc" -eq 0 ] && r=$($PY "$HERE/tests/interop/cmp_logits.py" "$T/$m-rt.f32" "$T/$m.f32" $V 0 --width-b $VP); then
            pass "gguf_roundtrip_f32_$m (bit for bit over the live vocab: $r)"
        else fail "gguf_roundtrip_f32_$m" "rc=$rc ${r:-} $(cat "$T/err")"; fi
    done

    # precision bounds of docs/formats.md §GGUF (relative logits error of the trained llama-tiny)
    for d in f16:0.01 bf16:0.05 q8_0:0.1; do
        run "$X" score --model "$T/ll-${d%%:*}.gguf" --ids "$IDS" --dump-logits "$T/q.f32"
        if r=$($PY "$HERE/tests/interop/cmp_logits.py" "$T/q.f32" "$T/ll.f32" $V "${d#*:}" --width-b $VP); then pass "gguf_roundtrip_${d%%:*} ($r)"
        else fail "gguf_roundtrip_${d%%:*}" "$r $(cat "$T/err")"; fi
    done
else missing gguf_roundtrip_quantised "/usr/bin/python3 has no numpy"; fi
# the tokenizer travels: the same text scores the same through the GGUF file
run "$X" score --model "$T/ll" --text "The king said to the queen"; a=$(cat "$T/out")
run "$X" score --model "$T/ll-f32.gguf" --text "The king said to the queen"
if [ "$rc" -eq 0 ] && [ "$(cat "$T/out")" = "$a" ]; then pass "gguf_tokenizer_roundtrip"
else fail "gguf_tokenizer_roundtrip" "'$a' vs '$(cat "$T/out")' $(cat "$T/err")"; fi
run "$X" export --model "$T/ll-f32.gguf" --format xfmr --out "$T/back"
run "$X" score --model "$T/back" --ids "$IDS" --dump-logits "$T/back.f32"
if [ $havepy -eq 0 ]; then missing gguf_to_xfmr_checkpoint "/usr/bin/python3 has no numpy"
elif [ "$rc" -eq 0 ] && r=$($PY "$HERE/tests/interop/cmp_logits.py" "$T/back.f32" "$T/ll.f32" $V 0 --width-b $VP); then
    pass "gguf_to_xfmr_checkpoint ($r)"
else fail "gguf_to_xfmr_checkpoint" "rc=$rc ${r:-} $(cat "$T/err")"; fi
rm -f "$T/ll/train_state"*
run "$X" export --model "$T/ll" --format gguf --out "$T/nostate.gguf"
if [ "$rc" -eq 0 ]; then pass "gguf_export_needs_no_train_state"; else fail "gguf_export_needs_no_train_state" "$(cat "$T/err")"; fi
# refused: a model with no GGUF architecture, nothing written
run "$X" train --model t5-tiny --data "$T/c.txt" --out "$T/t5" --steps 1 --batch 2 --seq 32 --threads 2 --quiet
expect_fail "gguf_export_refuses_t5" "gguf" "$X" export --model "$T/t5" --format gguf --out "$T/t5.gguf"
if [ ! -e "$T/t5.gguf" ]; then pass "gguf_refused_export_writes_nothing"; else fail "gguf_refused_export_writes_nothing" "t5.gguf exists"; fi

# ---- llama.cpp --------------------------------------------------------------------
NPM="$B/npm-interop"
havenode=0
lcpp() { node "$NPM/llama_cpp_eval.mjs" "$@" > "$T/node.out" 2>&1; }
if ! command -v node > /dev/null || ! bash "$HERE/tests/interop/setup.sh" "$B" > "$T/setup.log" 2>&1; then
    missing gguf_llama_cpp "node-llama-cpp not installed: $(tail -c 300 "$T/setup.log" 2>/dev/null)"
elif [ $havepy -eq 0 ]; then
    missing gguf_llama_cpp "/usr/bin/python3 has no numpy"
else
    cp "$HERE/tests/interop/llama_cpp_eval.mjs" "$NPM/"
    havenode=1
    for m in ll mx gp; do
        "$X" generate --model "$T/$m" --ids "$IDS" -n 64 --temperature 0 --print-ids --quiet > "$T/$m.greedy"
        if ! lcpp "$T/$m-f32.gguf" "$IDS" 64 "$T/lc-$m" $V; then fail "gguf_llama_cpp_runs_$m" "$(tail -c 400 "$T/node.out")"; continue; fi
        if r=$($PY "$HERE/tests/interop/cmp_logprobs.py" "$T/lc-$m.lp" "$T/$m.f32" $V 1e-4 $VP); then pass "gguf_llama_cpp_logprobs_f32_$m ($r)"
        else fail "gguf_llama_cpp_logprobs_f32_$m" "$r"; fi
        if cmp -s "$T/lc-$m.ids" "$T/$m.greedy"; then pass "gguf_llama_cpp_greedy64_f32_$m"
        else fail "gguf_llama_cpp_greedy64_f32_$m" "llama.cpp '$(cat "$T/lc-$m.ids")' xfmr '$(cat "$T/$m.greedy")'"; fi
    done
    P=$("$X" tokenizer encode --tokenizer "$T/ll" --text "The king said to the")
    "$X" generate --model "$T/ll" --ids "$P" -n 64 --temperature 0 --print-ids --quiet > "$T/ll.text.greedy"
    for d in f16 bf16 q8_0; do
        if ! lcpp "$T/ll-$d.gguf" "$P" 64 "$T/lc-$d" $V; then fail "gguf_llama_cpp_runs_$d" "$(tail -c 400 "$T/node.out")"; continue; fi
        if cmp -s "$T/lc-$d.ids" "$T/ll.text.greedy"; then pass "gguf_llama_cpp_greedy64_trained_$d"
        else fail "gguf_llama_cpp_greedy64_trained_$d" "llama.cpp '$(cat "$T/lc-$d.ids")' xfmr '$(cat "$T/ll.text.greedy")'"; fi
    done
fi

# ---- a SentencePiece vocabulary (llama2's tokenizer.model, 32000 ids): "llama" tokenizer model ----------
SPM="$HERE/../shared/data/llama2-tokenizer.model"
if [ ! -f "$SPM" ]; then echo "SKIP gguf_spm_vocab: ../shared/data/llama2-tokenizer.model is absent"
elif [ $havepy -eq 0 ]; then missing gguf_spm_vocab "/usr/bin/python3 has no numpy"
else
    $PY -c "import json,sys; c=json.load(open(sys.argv[1])); c['vocab_size']=32000; json.dump(c,open(sys.argv[2],'w'))" \
        "$T/ll/config.json" "$T/spm.json"
    run "$X" train --model "$T/spm.json" --tokenizer "$SPM" --data "$T/c.txt" --out "$T/spm" --steps 1 --batch 2 --seq 32 --threads 2 --quiet
    run "$X" export --model "$T/spm" --format gguf --out "$T/spm.gguf"
    run "$X" score --model "$T/spm" --text "Hello world, the king said."; a=$(cat "$T/out")
    run "$X" score --model "$T/spm.gguf" --text "Hello world, the king said."
    if [ "$rc" -eq 0 ] && [ "$(cat "$T/out")" = "$a" ]; then pass "gguf_spm_tokenizer_roundtrip"
    else fail "gguf_spm_tokenizer_roundtrip" "'$a' vs '$(cat "$T/out")' $(cat "$T/err")"; fi
    if [ $havenode -eq 1 ]; then
        SIDS="1 15043 3186 29892 278 9123"
        "$X" score --model "$T/spm" --ids "$SIDS" --dump-logits "$T/spm.f32" > /dev/null
        if lcpp "$T/spm.gguf" "$SIDS" 4 "$T/lc-spm" 32000 &&
            r=$($PY "$HERE/tests/interop/cmp_logprobs.py" "$T/lc-spm.lp" "$T/spm.f32" 32000 1e-4); then
            pass "gguf_llama_cpp_spm_vocab ($r)"
        else fail "gguf_llama_cpp_spm_vocab" "${r:-} $(tail -c 300 "$T/node.out")"; fi
    fi
fi

# ---- hostile files --------------------------------------------------------------------
G="$T/ll-f32.gguf"
badrun() { expect_fail "gguf_bad_$1" "$2" "$X" score --model "$2" --ids "1 2"; }
head -c 3000 "$G" > "$T/trunc.gguf"; badrun truncated_meta "$T/trunc.gguf"
n=$(size "$G"); head -c $((n - 100)) "$G" > "$T/trunc2.gguf"; badrun truncated_data "$T/trunc2.gguf"
: > "$T/empty.gguf"; badrun empty "$T/empty.gguf"
cp "$G" "$T/magic.gguf"; printf 'GGUX' | dd of="$T/magic.gguf" conv=notrunc 2>/dev/null; badrun wrong_magic "$T/magic.gguf"
cp "$G" "$T/ver.gguf"; printf '\x02' | dd of="$T/ver.gguf" bs=1 seek=4 conv=notrunc 2>/dev/null; badrun version2 "$T/ver.gguf"
cp "$G" "$T/nt.gguf"; printf '\xff\xff\xff\xff\xff\xff\xff\x7f' | dd of="$T/nt.gguf" bs=1 seek=8 conv=notrunc 2>/dev/null; badrun oversized_tensor_count "$T/nt.gguf"
cp "$G" "$T/nkv.gguf"; printf '\xff\xff\xff\xff\xff\xff\x00\x00' | dd of="$T/nkv.gguf" bs=1 seek=16 conv=notrunc 2>/dev/null; badrun oversized_kv_count "$T/nkv.gguf"
cp "$G" "$T/key.gguf"; printf '\xff\xff\xff\xff\xff\x00\x00\x00' | dd of="$T/key.gguf" bs=1 seek=24 conv=notrunc 2>/dev/null; badrun oversized_key "$T/key.gguf"
# tensor-info edits located by name with python (offsets past the metadata)
if [ $havepy -eq 1 ]; then
    $PY "$HERE/tests/interop/gguf_corrupt.py" "$G" "$T" > "$T/corrupt.log" 2>&1 || fail gguf_corrupt "$(cat "$T/corrupt.log")"
    for f in misaligned overlap past_end dims0 ndims shape_mismatch unknown_type dup_key str_len arr_len; do
        [ -f "$T/$f.gguf" ] && badrun "$f" "$T/$f.gguf"
    done
else missing gguf_bad_tensor_infos "/usr/bin/python3 has no numpy"; fi
exit $failed
