#!/usr/bin/env bash
# `xfmr tokenizer` on bad input: each case must exit non-zero with exactly one
# line "xfmr: ..." (or "xfmr tokenizer ..." for usage errors) on stderr and no
# crash (exit status below 128). Also a few good invocations.
# usage: bash tests/tokenizer/cli_bad.sh BUILD_DIR   (prints PASS/FAIL lines)
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
xfmr="$build/xfmr"
shared="$root/../shared/data"
work="$build/tokwork/cli"
mkdir -p "$work"

bad() { # name, args...: must fail cleanly
    local name=$1; shift
    "$xfmr" tokenizer "$@" >"$work/out" 2>"$work/err" </dev/null
    local rc=$? lines
    lines=$(wc -l <"$work/err")
    if [ $rc -eq 0 ]; then
        echo "FAIL cli_bad_$name: exit status 0"
    elif [ $rc -ge 128 ]; then
        echo "FAIL cli_bad_$name: crashed (exit $rc)"
    elif [ "$lines" -ne 1 ] || ! grep -q '^xfmr' "$work/err"; then
        echo "FAIL cli_bad_$name: stderr is not one 'xfmr...' line: $(head -c 300 "$work/err")"
    else
        echo "PASS cli_bad_$name"
    fi
}

printf '{"model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}' >"$work/dup.json"
printf '{"model": {"vocab": ' >"$work/trunc.json"
printf '{"model": {"type": "BPE", "vocab": {"a": "x"}}}' >"$work/types.json"
head -c 1000 /dev/urandom >"$work/garbage.model"
printf '\x10\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00abc' >"$work/pastend.bin"

bad decode_out_of_range decode --tokenizer byte --ids "65 66 360"
bad decode_negative decode --tokenizer byte --ids "65 -1"
bad decode_not_number decode --tokenizer byte --ids "65 x"
bad json_duplicate_ids encode --tokenizer "$work/dup.json" --text hi
bad json_truncated encode --tokenizer "$work/trunc.json" --text hi
bad json_wrong_types encode --tokenizer "$work/types.json" --text hi
bad model_garbage encode --tokenizer "$work/garbage.model" --text hi
bad bin_past_end encode --tokenizer "$work/pastend.bin" --text hi
bad missing_file encode --tokenizer "$work/nonexistent.json" --text hi
bad no_tokenizer encode --text hi
bad unknown_verb frobnicate
bad unknown_flag encode --tokenizer byte --text hi --nope
bad train_no_vocab train --data "$work/dup.json" --out "$work/x.json"
if [ -f "$shared/llama2-tokenizer.model" ]; then
    head -c 250000 "$shared/llama2-tokenizer.model" >"$work/cut.model"
    bad model_truncated encode --tokenizer "$work/cut.model" --text hi
    bad spm_out_of_range decode --tokenizer "$shared/llama2-tokenizer.model" --ids "1 32000"
    bad convert_spm convert --tokenizer "$shared/llama2-tokenizer.model" --out "$work/spm.json"
fi

# good invocations
got=$("$xfmr" tokenizer encode --tokenizer byte --text "hi" 2>&1)
[ "$got" = "104 105" ] && echo "PASS cli_encode_byte" || echo "FAIL cli_encode_byte: got '$got'"
got=$(printf 'h\xffi' | "$xfmr" tokenizer encode --tokenizer byte --bos --eos 2>&1)
[ "$got" = "256 104 255 105 256" ] && echo "PASS cli_encode_stdin" || echo "FAIL cli_encode_stdin: got '$got'"
got=$("$xfmr" tokenizer decode --tokenizer byte --ids "104 105 256 259 359" 2>&1)
[ "$got" = "hi<|endoftext|><mask><extra_id_0>" ] && echo "PASS cli_decode_byte" || echo "FAIL cli_decode_byte: got '$got'"
echo "104 105" >"$work/ids.txt"
got=$("$xfmr" tokenizer decode --tokenizer byte --file "$work/ids.txt" 2>&1)
[ "$got" = "hi" ] && echo "PASS cli_decode_file" || echo "FAIL cli_decode_file: got '$got'"
if "$xfmr" tokenizer info --tokenizer byte | grep -q '"vocab_size":360'; then
    echo "PASS cli_info"
else
    echo "FAIL cli_info"
fi
