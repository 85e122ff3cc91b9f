/* Cross-entropy: forward (per-row loss, lse, valid count) against a double
 * reference with ignored rows, backward against central finite differences
 * of the double mean loss (FD_TOL relative, see fd.h), the WRITE rule
 * (pre-filled dlogits are overwritten, ignored rows zeroed), in-place use
 * (dlogits == logits), stability with logits near +-1e4, and, on a vocabulary
 * spanning several exp chunks, lse/loss against the reference and 1 vs 2
 * threads bit for bit. */
#include <omp.h>

#include "kernels/kernels.h"
#include "test.h"
#include "kernels/fd.h"

#define FD_TOL 1e-3
#define FD_EPS 1e-6

enum { XN = 6, XV = 11 };

static double lse_ref(const double *z, size_t V) {
    double m = z[0], s = 0;
    for (size_t j = 1; j < V; j++) m = z[j] > m ? z[j] : m;
    for (size_t j = 0; j < V; j++) s += exp(z[j] - m);
    return m + log(s);
}

typedef struct {
    double *z;
    const int32_t *y;
    double scale;
} xent_ctx;

/* L = scale * sum over valid rows of (lse - z_y) */
static double xent_loss(void *vctx) {
    xent_ctx *c = vctx;
    double L = 0;
    for (size_t n = 0; n < XN; n++)
        if (c->y[n] != XF_IGNORE_INDEX) L += lse_ref(c->z + n * XV, XV) - c->z[n * XV + (size_t)c->y[n]];
    return c->scale * L;
}

TEST(test_xent_fd) {
    int32_t y[XN] = {3, XF_IGNORE_INDEX, 0, 10, XF_IGNORE_INDEX, 7};
    float z[XN * XV], loss[XN], lse[XN];
    double z_d[XN * XV];
    fd_seed(90);
    fd_fill(z, z_d, XN * XV, -3, 3);
    /* one row shifted by +100: the stable lse must not care */
    for (size_t j = 0; j < XV; j++) z[5 * XV + j] += 100.0f, z_d[5 * XV + j] = z[5 * XV + j];

    size_t valid = xent_forward(loss, lse, z, y, XN, XV);
    CHECK(valid == 4);
    for (size_t n = 0; n < XN; n++) {
        double l = lse_ref(z_d + n * XV, XV);
        CHECK_NEAR(lse[n], l, 1e-5 * (1 + fabs(l)));
        double want = y[n] == XF_IGNORE_INDEX ? 0.0 : l - z_d[n * XV + (size_t)y[n]];
        CHECK_NEAR(loss[n], want, 2e-5 * (1 + fabs(l)));
        if (y[n] == XF_IGNORE_INDEX) CHECK(loss[n] == 0.0f);
    }

    float scale = 1.0f / (float)valid;
    xent_ctx ctx = {z_d, y, (double)scale};
    double gz[XN * XV];
    fd_grad(gz, z_d, XN * XV, FD_EPS, xent_loss, &ctx);
    float dz[XN * XV];
    fd_const(dz, XN * XV, FD_PREFILL); /* WRITES: the prefill must vanish */
    xent_backward(dz, z, lse, y, XN, XV, scale);
    double e = fd_rel_err(dz, gz, XN * XV);
    CHECK_MSG(e < FD_TOL, "dlogits rel err %.3g", e);
    for (size_t j = 0; j < XV; j++) CHECK(dz[1 * XV + j] == 0.0f && dz[4 * XV + j] == 0.0f);

    /* in place: dlogits aliases logits */
    float zz[XN * XV];
    memcpy(zz, z, sizeof z);
    xent_backward(zz, zz, lse, y, XN, XV, scale);
    CHECK(memcmp(zz, dz, sizeof dz) == 0);
}

TEST(test_xent_extreme) {
    enum { V = 5 };
    float z[2 * V] = {1e4f, -1e4f, 0.0f, 1e4f - 1.0f, 5.0f, -1e4f, -1e4f + 2.0f, -1e4f, -1e4f, -1e4f};
    int32_t y[2] = {1, 1};
    double z_d[2 * V];
    for (size_t i = 0; i < 2 * V; i++) z_d[i] = z[i];
    float loss[2], lse[2], dz[2 * V];
    CHECK(xent_forward(loss, lse, z, y, 2, V) == 2);
    for (size_t n = 0; n < 2; n++) {
        double l = lse_ref(z_d + n * V, V);
        CHECK(isfinite(loss[n]) && isfinite(lse[n]));
        CHECK_NEAR(lse[n], l, 1e-3);
        CHECK_NEAR(loss[n], l - z_d[n * V + 1], 1e-3);
    }
    xent_backward(dz, z, lse, y, 2, V, 1.0f);
    for (size_t i = 0; i < 2 * V; i++) CHECK(isfinite(dz[i]));
    /* each row of the gradient sums to 0 (softmax sums to 1), up to the fp32
     * spacing of lse near 1e4 (~1e-3), which exp(z - lse) inherits */
    for (size_t n = 0; n < 2; n++) {
        double s = 0;
        for (size_t j = 0; j < V; j++) s += dz[n * V + j];
        CHECK_NEAR(s, 0.0, 1e-3);
    }
}

/* V spans several of the forward's exp chunks (512); N*V takes the OpenMP
 * path. lse and loss against the double reference, 1 vs 2 threads bit for bit. */
TEST(test_xent_threads) {
    enum { N = 20, V = 1100 };
    float *z = fd_alloc(N * V, 4), *loss[2], *lse[2], *dz[2];
    int32_t y[N];
    fd_seed(91);
    fd_fill(z, NULL, N * V, -4, 4);
    for (size_t n = 0; n < N; n++) y[n] = n % 5 == 0 ? XF_IGNORE_INDEX : (int32_t)(n * 37 % V);
    size_t valid[2];
    int saved = omp_get_max_threads();
    for (int r = 0; r < 2; r++) {
        loss[r] = fd_alloc(N, 4), lse[r] = fd_alloc(N, 4), dz[r] = fd_alloc(N * V, 4);
        omp_set_num_threads(r + 1);
        valid[r] = xent_forward(loss[r], lse[r], z, y, N, V);
        xent_backward(dz[r], z, lse[r], y, N, V, 1.0f / (float)valid[r]);
    }
    omp_set_num_threads(saved);
    int same = valid[0] == valid[1] && !memcmp(loss[0], loss[1], N * 4) &&
               !memcmp(lse[0], lse[1], N * 4) && !memcmp(dz[0], dz[1], N * V * 4);
    double worst = 0;
    double *zd = fd_alloc(V, 8);
    for (size_t n = 0; n < N; n++) {
        for (size_t j = 0; j < V; j++) zd[j] = z[n * V + j];
        double l = lse_ref(zd, V);
        double want = y[n] == XF_IGNORE_INDEX ? 0.0 : l - zd[y[n]];
        worst = fmax(worst, fmax(fabs(lse[0][n] - l), fabs(loss[0][n] - want)) / (1 + fabs(l)));
    }
    size_t v0 = valid[0];
    free(z), free(zd);
    for (int r = 0; r < 2; r++) free(loss[r]), free(lse[r]), free(dz[r]);
    CHECK(v0 == N - (N + 4) / 5);
    CHECK_MSG(worst < 1e-6, "lse/loss err %.3g", worst);
    CHECK_MSG(same, "1 thread and 2 threads differ");
}

int main(void) {
    RUN(test_xent_fd);
    RUN(test_xent_extreme);
    RUN(test_xent_threads);
    return test_summary();
}
