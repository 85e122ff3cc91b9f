/* Pointwise activations, gated units, and the vectorised exp shared by the
 * softmax kernels (docs/algorithms.md §3).
 *
 * Shapes: every array is n floats; g, u, out of a gated unit share a shape.
 * Nothing is cached: backward recomputes act(x) from the input.
 *
 * Maths (derivatives exact; exp and erfc to a few ulp, see below)
 *   gelu       y = x*Phi(x),  Phi = 0.5*(1 + erf(x/sqrt2)) = 0.5*erfc(-x/sqrt2)
 *              y' = Phi + x*exp(-x^2/2)/sqrt(2*pi)
 *   gelu_tanh  u = k*(x + c*x^3), k = sqrt(2/pi), c = 0.044715
 *              y = 0.5*x*(1 + tanh u) = x*s  with s = sigmoid(2u)
 *              (identity 0.5*(1 + tanh u) = sigmoid(2u); no cancellation for x << 0)
 *              y' = s + 2*x*s*(1-s)*k*(1 + 3*c*x^2)
 *   relu       y = max(x, 0), y' = (x > 0)     (y'(0) = 0)
 *   silu       s = sigmoid(x) = 1/(1 + exp(-x)), y = x*s, y' = s*(1 + x*(1 - s))
 *   glu        out = act(g)*u,  dg += dout*u*act'(g),  du += dout*act(g)
 * Backward accumulates (+=); the _write variants write (=) instead, which
 * spares the caller zeroing the gradient first.
 *
 * exp: libm's expf is a scalar call, so a loop over it cannot use SIMD. vexpf
 * below (Cephes expf: Cody-Waite reduction x = n*ln2 + r, a degree-7 polynomial
 * for exp(r), 2^n built in the exponent bits) inlines into `omp simd` loops.
 * Max relative error about 2 ulp; x > 88.376 gives +inf, x < -87.336 gives 0
 * (no denormal results), NaN stays NaN. Phi for the exact gelu is likewise a
 * vectorisable erfc (vphi_cdf below): absolute error <= 2e-7 against double
 * erfc, against 6e-8 for libm's 1 + erff(x/sqrt2), and unlike that form it stays
 * accurate relative to Phi in the left tail.
 *
 * Threads: elements are split in chunks of ACT_CHUNK; each chunk runs one
 * vectorised loop chosen by the activation. */
#include <math.h>
#include <stdint.h>

#include "kernels/kernels.h"

#define ACT_SQRT_2_OVER_PI 0.7978845608028654f /* k = sqrt(2/pi) */
#define ACT_INV_SQRT_2 0.7071067811865476f     /* 1/sqrt(2) */
#define ACT_INV_SQRT_2PI 0.3989422804014327f   /* 1/sqrt(2*pi) */
#define ACT_GELU_C 0.044715f

/* elements per parallel task; arrays below two chunks stay on one thread */
#define ACT_CHUNK 8192

/* exp(x), Cephes expf, written to vectorise */
static inline float vexpf(float x) {
    const float hi = 88.3762626647949f, lo = -87.3365447505531f;
    const float magic = 12582912.0f; /* 1.5*2^23: adding it rounds to an integer */
    float xc = x > hi ? hi : x;
    xc = xc < lo ? lo : xc; /* NaN passes both clamps */
    /* n = round(x/ln2), r = x - n*ln2 (ln2 split in two for exactness) */
    union {
        float f;
        uint32_t u;
    } t, scale;
    t.f = xc * 1.44269504088896341f + magic;
    float n = t.f - magic;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    /* exp(r) = 1 + r + r^2*P(r) on |r| <= ln2/2 */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float er = p * r * r + r + 1.0f;
    /* 2^n from the exponent bits: the low mantissa bits of t hold n */
    scale.u = (t.u - 0x4B400000u + 127u) << 23;
    float y = er * scale.f;
    y = x > hi ? INFINITY : y;
    return x < lo ? 0.0f : y;
}

XF_SIMD_CLONES void xf_exp_inplace(float *x, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) x[i] = vexpf(x[i]);
}

/* sigmoid(z) = 1/(1 + exp(-z)); exp overflow gives 1/inf = 0 */
static inline float vsigmoid(float z) { return 1.0f / (1.0f + vexpf(-z)); }

