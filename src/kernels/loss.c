/* Softmax cross-entropy with an ignore index (docs/algorithms.md §3.4).
 *
 * Shapes
 *   logits [N,V], targets [N] (each XF_IGNORE_INDEX or in [0,V))
 *   loss [N] per-row loss (0 for ignored rows), lse [N] cached for backward
 *
 * Maths, per row z with target y
 *   lse  = m + log(sum_j exp(z_j - m)),  m = max_j z_j   (stable; sum in double;
 *          exp is xf_exp_inplace, vectorised, from act.c)
 *   loss = lse - z_y
 *   dz   = scale * (softmax(z) - onehot(y)),  softmax(z)_j = exp(z_j - lse)
 * The forward returns the number of valid rows; the caller forms the mean.
 * Backward WRITES dlogits (no accumulation) and may run in place on logits:
 * each element is read once before its own slot is written, and the -scale
 * at the target is applied after the row is written. Ignored rows get zeros.
 * lse is computed for every row, ignored ones included.
 *
 * Threads: split rows; the valid count is an integer reduction. */
#include <math.h>

#include "core/parallel.h"
#include "kernels/kernels.h"

/* logits per exp pass in the forward (a stack buffer: the logits are const) */
#define XENT_CHUNK 512

size_t xent_forward(float *loss, float *lse, const float *logits, const int32_t *targets,
                       size_t N, size_t V) {
    size_t valid = 0;
#pragma omp parallel for reduction(+ : valid) if (N * V >= XF_PAR_MIN)
    for (size_t n = 0; n < N; n++) {
        const float *z = logits + n * V;
        /* m = max_j z_j */
        float m = z[0];
#pragma omp simd reduction(max : m)
        for (size_t j = 1; j < V; j++) m = z[j] > m ? z[j] : m;
        /* lse = m + log(sum_j exp(z_j - m)), the exps a chunk at a time */
        float buf[XENT_CHUNK];
        double s = 0.0;
        for (size_t j0 = 0; j0 < V; j0 += XENT_CHUNK) {
            size_t len = V - j0 < XENT_CHUNK ? V - j0 : XENT_CHUNK;
#pragma omp simd
            for (size_t j = 0; j < len; j++) buf[j] = z[j0 + j] - m;
            xf_exp_inplace(buf, len);
#pragma omp simd reduction(+ : s)
            for (size_t j = 0; j < len; j++) s += (double)buf[j];
        }
        float l = (float)((double)m + log(s));
        lse[n] = l;
        /* loss = lse - z_y */
        if (targets[n] == XF_IGNORE_INDEX) {
            loss[n] = 0.0f;
        } else {
            loss[n] = l - z[targets[n]];
            valid++;
        }
    }
    return valid;
}

void xent_backward(float *dlogits, const float *logits, const float *lse,
                      const int32_t *targets, size_t N, size_t V, float scale) {
#pragma omp parallel for if (N * V >= XF_PAR_MIN)
    for (size_t n = 0; n < N; n++) {
        const float *z = logits + n * V;
        float *dz = dlogits + n * V;
        int32_t y = targets[n];
        if (y == XF_IGNORE_INDEX) {
            /* forward: loss = 0 for an ignored row */
            for (size_t j = 0; j < V; j++) dz[j] = 0.0f;
            continue;
        }
        /* forward: loss = lse - z_y  =>  dz = scale*(softmax(z) - onehot(y)),
         * softmax(z)_j = exp(z_j - lse); element j is read before slot j is written */
        float l = lse[n];
#pragma omp simd
        for (size_t j = 0; j < V; j++) dz[j] = z[j] - l;
        xf_exp_inplace(dz, V);
#pragma omp simd
        for (size_t j = 0; j < V; j++) dz[j] *= scale;
        dz[y] -= scale;
    }
}
