#!/usr/bin/env bash
# xfmr masks: every family's grids cell by cell against the mask rule written
# out again here (causal j <= i, bidirectional, prefix j < P || j <= i), the
# visible counts in the titles against the closed forms (causal N(N+1)/2,
# bidirectional N^2, prefix P^2 + N(N+1)/2 - P(P+1)/2, cross N*S), the prefix
# boundary, colour only on a terminal, the SVG well-formed, and bad arguments
# refused with one line and exit 2. Usage: test_masks.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL masks_cli: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

# The grid rows of $T/out as 0/1 strings: a row line is "<index> ■ · ..."
# (with " │" at a prefix boundary); ■ -> 1, · -> 0.
cells() { grep -E '^ *[0-9]+  (■|·)' "$T/out" | sed -E 's/^ *[0-9]+ //; s/[ │]//g; s/■/1/g; s/·/0/g'; }
# The visible counts the titles state, one per grid.
counts() { sed -nE 's/.*: ([0-9]+) of [0-9]+ visible$/\1/p' "$T/out" | tr '\n' ' '; }
# expect_grid KIND ROWS COLS P: the 0/1 rows of one grid by the rule.
expect_grid() {
    awk -v kind="$1" -v R="$2" -v C="$3" -v P="$4" 'BEGIN {
        for (i = 0; i < R; i++) {
            s = ""
            for (j = 0; j < C; j++) {
                if (kind == "causal") v = (j <= i)
                else if (kind == "prefix") v = (j < P || j <= i)
                else v = 1
                s = s v
            }
            print s
        }
    }'
}
# check NAME EXPECTED_COUNTS EXPECTED_GRID ARGS...: rc 0, the grids and the counts
check() {
    local name=$1 want_counts=$2 want_grid=$3
    shift 3
    run "$X" masks "$@"
    local got_grid got_counts glyphs want_glyphs
    got_grid=$(cells)
    got_counts=$(counts)
    glyphs=$(grep -E '^ *[0-9]+  (■|·)' "$T/out" | grep -o '■' | wc -l | tr -d ' ')
    want_glyphs=$(printf '%s\n' "$want_grid" | tr -cd '1' | wc -c | tr -d ' ')
    local sum=0 c
    for c in $want_counts; do sum=$((sum + c)); done
    if [ "$rc" -ne 0 ]; then
        fail "$name" "exit $rc: $(cat "$T/err")"
    elif [ "$got_counts" != "$want_counts " ]; then
        fail "$name" "title counts '$got_counts', want '$want_counts'"
    elif [ "$glyphs" != "$sum" ] || [ "$want_glyphs" != "$sum" ]; then
        fail "$name" "$glyphs visible glyphs, rule gives $want_glyphs, want $sum"
    elif [ "$got_grid" != "$want_grid" ]; then
        fail "$name" "grid differs from the rule: $(diff <(echo "$got_grid") <(echo "$want_grid") | head -4 | tr '\n' ' ')"
    elif grep -q $'\033' "$T/out"; then
        fail "$name" "ANSI escapes in output that is not a terminal"
    else
        pass "$name"
    fi
}

# ---- each family, counts in closed form -------------------------------------
for n in 1 8 13; do
    check "masks_decoder_n$n" "$((n * (n + 1) / 2))" "$(expect_grid causal $n $n 0)" --arch decoder --len $n
done
for n in 1 7; do
    check "masks_encoder_n$n" "$((n * n))" "$(expect_grid bidir $n $n 0)" --arch encoder --len $n
done
prefix_count() { echo $(($2 * $2 + $1 * ($1 + 1) / 2 - $2 * ($2 + 1) / 2)); } # N P
for np in "10 4" "10 0" "10 10" "1 1" "12 11"; do
    set -- $np
    check "masks_prefix_lm_n$1_p$2" "$(prefix_count "$1" "$2")" "$(expect_grid prefix "$1" "$1" "$2")" \
        --arch prefix_lm --len "$1" --prefix "$2"
done
check masks_prefix_lm_default_half "$(prefix_count 9 4)" "$(expect_grid prefix 9 9 4)" --arch prefix_lm --len 9
check masks_encoder_decoder "$((7 * 7)) $((5 * 6 / 2)) $((5 * 7))" \
    "$(expect_grid bidir 7 7 0; expect_grid causal 5 5 0; expect_grid bidir 5 7 0)" \
    --arch encoder_decoder --len 5 --src-len 7
check masks_encoder_decoder_default_src "$((6 * 6)) $((6 * 7 / 2)) $((6 * 6))" \
    "$(expect_grid bidir 6 6 0; expect_grid causal 6 6 0; expect_grid bidir 6 6 0)" \
    --arch encoder_decoder --len 6
check masks_decoder_max_len "$((512 * 513 / 2))" "$(expect_grid causal 512 512 0)" --arch decoder --len 512

# ---- the prefix boundary ----------------------------------------------------
run "$X" masks --arch prefix_lm --len 10 --prefix 4
bars=$(grep -cE '^ *[0-9]+  .*│' "$T/out")
cross=$(grep -c '┼' "$T/out")
crossrow=$(grep -B1 '┼' "$T/out" | head -1 | sed -E 's/^ *([0-9]+).*/\1/')
if [ "$bars" = 10 ] && [ "$cross" = 1 ] && [ "$crossrow" = 3 ] && grep -q 'prefix: positions 0..3' "$T/out" \
   && grep -q 'target: 4..9' "$T/out"; then
    pass masks_prefix_boundary
