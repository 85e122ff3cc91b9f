/* CPU features by cpuid (x86-64), for the GEMM dispatch and `xfmr info
 * --system`. Each AVX/AVX-512/AMX flag is set only when the OS also saves the
 * registers it needs (XCR0 by xgetbv), so a flag here means "usable". */
#ifndef XF_CPU_H
#define XF_CPU_H

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
#endif
