#!/usr/bin/env bash
# Data path benchmark (docs/benchmarks.md §Data): xfmr prepare's speed (MB of
# text per second) and peak resident memory against corpus size, streaming
# (8 MiB pieces, the default) against the same command reading the whole text
# as one piece (--piece-kb 4194304: the in-memory path this replaced) where it
# fits; then training's peak resident memory on a token file and on raw text
# of the largest size that the peer also ran.
# usage: bench/data.sh [BUILD]   env: SIZES="0.1 1 4" (GB), TOKENIZER=byte,
#        THREADS=2, DIR (scratch; default a temp dir; needs ~3x the largest size free)
set -u
BUILD="${1:-${BUILD:-build}}"
X="$BUILD/xfmr"
SIZES="${SIZES:-0.1 1 4}"
TOK="${TOKENIZER:-byte}"
THREADS="${THREADS:-2}"
PEER_MAX_GB=1  # the whole-text peer needs ~5x the text in memory: not beyond this
D="${DIR:-$(mktemp -d)}"
[ -z "${DIR:-}" ] && trap 'rm -rf "$D"' EXIT
echo "== data: cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $THREADS threads, tokenizer $TOK"
[ -x /usr/bin/time ] || { echo "SKIP data bench: /usr/bin/time missing (apt-get install time)"; exit 0; }

# measure LABEL CMD...: prints "LABEL  seconds  peak_rss_MB"
measure() {
    local label=$1
    shift
    /usr/bin/time -f "%e %M" -o "$D/time" "$@" > /dev/null 2> "$D/err" || { echo "$label: FAILED $(tail -1 "$D/err")"; return 1; }
    read -r secs kb < "$D/time"
    echo "$secs $((kb / 1024))"
}

base=""
for gb in $SIZES; do
    bytes=$(awk -v g="$gb" 'BEGIN{printf "%.0f", g * 1e9}')
    # the corpus: 100 MB generated once, repeated (generation holds its text in memory)
    if [ -z "$base" ]; then
        "$X" corpus --out "$D/base.txt" --bytes 100000000 --seed 1 > /dev/null
        base="$D/base.txt"
    fi
    rm -f "$D/c.txt"
    while [ ! -f "$D/c.txt" ] || [ "$(wc -c < "$D/c.txt")" -lt "$bytes" ]; do cat "$base" >> "$D/c.txt"; done
    truncate -s "$bytes" "$D/c.txt"
    mb=$(awk -v b="$bytes" 'BEGIN{printf "%.0f", b / 1e6}')
    rm -rf "$D/sh"
    read -r s rss < <(measure stream "$X" prepare --data "$D/c.txt" --out "$D/sh/" --tokenizer "$TOK" --threads "$THREADS") || continue
    line=$(printf "prepare %6s MB: streaming %7.1f MB/s  peak RSS %5d MB" "$mb" "$(awk -v m="$mb" -v s="$s" 'BEGIN{print m / s}')" "$rss")
    rm -rf "$D/sh"
    if awk -v g="$gb" -v m="$PEER_MAX_GB" 'BEGIN{exit !(g <= m)}'; then
        if read -r s2 rss2 < <(measure whole "$X" prepare --data "$D/c.txt" --out "$D/one.bin" --piece-kb 4194304 --tokenizer "$TOK" --threads "$THREADS"); then
            line="$line | whole text $(awk -v m="$mb" -v s="$s2" 'BEGIN{printf "%.1f", m / s}') MB/s  peak RSS $rss2 MB | speed ratio $(awk -v a="$s2" -v b="$s" 'BEGIN{printf "%.2f", a / b}')x, memory ratio $(awk -v a="$rss2" -v b="$rss" 'BEGIN{printf "%.1f", a / b}')x"
            peer_mb=$mb
        fi
    else
        line="$line | whole text: not run (needs ~5x the text in memory)"
    fi
    echo "$line"
done

# training memory on the largest size both ran: a token file and the raw text
if [ -n "${peer_mb:-}" ] && [ -f "$D/one.bin" ]; then
    head -c "$((peer_mb * 1000000))" "$D/c.txt" > "$D/t.txt"
    for data in "$D/one.bin" "$D/t.txt"; do
        rm -rf "$D/run"
        read -r s rss < <(measure train "$X" train --model gpt2-tiny --data "$data" --tokenizer "$TOK" --out "$D/run" --steps 5 --seq 64 --batch 4 --eval-every 5 --eval-batches 2 --quiet --threads "$THREADS") || continue
        printf "train on %s of %s MB text: %.1f s, peak RSS %d MB\n" "$(basename "$data")" "$peer_mb" "$s" "$rss"
    done
fi
