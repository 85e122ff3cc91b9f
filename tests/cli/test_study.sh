#!/usr/bin/env bash
# xfmr study end to end (docs/study.md): a tiny-budget default-grid study ends
# with a complete report (every file; every grid row in the table or skipped
# with its reason; the measures that apply filled in, the others "–"; the
# routes summary of every MoE model; one self-contained HTML page); a study
# killed with SIGKILL in the middle of a model resumes and ends with the same
# rows as an unbroken run; a user grid; hostile grid files and a resume with
# other options are one-line errors that leave nothing behind.
# Usage: test_study.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL study_cli: no $X"; exit 1; fi
T=$(mktemp -d)
BG=
trap '[ -n "$BG" ] && kill -9 "$BG" 2>/dev/null; rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

"$X" corpus --out "$T/corpus.txt" --bytes 60000 --seed 5 > /dev/null
COMMON=(--data "$T/corpus.txt" --seq 32 --batch 2 --eval-windows 4 --threads 1 --quiet)

# table_rows FILE: the model names of report.md's results table
table_rows() { awk -F'|' '/^## Results/{t=1; next} /^## /{t=0} t && /^\| / && !/^\| model/ {gsub(/ /, "", $2); print $2}' "$1"; }

# ---- a tiny study of the default grid ---------------------------------------
run "$X" study "${COMMON[@]}" --budget 4e8 --curve-points 3 --out "$T/d"
if [ "$rc" -ne 0 ]; then
    fail study_default_runs "exit $rc: $(tail -3 "$T/err")"
else
    pass study_default_runs
    missing=
    for f in report.md report.html loss_vs_flops.svg study.json heldout.txt; do
        [ -s "$T/d/$f" ] || missing="$missing $f"
    done
    [ -z "$missing" ] && pass study_default_files || fail study_default_files "missing:$missing"
    # every row of the default grid: in the table, or skipped with a reason
    bad=
    for m in decoder-clm prefix_lm-prefix prefix_lm-glm encdec-span encdec-bart encoder-mlm; do
        for name in "$m" "$m-moe"; do
            if table_rows "$T/d/report.md" | grep -qx -- "$name"; then :
            elif grep -q "^- skipped $name: ." "$T/d/report.md"; then :
            else bad="$bad $name"; fi
        done
    done
    n=$(table_rows "$T/d/report.md" | wc -l)
    [ -z "$bad" ] && [ "$n" -ge 10 ] && pass study_default_every_row || fail study_default_every_row "absent:$bad ($n rows)"
    # 15 cells per row; bits/byte for the left-to-right families only (GLM's objectives aside), denoising
    # and fill accuracy for the denoisers only (GLM's included)
    awk -F'|' '/^## Results/{t=1; next} /^## /{t=0}
        t && /^\| / && !/^\| model/ && !/^\|---/ {
            if (NF != 17) { print "cells " $2; next }
            fam=$3; obj=$4; gsub(/ /, "", fam); gsub(/ /, "", obj)
            bpb=$12; dn=$13; fill=$14; gsub(/ /, "", bpb); gsub(/ /, "", dn); gsub(/ /, "", fill)
            glm = obj == "glm" || obj == "gmask"
            lm = (fam == "decoder" || fam == "prefix_lm") && !glm
            den = obj == "mlm" || obj == "span" || obj == "bart" || glm
            if (lm != (bpb ~ /^[0-9.]+$/)) print "bpb " $2 " " bpb
            if (!lm && bpb != "–") print "bpb " $2 " " bpb
            if (den != (dn ~ /^[0-9.]+$/)) print "denoise " $2 " " dn
            if (den != (fill ~ /^[0-9.]+$/)) print "fill " $2 " " fill
            if (den && fill != "" && fill != "–" && (fill < 0 || fill > 1)) print "fill " $2 " " fill
        }' "$T/d/report.md" > "$T/cells"
    [ ! -s "$T/cells" ] && pass study_default_measures || fail study_default_measures "$(head -5 "$T/cells" | tr '\n' ';')"
    # the MoE models have their routes summary (text in the report, a page beside it)
    bad=
    for name in $(table_rows "$T/d/report.md" | grep -- '-moe$'); do
        grep -q "^### $name\$" "$T/d/report.md" && [ -s "$T/d/routes_$name.html" ] || bad="$bad $name"
    done
    [ -z "$bad" ] && pass study_default_routes || fail study_default_routes "no routes summary for:$bad"
    # SVG and HTML: well-formed, one curve per model, self-contained
    if /usr/bin/python3 - "$T/d" > "$T/py" 2>&1 <<'EOF'
import sys, xml.etree.ElementTree as ET, html.parser, re
d = sys.argv[1]
svg = ET.parse(d + "/loss_vs_flops.svg").getroot()
rows = [l.split("|")[1].strip() for l in open(d + "/report.md") if l.startswith("| ") and not l.startswith("| model")]
text = "".join(svg.itertext())
missing = [r for r in rows if r not in text]
assert not missing, "not in the chart legend: %s" % missing
page = open(d + "/report.html").read()
class P(html.parser.HTMLParser):
    ext = []
    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("src", "href") and v and not v.startswith("#"): self.ext.append(v)
