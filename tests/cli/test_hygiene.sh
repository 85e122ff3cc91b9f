#!/usr/bin/env bash
# Hygiene: arguments past the 255th are refused, not dropped; a log.jsonl that
# cannot be written stops training with one line (the checkpoint stays); the
# test runner never runs a test binary whose source is gone.
# Usage: test_hygiene.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL hygiene_cli: no $X"; exit 1; fi
root="$(cd "$(dirname "$0")/../.." && pwd)"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

# --- 300 arguments: refused naming the count (an unknown 300th would otherwise pass unseen)
args=()
for i in $(seq 1 149); do args+=(--seed 1); done
run "$X" corpus --out "$T/c.txt" --bytes 100 "${args[@]}" --bogus-flag-at-the-end
if [ "$rc" = 2 ] && grep -q "more than the 255" "$T/err" && [ ! -e "$T/c.txt" ]; then pass args_past_255_refused; else fail args_past_255_refused "rc=$rc $(head -c 300 "$T/err")"; fi
run "$X" corpus --out "$T/c.txt" --bytes 30000 --seed 1
if [ "$rc" = 0 ]; then pass args_few_accepted; else fail args_few_accepted "rc=$rc"; fi

# --- log.jsonl write errors stop the run (a log on /dev/full)
cat > "$T/tiny.json" <<'JSON'
{"vocab_size": 384, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
 "num_attention_heads": 4, "max_position_embeddings": 32}
JSON
C=(--data "$T/c.txt" --batch 2 --seq 16 --quiet --threads 1 --eval-every 0)
"$X" train --model "$T/tiny.json" --out "$T/a" "${C[@]}" --steps 2 2> /dev/null
cp "$T/a/model.safetensors" "$T/a.model"
if [ -w /dev/full ]; then
    rm "$T/a/log.jsonl" && ln -s /dev/full "$T/a/log.jsonl"
    run "$X" train --resume --out "$T/a" "${C[@]}" --steps 4
    if [ "$rc" = 1 ] && [ "$(wc -l < "$T/err")" = 1 ] && grep -q "log.jsonl: write failed: No space left" "$T/err" \
       && cmp -s "$T/a.model" "$T/a/model.safetensors"; then
        pass log_write_error_stops
    else
        fail log_write_error_stops "rc=$rc $(cat "$T/err")"
    fi
else
    echo "SKIP log_write_error_stops: /dev/full is not available"
fi

# --- stale test binaries: listed only while their source exists
mkdir -p "$T/b/tests/model" "$T/b/replay"
for f in "$T/b/tests/model/test_config" "$T/b/tests/model/test_gone_long_ago" "$T/b/replay/fuzz_config" "$T/b/replay/fuzz_gone"; do
    printf '#!/bin/sh\necho FAIL stale\n' > "$f"; chmod +x "$f"
done
list=$(cd "$root" && bash tests/tools/test_binaries.sh "$T/b" 2> "$T/note")
if [ "$list" = "$(printf '%s\n%s' "$T/b/tests/model/test_config" "$T/b/replay/fuzz_config")" ] && [ ! -e "$T/b/tests/model/test_gone_long_ago" ] \
   && [ ! -e "$T/b/replay/fuzz_gone" ] && grep -q "removed stale" "$T/note"; then
    pass runner_skips_stale_binaries
else
    fail runner_skips_stale_binaries "listed: $list; $(cat "$T/note")"
fi
exit 0
