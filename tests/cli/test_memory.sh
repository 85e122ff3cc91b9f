#!/usr/bin/env bash
# Memory refused up front (xfmr/memory.h): with XFMR_MEMORY_LIMIT below what
# the arenas need, train / bench train / generate refuse before allocating or
# writing anything, with one line giving the figure, its parts, the limit and a
# hint; the figure is the one `xfmr info` reports for the same shape, and a
# limit of exactly that many bytes is accepted while one byte less is refused.
# Usage: test_memory.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL memory_cli: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
"$X" corpus --out "$T/c.txt" --bytes 30000 --seed 1 > /dev/null
C=(--model llama-tiny --data "$T/c.txt" --batch 16 --seq 128 --steps 1 --quiet --threads 1 --eval-every 0)

run env XFMR_MEMORY_LIMIT=1M "$X" train "${C[@]}" --out "$T/a"
need=$(sed -n 's/.*needs [0-9.]* GiB (\([0-9]*\) bytes.*/\1/p' "$T/err")
if [ "$rc" = 1 ] && [ "$(wc -l < "$T/err")" = 1 ] && grep -q "parameters .*gradients .*optimizer .*activations" "$T/err" \
   && grep -q "XFMR_MEMORY_LIMIT" "$T/err" && grep -q -- "--batch" "$T/err" && [ -n "$need" ] && [ ! -e "$T/a" ]; then
    pass memory_train_refused
else
    fail memory_train_refused "rc=$rc $(cat "$T/err")"
fi
# the same figure as xfmr info's "training B=16 T=128" line (MiB, one decimal)
info=$("$X" info --model llama-tiny 2> /dev/null | sed -n 's/.*training B=16 T=128 *\([0-9.]*\) MiB.*/\1/p')
if [ -n "$info" ] && awk -v n="$need" -v i="$info" 'BEGIN { d = n / 1048576 - i; exit !(d < 0.15 && d > -0.15) }'; then
    pass memory_figure_matches_info
else
    fail memory_figure_matches_info "refusal says $need bytes, info says $info MiB"
fi
run env XFMR_MEMORY_LIMIT=$((need - 1)) "$X" train "${C[@]}" --out "$T/b"
if [ "$rc" = 1 ] && grep -q "needs" "$T/err"; then pass memory_one_byte_short_refused; else fail memory_one_byte_short_refused "rc=$rc"; fi
run env XFMR_MEMORY_LIMIT=$need "$X" train "${C[@]}" --out "$T/c"
if [ "$rc" = 0 ] && [ -s "$T/c/model.safetensors" ]; then pass memory_exact_fit_trains; else fail memory_exact_fit_trains "rc=$rc $(cat "$T/err")"; fi
# a resume is checked against the checkpoint's config
run env XFMR_MEMORY_LIMIT=1M "$X" train --resume --out "$T/c" --data "$T/c.txt" --steps 2 --quiet
if [ "$rc" = 1 ] && grep -q "train needs" "$T/err"; then pass memory_resume_refused; else fail memory_resume_refused "rc=$rc $(cat "$T/err")"; fi

run env XFMR_MEMORY_LIMIT=1M "$X" bench train --model llama-tiny --batch 4 --seq 64 --steps 1 --threads 1
if [ "$rc" -ne 0 ] && grep -q "bench train needs" "$T/err"; then pass memory_bench_refused; else fail memory_bench_refused "rc=$rc $(cat "$T/err")"; fi
run env XFMR_MEMORY_LIMIT=100K "$X" generate --model "$T/c" --prompt "Once" -n 4
if [ "$rc" = 1 ] && grep -q "generate needs .*KV cache" "$T/err" && [ ! -s "$T/out" ]; then
    pass memory_generate_refused; else fail memory_generate_refused "rc=$rc $(cat "$T/err")"; fi
run env XFMR_MEMORY_LIMIT=4G "$X" generate --model "$T/c" --prompt "Once" -n 4
if [ "$rc" = 0 ]; then pass memory_generate_fits; else fail memory_generate_fits "rc=$rc $(cat "$T/err")"; fi
run env XFMR_MEMORY_LIMIT=lots "$X" train "${C[@]}" --out "$T/d"
if [ "$rc" = 1 ] && grep -q "XFMR_MEMORY_LIMIT=lots" "$T/err"; then pass memory_bad_limit; else fail memory_bad_limit "rc=$rc $(cat "$T/err")"; fi
exit 0
