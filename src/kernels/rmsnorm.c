/* RMSNorm over the last axis (T5 / LLaMA, docs/algorithms.md §3): no mean, no bias.
 *
 * Shapes
 *   inp [N,C], w [C], out [N,C]
 * Cached for backward: rstd [N].
 *
 * Maths, per row x of C values
 *   rstd = 1/sqrt(sum(x^2)/C + eps)
 *   out  = x*rstd*w
 * Backward: d rstd/d x_j = -rstd^3 * x_j / C, so with g = dout*w
 *   dx  = rstd*g - x * rstd^3 * sum(g*x)/C
 *   dw += sum_n dout*x*rstd
 * Backward accumulates (+=).
 *
 * Threads: forward and dinp split rows; dw splits CHANNEL blocks, each block
 * summing rows n = 0..N-1 in order (no races, thread-count independent). */
#include <math.h>

#include "core/parallel.h"
#include "kernels/kernels.h"

/* channels per task in the dw sum */
#define RMS_CBLOCK 32

void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, size_t N,
                        size_t C, float eps) {
#pragma omp parallel for if (N * C >= XF_PAR_MIN)
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        float *o = out + n * C;
        /* rstd = 1/sqrt(mean(x^2)+eps) */
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (size_t c = 0; c < C; c++) ss += x[c] * x[c];
        float r = 1.0f / sqrtf(ss / (float)C + eps);
        /* out = x*rstd*w */
#pragma omp simd
        for (size_t c = 0; c < C; c++) o[c] = x[c] * r * w[c];
        rstd[n] = r;
    }
}

void rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, const float *rstd, size_t N, size_t C) {
#pragma omp parallel for if (N * C >= XF_PAR_MIN)
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        const float *dn = dout + n * C;
        float *dx = dinp + n * C;
        float r = rstd[n];
        /* forward: out = x*rstd*w  =>  g = dout*w reaches x*rstd */
        float sgx = 0.0f;
#pragma omp simd reduction(+ : sgx)
        for (size_t c = 0; c < C; c++) sgx += dn[c] * w[c] * x[c];
        /* forward: rstd = 1/sqrt(mean(x^2)+eps)
         *   =>  dx = rstd*g - x*rstd^3*sum(g*x)/C */
        float k = r * r * r * sgx / (float)C;
#pragma omp simd
        for (size_t c = 0; c < C; c++) dx[c] += r * dn[c] * w[c] - x[c] * k;
    }

    /* forward: out = x*rstd*w  =>  dw += sum_n dout*x*rstd */
    size_t nblocks = (C + RMS_CBLOCK - 1) / RMS_CBLOCK;
#pragma omp parallel for if (N * C >= XF_PAR_MIN)
    for (size_t blk = 0; blk < nblocks; blk++) {
        size_t c0 = blk * RMS_CBLOCK;
        size_t c1 = c0 + RMS_CBLOCK < C ? c0 + RMS_CBLOCK : C;
        for (size_t n = 0; n < N; n++) {
            const float *x = inp + n * C;
            const float *dn = dout + n * C;
            float r = rstd[n];
#pragma omp simd
            for (size_t c = c0; c < c1; c++) dw[c] += dn[c] * x[c] * r;
        }
    }
}