/* ---- per-activation value and derivative ---- */

/* Phi(x) = 0.5*erfc(-x/sqrt2), erfc by Numerical Recipes' erfcc (Chebyshev
 * fit, fractional error < 1.2e-7): erfc(z) = t*exp(-z^2 + P(t)), t = 1/(1+|z|/2),
 * reflected as 2 - erfc(|z|) for z < 0. Unlike 1 + erff(x/sqrt2), it keeps its
 * relative accuracy in the left tail. */
static inline float vphi_cdf(float x) {
    float z = -x * ACT_INV_SQRT_2;
    float az = fabsf(z);
    float t = 1.0f / (1.0f + 0.5f * az);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float ec = t * vexpf(-az * az + p);
    return 0.5f * (z >= 0.0f ? ec : 2.0f - ec);
}

static inline float gelu_value(float x) { return x * vphi_cdf(x); }

/* returns y'; *y = y */
static inline float gelu_grad(float x, float *y) {
    float phi_cdf = vphi_cdf(x);
    *y = x * phi_cdf;
    return phi_cdf + x * ACT_INV_SQRT_2PI * vexpf(-0.5f * x * x);
}

static inline float gelu_tanh_value(float x) {
    float u = ACT_SQRT_2_OVER_PI * (x + ACT_GELU_C * x * x * x);
    return x * vsigmoid(2.0f * u);
}

static inline float gelu_tanh_grad(float x, float *y) {
    float u = ACT_SQRT_2_OVER_PI * (x + ACT_GELU_C * x * x * x);
    float s = vsigmoid(2.0f * u);
    *y = x * s;
    return s + 2.0f * x * s * (1.0f - s) * ACT_SQRT_2_OVER_PI * (1.0f + 3.0f * ACT_GELU_C * x * x);
}

static inline float relu_value(float x) { return x > 0.0f ? x : 0.0f; }

static inline float relu_grad(float x, float *y) {
    *y = x > 0.0f ? x : 0.0f;
    return x > 0.0f ? 1.0f : 0.0f;
}

static inline float silu_value(float x) { return x * vsigmoid(x); }

static inline float silu_grad(float x, float *y) {
    float s = vsigmoid(x);
    *y = x * s;
    return s * (1.0f + x * (1.0f - s));
}

/* ---- kernels ---- */

/* Each kernel is a range function (the elements [i0, i1), one vectorised loop
 * chosen by the activation, compiled per SIMD width by XF_SIMD_CLONES) run over
 * chunks of ACT_CHUNK, in parallel when there are two or more. STEP(name) is
 * the element step, name the activation's prefix (gelu, gelu_tanh, relu, silu;
 * silu also for any other value), so STEP calls name##_value or name##_grad:
 * no branch or call per element. */
#define ACT_RANGE(fn, PARAMS, STEP)                                                 \
    static XF_SIMD_CLONES void fn PARAMS {                                          \
        switch (act) {                                                              \
        case XF_ACT_GELU:                                                           \
            _Pragma("omp simd") for (size_t i = i0; i < i1; i++) STEP(gelu);        \
            break;                                                                  \
        case XF_ACT_GELU_TANH:                                                      \
            _Pragma("omp simd") for (size_t i = i0; i < i1; i++) STEP(gelu_tanh);   \
            break;                                                                  \
        case XF_ACT_RELU:                                                           \
            _Pragma("omp simd") for (size_t i = i0; i < i1; i++) STEP(relu);        \
            break;                                                                  \
        case XF_ACT_SILU:                                                           \
        default:                                                                    \
            _Pragma("omp simd") for (size_t i = i0; i < i1; i++) STEP(silu);        \
            break;                                                                  \
        }                                                                           \
    }

/* CALL (a range function's call on i0_, i1_) over [0, n) in chunks */
#define ACT_CHUNKS(n, CALL)                                                         \
    do {                                                                            \
        size_t nchunks_ = ((n) + ACT_CHUNK - 1) / ACT_CHUNK;                        \
        _Pragma("omp parallel for if (nchunks_ > 1)")                               \
        for (size_t c_ = 0; c_ < nchunks_; c_++) {                                  \
            size_t i0_ = c_ * ACT_CHUNK;                                            \
            size_t i1_ = i0_ + ACT_CHUNK < (n) ? i0_ + ACT_CHUNK : (n);             \
            CALL;                                                                   \
        }                                                                           \
    } while (0)

