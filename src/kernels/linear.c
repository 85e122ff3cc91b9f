/* Linear layer (torch.nn.Linear layout), matrix multiplies by sgemm (gemm.h).
 *
 * Shapes
 *   inp [N,C], w [OC,C], b [OC] or NULL, out [N,OC]
 * Nothing is cached: backward reads inp and w again.
 *
 * Maths
 *   out  = inp @ w^T + b
 *   dinp += dout @ w          [N,OC] @ [OC,C]
 *   dw   += dout^T @ inp      [OC,N] @ [N,C]
 *   db   += sum_n dout[n,:]
 * Backward accumulates (+=): the two GEMMs run with beta = 1.
 * matmul_backward_write writes dinp instead (its GEMM runs with beta = 0),
 * which spares the caller zeroing dinp first; dw and db still accumulate.
 *
 * Threads: sgemm threads itself (OpenMP); the bias loops split rows
 * (forward) or output-channel blocks (db), each block summing rows n = 0..N-1
 * in order. The one-row product (decoding) is OpenBLAS's sgemv, which takes int
 * dimensions: below INT_MAX, which the caller's shape checks guarantee. */
#include <cblas.h>
#include <string.h>

#include "core/parallel.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

/* output channels per task in the db sum */
#define LINEAR_OBLOCK 64

void matmul_forward(float *out, const float *inp, const float *w, const float *b, size_t N,
                       size_t C, size_t OC) {
    if (N == 0 || OC == 0) return;
    /* one row (decoding) is a matrix-vector product, which reads w once
     * instead of packing it as the GEMM does: out = b (or 0), out += w @ inp */
    if (N == 1 && C > 0) {
        if (b) memcpy(out, b, OC * sizeof(float));
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)OC, (int)C, 1.0f, w, (int)C, inp, 1,
                    b ? 1.0f : 0.0f, out, 1);
        return;
    }
    /* out = inp @ w^T + b, the bias added as the GEMM stores each tile */
    sgemm_bias(0, 1, N, OC, C, inp, C, w, C, b, out, OC);
}

/* The backward with dinp = dinp_beta * dinp + dout @ w (1: accumulate, 0: write). */
static void linear_backward(float *dinp, float dinp_beta, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, size_t N, size_t C, size_t OC) {
    if (N == 0 || OC == 0) return;
    /* forward: out = b (broadcast)  =>  db += sum_n dout[n,:] */
    if (db) {
        size_t nblocks = (OC + LINEAR_OBLOCK - 1) / LINEAR_OBLOCK;
#pragma omp parallel for if (N * OC >= XF_PAR_MIN)
        for (size_t blk = 0; blk < nblocks; blk++) {
            size_t o0 = blk * LINEAR_OBLOCK;
            size_t o1 = o0 + LINEAR_OBLOCK < OC ? o0 + LINEAR_OBLOCK : OC;
            for (size_t n = 0; n < N; n++) {
                const float *dn = dout + n * OC;
#pragma omp simd
                for (size_t o = o0; o < o1; o++) db[o] += dn[o];
            }
        }
    }
    if (C == 0) return;
    /* forward: out += inp @ w^T  =>  dinp += dout @ w, dw += dout^T @ inp */
    if (dinp) {
        sgemm(0, 0, N, C, OC, 1.0f, dout, OC, w, C, dinp_beta, dinp, C);
    }
    sgemm(1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dw, C);
}

void matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, size_t N, size_t C, size_t OC) {
    linear_backward(dinp, 1.0f, dw, db, dout, inp, w, N, C, OC);
}

void matmul_backward_write(float *dinp, float *dw, float *db, const float *dout,
                              const float *inp, const float *w, size_t N, size_t C, size_t OC) {
    /* OC = 0: the GEMM below does not run, and dout @ w is zero */
    if (OC == 0 && N * C > 0) memset(dinp, 0, N * C * sizeof(float));
    linear_backward(dinp, 0.0f, dw, db, dout, inp, w, N, C, OC);
}
