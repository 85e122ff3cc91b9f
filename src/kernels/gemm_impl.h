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

void xf_gemm_ukr_avx512_12x32(size_t kc, const void *pa, const void *pb, float *c, size_t ldc,
                              float alpha, float beta,
                              const float *bias);
void xf_gemm_ukr_avx512bf16_12x32(size_t kc, const void *pa, const void *pb, float *c, size_t ldc,
                                  float alpha, float beta,
                              const float *bias);
void xf_gemm_ukr_avx2_6x16(size_t kc, const void *pa, const void *pb, float *c, size_t ldc,
                           float alpha, float beta,
                              const float *bias);

/* fp32 -> bf16, round to nearest even (NaN stays a quiet NaN) */
static inline uint16_t xf_bf16_round(float f) {
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40);
    v.u += 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)(v.u >> 16);
}

#endif
