/* CPU features by cpuid (see cpu.h). Leaf 1: ecx fma(12) avx(28) osxsave(27)
 * f16c(29); leaf 7.0: ebx avx2(5) avx512f(16) avx512dq(17) avx512bw(30)
 * avx512vl(31), ecx avx512_vnni(11), edx avx512_fp16(23) amx_bf16(22)
 * amx_tile(24); leaf 7.1: eax avx512_bf16(5). XCR0 (xgetbv 0): bits 1-2 SSE/AVX
 * state, 5-7 AVX-512 state, 17-18 AMX tile state (Intel SDM vol. 2, CPUID). */
#include "core/cpu.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void detect(xf_cpu_info *ci) {
    unsigned a, b, c, d;
    memset(ci, 0, sizeof *ci);
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    unsigned maxleaf = a;
    memcpy(ci->vendor, &b, 4);
    memcpy(ci->vendor + 4, &d, 4);
    memcpy(ci->vendor + 8, &c, 4);
    __get_cpuid(1, &a, &b, &c, &d);
    unsigned fam = (a >> 8) & 15, mod = (a >> 4) & 15;
    if (fam == 15) fam += (a >> 20) & 255;
    if (fam == 6 || fam >= 15) mod |= ((a >> 16) & 15) << 4;
    ci->family = fam;
    ci->model_id = mod;
    int osxsave = (c >> 27) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int os_avx = (xcr0 & 6) == 6, os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;
    int os_amx = (xcr0 & 0x60000) == 0x60000;
    ci->avx = os_avx && ((c >> 28) & 1);
    ci->fma = ci->avx && ((c >> 12) & 1);
    ci->f16c = ci->avx && ((c >> 29) & 1);
    if (maxleaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        unsigned sub = a;
        ci->avx2 = ci->avx && ((b >> 5) & 1);
        ci->avx512f = os_avx512 && ((b >> 16) & 1);
        ci->avx512dq = ci->avx512f && ((b >> 17) & 1);
        ci->avx512bw = ci->avx512f && ((b >> 30) & 1);
        ci->avx512vl = ci->avx512f && ((b >> 31) & 1);
        ci->avx512_vnni = ci->avx512f && ((c >> 11) & 1);
        ci->avx512_fp16 = ci->avx512f && ((d >> 23) & 1);
        ci->amx_bf16 = os_amx && ((d >> 22) & 1);
        ci->amx_tile = os_amx && ((d >> 24) & 1);
        if (sub >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            ci->avx512_bf16 = ci->avx512f && ((a >> 5) & 1);
        }
    }
    unsigned br[12];
    if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002 + i, &br[4 * i], &br[4 * i + 1], &br[4 * i + 2], &br[4 * i + 3]);
        char s[49];
        memcpy(s, br, 48);
        s[48] = 0;
        char *p = s;
        while (*p == ' ') p++;
        size_t n = strlen(p);
        while (n && p[n - 1] == ' ') p[--n] = 0;
        memcpy(ci->model, p, n + 1);
    }
}
#else
static void detect(xf_cpu_info *ci) { memset(ci, 0, sizeof *ci); }
#endif

static void apply_disable(xf_cpu_info *ci, const char *list) {
    static const struct {
        const char *name;
        size_t off;
    } FLAGS[] = {
#define F(x) {#x, offsetof(xf_cpu_info, x)}
        F(avx), F(avx2), F(fma), F(f16c), F(avx512f), F(avx512bw), F(avx512vl), F(avx512dq),
        F(avx512_vnni), F(avx512_bf16), F(avx512_fp16), F(amx_tile), F(amx_bf16),
#undef F
    };
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        for (size_t i = 0; i < sizeof FLAGS / sizeof FLAGS[0]; i++)
            if (strlen(FLAGS[i].name) == n && !strncmp(FLAGS[i].name, p, n))
                *(int *)(void *)((char *)ci + FLAGS[i].off) = 0;
        p += n + (p[n] == ',');
    }
    if (!ci->avx) ci->avx2 = ci->fma = ci->f16c = ci->avx512f = 0;
    if (!ci->avx512f)
        ci->avx512bw = ci->avx512vl = ci->avx512dq = ci->avx512_vnni = ci->avx512_bf16 =
            ci->avx512_fp16 = 0;
}

static xf_cpu_info g_cpu;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void detect_once(void) {
    detect(&g_cpu);
    const char *dis = getenv("XF_CPU_DISABLE");
    if (dis) apply_disable(&g_cpu, dis);
}

const xf_cpu_info *xf_cpu(void) {
    pthread_once(&g_once, detect_once);
    return &g_cpu;
}

double xf_cpu_mhz_nominal(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[256];
    double mhz = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "cpu MHz", 7)) {
            const char *colon = strchr(line, ':');
            if (colon && sscanf(colon + 1, "%lf", &mhz) == 1) break;
        }
    }
    fclose(f);
    return mhz;
}

/* CPU time of the calling thread: time it was scheduled, so other processes
 * sharing the core do not make the clock read low */
static double thread_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double xf_cpu_ghz_measured(void) {
#if defined(__x86_64__)
    const unsigned long iters = 20000000ul; /* 4 adds each: 80M cycles */
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        unsigned long x = 0, n = iters;
        double t0 = thread_cpu_ms();
        __asm__ volatile("1:\n\t"
                         "add $1, %0\n\t"
                         "add $1, %0\n\t"
                         "add $1, %0\n\t"
                         "add $1, %0\n\t"
                         "sub $1, %1\n\t"
                         "jnz 1b"
                         : "+r"(x), "+r"(n)
                         :
                         : "cc");
        double ms = thread_cpu_ms() - t0;
        double ghz = ms > 0 ? 4.0 * (double)iters / (ms * 1e6) : 0;
        if (ghz > best) best = ghz;
    }
    return best;
#else
    return 0;
#endif
}
