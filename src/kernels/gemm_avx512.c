/* AVX-512 micro-kernels (gemm_impl.h has the packed layouts). Compiled with
 * per-function target attributes, so a generic x86-64 build carries them and
 * gemm.c calls them only when cpuid says the CPU has the features.
 *
 * 12 x 32 tile: 24 zmm accumulators (12 rows x 2 vectors of 16 columns); per k
 * two loads of B, 12 broadcasts of A, 24 FMAs (fp32) or 24 vdpbf16ps, each of
 * which multiplies a pair of k (bf16) and adds both products in fp32. */
#include "kernels/gemm_impl.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <string.h>

#define T512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
#define T512BF __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma,avx512bf16")))

/* the store rule of gemm_impl.h: c = fma(alpha, acc, beta*c + bias) */
#define STORE_TILE_512(acc, c, ldc, alpha, beta, bias)                                  \
    do {                                                                                \
        __m512 va_ = _mm512_set1_ps(alpha), vb_ = _mm512_set1_ps(beta);                 \
        __m512 t0_ = _mm512_setzero_ps(), t1_ = _mm512_setzero_ps();                    \
        if (bias) t0_ = _mm512_loadu_ps(bias), t1_ = _mm512_loadu_ps((bias) + 16);      \
        _Pragma("GCC unroll 12") for (int r = 0; r < 12; r++) {                         \
            float *cr_ = (c) + (size_t)r * (ldc);                                        \
            __m512 c0_ = t0_, c1_ = t1_;                                                \
            if ((beta) != 0.0f) {                                                       \
                c0_ = _mm512_mul_ps(vb_, _mm512_loadu_ps(cr_));                         \
                c1_ = _mm512_mul_ps(vb_, _mm512_loadu_ps(cr_ + 16));                    \
                if (bias) c0_ = _mm512_add_ps(c0_, t0_), c1_ = _mm512_add_ps(c1_, t1_); \
            }                                                                           \
            _mm512_storeu_ps(cr_, _mm512_fmadd_ps(va_, acc[r][0], c0_));                \
            _mm512_storeu_ps(cr_ + 16, _mm512_fmadd_ps(va_, acc[r][1], c1_));           \
        }                                                                               \
    } while (0)

T512 void xf_gemm_ukr_avx512_12x32(size_t kc, const void *pav, const void *pbv, float *c,
                                    size_t ldc, float alpha, float beta,
                                    const float *bias) {
    const float *pa = pav, *pb = pbv;
    __m512 acc[12][2];
#pragma GCC unroll 12
    for (int r = 0; r < 12; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (size_t k = 0; k < kc; k++, pa += 12, pb += 32) {
        __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);
        _mm_prefetch((const char *)(pb + 32 * 8), _MM_HINT_T0);
#pragma GCC unroll 12
        for (int r = 0; r < 12; r++) {
            __m512 a = _mm512_set1_ps(pa[r]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    STORE_TILE_512(acc, c, ldc, alpha, beta, bias);
}

T512BF void xf_gemm_ukr_avx512bf16_12x32(size_t kp, const void *pav, const void *pbv, float *c,
                                          size_t ldc, float alpha, float beta,
                                    const float *bias) {
    const uint16_t *pa = pav, *pb = pbv;
    __m512 acc[12][2];
#pragma GCC unroll 12
    for (int r = 0; r < 12; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (size_t k = 0; k < kp; k++, pa += 24, pb += 64) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(pb), b1 = (__m512bh)_mm512_loadu_si512(pb + 32);
        _mm_prefetch((const char *)(pb + 64 * 8), _MM_HINT_T0);
#pragma GCC unroll 12
        for (int r = 0; r < 12; r++) {
            int32_t pair;
            memcpy(&pair, pa + 2 * r, sizeof pair);
            __m512bh a = (__m512bh)_mm512_set1_epi32(pair);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
        }
    }
    STORE_TILE_512(acc, c, ldc, alpha, beta, bias);
}

#else
/* not x86-64: never selected (the CPU test fails), present so the table links */
void xf_gemm_ukr_avx512_12x32(size_t kc, const void *pa, const void *pb, float *c, size_t ldc,
                              float alpha, float beta, const float *bias) {
    (void)kc, (void)pa, (void)pb, (void)c, (void)ldc, (void)alpha, (void)beta, (void)bias;
}
void xf_gemm_ukr_avx512bf16_12x32(size_t kc, const void *pa, const void *pb, float *c, size_t ldc,
                                  float alpha, float beta, const float *bias) {
    (void)kc, (void)pa, (void)pb, (void)c, (void)ldc, (void)alpha, (void)beta, (void)bias;
}
#endif
