#!/usr/bin/env bash
# Lists the test binaries tests/run.sh should run: BUILD/tests/**/test_* and
# BUILD/replay/fuzz_*, each only while its source (tests/**/test_*.c,
# tests/fuzz/fuzz_*.c) still exists. A binary whose source is gone is stale (a
# renamed or deleted test): it is removed, with a note on stderr, never run.
# usage: tests/tools/test_binaries.sh BUILD     (from the repository root)
set -u
BUILD=${1:-build}
for t in $(find "$BUILD/tests" -type f -name 'test_*' -perm -u+x 2> /dev/null | sort); do
    src="tests/${t#"$BUILD"/tests/}.c"
    if [ -f "$src" ]; then echo "$t"; else echo "# removed stale $t ($src is gone)" >&2; rm -f "$t"; fi
done
for t in $(find "$BUILD/replay" -type f -name 'fuzz_*' -perm -u+x 2> /dev/null | sort); do
    src="tests/fuzz/${t##*/}.c"
    if [ -f "$src" ]; then echo "$t"; else echo "# removed stale $t ($src is gone)" >&2; rm -f "$t"; fi
done
