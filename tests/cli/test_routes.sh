#!/usr/bin/env bash
# xfmr routes end to end: train mixtral-tiny and switch-tiny for a few steps,
# then check the per-token view (--text: every token listed per layer, K
# experts each, renormalised gates summing to 1, colour only when asked or on
# a terminal), the HTML and SVG outputs (well-formed), the corpus report
# (--file) and the one-line errors. Usage: test_routes.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL routes_cli: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

"$X" corpus --out "$T/corpus.txt" --bytes 20000 --seed 5 > /dev/null
TR=(--data "$T/corpus.txt" --steps 3 --batch 2 --seq 32 --threads 2 --quiet)
run "$X" train --model mixtral-tiny --out "$T/mx" "${TR[@]}"
[ "$rc" -eq 0 ] || fail routes_train_mixtral "$(cat "$T/err")"
run "$X" train --model switch-tiny --out "$T/sw" "${TR[@]}"
[ "$rc" -eq 0 ] || fail routes_train_switch "$(cat "$T/err")"

# ASCII text with a newline, quotes and a backslash: the byte tokenizer gives one token per byte
TEXT=$'First Citizen:\nBefore we proceed, "hear" me \\ speak 42 times!'
NTOK=${#TEXT}

# check_table K N RENORM < output: every "MoE layer" section lists N token rows,
# each with K "eX G.GG" (or "-- G.GG") assignments; RENORM=1 also wants the
# gates of a row to sum to 1 (to the 2-decimal rounding). Prints the section count.
check_table() {
    awk -v K="$1" -v N="$2" -v renorm="$3" '
        function done_section() { if (rows != N && bad == "") bad = "section " sec " lists " rows " tokens, want " N }
        /^MoE layer [0-9]+: (encoder|decoder) layer [0-9]+ / { if (sec) done_section(); sec++; rows = 0; next }
        /^ +[0-9]+  "/ {
            line = $0; sub(/^ +[0-9]+  ".*"/, "", line)
            n = split(line, f, " ")
            if (n != 2 * K && bad == "") bad = "row has " n / 2 " experts, want " K ": " $0
            s = 0
            for (i = 1; i <= n; i += 2) {
                if (f[i] !~ /^(e[0-9]+|--)$/ || f[i + 1] !~ /^[0-9]+\.[0-9][0-9]$/) if (bad == "") bad = "bad assignment: " $0
                s += f[i + 1]
            }
            if (renorm && (s < 0.985 || s > 1.015) && bad == "") bad = "gates sum to " s ": " $0
            rows++
        }
        END { if (sec) done_section(); if (bad != "") { print bad; exit 1 } print sec }'
}

# --- --text on mixtral-tiny: 4 MoE layers, top-2, renormalised ------------------
run "$X" routes --model "$T/mx" --text "$TEXT" --threads 2
if [ "$rc" -ne 0 ]; then
    fail routes_text_mixtral "rc=$rc $(cat "$T/err")"
elif ! got=$(check_table 2 "$NTOK" 1 < "$T/out"); then
    fail routes_text_mixtral "$got"
elif [ "$got" != 4 ]; then
    fail routes_text_mixtral "$got MoE layer sections, want 4"
elif ! grep -q "^xfmr routes: $T/mx, $NTOK tokens" "$T/out"; then
    fail routes_text_mixtral "header: $(head -1 "$T/out")"
else
    pass routes_text_mixtral
fi
if grep -q $'\x1b' "$T/out"; then fail routes_no_colour_off_tty "escape codes in redirected output"; else pass routes_no_colour_off_tty; fi
# the top-1 counts of a layer add up to its tokens
tops=$(grep -m1 '^top-1 experts' "$T/out" | sed 's/.*each://' | awk '{ s = 0; for (i = 2; i <= NF; i += 2) s += $i; print s }')
if [ "$tops" = "$NTOK" ]; then pass routes_top1_counts; else fail routes_top1_counts "sum $tops, want $NTOK"; fi

