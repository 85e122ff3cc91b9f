/* Shared helpers for the kernel tests: seeded random fills, central finite
 * differences in double precision, and error measures.
 *
 * The pattern every kernel test follows:
 *   - inputs and parameters are drawn once (fixed seed) into float arrays for
 *     the kernel and double copies for a straightforward double reference;
 *   - the scalar loss is L = sum(out * R) for a random projection R, so
 *     dL/dout = R is what the kernel's backward receives;
 *   - fd_grad() differentiates the double reference loss by central
 *     differences, (L(x+eps) - L(x-eps)) / (2 eps), one element at a time;
 *   - the float gradients are compared with fd_rel_err(), the max over elements
 *     of |got - ref| / max(|ref|, floor), floor = FD_FLOOR * max|ref|, i.e. a
 *     relative error on the entries that matter and an absolute error of
 *     FD_FLOOR * max|ref| on the tiny ones;
 *   - the += rule: the backward runs again into gradients pre-filled with
 *     FD_PREFILL and must return FD_PREFILL + (the first result). */
#ifndef XF_TEST_FD_H
#define XF_TEST_FD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/rng.h"

#define FD_FLOOR 1e-2    /* floor of the relative-error denominator, times max|ref| */
#define FD_PREFILL 0.75f /* value gradients hold before an accumulation check */

static xf_rng fd_rng;

static inline void fd_seed(uint64_t seed) { xf_rng_seed(&fd_rng, seed); }

/* uniform in [lo, hi) */
static inline double fd_uniform(double lo, double hi) {
    return lo + (hi - lo) * xf_rng_double(&fd_rng);
}

/* f[i] = (float)uniform(lo, hi) and d[i] = (double)f[i], so the float kernel and
 * the double reference see the same values. d may be NULL. */
static inline void fd_fill(float *f, double *d, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) {
        f[i] = (float)fd_uniform(lo, hi);
        if (d) d[i] = (double)f[i];
    }
}

static inline void fd_const(float *f, size_t n, float value) {
    for (size_t i = 0; i < n; i++) f[i] = value;
}

/* double loss of the current double state held by ctx */
typedef double (*fd_loss_fn)(void *ctx);

/* g[i] = dL/dx[i] by central differences; x is perturbed in place and restored */
static inline void fd_grad(double *g, double *x, size_t n, double eps, fd_loss_fn loss, void *ctx) {
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + eps;
        double lp = loss(ctx);
        x[i] = x0 - eps;
        double lm = loss(ctx);
        x[i] = x0;
        g[i] = (lp - lm) / (2.0 * eps);
    }
}

/* max_i |got[i] - ref[i]| / max(|ref[i]|, FD_FLOOR * max_j |ref[j]|) */
static inline double fd_rel_err(const float *got, const double *ref, size_t n) {
    double big = 0;
    for (size_t i = 0; i < n; i++) big = fabs(ref[i]) > big ? fabs(ref[i]) : big;
    double floor_ = FD_FLOOR * big > 1e-30 ? FD_FLOOR * big : 1e-30;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double s = fabs(ref[i]) > floor_ ? fabs(ref[i]) : floor_;
        double e = fabs((double)got[i] - ref[i]) / s;
        if (!(e <= worst)) worst = e; /* NaN propagates as the worst */
    }
    return worst;
}

/* max_i |got[i] - (prefill + plain[i])| / max(1, |plain[i]|): 0 up to float
 * rounding when a backward accumulated onto prefill */
static inline double fd_accum_err(const float *got, const float *plain, size_t n, float prefill) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double want = (double)prefill + (double)plain[i];
        double s = fabs((double)plain[i]) > 1.0 ? fabs((double)plain[i]) : 1.0;
        double e = fabs((double)got[i] - want) / s;
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* max_i |got[i] - ref[i]| / max(|ref[i]|, FD_FLOOR * max|ref|) for float vs float */
static inline double fd_rel_err_ff(const float *got, const float *ref, size_t n) {
    double big = 0;
    for (size_t i = 0; i < n; i++) big = fabs(ref[i]) > big ? fabs(ref[i]) : big;
    double floor_ = FD_FLOOR * big > 1e-30 ? FD_FLOOR * big : 1e-30;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double s = fabs((double)ref[i]) > floor_ ? fabs((double)ref[i]) : floor_;
        double e = fabs((double)got[i] - (double)ref[i]) / s;
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

static inline double fd_dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* checked calloc for test buffers (aborts the binary on OOM) */
static inline void *fd_alloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) abort();
    return p;
}

#endif
