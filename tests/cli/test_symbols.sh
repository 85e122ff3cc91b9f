#!/usr/bin/env bash
# Symbol hygiene of the built library (docs/library.md): libxfmr.a and
# libxfmr.so export exactly the functions declared in include/xfmr/*.h, every
# one of them starting with xf_; the internal archive (CLI and tests) still has
# its internal globals, so the check can tell; and the headers work from C++
# (extern "C"): a C++ program linked against libxfmr.a calls into it.
# Usage: test_symbols.sh BUILD_DIR
set -u
B=${1:-build}
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

for f in "$B/libxfmr.a" "$B/libxfmr.so" "$B/libxfmr_internal.a"; do
    [ -f "$f" ] || { fail symbols_built "$f missing (make all)"; exit 1; }
done
bash scripts/public_symbols.sh > "$T/declared"
n=$(wc -l < "$T/declared")
if [ "$n" -lt 100 ]; then fail symbols_declared "only $n functions found in include/xfmr/*.h"
elif grep -v '^xf_' "$T/declared" > "$T/bad"; then fail symbols_declared_prefix "not xf_: $(head -5 "$T/bad" | tr '\n' ' ')"
else pass symbols_declared_prefix; fi

# OpenMP's lock of a named critical section (.gomp_critical_user_NAME) is a
# common symbol the compiler makes so every object shares the lock; it cannot
# be made local and no program can call it.
defined() { # archive-or-so, nm flags...: defined global names, one per line
    local f=$1; shift
    nm "$@" --defined-only "$f" | awk 'NF == 3 && $2 != "A" { sub(/@.*/, "", $3); print $3 }' |
        grep -v '^\.gomp_critical_user_' | sort -u
}
check_exports() { # name, file, nm flags...
    local name=$1 f=$2; shift 2
    defined "$f" "$@" > "$T/$name"
    local extra missing
    extra=$(comm -23 "$T/$name" "$T/declared" | head -8 | tr '\n' ' ')
    missing=$(comm -13 "$T/$name" "$T/declared" | head -8 | tr '\n' ' ')
    if [ -n "$extra" ]; then fail "$name" "exports names not declared in include/xfmr/: $extra"
    elif [ -n "$missing" ]; then fail "$name" "declared but not exported: $missing"
    else pass "$name"; fi
}
check_exports symbols_static "$B/libxfmr.a" -g
check_exports symbols_shared "$B/libxfmr.so" -D

defined "$B/libxfmr_internal.a" -g > "$T/internal"
if comm -23 "$T/internal" "$T/declared" | grep -q '^tok_'; then pass symbols_internal_archive_has_internals
else fail symbols_internal_archive_has_internals "no tok_* globals in libxfmr_internal.a: the check above could not tell"; fi

# C++: the headers' extern "C" makes these unmangled references that libxfmr.a resolves
CXX=${CXX:-c++}
if ! command -v "$CXX" > /dev/null; then
    if [ -n "${CI:-}" ]; then fail symbols_cplusplus "no C++ compiler in CI"; else echo "SKIP symbols_cplusplus: no C++ compiler ($CXX)"; fi
else
    cat > "$T/app.cc" <<'CC'
#include <xfmr/xfmr.h>
#include <cstdio>
#include <cstring>
int main() {
    xf_model *m = nullptr;
    if (xf_model_new(&m, "gpt2-tiny", 1) != XF_OK) { std::printf("error %s\n", xf_last_error()); return 1; }
    xf_optimizer *opt = nullptr;
    xf_train_opts o;
    xf_train_opts_default(&o);
    if (xf_optimizer_create(&opt, m, &o) != XF_OK) return 1;
    std::printf("%s %zu %d\n", xf_version(), xf_model_num_params(m), XF_IGNORE_INDEX);
    xf_optimizer_free(opt);
    xf_model_free(m);
    return std::strcmp(xf_version(), XF_VERSION_STRING) != 0;
}
CC
    san=$(nm "$B/libxfmr.a" 2> /dev/null | grep -q ' U __asan' && echo -fsanitize=address,undefined)
    # the libraries the static archive needs, as the staged xfmr.pc lists them
    libs=$(sed -n 's/^Libs.private: *//p' "$B/stage/lib/pkgconfig/xfmr.pc")
    # shellcheck disable=SC2086
    if ! "$CXX" -std=c++11 -Wall -Wextra -Werror -Iinclude $san -o "$T/app" "$T/app.cc" "$B/libxfmr.a" -fopenmp \
        $libs 2> "$T/err"; then
        fail symbols_cplusplus "does not build: $(head -c 400 "$T/err")"
    elif ! "$T/app" > "$T/out" 2>&1; then
        fail symbols_cplusplus "exit non-zero: $(head -c 300 "$T/out")"
    elif ! grep -qE "^[0-9]+\.[0-9]+\.[0-9]+ [1-9][0-9]* -1$" "$T/out"; then
        fail symbols_cplusplus "unexpected output: $(head -c 300 "$T/out")"
    else
        pass symbols_cplusplus
    fi
fi
exit $failed
