/* Activations (gelu, gelu_tanh, relu, silu) and gated units: forward against
 * a double reference, backward against central finite differences of the
 * double reference (FD_TOL relative, see fd.h) for the input and, for the
 * gated unit, both g and u; the += rule; the _write forms (written over NaN,
 * the same values as accumulating into zeros); relu'(0) = 0; extreme inputs
 * (|x| up to 100) stay finite and match the reference; the vectorised
 * xf_exp_inplace against double exp (EXP_ULP_TOL relative over its whole
 * normal range, then +inf above, 0 below, NaN kept); vector body and scalar
 * tail agree (odd lengths). */
#include "kernels/kernels.h"
#include "test.h"
#include "kernels/fd.h"

#define FD_TOL 1e-3
#define FD_EPS 1e-6
#define FWD_TOL 1e-5

enum { AN = 48 };

static const xf_act all_acts[] = {XF_ACT_GELU, XF_ACT_GELU_TANH, XF_ACT_RELU, XF_ACT_SILU};

static double act_ref(double x, xf_act a) {
    switch (a) {
    case XF_ACT_GELU:
        return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case XF_ACT_GELU_TANH:
        return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case XF_ACT_RELU:
        return x > 0 ? x : 0;
    case XF_ACT_SILU:
    default:
        return x / (1.0 + exp(-x));
    }
}

typedef struct {
    double *g, *u; /* u == NULL: plain activation of g */
    const double *R;
    size_t n;
    xf_act act;
} act_ctx;

static double act_loss(void *vctx) {
    act_ctx *c = vctx;
    double L = 0;
    for (size_t i = 0; i < c->n; i++) L += act_ref(c->g[i], c->act) * (c->u ? c->u[i] : 1.0) * c->R[i];
    return L;
}

/* a[i] == b[i] for every i (so NaN never matches; -0 matches +0) */
static int same_values(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(a[i] == b[i])) return 0;
    return 1;
}

/* inputs in [-4, 4] kept 0.05 away from relu's kink */
static void fill_inputs(float *x, double *xd, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double v;
        do v = fd_uniform(-4, 4);
        while (fabs(v) < 0.05);
        x[i] = (float)v;
        xd[i] = (double)x[i];
    }
}

TEST(test_act_fd) {
    for (size_t k = 0; k < sizeof all_acts / sizeof all_acts[0]; k++) {
        xf_act a = all_acts[k];
        float x[AN], R[AN], out[AN];
        double x_d[AN], R_d[AN], ref[AN], gx[AN];
        fd_seed(40 + k);
        fill_inputs(x, x_d, AN);
        fd_fill(R, R_d, AN, -1, 1);
        act_forward(out, x, AN, a);
        for (size_t i = 0; i < AN; i++) ref[i] = act_ref(x_d[i], a);
        double ef = fd_rel_err(out, ref, AN);
        CHECK_MSG(ef < FWD_TOL, "act %d forward rel err %.3g", (int)a, ef);

        act_ctx ctx = {x_d, NULL, R_d, AN, a};
        fd_grad(gx, x_d, AN, FD_EPS, act_loss, &ctx);
        float dx[AN] = {0};
        act_backward(dx, R, x, AN, a);
        double eb = fd_rel_err(dx, gx, AN);
        CHECK_MSG(eb < FD_TOL, "act %d dinp rel err %.3g", (int)a, eb);

        float ax[AN];
        fd_const(ax, AN, FD_PREFILL);
        act_backward(ax, R, x, AN, a);
        CHECK_MSG(fd_accum_err(ax, dx, AN, FD_PREFILL) < 1e-6, "act %d += rule", (int)a);

        /* the _write form: written over NaN, the same values as 0 + dout*act'
         * (relu's dout*0 may be -0 where 0 + -0 is +0, hence ==, not memcmp) */
        fd_const(ax, AN, NAN);
        act_backward_write(ax, R, x, AN, a);
        CHECK_MSG(same_values(ax, dx, AN), "act %d _write differs", (int)a);
    }
}

TEST(test_glu_fd) {
    for (size_t k = 0; k < sizeof all_acts / sizeof all_acts[0]; k++) {
        xf_act a = all_acts[k];
        float g[AN], u[AN], R[AN], out[AN];
        double g_d[AN], u_d[AN], R_d[AN], ref[AN], gg[AN], gu[AN];
        fd_seed(50 + k);
        fill_inputs(g, g_d, AN);
        fd_fill(u, u_d, AN, -2, 2);
        fd_fill(R, R_d, AN, -1, 1);
        glu_forward(out, g, u, AN, a);
        for (size_t i = 0; i < AN; i++) ref[i] = act_ref(g_d[i], a) * u_d[i];
        double ef = fd_rel_err(out, ref, AN);
        CHECK_MSG(ef < FWD_TOL, "glu %d forward rel err %.3g", (int)a, ef);

        act_ctx ctx = {g_d, u_d, R_d, AN, a};
        fd_grad(gg, g_d, AN, FD_EPS, act_loss, &ctx);
        fd_grad(gu, u_d, AN, FD_EPS, act_loss, &ctx);
        float dg[AN] = {0}, du[AN] = {0};
        glu_backward(dg, du, R, g, u, AN, a);
        double e1 = fd_rel_err(dg, gg, AN), e2 = fd_rel_err(du, gu, AN);
        CHECK_MSG(e1 < FD_TOL, "glu %d dg rel err %.3g", (int)a, e1);
        CHECK_MSG(e2 < FD_TOL, "glu %d du rel err %.3g", (int)a, e2);

        float ag[AN], au[AN];
        fd_const(ag, AN, FD_PREFILL);
        fd_const(au, AN, FD_PREFILL);
        glu_backward(ag, au, R, g, u, AN, a);
        CHECK_MSG(fd_accum_err(ag, dg, AN, FD_PREFILL) < 1e-6, "glu %d += rule dg", (int)a);
        CHECK_MSG(fd_accum_err(au, du, AN, FD_PREFILL) < 1e-6, "glu %d += rule du", (int)a);

        fd_const(ag, AN, NAN);
        fd_const(au, AN, NAN);
        glu_backward_write(ag, au, R, g, u, AN, a);
        CHECK_MSG(same_values(ag, dg, AN) && same_values(au, du, AN),
                  "glu %d _write differs", (int)a);
    }
}

