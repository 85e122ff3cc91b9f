#!/usr/bin/env bash
# The CLI is a client of the public API (docs/architecture.md §Layers): every
# "..." include in src/cli/ names a public header (include/xfmr/*.h) or a file
# of src/cli/ itself, never a private header of src/; every file compiles with
# -Iinclude alone; and build/xfmr links against libxfmr.a, the archive that
# exports only the public functions (the Makefile builds it that way; here the
# test links the CLI's objects itself, so a private call cannot slip through).
# Usage: test_cli_includes.sh BUILD_DIR
set -u
B=${1:-build}
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# bad_includes FILE...: prints "file: header" for each include that names a
# header of src/ other than the file's own directory (system headers pass)
bad_includes() {
    local f inc dir
    for f in "$@"; do
        dir=$(dirname "$f")
        while IFS= read -r inc; do
            case $inc in
            xfmr/*) [ -f "include/$inc" ] && continue ;;
            */*) [ -e "src/$inc" ] || continue ;;
            *) [ -f "$dir/$inc" ] || [ ! -e "src/$inc" ] && continue ;;
            esac
            echo "$f: $inc"
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^">]*\)[">].*/\1/p' "$f")
    done
}

# the check itself must see a private include (and only that one)
mkdir -p "$T/cli"
printf '#include "cli.h"\n#include "xfmr/model.h"\n#include "core/rng.h"\n#include <stdio.h>\n' > "$T/cli/probe.c"
: > "$T/cli/cli.h"
probe=$(bad_includes "$T/cli/probe.c")
if [ "$probe" = "$T/cli/probe.c: core/rng.h" ]; then pass cli_includes_checker_sees_private
else fail cli_includes_checker_sees_private "on a probe with core/rng.h it printed: '$probe'"; fi

bad=$(bad_includes src/cli/*.c src/cli/*.h)
if [ -z "$bad" ]; then pass cli_includes_public_only
else fail cli_includes_public_only "private headers: $(echo "$bad" | head -5 | tr '\n' ' ')"; fi

# each file compiles with the public headers alone
errs=""
for f in src/cli/*.c; do
    if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE -fopenmp -fsyntax-only -Werror=implicit-function-declaration \
        -Iinclude -I/usr/include/x86_64-linux-gnu/openblas-openmp "$f" 2> "$T/err"; then
        errs="$errs $f: $(grep -m1 error "$T/err")"
    fi
done
if [ -z "$errs" ]; then pass cli_compiles_with_include_only
else fail cli_compiles_with_include_only "$(echo "$errs" | head -c 400)"; fi

# the CLI's objects link against the public-only archive
objs=$(ls "$B"/obj/src/cli/*.o 2> /dev/null)
if [ ! -f "$B/libxfmr.a" ] || [ -z "$objs" ]; then fail cli_links_public_archive "$B/libxfmr.a or $B/obj/src/cli/*.o missing (make all)"
else
    libs=$(sed -n 's/^Libs.private: *//p' "$B/stage/lib/pkgconfig/xfmr.pc" 2> /dev/null)
    san=$(nm "$B/libxfmr.a" 2> /dev/null | grep -q ' U __asan' && echo -fsanitize=address,undefined)
    # shellcheck disable=SC2086
    if ${CC:-cc} -fopenmp $san -o "$T/xfmr" $objs "$B/libxfmr.a" $libs 2> "$T/err"; then pass cli_links_public_archive
    else fail cli_links_public_archive "$(grep -m3 'undefined reference' "$T/err" | tr '\n' ' ' | head -c 400)"; fi
fi
exit $failed