/* out = act(inp) */
#define ACT_FORWARD_STEP(name) out[i] = name##_value(inp[i])
ACT_RANGE(act_forward_range,
          (float *out, const float *inp, size_t i0, size_t i1, xf_act act),
          ACT_FORWARD_STEP)

void act_forward(float *out, const float *inp, size_t n, xf_act act) {
    ACT_CHUNKS(n, act_forward_range(out, inp, i0_, i1_, act));
}

/* forward: out = act(inp)  =>  dinp += dout*act'(inp) */
#define ACT_BACKWARD_STEP(name)                        \
    do {                                               \
        float y_;                                      \
        dinp[i] += dout[i] * name##_grad(inp[i], &y_); \
    } while (0)
ACT_RANGE(act_backward_range,
          (float *dinp, const float *dout, const float *inp, size_t i0,
           size_t i1, xf_act act),
          ACT_BACKWARD_STEP)

void act_backward(float *dinp, const float *dout, const float *inp, size_t n, xf_act act) {
    ACT_CHUNKS(n, act_backward_range(dinp, dout, inp, i0_, i1_, act));
}

/* forward: out = act(inp)  =>  dinp = dout*act'(inp), written */
#define ACT_BACKWARD_WRITE_STEP(name)                 \
    do {                                              \
        float y_;                                     \
        dinp[i] = dout[i] * name##_grad(inp[i], &y_); \
    } while (0)
ACT_RANGE(act_backward_write_range,
          (float *dinp, const float *dout, const float *inp, size_t i0, size_t i1, xf_act act),
          ACT_BACKWARD_WRITE_STEP)

void act_backward_write(float *dinp, const float *dout, const float *inp, size_t n,
                           xf_act act) {
    ACT_CHUNKS(n, act_backward_write_range(dinp, dout, inp, i0_, i1_, act));
}

/* out = act(g)*u */
#define GLU_FORWARD_STEP(name) out[i] = name##_value(g[i]) * u[i]
ACT_RANGE(glu_forward_range,
          (float *out, const float *g, const float *u, size_t i0,
           size_t i1, xf_act act),
          GLU_FORWARD_STEP)

void glu_forward(float *out, const float *g, const float *u, size_t n, xf_act act) {
    ACT_CHUNKS(n, glu_forward_range(out, g, u, i0_, i1_, act));
}

/* forward: out = act(g)*u  =>  du += dout*act(g), dg += dout*u*act'(g) */
#define GLU_BACKWARD_STEP(name)             \
    do {                                    \
        float a_;                           \
        float da_ = name##_grad(g[i], &a_); \
        du[i] += dout[i] * a_;              \
        dg[i] += dout[i] * u[i] * da_;      \
    } while (0)
ACT_RANGE(glu_backward_range,
          (float *dg, float *du, const float *dout,
           const float *g, const float *u, size_t i0, size_t i1, xf_act act),
          GLU_BACKWARD_STEP)

void glu_backward(float *dg, float *du, const float *dout, const float *g, const float *u,
                     size_t n, xf_act act) {
    ACT_CHUNKS(n, glu_backward_range(dg, du, dout, g, u, i0_, i1_, act));
}

/* forward: out = act(g)*u  =>  du = dout*act(g), dg = dout*u*act'(g), written */
#define GLU_BACKWARD_WRITE_STEP(name)       \
    do {                                    \
        float a_;                           \
        float da_ = name##_grad(g[i], &a_); \
        du[i] = dout[i] * a_;               \
        dg[i] = dout[i] * u[i] * da_;       \
    } while (0)
ACT_RANGE(glu_backward_write_range,
          (float *dg, float *du, const float *dout, const float *g, const float *u, size_t i0,
           size_t i1, xf_act act),
          GLU_BACKWARD_WRITE_STEP)

void glu_backward_write(float *dg, float *du, const float *dout, const float *g,
                           const float *u, size_t n, xf_act act) {
    ACT_CHUNKS(n, glu_backward_write_range(dg, du, dout, g, u, i0_, i1_, act));
}
