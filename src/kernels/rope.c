/* Rotary position embedding, HF half-split layout (docs/algorithms.md §2.2).
 *
 * Shapes
 *   cos_t, sin_t [P, D/2]: row p holds cos/sin(p * inv_freq[i]),
 *                inv_freq[i] = theta^(-2i/D), i < D/2 (D even)
 *   x [N, nh, D] with n = b*T + t at position pos0 + t (pos0 + T <= P)
 * Nothing is cached: the tables are the only state.
 *
 * Maths, per head and pair (x[i], x[i+D/2]) with angle a = pos*inv_freq[i]:
 *   out[i]     = x[i]*cos a - x[i+D/2]*sin a
 *   out[i+D/2] = x[i+D/2]*cos a + x[i]*sin a
 * i.e. out = R(a) x with R a 2x2 rotation. Its Jacobian is R(a), so
 * dx = R(a)^T dout = R(-a) dout: backward rotates by the negative angle.
 * Backward TRANSFORMS dx in place (it does not accumulate; see kernels.h).
 *
 * Threads: split rows n. */
#include <math.h>

#include "core/parallel.h"
#include "kernels/kernels.h"

void rope_table(float *cos_t, float *sin_t, size_t P, size_t D, float theta) {
    size_t half = D / 2;
    for (size_t i = 0; i < half; i++) {
        /* inv_freq[i] = theta^(-2i/D), in double */
        double inv_freq = pow((double)theta, -2.0 * (double)i / (double)D);
        for (size_t p = 0; p < P; p++) {
            double a = (double)p * inv_freq;
            cos_t[p * half + i] = (float)cos(a);
            sin_t[p * half + i] = (float)sin(a);
        }
    }
}

/* x <- R(sgn*a) x in place for every row n and head h, per pair
 * (x0, x1) = (x[i], x[i+D/2]) with s = sgn*sin a:
 *   x0' = x0*cos a - x1*s,  x1' = x1*cos a + x0*s
 * sgn = +1 is the forward rotation, sgn = -1 its transpose R(-a) = R(a)^T. */
static inline void rope_rotate(float *x, const float *cos_t, const float *sin_t, size_t N,
                               size_t T, size_t nh, size_t D, size_t pos0, float sgn) {
    size_t half = D / 2;
#pragma omp parallel for if (N * nh * D >= XF_PAR_MIN)
    for (size_t n = 0; n < N; n++) {
        size_t pos = pos0 + n % T;
        const float *cs = cos_t + pos * half;
        const float *sn = sin_t + pos * half;
        for (size_t h = 0; h < nh; h++) {
            float *x0 = x + (n * nh + h) * D;
            float *x1 = x0 + half;
#pragma omp simd
            for (size_t i = 0; i < half; i++) {
                float a = x0[i], b = x1[i], s = sgn * sn[i];
                x0[i] = a * cs[i] - b * s;
                x1[i] = b * cs[i] + a * s;
            }
        }
    }
}

void rope_forward(float *x, const float *cos_t, const float *sin_t, size_t N, size_t T,
                     size_t nh, size_t D, size_t pos0) {
    rope_rotate(x, cos_t, sin_t, N, T, nh, D, pos0, 1.0f);
}

/* forward: out[i] = x[i]*cos - x[i+D/2]*sin, out[i+D/2] = x[i+D/2]*cos + x[i]*sin
 * => dx[i] = dout[i]*cos + dout[i+D/2]*sin, dx[i+D/2] = dout[i+D/2]*cos - dout[i]*sin,
 * the same rotation with sin negated */
void rope_backward(float *dx, const float *cos_t, const float *sin_t, size_t N, size_t T,
                      size_t nh, size_t D, size_t pos0) {
    rope_rotate(dx, cos_t, sin_t, N, T, nh, D, pos0, -1.0f);
}
