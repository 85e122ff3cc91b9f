# Shared helpers for the CLI tests (sourced). Each check prints one
# "PASS name" or "FAIL name: why" line; tests/run.sh counts them.
# Needs $T (a temp dir) set by the caller.
failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }
size() { wc -c < "$1" | tr -d ' '; }

# Run "$@", keep stdout/stderr/rc in $T/out, $T/err, $rc.
run() {
    "$@" > "$T/out" 2> "$T/err"
    rc=$?
}

# expect_fail NAME FILE CMD...: CMD must exit non-zero with exactly one line on
# stderr, prefixed "xfmr", that names FILE.
expect_fail() {
    local name=$1 file=$2
    shift 2
    run "$@"
    local lines
    lines=$(wc -l < "$T/err" | tr -d ' ')
    if [ "$rc" -eq 0 ]; then
        fail "$name" "exit 0"
    elif [ "$rc" -ge 128 ]; then
        fail "$name" "crashed (exit $rc): $(head -c 300 "$T/err")"
    elif [ "$lines" -ne 1 ]; then
        fail "$name" "$lines lines on stderr: $(head -c 300 "$T/err")"
    elif ! grep -qF -- "$file" "$T/err"; then
        fail "$name" "message does not name $file: $(cat "$T/err")"
    elif ! grep -q '^xfmr' "$T/err"; then
        fail "$name" "message not prefixed with xfmr: $(cat "$T/err")"
    else
        pass "$name"
    fi
}
