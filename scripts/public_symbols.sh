#!/usr/bin/env bash
# Prints, one per line and sorted, the functions declared in the public
# headers (default include/xfmr/*.h): every `xf_name(` outside comments that is
# not a macro. The library exports exactly these (Makefile: the version script
# of libxfmr.so and the kept globals of libxfmr.a; tests/cli/test_symbols.sh).
set -eu
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- include/xfmr/*.h
for h in "$@"; do
    # drop /* */ and // comments and preprocessor lines, then print each name
    # followed by "(" but not by "(*" (that name is a function pointer's return type)
    perl -0777 -ne 's{/\*.*?\*/}{ }gs; s{//[^\n]*}{}g; s{^\s*#[^\n]*(?:\\\n[^\n]*)*}{}mg;
                   print "$1\n" while /\b([A-Za-z_]\w*)\s*\((?!\s*\*)/g' "$h"
done | grep -vE '^(__attribute__|format)$' | sort -u