TEST(test_act_extremes) {
    float x[] = {-100.0f, -30.0f, -10.0f, 0.0f, 10.0f, 30.0f, 100.0f};
    enum { NX = sizeof x / sizeof x[0] };
    float one[NX];
    fd_const(one, NX, 1.0f);
    for (size_t k = 0; k < sizeof all_acts / sizeof all_acts[0]; k++) {
        xf_act a = all_acts[k];
        float out[NX], dx[NX] = {0};
        act_forward(out, x, NX, a);
        act_backward(dx, one, x, NX, a);
        for (size_t i = 0; i < NX; i++) {
            double ref = act_ref(x[i], a);
            CHECK_MSG(isfinite(out[i]) && isfinite(dx[i]), "act %d x=%g not finite", (int)a, x[i]);
            CHECK_MSG(fabs(out[i] - ref) <= 1e-6 * (1.0 + fabs(ref)), "act %d x=%g: %g vs %g", (int)a,
                      x[i], out[i], ref);
        }
        /* far tails: slope 0 on the left, 1 on the right */
        CHECK_NEAR(dx[0], 0.0, 1e-6);
        CHECK_NEAR(dx[NX - 1], 1.0, 1e-6);
    }
    /* relu'(0) = 0 by convention */
    float z = 0.0f, dz = 0.0f;
    act_backward(&dz, one, &z, 1, XF_ACT_RELU);
    CHECK(dz == 0.0f);
}

/* large enough for the OpenMP path: same values as the serial loop */
TEST(test_act_parallel) {
    enum { N = 40000 };
    float *x = fd_alloc(N, 4), *out = fd_alloc(N, 4), *dx = fd_alloc(N, 4), *one = fd_alloc(N, 4);
    fd_seed(60);
    fd_fill(x, NULL, N, -5, 5);
    fd_const(one, N, 1.0f);
    act_forward(out, x, N, XF_ACT_GELU_TANH);
    act_backward(dx, one, x, N, XF_ACT_GELU_TANH);
    int ok = 1;
    for (size_t i = 0; i < N; i += 97) {
        float o1, d1 = 0.0f;
        act_forward(&o1, x + i, 1, XF_ACT_GELU_TANH);
        act_backward(&d1, one, x + i, 1, XF_ACT_GELU_TANH);
        ok &= o1 == out[i] && d1 == dx[i];
    }
    free(x), free(out), free(dx), free(one);
    CHECK(ok);
}

#define EXP_ULP_TOL 3e-7 /* relative; 2.5 ulp of fp32 */

TEST(test_exp_inplace) {
    enum { NE = 200001 }; /* odd: exercises the scalar tail of the simd loop */
    float *x = fd_alloc(NE, 4), *y = fd_alloc(NE, 4);
    for (size_t i = 0; i < NE; i++) x[i] = (float)(-87.3 + (88.3 + 87.3) * (double)i / (NE - 1));
    memcpy(y, x, NE * 4);
    xf_exp_inplace(y, NE);
    double worst = 0;
    for (size_t i = 0; i < NE; i++) {
        double ref = exp((double)x[i]);
        double e = fabs(y[i] - ref) / ref;
        if (!(e <= worst)) worst = e;
    }
    /* the same value whether it lands in the vector body or the tail */
    int same = 1;
    for (size_t i = 0; i < NE; i += 1001) {
        float one = x[i];
        xf_exp_inplace(&one, 1);
        same &= one == y[i];
    }
    free(x), free(y);
    CHECK_MSG(worst < EXP_ULP_TOL, "exp max rel err %.3g", worst);
    CHECK(same);
    float e[7] = {0.0f, 1.0f, 89.0f, INFINITY, -88.0f, -INFINITY, NAN};
    xf_exp_inplace(e, 7);
    CHECK(e[0] == 1.0f);
    CHECK_NEAR(e[1], M_E, 3e-7);
    CHECK(isinf(e[2]) && e[2] > 0 && isinf(e[3]) && e[3] > 0);
    CHECK(e[4] == 0.0f && e[5] == 0.0f);
    CHECK(isnan(e[6]));
}

int main(void) {
    RUN(test_exp_inplace);
    RUN(test_act_fd);
    RUN(test_glu_fd);
    RUN(test_act_extremes);
    RUN(test_act_parallel);
    return test_summary();
}