else
    fail masks_prefix_boundary "bars=$bars cross=$cross after row $crossrow: $(head -8 "$T/out" | tr '\n' '|')"
fi

# ---- colour on a terminal only (script(1) gives the command a tty) ------------
if command -v script > /dev/null; then
    script -qec "'$X' masks --arch prefix_lm --len 6" /dev/null > "$T/tty" 2>&1
    NO_COLOR=1 script -qec "'$X' masks --arch prefix_lm --len 6" /dev/null > "$T/tty_nc" 2>&1
    if grep -q $'\033\[32m■' "$T/tty" && grep -q $'\033\[33m■' "$T/tty" && ! grep -q $'\033\[' "$T/tty_nc"; then
        pass masks_colour_tty
    else
        fail masks_colour_tty "no colour on a tty, or colour with NO_COLOR: $(head -c 200 "$T/tty" | od -c | head -3)"
    fi
else
    echo "SKIP masks_colour_tty: no script(1)"
fi

# ---- SVG --------------------------------------------------------------------
wellformed() {
    if command -v xmllint > /dev/null; then xmllint --noout "$1" 2> /dev/null
    else python3 -c "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])" "$1" 2> /dev/null; fi
}
for spec in "decoder 8 1" "encoder 8 1" "prefix_lm 8 1" "encoder_decoder 8 3" "decoder 512 1"; do
    set -- $spec
    run "$X" masks --arch "$1" --len "$2" --svg "$T/$1_$2.svg"
    f="$T/$1_$2.svg"
    panels=$(grep -c '^<g>$' "$f" 2> /dev/null)
    if [ "$rc" -eq 0 ] && wellformed "$f" && [ "$panels" = "$3" ] && grep -q '^<svg ' "$f" \
       && grep -q "attention masks: $1" "$f" && grep -q "svg: $f" "$T/out"; then
        pass "masks_svg_$1_$2"
    else
        fail "masks_svg_$1_$2" "rc=$rc panels=$panels $(cat "$T/err")"
    fi
done
f="$T/prefix_lm_8.svg"
if grep -q 'prefix P = 4' "$f" && grep -q '#e8871e' "$f" && grep -q '#fbe3c8' "$f" && grep -q 'stroke-dasharray' "$f" \
   && grep -q 'key position j' "$f" && grep -q 'query position i' "$f"; then
    pass masks_svg_prefix_shading
else
    fail masks_svg_prefix_shading "prefix colours, boundary or axis labels missing"
fi
f="$T/encoder_decoder_8.svg"
if grep -q '>cross-attention<' "$f" && grep -q '>encoder self-attention<' "$f" && grep -q '>decoder self-attention<' "$f"; then
    pass masks_svg_titles
else
    fail masks_svg_titles "grid titles missing"
fi

# ---- bad arguments: one line, exit 2 ------------------------------------------
usage_fail() { # NAME TEXT ARGS...: expect_fail, and the exit code is 2
    local name=$1
    expect_fail "$@"
    if [ "$rc" -ne 2 ]; then fail "${name}_exit2" "exit $rc"; fi
}
usage_fail masks_unknown_arch "--arch 'gpt'" "$X" masks --arch gpt --len 8
usage_fail masks_missing_arch "--arch" "$X" masks --len 8
usage_fail masks_missing_len "--len" "$X" masks --arch decoder
usage_fail masks_len_zero "--len" "$X" masks --arch decoder --len 0
usage_fail masks_len_negative "--len" "$X" masks --arch decoder --len -3
usage_fail masks_len_too_big "--len" "$X" masks --arch decoder --len 513
usage_fail masks_len_not_number "--len" "$X" masks --arch decoder --len eight
usage_fail masks_prefix_too_big "--prefix" "$X" masks --arch prefix_lm --len 8 --prefix 9
usage_fail masks_prefix_negative "--prefix" "$X" masks --arch prefix_lm --len 8 --prefix -1
usage_fail masks_prefix_wrong_arch "--prefix" "$X" masks --arch decoder --len 8 --prefix 2
usage_fail masks_src_len_zero "--src-len" "$X" masks --arch encoder_decoder --len 8 --src-len 0
usage_fail masks_src_len_wrong_arch "--src-len" "$X" masks --arch encoder --len 8 --src-len 4
usage_fail masks_unknown_flag "--bogus" "$X" masks --arch decoder --len 8 --bogus
usage_fail masks_bad_args_no_svg_written "--len" "$X" masks --arch decoder --len 0 --svg "$T/none.svg"
[ -e "$T/none.svg" ] && fail masks_bad_args_no_svg "a refused command wrote its SVG"
expect_fail masks_svg_unwritable "$T/no/such/dir/m.svg" "$X" masks --arch decoder --len 4 --svg "$T/no/such/dir/m.svg"
if [ -c /dev/full ]; then # the write itself fails (ENOSPC at fclose); the device stays
    expect_fail masks_svg_disk_full "/dev/full" "$X" masks --arch decoder --len 64 --svg /dev/full
    [ -c /dev/full ] || fail masks_svg_disk_full_device "/dev/full was removed"
fi

# ---- help ---------------------------------------------------------------------
run "$X" masks --help
if [ "$rc" -eq 0 ] && grep -q 'usage: xfmr masks' "$T/out"; then pass masks_help; else fail masks_help "rc=$rc"; fi
run "$X" --help
if grep -qE '^  masks ' "$T/out"; then pass masks_listed; else fail masks_listed "not in xfmr --help"; fi
exit $failed
