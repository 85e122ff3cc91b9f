/* AVX2 + FMA micro-kernel (gemm_impl.h has the packed layout), compiled with a
 * per-function target attribute and called only on CPUs that have both.
 *
 * 6 x 16 tile: 12 ymm accumulators (6 rows x 2 vectors of 8 columns), two B
 * loads and one A broadcast in flight: 15 of the 16 ymm registers. */
#include "kernels/gemm_impl.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__((target("avx2,fma"))) void gemm_ukr_avx2_6x16(size_t kc, const void *pav,
                                                              const void *pbv, float *c,
                                                              size_t ldc, float alpha,
                                                              float beta, const float *bias) {
    const float *pa = pav, *pb = pbv;
    __m256 acc[6][2];
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (size_t k = 0; k < kc; k++, pa += 6, pb += 16) {
        __m256 b0 = _mm256_loadu_ps(pb), b1 = _mm256_loadu_ps(pb + 8);
#pragma GCC unroll 6
        for (int r = 0; r < 6; r++) {
            __m256 a = _mm256_broadcast_ss(pa + r);
            acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    /* the store rule of gemm_impl.h: c = fma(alpha, acc, beta*c + bias) */
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    __m256 t0 = _mm256_setzero_ps(), t1 = _mm256_setzero_ps();
    if (bias) t0 = _mm256_loadu_ps(bias), t1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++) {
        float *cr = c + (size_t)r * ldc;
        __m256 c0 = t0, c1 = t1;
        if (beta != 0.0f) {
            c0 = _mm256_mul_ps(vb, _mm256_loadu_ps(cr));
            c1 = _mm256_mul_ps(vb, _mm256_loadu_ps(cr + 8));
            if (bias) c0 = _mm256_add_ps(c0, t0), c1 = _mm256_add_ps(c1, t1);
        }
        _mm256_storeu_ps(cr, _mm256_fmadd_ps(va, acc[r][0], c0));
        _mm256_storeu_ps(cr + 8, _mm256_fmadd_ps(va, acc[r][1], c1));
    }
}

#else
void gemm_ukr_avx2_6x16(size_t kc, const void *pa, const void *pb, float *c, size_t ldc,
                           float alpha, float beta, const float *bias) {
    (void)kc, (void)pa, (void)pb, (void)c, (void)ldc, (void)alpha, (void)beta, (void)bias;
}
#endif
