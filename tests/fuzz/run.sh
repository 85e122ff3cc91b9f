#!/usr/bin/env bash
# Runs every libFuzzer harness built in BUILD/fuzzers for SECONDS each (make fuzz).
# Seeds: tests/fuzz/corpus/<reader>/ (read only); the growing corpus lives in
# BUILD/fuzz-corpus/<reader>/ and crashes are written to BUILD/fuzz-crashes/<reader>/.
# Prints one line per harness with its executions and findings; exits 1 if any
# harness found a crash (copy the input to tests/fuzz/regress/<reader>/ once fixed).
# usage: tests/fuzz/run.sh BUILD SECONDS
set -u
BUILD=${1:-build/fuzz}
SECS=${2:-60}
cd "$(dirname "$0")/../.."
found=0
summary=()
for bin in "$BUILD"/fuzzers/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    reader=${name#fuzz_}
    work="$BUILD/fuzz-corpus/$reader"
    crashes="$BUILD/fuzz-crashes/$reader"
    mkdir -p "$work" "$crashes"
    log="$BUILD/fuzz-$reader.log"
    dict=()
    [ -f "tests/fuzz/$reader.dict" ] && dict=(-dict="tests/fuzz/$reader.dict")
    OMP_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 nice "$bin" \
        -max_total_time="$SECS" -timeout=20 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -close_fd_mask=2 \
        -artifact_prefix="$crashes/" "${dict[@]}" "$work" "tests/fuzz/corpus/$reader" > "$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    n=$(find "$crashes" -type f | wc -l)
    line="$reader: ${execs:-?} executions in ${SECS}s, ${cov:-cov: ?}, $n crash inputs (exit $rc)"
    echo "$line"
    summary+=("$line")
    if [ "$rc" -ne 0 ] || [ "$n" -gt 0 ]; then
        found=1
        grep -m5 -E 'ERROR|SUMMARY|runtime error' "$log" | sed 's/^/    /'
    fi
done
[ ${#summary[@]} -gt 0 ] || { echo "no fuzzers in $BUILD/fuzzers (run make fuzz)"; exit 1; }
exit $found
