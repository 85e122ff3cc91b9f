/* LayerNorm over the last axis (biased variance, docs/algorithms.md §3).
 *
 * Shapes
 *   inp [N,C], w [C], b [C] or NULL, out [N,C]
 * Cached for backward: mean [N], rstd [N].
 *
 * Maths, per row x of C values
 *   mean = sum(x)/C
 *   var  = sum((x-mean)^2)/C            (biased, two-pass)
 *   rstd = 1/sqrt(var + eps)
 *   xhat = (x-mean)*rstd
 *   out  = xhat*w + b
 * Backward, with g = dout*w (the gradient reaching xhat):
 *   dx  = rstd * (g - mean(g) - xhat*mean(g*xhat))
 *   dw += sum_n dout*xhat,  db += sum_n dout
 * Backward accumulates (+=).
 *
 * Threads: forward and dinp split rows. dw/db split CHANNEL blocks, each block
 * summing rows n = 0..N-1 in order (recomputing xhat), so nothing races and the
 * result does not depend on the thread count. Row sums use an OpenMP simd
 * reduction, whose order is fixed at compile time. */
#include <math.h>

#include "core/parallel.h"
#include "kernels/kernels.h"

/* channels per task in the dw/db sums */
#define LN_CBLOCK 32

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, size_t N, size_t C, float eps) {
#pragma omp parallel for if (N * C >= XF_PAR_MIN)
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        float *o = out + n * C;
        /* mean = sum(x)/C */
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (size_t c = 0; c < C; c++) s += x[c];
        float m = s / (float)C;
        /* var = sum((x-mean)^2)/C */
        float v = 0.0f;
#pragma omp simd reduction(+ : v)
        for (size_t c = 0; c < C; c++) {
            float d = x[c] - m;
            v += d * d;
        }
        v /= (float)C;
        /* rstd = 1/sqrt(var+eps) */
        float r = 1.0f / sqrtf(v + eps);
        /* out = (x-mean)*rstd*w + b */
        if (b) {
#pragma omp simd
            for (size_t c = 0; c < C; c++) o[c] = (x[c] - m) * r * w[c] + b[c];
        } else {
#pragma omp simd
            for (size_t c = 0; c < C; c++) o[c] = (x[c] - m) * r * w[c];
        }
        mean[n] = m;
        rstd[n] = r;
    }
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, size_t N,
                           size_t C) {
#pragma omp parallel for if (N * C >= XF_PAR_MIN)
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        const float *dn = dout + n * C;
        float *dx = dinp + n * C;
        float m = mean[n], r = rstd[n];
        /* forward: out = xhat*w + b  =>  g = dout*w; the two means feed the
         * mean and variance terms below */
        float sg = 0.0f, sgx = 0.0f;
#pragma omp simd reduction(+ : sg, sgx)
        for (size_t c = 0; c < C; c++) {
            float g = dn[c] * w[c];
            sg += g;
            sgx += g * (x[c] - m) * r;
        }
        float mg = sg / (float)C, mgx = sgx / (float)C;
        /* forward: xhat = (x-mean)*rstd with mean, rstd functions of x
         *   =>  dx = rstd*(g - mean(g) - xhat*mean(g*xhat)) */
#pragma omp simd
        for (size_t c = 0; c < C; c++) {
            float xhat = (x[c] - m) * r;
            dx[c] += r * (dn[c] * w[c] - mg - xhat * mgx);
        }
    }

    /* forward: out = xhat*w + b  =>  dw += sum_n dout*xhat, db += sum_n dout */
    size_t nblocks = (C + LN_CBLOCK - 1) / LN_CBLOCK;
#pragma omp parallel for if (N * C >= XF_PAR_MIN)
    for (size_t blk = 0; blk < nblocks; blk++) {
        size_t c0 = blk * LN_CBLOCK;
        size_t c1 = c0 + LN_CBLOCK < C ? c0 + LN_CBLOCK : C;
        for (size_t n = 0; n < N; n++) {
            const float *x = inp + n * C;
            const float *dn = dout + n * C;
            float m = mean[n], r = rstd[n];
#pragma omp simd
            for (size_t c = c0; c < c1; c++) dw[c] += dn[c] * (x[c] - m) * r;
            if (db) {
#pragma omp simd
                for (size_t c = c0; c < c1; c++) db[c] += dn[c];
            }
        }
    }
}