P().feed(page)
assert not P.ext, "external references: %s" % P.ext[:3]
assert "<svg" in page and all(r in page for r in rows), "the page lacks the chart or a row"
EOF
    then pass study_default_svg_html; else fail study_default_svg_html "$(tail -2 "$T/py")"; fi
    # rerunning a finished study trains nothing and writes the same rows
    table_rows "$T/d/report.md" > "$T/rows1"
    cp "$T/d/study.json" "$T/state1"
    run "$X" study "${COMMON[@]}" --budget 4e8 --curve-points 3 --out "$T/d"
    table_rows "$T/d/report.md" > "$T/rows2"
    if [ "$rc" -eq 0 ] && cmp -s "$T/rows1" "$T/rows2" && cmp -s "$T/state1" "$T/d/study.json"; then
        pass study_rerun_done
    else fail study_rerun_done "exit $rc, rows or state changed"; fi
fi

# ---- a user grid, and resume after SIGKILL --------------------------------------
cat > "$T/grid.json" <<'EOF'
{"models": [
  {"name": "gpt", "arch": "decoder", "objective": "clm", "config": {"hidden_size": 32, "num_hidden_layers": 1,
   "num_attention_heads": 2, "num_key_value_heads": 2, "intermediate_size": 64}},
  {"name": "bart-moe", "arch": "encoder_decoder", "objective": "bart", "moe": true,
   "config": {"hidden_size": 32, "num_hidden_layers": 1, "num_decoder_layers": 1, "num_attention_heads": 2,
              "num_key_value_heads": 2, "intermediate_size": 64, "moe_intermediate_size": 32}}]}
EOF
G=(study "${COMMON[@]}" --grid "$T/grid.json" --budget 5e9 --curve-points 12)
run "$X" "${G[@]}" --out "$T/ref"
if [ "$rc" -eq 0 ] && [ "$(table_rows "$T/ref/report.md" | tr '\n' ' ')" = "gpt bart-moe " ] &&
    grep -q '| gpt | decoder | clm | no | C32 L1 H2 |' "$T/ref/report.md"; then
    pass study_user_grid
else fail study_user_grid "exit $rc: $(tail -2 "$T/err") $(table_rows "$T/ref/report.md" | tr '\n' ' ')"; fi

# kill -9 once the second model has saved a checkpoint, then run the same command again
"$X" "${G[@]}" --out "$T/k" > /dev/null 2> "$T/kerr" &
BG=$!
for _ in $(seq 1 3000); do
    [ -e "$T/k/models/bart-moe/model.safetensors" ] && break
    kill -0 "$BG" 2>/dev/null || break
    sleep 0.02
done
if kill -9 "$BG" 2>/dev/null; then
    wait "$BG" 2>/dev/null
    BG=
    if [ -e "$T/k/report.md" ]; then fail study_kill_midway "the study had finished before the kill"
    else pass study_kill_midway; fi
    run "$X" "${G[@]}" --out "$T/k"
    # every figure but the timings (tokens/s, train s) equals the unbroken run's
    cut -d'|' -f2-14 "$T/ref/report.md" | grep -E '^ (gpt|bart-moe) ' > "$T/ref_rows"
    cut -d'|' -f2-14 "$T/k/report.md" 2>/dev/null | grep -E '^ (gpt|bart-moe) ' > "$T/k_rows"
    if [ "$rc" -eq 0 ] && [ "$(wc -l < "$T/k_rows")" -eq 2 ] && cmp -s "$T/ref_rows" "$T/k_rows"; then
        pass study_resume_after_kill
    else fail study_resume_after_kill "exit $rc: $(tail -1 "$T/err") | $(diff "$T/ref_rows" "$T/k_rows" | head -4 | tr '\n' ' ')"; fi
else
    BG=
    fail study_kill_midway "the study ended before the second model saved a checkpoint: $(tail -2 "$T/kerr")"
fi

# ---- one-line errors ---------------------------------------------------------------
printf '{"models": [' > "$T/bad1.json"
expect_fail study_bad_grid_json "$T/bad1.json" "$X" study "${COMMON[@]}" --budget 1e9 --grid "$T/bad1.json" --out "$T/b1"
[ ! -e "$T/b1" ] && pass study_bad_grid_nothing_written || fail study_bad_grid_nothing_written "$T/b1 was created"
echo '{"models": [{"arch": "decoder", "objective": "mlm"}]}' > "$T/bad2.json"
expect_fail study_bad_grid_pair "$T/bad2.json" "$X" study "${COMMON[@]}" --budget 1e9 --grid "$T/bad2.json" --out "$T/b2"
echo '{"models": [{"arch": "decoder", "objective": "clm", "config": {"hidden_size": "wide"}}]}' > "$T/bad3.json"
expect_fail study_bad_grid_config "$T/bad3.json" "$X" study "${COMMON[@]}" --budget 1e9 --grid "$T/bad3.json" --out "$T/b3"
expect_fail study_missing_grid "$T/nosuch.json" "$X" study "${COMMON[@]}" --budget 1e9 --grid "$T/nosuch.json" --out "$T/b4"
if [ -e "$T/ref/study.json" ]; then
    cp "$T/ref/study.json" "$T/ref/study.json.orig"
    expect_fail study_resume_other_options "$T/ref/study.json" "$X" "${G[@]}" --out "$T/ref" --lr 1e-3
    cmp -s "$T/ref/study.json" "$T/ref/study.json.orig" && pass study_resume_other_options_kept ||
        fail study_resume_other_options_kept "study.json changed"
fi
run "$X" study --data "$T/corpus.txt" --out "$T/b5"
[ "$rc" -eq 2 ] && grep -q 'budget' "$T/err" && pass study_needs_budget || fail study_needs_budget "exit $rc: $(cat "$T/err")"
expect_fail study_budget_too_small "one step" "$X" study "${COMMON[@]}" --budget 1000 --out "$T/b6"
exit $failed
