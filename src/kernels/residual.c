/* Residual add.
 *
 * Shapes: a, b, out, da, db, dout are n floats. out may alias a or b.
 * Nothing is cached.
 *
 * Maths
 *   out = a + b
 *   da += dout, db += dout        (accumulate; da and db must not alias dout)
 *
 * Threads: split elements. */
#include "core/parallel.h"
#include "kernels/kernels.h"

/* elements below which the loops stay on one thread */
#define RES_PAR_MIN (2 * XF_PAR_MIN)

void residual_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd if (parallel : n >= RES_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void residual_backward(float *da, float *db, const float *dout, size_t n) {
#pragma omp parallel for simd if (parallel : n >= RES_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        /* forward: out = a + b */
        da[i] += dout[i];
        db[i] += dout[i];
    }
}
