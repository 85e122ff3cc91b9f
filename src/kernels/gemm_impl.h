/* Internals of gemm.c shared with the per-ISA micro-kernel files.
 *
 * Packed layouts (zero-padded to whole panels, so a micro-kernel always runs
 * its full MR x NR tile):
 *   fp32 A block [mc,kc] -> panels of MR rows:     pa[p][k][r]      (r < MR)
 *   fp32 B block [kc,nc] -> panels of NR columns:  pb[p][k][c]      (c < NR)
 *   bf16: k in pairs (kc rounded up to even), kp = k/2:
 *                            pa[p][kp][r][k&1],    pb[p][kp][c][k&1]
 * A micro-kernel computes acc = sum_k pa[k][r] * pb[k][c] (fp32 accumulation,
 * k in increasing order) and stores every element by the store rule below. */
#ifndef XF_GEMM_IMPL_H
#define XF_GEMM_IMPL_H

#include <stddef.h>
#include <stdint.h>

/* kc: packed k steps (fp32: k; bf16: pairs) */
typedef void (*xf_gemm_ukr)(size_t kc, const void *pa, const void *pb, float *c, size_t ldc,
                            float alpha, float beta, const float *bias);

/* The store rule every kernel follows, so full tiles and edge tiles (done by
 * gemm.c in scalar code) round the same way; bias (NULL: none) is the tile's
 * column bias, bias[j] for column j of the tile:
 *   t = (beta == 0 ? 0 : beta*c) + (bias ? bias[j] : 0);  c = fma(alpha, acc, t) */

void gemm_ukr_avx512_12x32(size_t kc, const void *pa, const void *pb, float *c, size_t ldc,
                              float alpha, float beta,
                              const float *bias);
void gemm_ukr_avx512bf16_12x32(size_t kc, const void *pa, const void *pb, float *c, size_t ldc,
                                  float alpha, float beta,
                              const float *bias);
void gemm_ukr_avx2_6x16(size_t kc, const void *pa, const void *pb, float *c, size_t ldc,
                           float alpha, float beta,
                              const float *bias);

/* Packing one full panel of R rows (R % 4 == 0) from X's rows i (t = 0 in
 * gemm.c: element (i, k) at X[i*ld + k]), vectorised; NULL in the table means
 * the scalar loop:
 *   fp32: dst[k*R + r] = X[r*ld + k]                      k < kc
 *   bf16: dst[(k/2)*2R + 2r + k%2] = bf16(X[r*ld + k])    k < kc
 * and for bf16 from two rows k, k+1 of X (t = 1), one pair per element:
 *   out[2i] = bf16(x0[i]), out[2i+1] = bf16(x1[i]) (0 when x1 is NULL), i < n */
typedef void (*xf_gemm_pack_rows)(const float *X, size_t ld, size_t kc, int R, void *dst);
typedef void (*xf_gemm_interleave)(const float *x0, const float *x1, size_t n, uint16_t *out);
void gemm_pack_rows_avx512(const float *X, size_t ld, size_t kc, int R, void *dst);
void gemm_pack_rows_bf16_avx512(const float *X, size_t ld, size_t kc, int R, void *dst);
void gemm_bf16_interleave_avx512(const float *x0, const float *x1, size_t n, uint16_t *out);

/* fp32 -> bf16, round to nearest even (NaN stays a quiet NaN) */
static inline uint16_t xf_bf16_round(float f) {
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40);
    v.u += 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)(v.u >> 16);
}

#endif
