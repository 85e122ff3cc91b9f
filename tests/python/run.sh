#!/usr/bin/env bash
# Runs test_xfmr.py with /usr/bin/python3 against BUILD/libxfmr.so. A library
# built with sanitizers can only be dlopen'ed with their runtimes preloaded.
# Usage: run.sh BUILD_DIR
set -u
B=${1:-build}
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
    if [ -n "${CI:-}" ]; then echo "FAIL python: $PY missing in CI"; exit 1; fi
    echo "SKIP python: $PY missing"; exit 0
fi
export XFMR_LIB=$PWD/$B/libxfmr.so
if ldd "$XFMR_LIB" 2> /dev/null | grep -q libasan; then
    export LD_PRELOAD="$(${CC:-cc} -print-file-name=libasan.so) $(${CC:-cc} -print-file-name=libubsan.so)"
    export ASAN_OPTIONS=detect_leaks=0 # the interpreter's own allocations are not ours
fi
exec "$PY" tests/python/test_xfmr.py --build "$B"
