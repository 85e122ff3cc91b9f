#!/usr/bin/env bash
# xfmr corpus and xfmr prepare through the CLI. Usage: test_prepare.sh BUILD_DIR
# Prints one "PASS name" / "FAIL name: why" line per check.
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then
    echo "SKIP prepare: no $X"
    exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

# ---- corpus
run "$X" corpus --out "$T/c.txt" --bytes 200000 --seed 4
n=$( [ -f "$T/c.txt" ] && size "$T/c.txt" || echo 0)
if [ "$rc" -ne 0 ]; then
    fail corpus_writes "exit $rc: $(cat "$T/err")"
elif ! grep -qE "^\{\"bytes\":$n,\"seed\":4,\"out\":\"$T/c.txt\"\}$" "$T/out"; then
    fail corpus_writes "summary $(cat "$T/out") (file has $n bytes)"
elif [ "$n" -lt 200000 ] || [ "$n" -gt 204096 ]; then
    fail corpus_writes "size $n"
else
    pass corpus_writes
fi

run "$X" corpus --out "$T/c2.txt" --bytes 200000 --seed 4
if cmp -s "$T/c.txt" "$T/c2.txt"; then pass corpus_deterministic; else fail corpus_deterministic "same seed, different text"; fi
run "$X" corpus --out "$T/c3.txt" --bytes 200000 --seed 5
if ! cmp -s "$T/c.txt" "$T/c3.txt"; then pass corpus_seed_matters; else fail corpus_seed_matters "seeds 4 and 5 agree"; fi
if ls "$T"/*.tmp.* > /dev/null 2>&1; then fail corpus_no_temp "temporary file left"; else pass corpus_no_temp; fi

run "$X" corpus --bytes 100
if [ "$rc" -eq 2 ]; then pass corpus_needs_out; else fail corpus_needs_out "exit $rc"; fi
run "$X" corpus --out "$T/x.txt" --bytes -5
if [ "$rc" -ne 0 ] && [ ! -e "$T/x.txt" ]; then pass corpus_bad_bytes; else fail corpus_bad_bytes "exit $rc"; fi
expect_fail corpus_unwritable "$T/nodir/c.txt" "$X" corpus --out "$T/nodir/c.txt" --bytes 100

# ---- prepare (byte tokenizer: one token per byte, 2 bytes per id)
run "$X" prepare --data "$T/c.txt" --out "$T/c.bin"
if [ "$rc" -ne 0 ]; then
    fail prepare_summary "exit $rc: $(cat "$T/err")"
elif ! grep -qE "^\{\"tokens\":$n,\"bytes\":$n,\"vocab_size\":[0-9]+,\"tokenizer\":\"byte\",\"out\":\"$T/c.bin\"\}$" "$T/out"; then
    fail prepare_summary "summary $(cat "$T/out")"
elif [ "$(wc -l < "$T/out" | tr -d ' ')" -ne 1 ]; then
    fail prepare_summary "more than one line on stdout"
else
    pass prepare_summary
fi
b=$( [ -f "$T/c.bin" ] && size "$T/c.bin" || echo 0)
if [ "$b" -eq $((64 + 2 * n)) ] && [ "$(head -c 8 "$T/c.bin")" = "XFTOKEN1" ]; then
    pass prepare_file_layout
else
    fail prepare_file_layout "size $b for $n tokens"
fi
# the ids are the bytes of the text: every even byte of the payload
if command -v od > /dev/null; then
    got=$(tail -c +65 "$T/c.bin" | od -An -v -tu2 -w2 | head -n 200 | tr -d ' ' | tr '\n' ' ')
    want=$(head -c 200 "$T/c.txt" | od -An -v -tu1 -w1 | tr -d ' ' | tr '\n' ' ')
    if [ "$got" = "$want" ]; then pass prepare_ids; else fail prepare_ids "ids differ from the text bytes"; fi
fi

run "$X" prepare --data "$T/c.txt" --out "$T/p.bin" --preview 2
if [ "$rc" -eq 0 ] && grep -q "window 0" "$T/err" && grep -q "window 1" "$T/err" &&
   grep -qF "$(head -c 20 "$T/c.txt")" "$T/err"; then
    pass prepare_preview
else
    fail prepare_preview "exit $rc: $(head -c 300 "$T/err")"
fi

# large input: encoded in parallel chunks, must equal the serial result byte for byte
run "$X" corpus --out "$T/big.txt" --bytes 9000000 --seed 2
run "$X" prepare --data "$T/big.txt" --out "$T/big.bin"
nb=$(size "$T/big.txt")
if [ "$rc" -ne 0 ]; then
    fail prepare_parallel "exit $rc: $(cat "$T/err")"
elif [ "$(size "$T/big.bin")" -ne $((64 + 2 * nb)) ]; then
    fail prepare_parallel "size $(size "$T/big.bin") for $nb bytes"
elif [ "$(tail -c 6000 "$T/big.bin" | od -An -v -tu2 -w2 | tr -d ' ' | tr '\n' ' ')" != \
       "$(tail -c 3000 "$T/big.txt" | od -An -v -tu1 -w1 | tr -d ' ' | tr '\n' ' ')" ]; then
    fail prepare_parallel "last ids differ from the text"
else
    pass prepare_parallel
fi
run "$X" prepare --data "$T/big.txt" --out "$T/big1.bin" --threads 1
if cmp -s "$T/big.bin" "$T/big1.bin"; then pass prepare_threads_agree; else fail prepare_threads_agree "1 thread and all threads differ"; fi

# ---- bad input: exit != 0 and one line on stderr naming the file
expect_fail prepare_missing "$T/none.txt" "$X" prepare --data "$T/none.txt" --out "$T/o.bin"
: > "$T/empty.txt"
expect_fail prepare_empty "$T/empty.txt" "$X" prepare --data "$T/empty.txt" --out "$T/o.bin"
expect_fail prepare_token_file "$T/c.bin" "$X" prepare --data "$T/c.bin" --out "$T/o.bin"
expect_fail prepare_unwritable "$T/nodir/o.bin" "$X" prepare --data "$T/c.txt" --out "$T/nodir/o.bin"
expect_fail prepare_directory "$T" "$X" prepare --data "$T" --out "$T/o.bin"
expect_fail prepare_bad_tokenizer "$T/no_tokenizer.json" "$X" prepare --data "$T/c.txt" --out "$T/o.bin" --tokenizer "$T/no_tokenizer.json"
if [ ! -e "$T/o.bin" ]; then pass prepare_no_partial_output; else fail prepare_no_partial_output "o.bin was written"; fi
run "$X" prepare --data "$T/c.txt"
if [ "$rc" -eq 2 ]; then pass prepare_needs_out; else fail prepare_needs_out "exit $rc"; fi
run "$X" prepare --data "$T/c.txt" --out "$T/o.bin" --bogus 1
if [ "$rc" -eq 2 ]; then pass prepare_unknown_flag; else fail prepare_unknown_flag "exit $rc"; fi

exit $failed
