#!/usr/bin/env bash
# Scale-out benchmark (docs/scale-out.md): on bench-gpt and bench-moe, training
# tokens/s of 2 ranks x 1 thread (mpirun -np 2, data parallel) against 1 rank x
# 2 threads, at the same global batch; then the allreduce probe
# (bench/mpi_probe.c) at 2 ranks. Efficiency = (2 x 1) / (1 x 2) tokens/s.
# usage: bash bench/mpi.sh [BUILD]   env: STEPS (8), BATCH (8, global), SEQ (256)
# Prints one line per model and one JSON line per allreduce size; SKIP without mpirun.
set -u
BUILD="${1:-${BUILD:-build}}"
X="$(cd "$(dirname "$BUILD/xfmr")" && pwd)/xfmr"
STEPS="${STEPS:-8}"
BATCH="${BATCH:-8}"
SEQ="${SEQ:-256}"
if ! command -v mpirun > /dev/null; then echo "== mpi: SKIP (no mpirun: apt-get install openmpi-bin)"; exit 0; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "== mpi: cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, $(mpirun --version | head -1)"
"$X" corpus --out "$T/c.txt" --bytes 2000000 --seed 3 > /dev/null
# median tokens/s of the steps after the first two
tps() { python3 -c "
import json, statistics, sys
v = [json.loads(l)['tokens_per_s'] for l in open(sys.argv[1]) if '\"loss\"' in l][2:]
print('%.1f' % statistics.median(v) if v else 0)" "$1/log.jsonl"; }
for m in bench-gpt bench-moe; do
    A=(train --model $m --data "$T/c.txt" --steps "$STEPS" --batch "$BATCH" --seq "$SEQ" --eval-every 0 --quiet)
    "$X" "${A[@]}" --threads 2 --out "$T/$m.1x2" 2> /dev/null
    mpirun -q --oversubscribe -np 2 "$X" "${A[@]}" --threads 1 --out "$T/$m.2x1" 2> /dev/null
    one=$(tps "$T/$m.1x2")
    two=$(tps "$T/$m.2x1")
    awk -v m="$m" -v a="$one" -v b="$two" 'BEGIN { printf "%s: 1 rank x 2 threads %s tok/s, 2 ranks x 1 thread %s tok/s, efficiency %.2f\n", m, a, b, (a > 0 ? b / a : 0) }'
    printf '{"bench":"mpi_train","model":"%s","batch":%s,"seq":%s,"tokens_per_s_1x2":%s,"tokens_per_s_2x1":%s}\n' "$m" "$BATCH" "$SEQ" "$one" "$two"
done
if [ -x "$BUILD/bench/mpi_probe" ]; then
    mpirun -q --oversubscribe -np 2 "$BUILD/bench/mpi_probe"
else
    echo "== allreduce probe: SKIP (make $BUILD/bench/mpi_probe)"
fi
