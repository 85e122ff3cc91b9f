/* RoPE (HF half-split layout): the table against the test vector of docs/algorithms.md §2.2
 * (D = 8, theta = 1e4 gives inv_freq [1, 0.1, 0.01, 0.001]), forward against a
 * double reference with pos0 > 0, backward against central finite differences
 * of the double reference (FD_TOL relative, see fd.h), backward(forward(x)) = x
 * (the transpose of a rotation is its inverse), position 0 is the identity, and
 * pos0 = p gives the same rows as the tail of a pos0 = 0 run. */
#include "kernels/kernels.h"
#include "test.h"
#include "kernels/fd.h"

#define FD_TOL 1e-3
#define FD_EPS 1e-6

enum { RB = 2, RT = 3, RN = RB * RT, RH = 2, RD = 8, RPOS0 = 4, RP = RPOS0 + RT + 2 };

static const double inv_freq_d8[RD / 2] = {1.0, 0.1, 0.01, 0.001};

TEST(test_rope_table_vector) {
    float cs[RP * RD / 2], sn[RP * RD / 2];
    rope_table(cs, sn, RP, RD, 10000.0f);
    for (size_t p = 0; p < RP; p++)
        for (size_t i = 0; i < RD / 2; i++) {
            double a = (double)p * inv_freq_d8[i];
            CHECK_NEAR(cs[p * RD / 2 + i], cos(a), 1e-7);
            CHECK_NEAR(sn[p * RD / 2 + i], sin(a), 1e-7);
        }
    /* the row for position 1 holds the frequencies themselves */
    for (size_t i = 0; i < RD / 2; i++)
        CHECK_NEAR(atan2(sn[RD / 2 + i], cs[RD / 2 + i]), inv_freq_d8[i], 1e-7);
}

typedef struct {
    double *x;       /* [N, nh, D] */
    const double *R; /* [N, nh, D] */
    size_t pos0;
} rope_ctx;

static void rope_ref(double *out, const double *x, size_t pos0) {
    for (size_t n = 0; n < RN; n++)
        for (size_t h = 0; h < RH; h++) {
            const double *xr = x + (n * RH + h) * RD;
            double *o = out + (n * RH + h) * RD;
            for (size_t i = 0; i < RD / 2; i++) {
                double a = (double)(pos0 + n % RT) * inv_freq_d8[i];
                o[i] = xr[i] * cos(a) - xr[i + RD / 2] * sin(a);
                o[i + RD / 2] = xr[i + RD / 2] * cos(a) + xr[i] * sin(a);
            }
        }
}

static double rope_loss(void *vctx) {
    rope_ctx *c = vctx;
    double out[RN * RH * RD];
    rope_ref(out, c->x, c->pos0);
    return fd_dot(out, c->R, RN * RH * RD);
}

TEST(test_rope_forward_backward_fd) {
    enum { NX = RN * RH * RD };
    float cs[RP * RD / 2], sn[RP * RD / 2], x[NX], R[NX], y[NX];
    double x_d[NX], R_d[NX], ref[NX], gx[NX];
    rope_table(cs, sn, RP, RD, 10000.0f);
    fd_seed(80);
    fd_fill(x, x_d, NX, -1, 1);
    fd_fill(R, R_d, NX, -1, 1);

    memcpy(y, x, sizeof x);
    rope_forward(y, cs, sn, RN, RT, RH, RD, RPOS0);
    rope_ref(ref, x_d, RPOS0);
    double ef = fd_rel_err(y, ref, NX);
    CHECK_MSG(ef < 1e-5, "forward rel err %.3g", ef);

    rope_ctx ctx = {x_d, R_d, RPOS0};
    fd_grad(gx, x_d, NX, FD_EPS, rope_loss, &ctx);
    float dx[NX];
    memcpy(dx, R, sizeof R);
    rope_backward(dx, cs, sn, RN, RT, RH, RD, RPOS0);
    double eb = fd_rel_err(dx, gx, NX);
    CHECK_MSG(eb < FD_TOL, "backward rel err %.3g", eb);

    /* backward is the inverse rotation: backward(forward(x)) = x */
    rope_backward(y, cs, sn, RN, RT, RH, RD, RPOS0);
    for (size_t i = 0; i < NX; i++) CHECK_NEAR(y[i], x[i], 1e-6);
}

TEST(test_rope_pos0) {
    enum { T = 6, P0 = 2, NX = T * RH * RD };
    float cs[RP * RD / 2], sn[RP * RD / 2], x[NX], full[NX], tail[NX];
    rope_table(cs, sn, RP, RD, 10000.0f);
    fd_seed(81);
    fd_fill(x, NULL, NX, -1, 1);
    /* position 0 is the identity */
    memcpy(full, x, sizeof x);
    rope_forward(full, cs, sn, 1, 1, RH, RD, 0);
    CHECK(memcmp(full, x, RH * RD * sizeof(float)) == 0);
    /* rows P0.. of a pos0 = 0 run equal a pos0 = P0 run on those rows alone */
    memcpy(full, x, sizeof x);
    rope_forward(full, cs, sn, T, T, RH, RD, 0);
    size_t off = (size_t)P0 * RH * RD;
    memcpy(tail, x + off, (NX - off) * sizeof(float));
    rope_forward(tail, cs, sn, T - P0, T - P0, RH, RD, P0);
    CHECK(memcmp(tail, full + off, (NX - off) * sizeof(float)) == 0);
    /* same for backward */
    memcpy(full, x, sizeof x);
    rope_backward(full, cs, sn, T, T, RH, RD, 0);
    memcpy(tail, x + off, (NX - off) * sizeof(float));
    rope_backward(tail, cs, sn, T - P0, T - P0, RH, RD, P0);
    CHECK(memcmp(tail, full + off, (NX - off) * sizeof(float)) == 0);
}

int main(void) {
    RUN(test_rope_table_vector);
    RUN(test_rope_forward_backward_fd);
    RUN(test_rope_pos0);
    return test_summary();
}
