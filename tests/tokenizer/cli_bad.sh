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

# tokenizer.json pipelines (docs/tokenizers.md §Pipeline): unsupported parts
# are refused by name, regexes PCRE2 rejects and absurd sizes give one line
pipe='{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<s>": 3}, "merges": [["a", "b"]]}, "added_tokens": [{"id": 3, "content": "<s>", "special": true}]'
printf '%s, "normalizer": {"type": "Precompiled", "precompiled_charsmap": "AA=="}}' "$pipe" >"$work/precompiled.json"
printf '%s, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(?<"}, "behavior": "Isolated", "invert": false}}' "$pipe" >"$work/badregex.json"
printf '%s, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": " "}, "behavior": "Isolated", "invert": false}, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<s>": {"id": "<s>", "ids": [3], "tokens": ["<s>"]}}}}' "$pipe" >"$work/pipe.json"
head -c 200 "$work/pipe.json" >"$work/pipe_cut.json"
python3 -c 'import json,sys; print(json.dumps({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "added_tokens": [{"id": 1, "content": "x" * 5000, "special": True}]}))' >"$work/longadded.json"
python3 -c 'import sys; sys.stdout.write("[" * 100000 + "]" * 100000)' >"$work/deep.json"
bad json_precompiled encode --tokenizer "$work/precompiled.json" --text ab
grep -q Precompiled "$work/err" || echo "FAIL cli_bad_json_precompiled_named: $(cat "$work/err")"
bad json_bad_regex encode --tokenizer "$work/badregex.json" --text ab
bad json_pipeline_truncated encode --tokenizer "$work/pipe_cut.json" --text ab
bad json_long_added encode --tokenizer "$work/longadded.json" --text ab
bad json_deep encode --tokenizer "$work/deep.json" --text ab
bad decode_pipeline_range decode --tokenizer "$work/pipe.json" --ids "0 4"
# special tokens in text: matched unless --no-special; --bos runs the post-processor
sp=$("$xfmr" tokenizer encode --tokenizer "$work/pipe.json" --text "ab<s>ab" 2>&1)
nosp=$("$xfmr" tokenizer encode --tokenizer "$work/pipe.json" --text "ab<s>ab" --no-special 2>&1)
bos=$("$xfmr" tokenizer encode --tokenizer "$work/pipe.json" --text "ab<s>ab" --bos 2>&1)
case " $sp " in *" 3 "*) echo "PASS cli_encode_special" ;; *) echo "FAIL cli_encode_special: got '$sp'" ;; esac
case " $nosp " in *" 3 "*) echo "FAIL cli_encode_no_special: got '$nosp'" ;; *) echo "PASS cli_encode_no_special" ;; esac
[ "$bos" = "3 $sp" ] && echo "PASS cli_encode_bos_post" || echo "FAIL cli_encode_bos_post: got '$bos' (encode gave '$sp')"

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