run "$X" routes --model "$T/mx" --text "$TEXT" --color always --layer 2
if [ "$rc" -eq 0 ] && grep -q $'\x1b\\[48;5;[0-9]*m' "$T/out" && [ "$(grep -c '^MoE layer' "$T/out")" = 1 ] &&
   grep -q '^MoE layer 2: decoder layer 2 ' "$T/out"; then
    pass routes_colour_always_one_layer
else
    fail routes_colour_always_one_layer "rc=$rc $(head -c 300 "$T/err")"
fi
if command -v script > /dev/null; then
    # on a terminal: colour by default, none with NO_COLOR
    script -qec "'$X' routes --model '$T/mx' --text hi --layer 0" /dev/null > "$T/tty.out" 2>&1
    NO_COLOR=1 script -qec "'$X' routes --model '$T/mx' --text hi --layer 0" /dev/null > "$T/tty_nc.out" 2>&1
    if grep -q $'\x1b\\[48;5;' "$T/tty.out" && ! grep -q $'\x1b\\[48;5;' "$T/tty_nc.out" && grep -q '"h"' "$T/tty_nc.out"; then
        pass routes_colour_tty_no_color
    else
        fail routes_colour_tty_no_color "$(head -c 300 "$T/tty.out")"
    fi
else
    echo "SKIP routes_colour_tty_no_color: no script(1)"
fi

# --- HTML and SVG --------------------------------------------------------------
html_ok() { # well-formed enough: every non-void tag closed in order, one html/body
    python3 - "$1" <<'PY'
import sys
from html.parser import HTMLParser
VOID = {"meta", "br", "img", "hr", "link", "input", "col", "wbr"}
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.seen = [], [], {}
    def handle_starttag(self, tag, attrs):
        self.seen[tag] = self.seen.get(tag, 0) + 1
        if tag not in VOID: self.stack.append(tag)
    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag: self.errors.append("unexpected </%s> (open: %s)" % (tag, self.stack[-3:]))
        else: self.stack.pop()
text = open(sys.argv[1], encoding="utf-8").read()
p = P(); p.feed(text); p.close()
if p.stack: p.errors.append("unclosed %s" % p.stack)
if p.seen.get("html") != 1 or p.seen.get("body") != 1 or not text.startswith("<!DOCTYPE html>"): p.errors.append("not one html page")
if p.errors: print("; ".join(p.errors[:3])); sys.exit(1)
PY
}
run "$X" routes --model "$T/mx" --text "$TEXT <&> é" --out "$T/r.html"
if [ "$rc" -eq 0 ] && why=$(html_ok "$T/r.html") && [ "$(grep -c '<h2>' "$T/r.html")" = 4 ] && grep -q '&quot;&lt;&quot;' "$T/r.html" && grep -q '&quot;&amp;&quot;' "$T/r.html"; then
    pass routes_text_html
else
    fail routes_text_html "rc=$rc ${why:-} $(cat "$T/err")"
fi
run "$X" routes --model "$T/sw" --text "$TEXT <&> é" --out "$T/r.svg"
if command -v xmllint > /dev/null; then xml_check=(xmllint --noout "$T/r.svg"); else
    xml_check=(python3 -c "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])" "$T/r.svg"); fi
if [ "$rc" -eq 0 ] && grep -q '^<svg' "$T/r.svg" && "${xml_check[@]}" 2> "$T/xml.err" &&
   [ "$(grep -c '<g>' "$T/r.svg")" = 2 ]; then
    pass routes_text_svg
else
    fail routes_text_svg "rc=$rc $(head -c 300 "$T/xml.err") $(cat "$T/err")"
fi

# --- --text on switch-tiny: MoE every other layer, top-1, capacity --------------
run "$X" routes --model "$T/sw" --text "$TEXT"
if [ "$rc" -ne 0 ]; then
    fail routes_text_switch "rc=$rc $(cat "$T/err")"
