#!/usr/bin/env bash
# make bench: every benchmark in one run, each printing its own ratios.
#   1. the machine: xfmr info --system (CPU, features, GEMM path, GFLOP/s vs peak)
#   2. GEMM: xfmr's GEMM against oneDNN's on bench-gpt's shapes, 1 and 2 threads
#   3. training against PyTorch: bench-gpt fp32, bench-gpt bf16 (where the CPU
#      has AVX512-BF16), bench-t5, bench-moe (bench/run*.sh)
#   4. thread scaling: xfmr bench-gpt on 1 thread against 2
#   5. loading a ~500 MB Hugging Face directory against reading its bytes (bench/load.sh)
# usage: BUILD=build bash bench/all.sh    (env as bench/run.sh: STEPS, BATCH, SEQ)
set -u
here="$(cd "$(dirname "$0")" && pwd)"
BUILD="${BUILD:-build}"
export BUILD
X="$BUILD/xfmr"
echo "== cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "== OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>}"
"$X" info --system --threads 2
for t in 1 2; do
    if [ -x "$BUILD/bench/bench_gemm" ]; then
        echo "== gemm, $t thread(s)"
        "$BUILD/bench/bench_gemm" --threads "$t"
    fi
done
echo "== bench-gpt fp32"
bash "$here/run.sh" "$BUILD"
if "$X" info --system --threads 1 | grep -q '^gemm bf16: path'; then
    echo "== bench-gpt bf16 (xfmr bf16 matmul inputs; PyTorch fp32)"
    DTYPE=bf16 bash "$here/run.sh" "$BUILD"
else
    echo "== bench-gpt bf16: SKIP (no AVX512-BF16 on this CPU)"
fi
echo "== bench-t5"
bash "$here/run_t5.sh" "$BUILD"
echo "== bench-moe"
bash "$here/run_moe.sh" "$BUILD"
echo "== thread scaling (bench-gpt)"
one=$("$X" bench train --model bench-gpt --steps "${STEPS:-6}" --threads 1 | grep -o '"tokens_per_s":[0-9.]*' | cut -d: -f2)
two=$("$X" bench train --model bench-gpt --steps "${STEPS:-6}" --threads 2 | grep -o '"tokens_per_s":[0-9.]*' | cut -d: -f2)
awk -v a="$one" -v b="$two" 'BEGIN { printf "xfmr bench-gpt: 1 thread %s tok/s, 2 threads %s tok/s, scaling %.2fx\n", a, b, (a > 0 ? b / a : 0) }'
echo "== load (bench/load.sh)"
bash "$here/load.sh" "$BUILD"
echo "== data (prepare MB/s and peak RSS against corpus size)"
bash "$here/data.sh" "$BUILD"
