/* Pointwise activations and gated units (algorithms.md §3).
 *
 * Shapes: every array is n floats; g, u, out of a gated unit share a shape.
 * Nothing is cached: backward recomputes act(x) from the input.
 *
 * Maths (derivatives exact, no approximation beyond libm's)
 *   gelu       y = x*Phi(x),  Phi = 0.5*(1 + erf(x/sqrt2))
 *              y' = Phi + x*exp(-x^2/2)/sqrt(2*pi)
 *   gelu_tanh  u = k*(x + 0.044715*x^3), k = sqrt(2/pi), y = 0.5*x*(1 + tanh u)
 *              y' = 0.5*(1 + tanh u) + 0.5*x*(1 - tanh^2 u)*k*(1 + 3*0.044715*x^2)
 *   relu       y = max(x, 0), y' = (x > 0)
 *   silu       s = 1/(1 + exp(-x)), y = x*s, y' = s*(1 + x*(1 - s))
 *   glu        out = act(g)*u,  dg += dout*u*act'(g),  du += dout*act(g)
 * Backward accumulates (+=).
 *
 * Threads: split elements; each element is independent. */
#include <math.h>

#include "kernels/kernels.h"

#define ACT_SQRT_2_OVER_PI 0.7978845608028654f  /* k = sqrt(2/pi) */
#define ACT_INV_SQRT_2 0.7071067811865476f      /* 1/sqrt(2) */
#define ACT_INV_SQRT_2PI 0.3989422804014327f    /* 1/sqrt(2*pi) */
#define ACT_GELU_C 0.044715f

/* elements below which the loops stay on one thread */
#define ACT_PAR_MIN 16384

/* y = act(x) */
static inline float act_value(float x, xf_act act) {
    switch (act) {
    case XF_ACT_GELU:
        return 0.5f * x * (1.0f + erff(x * ACT_INV_SQRT_2));
    case XF_ACT_GELU_TANH: {
        float u = ACT_SQRT_2_OVER_PI * (x + ACT_GELU_C * x * x * x);
        return 0.5f * x * (1.0f + tanhf(u));
    }
    case XF_ACT_RELU:
        return x > 0.0f ? x : 0.0f;
    case XF_ACT_SILU:
    default:
        return x / (1.0f + expf(-x));
    }
}

/* returns act'(x); *y = act(x) */
static inline float act_deriv(float x, xf_act act, float *y) {
    switch (act) {
    case XF_ACT_GELU: {
        float phi_cdf = 0.5f * (1.0f + erff(x * ACT_INV_SQRT_2));
        *y = x * phi_cdf;
        return phi_cdf + x * ACT_INV_SQRT_2PI * expf(-0.5f * x * x);
    }
    case XF_ACT_GELU_TANH: {
        float u = ACT_SQRT_2_OVER_PI * (x + ACT_GELU_C * x * x * x);
        float t = tanhf(u);
        *y = 0.5f * x * (1.0f + t);
        return 0.5f * (1.0f + t) +
               0.5f * x * (1.0f - t * t) * ACT_SQRT_2_OVER_PI * (1.0f + 3.0f * ACT_GELU_C * x * x);
    }
    case XF_ACT_RELU:
        *y = x > 0.0f ? x : 0.0f;
        return x > 0.0f ? 1.0f : 0.0f;
    case XF_ACT_SILU:
    default: {
        float s = 1.0f / (1.0f + expf(-x));
        *y = x * s;
        return s * (1.0f + x * (1.0f - s));
    }
    }
}

void xf_act_forward(float *out, const float *inp, size_t n, xf_act act) {
#pragma omp parallel for if (n >= ACT_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = act_value(inp[i], act);
}

void xf_act_backward(float *dinp, const float *dout, const float *inp, size_t n, xf_act act) {
#pragma omp parallel for if (n >= ACT_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float y;
        /* forward: out = act(inp)  =>  dinp += dout*act'(inp) */
        dinp[i] += dout[i] * act_deriv(inp[i], act, &y);
    }
}

void xf_glu_forward(float *out, const float *g, const float *u, size_t n, xf_act act) {
#pragma omp parallel for if (n >= ACT_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = act_value(g[i], act) * u[i];
}

void xf_glu_backward(float *dg, float *du, const float *dout, const float *g, const float *u,
                     size_t n, xf_act act) {
#pragma omp parallel for if (n >= ACT_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float a;
        float da = act_deriv(g[i], act, &a);
        /* forward: out = act(g)*u  =>  du += dout*act(g), dg += dout*u*act'(g) */
        du[i] += dout[i] * a;
        dg[i] += dout[i] * u[i] * da;
    }
}
