/* xfmr: the machine a run is on. The CPU and the features the kernels use,
 * its clock, the GEMM paths (one per instruction set and precision) with a
 * measurement of each, and a monotonic wall clock: what `xfmr info --system`
 * and the benchmarks report, for embedders that report the same. */
#ifndef XFMR_SYSTEM_H
#define XFMR_SYSTEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- clock --------------------------------------------------------------- */

/* Milliseconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double xf_now_ms(void);

/* ---- CPU ----------------------------------------------------------------- */

/* CPU features by cpuid (x86-64), for the GEMM dispatch. Each AVX/AVX-512/AMX
 * flag is set only when the OS also saves the registers it needs (XCR0 by
 * xgetbv), so a flag here means "usable". */
typedef struct {
    char vendor[13];  /* "GenuineIntel", "AuthenticAMD", ... */
    char model[49];   /* brand string, trimmed */
    unsigned family, model_id; /* display family and model */
    int avx, avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512dq, avx512_vnni, avx512_bf16,
        avx512_fp16, amx_tile, amx_bf16;
} xf_cpu_info;

/* Detected once; the same pointer every call. Non-x86 builds report nothing.
 * XF_CPU_DISABLE (comma-separated flag names as in xf_cpu_info, e.g.
 * "avx512f,avx512_bf16") clears flags, so the paths and refusals of a smaller
 * CPU can be run and tested here; clearing avx512f clears every avx512 flag,
 * clearing avx clears everything above it. */
const xf_cpu_info *xf_cpu(void);

/* Nominal clock in GHz from /proc/cpuinfo's "cpu MHz" of the first CPU
 * (0 when unreadable; under a hypervisor this is the host's nominal clock). */
double xf_cpu_mhz_nominal(void);

/* Core clock in GHz, measured: the best of 5 runs of a chain of dependent
 * integer adds (1 cycle each on every x86-64 core) timed by the thread's CPU
 * time, so it reads the clock while running (turbo included) even on a shared
 * machine. 0 on non-x86 builds. */
double xf_cpu_ghz_measured(void);

/* ---- GEMM paths (docs/benchmarks.md §GEMM) -------------------------------- */

/* Precision of the training GEMMs: fp32, or bf16 operands with fp32 sums. */
typedef enum { XF_GEMM_FP32 = 0, XF_GEMM_BF16 } xf_gemm_precision;

/* The table of paths: "avx512", "avx2", "scalar" (fp32) and "avx512-bf16",
 * "scalar-bf16" (bf16). The scalar paths are the references; scalar-bf16 is
 * never selected (bf16 without hardware support is refused, not emulated). */
int xf_gemm_path_count(void);
const char *xf_gemm_path_name(int path);
xf_gemm_precision xf_gemm_path_precision(int path);
/* Whether this CPU (and OS) runs `path`. */
int xf_gemm_path_supported(int path);
/* The path the library's GEMM uses at `prec` (-1: none on this CPU). */
int xf_gemm_path_selected(xf_gemm_precision prec);
/* Peak FLOPs per cycle per core of a path's inner instruction on this CPU:
 * 2 FMA pipes x lanes x 2 (a bf16 dot product 2x that); AMD before family 1Ah
 * (Zen 4) runs 512-bit operations on 256-bit pipes, so half of it there. */
double xf_gemm_path_flops_per_cycle(int path);

/* Achieved GFLOP/s of `path` on one shape (C = op(A) op(B), beta = 0, inputs
 * uniform in [-1, 1)), the best of up to `reps` runs after one warm-up (fewer
 * once budget_ms of wall time is spent; at least one), on the current OpenMP
 * threads. Allocates its operands; 0 when out of memory. For `xfmr info
 * --system` and the benchmarks, never for tests. */
double xf_gemm_measure(int path, int ta, int tb, size_t M, size_t N, size_t K, int reps,
                       double budget_ms);

#ifdef __cplusplus
}
#endif

#endif
