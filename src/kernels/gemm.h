/* Matrix multiply (row-major sgemm) with runtime CPU dispatch.
 *
 *   C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C
 *   op(A)[i,k] = ta ? A[k*lda + i] : A[i*lda + k]
 *   op(B)[k,j] = tb ? B[j*ldb + k] : B[k*ldb + j]
 * beta == 0 writes C without reading it (C may hold garbage or NaN).
 *
 * Paths (a table in gemm.c, docs/benchmarks.md §GEMM): each is a packed,
 * cache-blocked GEMM with one register-blocked micro-kernel. The first path
 * the CPU supports is used (cpuid at first call, never OPENBLAS_CORETYPE);
 * the environment variable XF_GEMM=<name> picks a named path instead when the
 * CPU has it. The scalar path runs anywhere and is the reference the tests
 * compare every other path with.
 *
 * Precision: XF_GEMM_FP32 (default) or XF_GEMM_BF16: A and B are rounded to
 * bfloat16 (round to nearest even) while they are packed and the products are
 * accumulated in fp32 (mixed-precision training; AVX512-BF16 vdpbf16ps).
 * gemm_set_precision is process-wide and set by the trainer.
 *
 * Threads: called outside a parallel region the GEMM splits C over the OpenMP
 * threads (rows or columns, whichever dimension is larger); called inside one
 * it runs on the calling thread. Every element of C is computed by the same
 * instruction sequence whatever the split, so 1 and N threads agree bit for bit.
 * Pack buffers are per thread, allocated once (the first GEMM a thread runs)
 * and kept; a failed allocation falls back to an unpacked loop, so the GEMM
 * never fails. */
#ifndef XF_GEMM_H
#define XF_GEMM_H

#include <stddef.h>

#include "xfmr/status.h"
#include "xfmr/system.h" /* xf_gemm_precision, the table of paths, xf_gemm_measure */


void sgemm(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
              size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);

/* sgemm at fp32 whatever gemm_set_precision says (attention's products,
 * which mixed precision keeps in fp32). */
void sgemm_fp32(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                  size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);

/* C = op(A) @ op(B) + bias (bias [N], broadcast over rows; C not read): the
 * bias is added as each tile is stored, so no separate pass over C. */
void sgemm_bias(int ta, int tb, size_t M, size_t N, size_t K, const float *A, size_t lda,
                   const float *B, size_t ldb, const float *bias, float *C, size_t ldc);

/* The general form on path `path` (an index into the table, at that path's
 * precision): C = alpha * op(A) @ op(B) + beta * C + bias (bias [N] or NULL);
 * the caller checks xf_gemm_path_supported(path) first. For tests and the
 * benchmark. */
void sgemm_path(int path, int ta, int tb, size_t M, size_t N, size_t K, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta,
                   const float *bias, float *C, size_t ldc);

/* Precision of sgemm. XF_GEMM_BF16 fails (XF_ERR_ARG, a message naming the
 * CPU's missing features) when no path supports it on this CPU. */
xf_status gemm_set_precision(xf_gemm_precision prec);
xf_gemm_precision gemm_precision_get(void);

#endif
