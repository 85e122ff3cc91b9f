/* RMSNorm: forward (out, cached rstd) against a double reference, backward
 * (dinp, dw) against central finite differences of the double reference
 * (FD_TOL relative, see fd.h), the += rule, and 1 vs 2 threads bit for bit on
 * a shape large enough for the OpenMP path. */
#include <omp.h>

#include "kernels/kernels.h"
#include "test.h"
#include "kernels/fd.h"

#define FD_TOL 1e-3
#define FD_EPS 1e-6
#define FWD_TOL 1e-5
#define RMS_EPS 1e-6f

enum { NN = 4, NC = 9 };

typedef struct {
    double *inp, *w;  /* [N,C], [C] */
    const double *R;  /* [N,C] */
    double eps;
} rms_ctx;

/* out = x/sqrt(mean(x^2)+eps)*w; rstd may be NULL */
static void rms_ref(double *out, double *rstd, const rms_ctx *c) {
    for (size_t n = 0; n < NN; n++) {
        const double *x = c->inp + n * NC;
        double ss = 0;
        for (size_t i = 0; i < NC; i++) ss += x[i] * x[i];
        double r = 1.0 / sqrt(ss / NC + c->eps);
        for (size_t i = 0; i < NC; i++) out[n * NC + i] = x[i] * r * c->w[i];
        if (rstd) rstd[n] = r;
    }
}

static double rms_loss(void *vctx) {
    rms_ctx *c = vctx;
    double out[NN * NC];
    rms_ref(out, NULL, c);
    return fd_dot(out, c->R, NN * NC);
}

TEST(test_rmsnorm_fd) {
    float x[NN * NC], w[NC], R[NN * NC], out[NN * NC], rstd[NN];
    double x_d[NN * NC], w_d[NC], R_d[NN * NC], ref[NN * NC], rr[NN];
    fd_seed(30);
    fd_fill(x, x_d, NN * NC, -1.5, 1.0);
    fd_fill(w, w_d, NC, 0.5, 1.5);
    fd_fill(R, R_d, NN * NC, -1, 1);
    rms_ctx ctx = {x_d, w_d, R_d, (double)RMS_EPS};

    rmsnorm_forward(out, rstd, x, w, NN, NC, RMS_EPS);
    rms_ref(ref, rr, &ctx);
    double e0 = fd_rel_err(out, ref, NN * NC), e1 = fd_rel_err(rstd, rr, NN);
    CHECK_MSG(e0 < FWD_TOL && e1 < FWD_TOL, "forward rel err out %.3g rstd %.3g", e0, e1);

    double gx[NN * NC], gw[NC];
    fd_grad(gx, x_d, NN * NC, FD_EPS, rms_loss, &ctx);
    fd_grad(gw, w_d, NC, FD_EPS, rms_loss, &ctx);
    float dx[NN * NC] = {0}, dw[NC] = {0};
    rmsnorm_backward(dx, dw, R, x, w, rstd, NN, NC);
    double ex = fd_rel_err(dx, gx, NN * NC), ew = fd_rel_err(dw, gw, NC);
    CHECK_MSG(ex < FD_TOL, "dinp rel err %.3g", ex);
    CHECK_MSG(ew < FD_TOL, "dw rel err %.3g", ew);

    float ax[NN * NC], aw[NC];
    fd_const(ax, NN * NC, FD_PREFILL);
    fd_const(aw, NC, FD_PREFILL);
    rmsnorm_backward(ax, aw, R, x, w, rstd, NN, NC);
    CHECK(fd_accum_err(ax, dx, NN * NC, FD_PREFILL) < 1e-6);
    CHECK(fd_accum_err(aw, dw, NC, FD_PREFILL) < 1e-6);
}

TEST(test_rmsnorm_threads) {
    enum { N = 256, C = 96 };
    float *x = fd_alloc(N * C, 4), *w = fd_alloc(C, 4), *dout = fd_alloc(N * C, 4);
    float *out[2], *rstd[2], *dx[2], *dw[2];
    fd_seed(31);
    fd_fill(x, NULL, N * C, -2, 2);
    fd_fill(w, NULL, C, 0.5, 1.5);
    fd_fill(dout, NULL, N * C, -1, 1);
    int saved = omp_get_max_threads();
    for (int r = 0; r < 2; r++) {
        out[r] = fd_alloc(N * C, 4), rstd[r] = fd_alloc(N, 4);
        dx[r] = fd_alloc(N * C, 4), dw[r] = fd_alloc(C, 4);
        omp_set_num_threads(r + 1);
        rmsnorm_forward(out[r], rstd[r], x, w, N, C, RMS_EPS);
        rmsnorm_backward(dx[r], dw[r], dout, x, w, rstd[r], N, C);
    }
    omp_set_num_threads(saved);
    int same = !memcmp(out[0], out[1], N * C * 4) && !memcmp(dx[0], dx[1], N * C * 4) &&
               !memcmp(dw[0], dw[1], C * 4) && !memcmp(rstd[0], rstd[1], N * 4);
    free(x), free(w), free(dout);
    for (int r = 0; r < 2; r++) free(out[r]), free(rstd[r]), free(dx[r]), free(dw[r]);
    CHECK_MSG(same, "1 thread and 2 threads differ");
}

int main(void) {
    RUN(test_rmsnorm_fd);
    RUN(test_rmsnorm_threads);
    return test_summary();
}
