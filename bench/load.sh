#!/usr/bin/env bash
# Load time of a ~500 MB llama-shaped Hugging Face directory (f32 safetensors)
# against reading the same bytes from the page cache (docs/benchmarks.md §Loading).
#   xfmr_open:  xf_model_open of the directory (config, header, arena, every tensor)
#   read_fresh: read(2) of model.safetensors into a new buffer of its size
#   cat:        cat model.safetensors > /dev/null (no destination pages to touch)
# All warm-cache, best of REPS (default 3). usage: bash bench/load.sh [BUILD]
set -u
BUILD="${1:-${BUILD:-build}}"
here="$(cd "$(dirname "$0")" && pwd)"
B="$BUILD/bench/load_bench"
if [ ! -x "$B" ]; then echo "load: SKIP (no $B; make $B)"; exit 0; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
/usr/bin/python3 "$here/load_gen.py" "$T/hf" "${LOAD_C:-1024}" "${LOAD_L:-8}" "${LOAD_V:-16000}" || exit 1
F="$T/hf/model.safetensors"
cat "$F" > /dev/null # warm the page cache
best=
for _ in $(seq "${REPS:-3}"); do
    s=$( { /usr/bin/time -f '%e' cat "$F" > /dev/null; } 2>&1 )
    best=$(awk -v a="$s" -v b="${best:-1e9}" 'BEGIN { print (a < b ? a : b) }')
done
out=$("$B" "$T/hf" "$F" "${REPS:-3}") || exit 1
echo "$out"
echo "{\"bench\":\"load\",\"what\":\"cat\",\"s\":$best}"
open_s=$(echo "$out" | grep '"xfmr_open"' | grep -o '"s":[0-9.]*' | cut -d: -f2)
read_s=$(echo "$out" | grep '"read_fresh"' | grep -o '"s":[0-9.]*' | cut -d: -f2)
mb=$(echo "$out" | grep -m1 -o '"mb":[0-9.]*' | cut -d: -f2)
open_c=$(echo "$out" | grep '"xfmr_open"' | grep -o '"cpu_s":[0-9.]*' | cut -d: -f2)
read_c=$(echo "$out" | grep '"read_fresh"' | grep -o '"cpu_s":[0-9.]*' | cut -d: -f2)
awk -v o="$open_s" -v r="$read_s" -v c="$best" -v mb="$mb" -v oc="$open_c" -v rc="$read_c" 'BEGIN {
    printf "load %s MB: xfmr %.3f s (%.0f MB/s, %.3f s CPU); read into a fresh buffer %.3f s (%.3f s CPU): ratio %.2fx wall, %.2fx CPU; cat %.3f s: ratio %.2fx\n",
        mb, o, mb / o, oc, r, rc, o / r, (rc > 0 ? oc / rc : 0), c, (c > 0 ? o / c : 0) }'
