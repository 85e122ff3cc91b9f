/* LayerNorm: forward (out, cached mean and rstd) against a double reference
 * (biased variance), backward (dinp, dw, db) against central finite
 * differences of the double reference (FD_TOL relative, see fd.h), b = NULL,
 * the += rule, and 1 vs 2 threads bit for bit on a shape large enough for the
 * OpenMP path. */
#include <omp.h>

#include "kernels/kernels.h"
#include "test.h"
#include "kernels/fd.h"

#define FD_TOL 1e-3
#define FD_EPS 1e-6
#define FWD_TOL 1e-5
#define LN_EPS 1e-5f

enum { NN = 4, NC = 9 };

typedef struct {
    double *inp, *w, *b; /* [N,C], [C], [C] or NULL */
    const double *R;     /* [N,C] */
    double eps;
} ln_ctx;

/* out = (x-mean)/sqrt(var+eps)*w + b; mean/rstd outputs may be NULL */
static void ln_ref(double *out, double *mean, double *rstd, const ln_ctx *c) {
    for (size_t n = 0; n < NN; n++) {
        const double *x = c->inp + n * NC;
        double m = 0, v = 0;
        for (size_t i = 0; i < NC; i++) m += x[i];
        m /= NC;
        for (size_t i = 0; i < NC; i++) v += (x[i] - m) * (x[i] - m);
        v /= NC;
        double r = 1.0 / sqrt(v + c->eps);
        for (size_t i = 0; i < NC; i++)
            out[n * NC + i] = (x[i] - m) * r * c->w[i] + (c->b ? c->b[i] : 0.0);
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = r;
    }
}

static double ln_loss(void *vctx) {
    ln_ctx *c = vctx;
    double out[NN * NC];
    ln_ref(out, NULL, NULL, c);
    return fd_dot(out, c->R, NN * NC);
}

static void check_layernorm(int with_bias) {
    float x[NN * NC], w[NC], b[NC], R[NN * NC], out[NN * NC], mean[NN], rstd[NN];
    double x_d[NN * NC], w_d[NC], b_d[NC], R_d[NN * NC], ref[NN * NC], rm[NN], rr[NN];
    fd_seed(20 + (uint64_t)with_bias);
    fd_fill(x, x_d, NN * NC, -0.5, 1.5); /* nonzero mean */
    fd_fill(w, w_d, NC, 0.5, 1.5);
    fd_fill(b, b_d, NC, -1, 1);
    fd_fill(R, R_d, NN * NC, -1, 1);
    ln_ctx ctx = {x_d, w_d, with_bias ? b_d : NULL, R_d, (double)LN_EPS};

    layernorm_forward(out, mean, rstd, x, w, with_bias ? b : NULL, NN, NC, LN_EPS);
    ln_ref(ref, rm, rr, &ctx);
    double e0 = fd_rel_err(out, ref, NN * NC), e1 = fd_rel_err(mean, rm, NN);
    double e2 = fd_rel_err(rstd, rr, NN);
    CHECK_MSG(e0 < FWD_TOL && e1 < FWD_TOL && e2 < FWD_TOL, "forward rel err out %.3g mean %.3g rstd %.3g",
              e0, e1, e2);

    double gx[NN * NC], gw[NC], gb[NC];
    fd_grad(gx, x_d, NN * NC, FD_EPS, ln_loss, &ctx);
    fd_grad(gw, w_d, NC, FD_EPS, ln_loss, &ctx);
    if (with_bias) fd_grad(gb, b_d, NC, FD_EPS, ln_loss, &ctx);

    float dx[NN * NC] = {0}, dw[NC] = {0}, db[NC] = {0};
    layernorm_backward(dx, dw, with_bias ? db : NULL, R, x, w, mean, rstd, NN, NC);
    double ex = fd_rel_err(dx, gx, NN * NC), ew = fd_rel_err(dw, gw, NC);
    CHECK_MSG(ex < FD_TOL, "dinp rel err %.3g", ex);
    CHECK_MSG(ew < FD_TOL, "dw rel err %.3g", ew);
    if (with_bias) {
        double eb = fd_rel_err(db, gb, NC);
        CHECK_MSG(eb < FD_TOL, "db rel err %.3g", eb);
    }

    float ax[NN * NC], aw[NC], ab[NC];
    fd_const(ax, NN * NC, FD_PREFILL);
    fd_const(aw, NC, FD_PREFILL);
    fd_const(ab, NC, FD_PREFILL);
    layernorm_backward(ax, aw, with_bias ? ab : NULL, R, x, w, mean, rstd, NN, NC);
    CHECK(fd_accum_err(ax, dx, NN * NC, FD_PREFILL) < 1e-6);
    CHECK(fd_accum_err(aw, dw, NC, FD_PREFILL) < 1e-6);
    if (with_bias) CHECK(fd_accum_err(ab, db, NC, FD_PREFILL) < 1e-6);
}

TEST(test_layernorm_bias) { check_layernorm(1); }
TEST(test_layernorm_nobias) { check_layernorm(0); }

TEST(test_layernorm_threads) {
    enum { N = 256, C = 96 };
    float *x = fd_alloc(N * C, 4), *w = fd_alloc(C, 4), *b = fd_alloc(C, 4), *dout = fd_alloc(N * C, 4);
    float *out[2], *mean[2], *rstd[2], *dx[2], *dw[2], *db[2];
    fd_seed(22);
    fd_fill(x, NULL, N * C, -2, 2);
    fd_fill(w, NULL, C, 0.5, 1.5);
    fd_fill(b, NULL, C, -1, 1);
    fd_fill(dout, NULL, N * C, -1, 1);
    int saved = omp_get_max_threads();
    for (int r = 0; r < 2; r++) {
        out[r] = fd_alloc(N * C, 4), mean[r] = fd_alloc(N, 4), rstd[r] = fd_alloc(N, 4);
        dx[r] = fd_alloc(N * C, 4), dw[r] = fd_alloc(C, 4), db[r] = fd_alloc(C, 4);
        omp_set_num_threads(r + 1);
        layernorm_forward(out[r], mean[r], rstd[r], x, w, b, N, C, LN_EPS);
        layernorm_backward(dx[r], dw[r], db[r], dout, x, w, mean[r], rstd[r], N, C);
    }
    omp_set_num_threads(saved);
    int same = !memcmp(out[0], out[1], N * C * 4) && !memcmp(dx[0], dx[1], N * C * 4) &&
               !memcmp(dw[0], dw[1], C * 4) && !memcmp(db[0], db[1], C * 4) &&
               !memcmp(rstd[0], rstd[1], N * 4);
    free(x), free(w), free(b), free(dout);
    for (int r = 0; r < 2; r++)
        free(out[r]), free(mean[r]), free(rstd[r]), free(dx[r]), free(dw[r]), free(db[r]);
    CHECK_MSG(same, "1 thread and 2 threads differ");
}

int main(void) {
    RUN(test_layernorm_bias);
    RUN(test_layernorm_nobias);
    RUN(test_layernorm_threads);
    return test_summary();
}
