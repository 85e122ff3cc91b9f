#!/usr/bin/env bash
# xfmr prepare --objective: the preview of what each objective feeds the model,
# and the objective/arch pairs that make no sense. Usage: test_prepare_objective.sh BUILD_DIR
# Prints one "PASS name" / "FAIL name: why" line per check.
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then
    echo "SKIP prepare_objective: no $X"
    exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

run "$X" corpus --out "$T/c.txt" --bytes 30000 --seed 2
[ "$rc" -eq 0 ] || fail corpus "exit $rc: $(cat "$T/err")"

# preview NAME PATTERN ARGS...: exit 0, N example headers, PATTERN (grep -E) in the output
preview() {
    local name=$1 pattern=$2
    shift 2
    run "$X" prepare --data "$T/c.txt" --preview 3 "$@"
    local n
    n=$(grep -c '^--- example' "$T/out")
    if [ "$rc" -ne 0 ]; then
        fail "$name" "exit $rc: $(head -c 300 "$T/err")"
    elif [ "$n" -ne 3 ]; then
        fail "$name" "$n examples: $(head -c 300 "$T/out")"
    elif ! grep -qE -- "$pattern" "$T/out"; then
        fail "$name" "no '$pattern' in: $(head -c 600 "$T/out")"
    elif [ -s "$T/err" ]; then
        fail "$name" "stderr: $(head -c 300 "$T/err")"
    else
        pass "$name"
    fi
}

# T5 span corruption: the source holds <extra_id_0> <extra_id_1> ..., the target starts with <extra_id_0>
preview preview_span_encdec '^target: +<extra_id_0>' --objective span --arch encoder_decoder --seq 128 --target-seq 32
if grep -qE '^source: .*<extra_id_0>.*<extra_id_1>' "$T/out" &&
   [ "$(grep -c '^--- example .*(source 128, target 29 tokens)' "$T/out")" -eq 3 ]; then
    pass preview_span_sizes
else
    fail preview_span_sizes "$(head -c 600 "$T/out")"
fi
preview preview_span_prefix_lm '^sequence: .*<extra_id_0>.* \|\| <extra_id_0>' --objective span --arch prefix_lm --seq 96
preview preview_mlm '<mask>' --objective mlm --arch encoder --seq 128
if grep -qE "^predict: +[0-9]+:'" "$T/out"; then pass preview_mlm_predict; else fail preview_mlm_predict "$(head -c 400 "$T/out")"; fi
preview preview_prefix '^sequence: .+ \|\| .+' --objective prefix --arch prefix_lm --seq 64
preview preview_prefix_encdec '^decoder: +<pad>' --objective prefix --arch encoder_decoder --seq 64
preview preview_clm '^loss on: +64 tokens' --objective clm --arch decoder --seq 64

# UL2: every example starts with a mode token; over a dozen examples all three appear
run "$X" prepare --data "$T/c.txt" --objective ul2 --arch prefix_lm --seq 96 --preview 24 --seed 3
modes=$(grep -oE '^sequence: \[[RSX]\]' "$T/out" | sort -u | wc -l | tr -d ' ')
if [ "$rc" -eq 0 ] && [ "$(grep -c '^sequence: \[[RSX]\]' "$T/out")" -eq 24 ] && [ "$modes" -eq 3 ] &&
   grep -qE '^sequence: \[[RX]\].*<extra_id_0>' "$T/out"; then
    pass preview_ul2_modes
else
    fail preview_ul2_modes "exit $rc, $modes modes: $(head -c 600 "$T/out") $(head -c 300 "$T/err")"
fi
preview preview_ul2_encdec '^source: +\[[RSX]\]' --objective ul2 --arch encoder_decoder --seq 64

# the same seed gives the same examples, another seed others
run "$X" prepare --data "$T/c.txt" --objective span --arch encoder_decoder --seq 64 --seed 7
cp "$T/out" "$T/a"
run "$X" prepare --data "$T/c.txt" --objective span --arch encoder_decoder --seq 64 --seed 7
if cmp -s "$T/a" "$T/out"; then pass preview_deterministic; else fail preview_deterministic "seed 7 twice differs"; fi
run "$X" prepare --data "$T/c.txt" --objective span --arch encoder_decoder --seq 64 --seed 8
if ! cmp -s "$T/a" "$T/out"; then pass preview_seed_matters; else fail preview_seed_matters "seeds 7 and 8 agree"; fi

# with --out: the token file and its JSON line as before, the preview on stderr
run "$X" prepare --data "$T/c.txt" --out "$T/c.bin" --objective mlm --arch encoder --preview 2
if [ "$rc" -eq 0 ] && grep -q '^{"tokens":' "$T/out" && [ "$(wc -l < "$T/out" | tr -d ' ')" -eq 1 ] &&
   [ "$(grep -c '^--- example' "$T/err")" -eq 2 ] && [ -f "$T/c.bin" ]; then
    pass preview_with_out
else
    fail preview_with_out "exit $rc: $(head -c 300 "$T/out") $(head -c 300 "$T/err")"
fi
# and from a token file
run "$X" prepare --data "$T/c.bin" --objective span --arch encoder_decoder --seq 64 --preview 1
if [ "$rc" -eq 0 ] && grep -q '<extra_id_0>' "$T/out"; then pass preview_from_token_file; else fail preview_from_token_file "exit $rc: $(cat "$T/err")"; fi

# ---- nonsense: exit != 0 and one line on stderr naming the objective and the arch
bad() { # name objective arch
    expect_fail "$1" "objective $2" "$X" prepare --data "$T/c.txt" --objective "$2" --arch "$3" --preview 1
    if grep -qF "arch $3" "$T/err"; then pass "$1_names_arch"; else fail "$1_names_arch" "$(cat "$T/err")"; fi
}
bad objective_mlm_decoder mlm decoder
bad objective_mlm_prefix_lm mlm prefix_lm
bad objective_mlm_encdec mlm encoder_decoder
bad objective_span_decoder span decoder
bad objective_ul2_decoder ul2 decoder
bad objective_clm_encoder clm encoder
bad objective_prefix_encoder prefix encoder
bad objective_clm_encdec clm encoder_decoder
if grep -qF "objective clm" "$T/err" && grep -qF "(use prefix, span, ul2 or bart)" "$T/err"; then
    pass objective_error_suggests
else
    fail objective_error_suggests "$(cat "$T/err")"
fi
expect_fail objective_unknown "bart" "$X" prepare --data "$T/c.txt" --objective bart --arch decoder
expect_fail objective_target_too_short "--target-seq 29" "$X" prepare --data "$T/c.txt" --objective span --arch encoder_decoder --seq 128 --target-seq 20
expect_fail objective_missing_data "$T/none.txt" "$X" prepare --data "$T/none.txt" --objective span --arch encoder_decoder
run "$X" prepare --data "$T/c.txt" --objective span
if [ "$rc" -eq 2 ] && grep -q -- '--arch' "$T/err"; then pass objective_needs_arch; else fail objective_needs_arch "exit $rc: $(cat "$T/err")"; fi
run "$X" prepare --data "$T/c.txt" --objective span --arch nonsense
if [ "$rc" -eq 2 ] && grep -q "nonsense" "$T/err"; then pass objective_bad_arch; else fail objective_bad_arch "exit $rc: $(cat "$T/err")"; fi
run "$X" prepare --data "$T/c.txt" --out "$T/o.bin" --arch decoder
if [ "$rc" -eq 2 ] && [ ! -e "$T/o.bin" ]; then pass objective_flags_need_objective; else fail objective_flags_need_objective "exit $rc"; fi

exit $failed
