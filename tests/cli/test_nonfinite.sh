#!/usr/bin/env bash
# Numerical guard of xfmr train: a non-finite loss or gradient norm stops the
# run with a message naming the step, before the update, and the last good
# checkpoint is never overwritten (forced by an absurd learning rate, and by
# the test hook XFMR_TEST_NONFINITE_AT=K, a NaN loss at the K-th step);
# --skip-nonfinite N skips such steps and gives up after more than N in a row.
# Usage: test_nonfinite.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL nonfinite_cli: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

cat > "$T/tiny.json" <<'JSON'
{"vocab_size": 384, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64,
 "hidden_act": "silu", "gated_ffn": true, "norm_type": "rmsnorm", "position_type": "rope",
 "use_bias": false, "tie_word_embeddings": false}
JSON
"$X" corpus --out "$T/corpus.txt" --bytes 60000 --seed 3 > /dev/null
C=(--data "$T/corpus.txt" --batch 4 --seq 32 --eval-every 0 --threads 1 --quiet --warmup 0)
finite() { # every tensor of a safetensors file is finite
    python3 - "$1" <<'PY'
import json, struct, sys, math
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
for k, v in h.items():
    if k == "__metadata__" or v["dtype"] != "F32":
        continue
    s, e = v["data_offsets"]
    for x in struct.unpack("<%df" % ((e - s) // 4), b[8 + n + s:8 + n + e]):
        if not math.isfinite(x):
            sys.exit(1)
PY
}

# --- an absurd learning rate: the run stops at the first non-finite step -------
"$X" train --model "$T/tiny.json" --out "$T/a" "${C[@]}" --save-every 2 --steps 4 --lr 1e-3 2> /dev/null
cp -r "$T/a" "$T/a.good"
run "$X" train --resume --out "$T/a" "${C[@]}" --save-every 2 --steps 40 --lr 1e30
step=$(sed -n 's/.*step \([0-9]*\): loss.*/\1/p' "$T/err")
if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ -n "$step" ] && grep -q "diverged" "$T/err" && [ "$(wc -l < "$T/err")" = 1 ]; then
    pass nonfinite_lr_stops_naming_step
else
    fail nonfinite_lr_stops_naming_step "rc=$rc $(cat "$T/err")"
fi
saved=$(python3 -c "
import json,struct,sys
b=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',b[:8])[0]
print(json.loads(b[8:8+n])['__metadata__']['step'])" "$T/a/model.safetensors")
if finite "$T/a/model.safetensors" && finite "$T/a/train_state.safetensors" && [ -n "$step" ] && [ "$saved" -lt "$step" ]; then
    pass nonfinite_lr_checkpoint_finite
else
    fail nonfinite_lr_checkpoint_finite "checkpoint of step $saved, stop at step $step"
fi
echo "# --lr 1e30: stopped at step $step, last checkpoint step $saved"

# --- infinite learning rate: the weights turn non-finite at the update; never saved
cp -r "$T/a.good" "$T/inf"
run "$X" train --resume --out "$T/inf" "${C[@]}" --save-every 1 --steps 40 --lr inf
if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && grep -q "no longer finite" "$T/err" && finite "$T/inf/model.safetensors" \
   && cmp -s "$T/inf/model.safetensors" "$T/a.good/model.safetensors" && cmp -s "$T/inf/train_state.safetensors" "$T/a.good/train_state.safetensors"; then
    pass nonfinite_weights_never_saved
else
    fail nonfinite_weights_never_saved "rc=$rc $(cat "$T/err")"
fi

# --- one NaN step: stop (default), or skip it (--skip-nonfinite 1) and finish ----
run env XFMR_TEST_NONFINITE_AT=3 "$X" train --model "$T/tiny.json" --out "$T/n" "${C[@]}" --save-every 2 --steps 6 --lr 1e-3
if [ "$rc" -ne 0 ] && grep -q "step 3: loss nan" "$T/err" && [ "$(grep -c '"loss"' "$T/n/log.jsonl")" = 2 ] \
   && finite "$T/n/model.safetensors"; then
    pass nonfinite_nan_stops_at_step
else
    fail nonfinite_nan_stops_at_step "rc=$rc $(cat "$T/err")"
fi
run env XFMR_TEST_NONFINITE_AT=3 "$X" train --model "$T/tiny.json" --out "$T/s" "${C[@]}" --save-every 2 --steps 6 --lr 1e-3 --skip-nonfinite 1
if [ "$rc" = 0 ] && [ "$(grep -c '"skipped"' "$T/s/log.jsonl")" = 1 ] && [ "$(grep -c '"loss"' "$T/s/log.jsonl")" = 6 ] \
   && finite "$T/s/model.safetensors"; then
    pass nonfinite_skip_continues
else
    fail nonfinite_skip_continues "rc=$rc $(cat "$T/err") $(cat "$T/s/log.jsonl" | head -8)"
fi
run "$X" plot --out "$T/s.svg" "$T/s/log.jsonl"
if [ "$rc" = 0 ]; then pass nonfinite_plot_reads_skipped; else fail nonfinite_plot_reads_skipped "$(cat "$T/err")"; fi
# divergence with skipping: gives up after more than N non-finite steps in a row
cp -r "$T/a.good" "$T/g"
run "$X" train --resume --out "$T/g" "${C[@]}" --save-every 2 --steps 40 --lr 1e30 --skip-nonfinite 3
if [ "$rc" -ne 0 ] && grep -q "4 non-finite steps in a row (--skip-nonfinite 3)" "$T/err" && finite "$T/g/model.safetensors"; then
    pass nonfinite_skip_gives_up
else
    fail nonfinite_skip_gives_up "rc=$rc $(cat "$T/err")"
fi
exit 0
