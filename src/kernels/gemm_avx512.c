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

T512 void gemm_ukr_avx512_12x32(size_t kc, const void *pav, const void *pbv, float *c,
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

T512BF void gemm_ukr_avx512bf16_12x32(size_t kp, const void *pav, const void *pbv, float *c,
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

/* 4 rows x 16 columns of 32-bit units -> per 128-bit lane l, vector j holds
 * column 4l + j of the 4 rows (the SSE 4x4 transpose, lane by lane) */
#define TRANSPOSE_4x16(r0, r1, r2, r3, c0, c1, c2, c3)                                    \
    do {                                                                                  \
        __m512 t0_ = _mm512_unpacklo_ps(r0, r1), t1_ = _mm512_unpackhi_ps(r0, r1);        \
        __m512 t2_ = _mm512_unpacklo_ps(r2, r3), t3_ = _mm512_unpackhi_ps(r2, r3);        \
        c0 = _mm512_shuffle_ps(t0_, t2_, 0x44);                                           \
        c1 = _mm512_shuffle_ps(t0_, t2_, 0xEE);                                           \
        c2 = _mm512_shuffle_ps(t1_, t3_, 0x44);                                           \
        c3 = _mm512_shuffle_ps(t1_, t3_, 0xEE);                                           \
    } while (0)

/* store lane L of c0..c3 (units 4L..4L+3) at d + (4L + j) * R */
#define STORE_LANE(d, R, L, c0, c1, c2, c3)                                               \
    do {                                                                                  \
        _mm_storeu_ps((d) + (4 * (L) + 0) * (size_t)(R), _mm512_extractf32x4_ps(c0, L));    \
        _mm_storeu_ps((d) + (4 * (L) + 1) * (size_t)(R), _mm512_extractf32x4_ps(c1, L));    \
        _mm_storeu_ps((d) + (4 * (L) + 2) * (size_t)(R), _mm512_extractf32x4_ps(c2, L));    \
        _mm_storeu_ps((d) + (4 * (L) + 3) * (size_t)(R), _mm512_extractf32x4_ps(c3, L));    \
    } while (0)

/* d[u*R + r] = unit u of row r for 16 units: rows given as 4 vectors */
#define SCATTER_4x16(d, R, r0, r1, r2, r3)                                                \
    do {                                                                                  \
        __m512 c0_, c1_, c2_, c3_;                                                        \
        TRANSPOSE_4x16(r0, r1, r2, r3, c0_, c1_, c2_, c3_);                               \
        STORE_LANE(d, R, 0, c0_, c1_, c2_, c3_);                                          \
        STORE_LANE(d, R, 1, c0_, c1_, c2_, c3_);                                          \
        STORE_LANE(d, R, 2, c0_, c1_, c2_, c3_);                                          \
        STORE_LANE(d, R, 3, c0_, c1_, c2_, c3_);                                          \
    } while (0)

T512 void gemm_pack_rows_avx512(const float *X, size_t ld, size_t kc, int R, void *dstv) {
    float *dst = dstv;
    size_t k = 0;
    for (; k + 16 <= kc; k += 16)
        for (int rb = 0; rb < R; rb += 4) {
            const float *x = X + (size_t)rb * ld + k;
            __m512 r0 = _mm512_loadu_ps(x), r1 = _mm512_loadu_ps(x + ld);
            __m512 r2 = _mm512_loadu_ps(x + 2 * ld), r3 = _mm512_loadu_ps(x + 3 * ld);
            SCATTER_4x16(dst + k * (size_t)R + rb, R, r0, r1, r2, r3);
        }
    for (; k < kc; k++)
        for (int r = 0; r < R; r++) dst[k * (size_t)R + (size_t)r] = X[(size_t)r * ld + k];
}

/* 32 floats -> 32 bf16 (round to nearest even) as 16 32-bit units of k pairs */
T512BF static inline __m512 bf16_units(const float *x) {
    __m256bh lo = _mm512_cvtneps_pbh(_mm512_loadu_ps(x));
    __m256bh hi = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + 16));
    __m512i u = _mm512_inserti64x4(_mm512_castsi256_si512((__m256i)lo), (__m256i)hi, 1);
    return _mm512_castsi512_ps(u);
}

T512BF void gemm_pack_rows_bf16_avx512(const float *X, size_t ld, size_t kc, int R, void *dstv) {
    uint16_t *dst = dstv;
    float *d32 = dstv; /* 32-bit units: unit (kp, r) at d32[kp*R + r] */
    size_t k = 0;
    for (; k + 32 <= kc; k += 32)
        for (int rb = 0; rb < R; rb += 4) {
            const float *x = X + (size_t)rb * ld + k;
            __m512 r0 = bf16_units(x), r1 = bf16_units(x + ld);
            __m512 r2 = bf16_units(x + 2 * ld), r3 = bf16_units(x + 3 * ld);
            SCATTER_4x16(d32 + (k / 2) * (size_t)R + rb, R, r0, r1, r2, r3);
        }
    for (; k < kc; k++)
        for (int r = 0; r < R; r++)
            dst[(k >> 1) * 2 * (size_t)R + 2 * (size_t)r + (k & 1)] = xf_bf16_round(X[(size_t)r * ld + k]);
}

T512BF void gemm_bf16_interleave_avx512(const float *x0, const float *x1, size_t n, uint16_t *out) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x0 + i));
        __m256i b = x1 ? (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x1 + i)) : _mm256_setzero_si256();
        __m256i lo = _mm256_unpacklo_epi16(a, b), hi = _mm256_unpackhi_epi16(a, b);
        _mm256_storeu_si256((__m256i *)(void *)(out + 2 * i), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256((__m256i *)(void *)(out + 2 * i + 16), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
    for (; i < n; i++) {
        out[2 * i] = xf_bf16_round(x0[i]);
        out[2 * i + 1] = x1 ? xf_bf16_round(x1[i]) : 0;
    }
}

#else
/* not x86-64: never selected (the CPU test fails), present so the table links */
void gemm_ukr_avx512_12x32(size_t kc, const void *pa, const void *pb, float *c, size_t ldc,
                              float alpha, float beta, const float *bias) {
    (void)kc, (void)pa, (void)pb, (void)c, (void)ldc, (void)alpha, (void)beta, (void)bias;
}
void gemm_ukr_avx512bf16_12x32(size_t kc, const void *pa, const void *pb, float *c, size_t ldc,
                                  float alpha, float beta, const float *bias) {
    (void)kc, (void)pa, (void)pb, (void)c, (void)ldc, (void)alpha, (void)beta, (void)bias;
}
void gemm_pack_rows_avx512(const float *X, size_t ld, size_t kc, int R, void *dst) {
    (void)X, (void)ld, (void)kc, (void)R, (void)dst;
}
void gemm_pack_rows_bf16_avx512(const float *X, size_t ld, size_t kc, int R, void *dst) {
    (void)X, (void)ld, (void)kc, (void)R, (void)dst;
}
void gemm_bf16_interleave_avx512(const float *x0, const float *x1, size_t n, uint16_t *out) {
    (void)x0, (void)x1, (void)n, (void)out;
}
#endif
