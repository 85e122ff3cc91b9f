#!/usr/bin/env bash
# generate --dtype: each decode weight format runs and reports its weight bytes
# per token (printed to 0.1 MB: f32 = 4 bytes a weight, bf16/f16 half of it, q8_0 34/32
# bytes a weight, so between a quarter and a half of f32), greedy f32 through
# the decode kernels gives the same text as the --beams 1 path, on a decoder
# (llama-tiny) and an encoder-decoder (t5-tiny); a bad --dtype fails with one
# line. Usage: test_generate_dtype.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL generate_dtype: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

"$X" corpus --out "$T/c.txt" --bytes 20000 --seed 5 > /dev/null
for preset in llama-tiny t5-tiny; do
    M="$T/$preset"
    run "$X" train --model "$preset" --data "$T/c.txt" --out "$M" --steps 2 --batch 2 --seq 32 --threads 1 --quiet
    if [ "$rc" -ne 0 ]; then fail "train_$preset" "rc=$rc $(head -c 300 "$T/err")"; continue; fi
    declare -A MB=()
    for dt in f32 bf16 f16 q8_0; do
        run "$X" generate --model "$M" --prompt "Once upon a time" -n 16 --temperature 0 --dtype "$dt" --threads 1
        mb=$(sed -n "s/.* $dt weights \([0-9.]*\) MB\/token.*/\1/p" "$T/err")
        if [ "$rc" -eq 0 ] && [ -n "$mb" ] && [ "$(size "$T/out")" -gt 1 ]; then
            pass "generate_${dt}_$preset"
            MB[$dt]=$mb
        else
            fail "generate_${dt}_$preset" "rc=$rc $(head -c 300 "$T/err")"
        fi
        [ "$dt" = f32 ] && cp "$T/out" "$T/greedy_f32"
    done
    if [ -n "${MB[f32]:-}" ] && [ -n "${MB[bf16]:-}" ] && [ -n "${MB[f16]:-}" ] && [ -n "${MB[q8_0]:-}" ] &&
        awk -v a="${MB[f32]}" -v b="${MB[bf16]}" -v c="${MB[f16]}" -v q="${MB[q8_0]}" \
            'BEGIN { exit !(a > 0 && b == c && b * 2 >= a * 0.95 && b * 2 <= a * 1.05 && q > a / 4 && q < a / 2) }'; then
        pass "generate_dtype_bytes_$preset"
    else
        fail "generate_dtype_bytes_$preset" "MB/token f32 ${MB[f32]:-?} bf16 ${MB[bf16]:-?} f16 ${MB[f16]:-?} q8_0 ${MB[q8_0]:-?}"
    fi
    # --beams 1 is greedy through the same decode; its text equals --temperature 0's
    run "$X" generate --model "$M" --prompt "Once upon a time" -n 16 --beams 1 --dtype f32 --threads 1 --quiet
    if [ "$rc" -eq 0 ] && cmp -s "$T/out" "$T/greedy_f32"; then pass "generate_f32_beams1_$preset"
    else fail "generate_f32_beams1_$preset" "rc=$rc: $(head -c 200 "$T/out") vs $(head -c 200 "$T/greedy_f32")"; fi
    unset MB
done
expect_fail generate_dtype_bad "q4_0" "$X" generate --model "$T/llama-tiny" --prompt "a" -n 2 --dtype q4_0
exit $failed
