/* Residual add: forward (exact, including out aliasing a or b), backward
 * against central finite differences of a double reference (FD_TOL relative,
 * see fd.h) and the += rule. */
#include "kernels/kernels.h"
#include "test.h"
#include "kernels/fd.h"

#define FD_TOL 1e-3
#define FD_EPS 1e-6

enum { RN = 37 };

typedef struct {
    double *a, *b;
    const double *R;
} res_ctx;

static double res_loss(void *vctx) {
    res_ctx *c = vctx;
    double L = 0;
    for (size_t i = 0; i < RN; i++) L += (c->a[i] + c->b[i]) * c->R[i];
    return L;
}

TEST(test_residual_forward) {
    float a[RN], b[RN], out[RN], a2[RN];
    fd_seed(70);
    fd_fill(a, NULL, RN, -1, 1);
    fd_fill(b, NULL, RN, -1, 1);
    residual_forward(out, a, b, RN);
    for (size_t i = 0; i < RN; i++) CHECK(out[i] == a[i] + b[i]);
    /* out aliasing a (in-place residual stream) */
    memcpy(a2, a, sizeof a);
    residual_forward(a2, a2, b, RN);
    CHECK(memcmp(a2, out, sizeof out) == 0);
    memcpy(a2, b, sizeof b);
    residual_forward(a2, a, a2, RN);
    CHECK(memcmp(a2, out, sizeof out) == 0);
}

TEST(test_residual_backward_fd) {
    float a[RN], b[RN], R[RN];
    double a_d[RN], b_d[RN], R_d[RN], ga[RN], gb[RN];
    fd_seed(71);
    fd_fill(a, a_d, RN, -1, 1);
    fd_fill(b, b_d, RN, -1, 1);
    fd_fill(R, R_d, RN, -1, 1);
    res_ctx ctx = {a_d, b_d, R_d};
    fd_grad(ga, a_d, RN, FD_EPS, res_loss, &ctx);
    fd_grad(gb, b_d, RN, FD_EPS, res_loss, &ctx);
    float da[RN] = {0}, db[RN] = {0};
    residual_backward(da, db, R, RN);
    double e1 = fd_rel_err(da, ga, RN), e2 = fd_rel_err(db, gb, RN);
    CHECK_MSG(e1 < FD_TOL && e2 < FD_TOL, "rel err da %.3g db %.3g", e1, e2);

    float aa[RN], ab[RN];
    fd_const(aa, RN, FD_PREFILL);
    fd_const(ab, RN, FD_PREFILL);
    residual_backward(aa, ab, R, RN);
    CHECK(fd_accum_err(aa, da, RN, FD_PREFILL) < 1e-6);
    CHECK(fd_accum_err(ab, db, RN, FD_PREFILL) < 1e-6);
}

int main(void) {
    RUN(test_residual_forward);
    RUN(test_residual_backward_fd);
    return test_summary();
}