elif ! got=$(check_table 1 "$NTOK" 0 < "$T/out"); then
    fail routes_text_switch "$got"
elif [ "$got" != 2 ] || ! grep -q '^MoE layer 1: decoder layer 2 (8 experts, top-1' "$T/out"; then
    fail routes_text_switch "$got sections: $(grep '^MoE layer' "$T/out")"
else
    pass routes_text_switch
fi
expect_fail routes_layer_not_moe "not an MoE layer" "$X" routes --model "$T/sw" --text hi --layer 1

# --- --file: the corpus report --------------------------------------------------
run "$X" routes --model "$T/sw" --file "$T/corpus.txt" --max-tokens 3000 --out "$T/c.html" --threads 2
if [ "$rc" -ne 0 ]; then
    fail routes_file_report "rc=$rc $(cat "$T/err")"
else
    # per layer: the 4 information rows, e0..e7 plus "all" with class columns, 8 top-token lines
    why=$(awk '
        /^== MoE layer/ { sec++; next }
        /^  (token id|token class|position|text segment) +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+% +[0-9]+$/ { info[sec]++ }
        /^e[0-9]+ +[0-9.]+% / { if (NF != 11 && NF != 12) bad = "expert row: " $0; ex[sec]++; share[sec] += $2 }
        /^all +[0-9.]+% / { all[sec] = $2 + 0 }
        /^  e[0-9]+ +"/ { top[sec]++ }
        END {
            if (sec != 2) bad = sec " layer sections"
            for (s = 1; s <= sec; s++) {
                if (info[s] != 4 || ex[s] != 8 || top[s] != 8) bad = "section " s ": info " info[s] " experts " ex[s] " top " top[s]
                d = share[s] - all[s]; if (d < -0.5 || d > 0.5) bad = "section " s ": shares add to " share[s] ", kept " all[s]
            }
            print bad }' "$T/out")
    if [ -z "$why" ] && grep -q "^xfmr routes: $T/sw on $T/corpus.txt: 3000 of $(size "$T/corpus.txt") tokens" "$T/out"; then
        pass routes_file_report
    else
        fail routes_file_report "${why:-header $(head -1 "$T/out")}"
    fi
fi
if [ -s "$T/c.html" ] && why=$(html_ok "$T/c.html") && grep -q 'token id' "$T/c.html"; then
    pass routes_file_html
else
    fail routes_file_html "${why:-missing}"
fi
run "$X" routes --model "$T/mx" --file "$T/corpus.txt" --max-tokens 600 --layer 0
if [ "$rc" -eq 0 ] && [ "$(grep -c '^== MoE layer' "$T/out")" = 1 ] && grep -q '600 assignments\|1200 assignments' "$T/out"; then
    pass routes_file_layer
else
    fail routes_file_layer "rc=$rc $(cat "$T/err")"
fi

# --- errors: one line each ------------------------------------------------------
cat > "$T/dense.json" <<'JSON'
{"vocab_size": 384, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
 "num_attention_heads": 4, "max_position_embeddings": 64}
JSON
"$X" train --model "$T/dense.json" --data "$T/corpus.txt" --out "$T/dense" --steps 1 --batch 2 --seq 16 --quiet 2> /dev/null
expect_fail routes_dense_model "has no MoE layers" "$X" routes --model "$T/dense" --text "hello"
expect_fail routes_missing_file "$T/nope.txt" "$X" routes --model "$T/mx" --file "$T/nope.txt"
expect_fail routes_missing_model "$T/nomodel" "$X" routes --model "$T/nomodel" --text "hello"
expect_fail routes_bad_out "--out" "$X" routes --model "$T/mx" --text "hello" --out "$T/x.png"
expect_fail routes_text_and_file "exactly one" "$X" routes --model "$T/mx" --text "hello" --file "$T/corpus.txt"
expect_fail routes_empty_text "no tokens" "$X" routes --model "$T/mx" --text ""
exit $failed
