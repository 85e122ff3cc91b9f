#!/usr/bin/env bash
# xfmr info --system: the CPU line, the features, the GEMM path chosen for
# each precision (the best the CPU has, by /proc/cpuinfo's flags), a measured
# GFLOP/s and peak; with features masked (XF_CPU_DISABLE) the dispatch falls
# back to AVX2 and to scalar, and bf16 is reported as refused.
# Usage: test_info_system.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL info_system: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has() { printf '%s\n' "$flags" | grep -qw "$1"; }
want32=scalar
has avx2 && has fma && want32=avx2
has avx512f && has avx512bw && has avx512vl && has avx512dq && want32=avx512
wantbf=none
[ "$want32" = avx512 ] && has avx512_bf16 && wantbf=avx512-bf16

run "$X" info --system --threads 1
if [ "$rc" -ne 0 ]; then fail info_system_runs "$(cat "$T/err")"; else pass info_system_runs; fi
if grep -q '^cpu: .*logical CPUs' "$T/out" && grep -q '^features:' "$T/out" &&
    grep -q '^clock: [0-9.]* GHz measured' "$T/out"; then
    pass info_system_cpu_lines; else fail info_system_cpu_lines "$(head -c 400 "$T/out")"; fi
if grep -q "^gemm fp32: path $want32; .* [0-9.]* GFLOP/s, [0-9]*% of peak [0-9.]*" "$T/out"; then
    pass info_system_fp32_path; else fail info_system_fp32_path "want $want32: $(grep '^gemm fp32' "$T/out")"; fi
if [ "$wantbf" = none ]; then
    grep -q '^gemm bf16: none' "$T/out" && pass info_system_bf16_path || fail info_system_bf16_path "$(grep '^gemm bf16' "$T/out")"
else
    grep -q "^gemm bf16: path $wantbf;" "$T/out" && pass info_system_bf16_path || fail info_system_bf16_path "$(grep '^gemm bf16' "$T/out")"
fi
if [ "$want32" = avx512 ]; then
    XF_CPU_DISABLE=avx512f run "$X" info --system --threads 1
    if grep -q '^gemm fp32: path avx2;' "$T/out" && grep -q '^gemm bf16: none' "$T/out" &&
        ! grep -q '^features:.*avx512' "$T/out"; then
        pass info_system_masked_avx2; else fail info_system_masked_avx2 "$(cat "$T/out")"; fi
else
    echo "SKIP info_system_masked_avx2: no AVX-512 here to mask"
fi
XF_CPU_DISABLE=avx run "$X" info --system --threads 1
if grep -q '^gemm fp32: path scalar;' "$T/out"; then pass info_system_masked_scalar; else fail info_system_masked_scalar "$(cat "$T/out")"; fi
exit $failed
