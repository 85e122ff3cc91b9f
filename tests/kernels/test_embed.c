/* Token and learned position embeddings: forward against a double reference,
 * backward against central finite differences (tolerance FD_TOL relative, see
 * fd.h), the += rule, repeated tokens, and pos0 > 0. */
#include <string.h>

#include "kernels/kernels.h"
#include "test.h"
#include "kernels/fd.h"

#define FD_TOL 1e-3
#define FD_EPS 1e-6

enum { EB = 2, ET = 5, EN = EB * ET, EC = 7, EV = 6, EP = 9, EPOS0 = 3 };

typedef struct {
    const int32_t *tokens;
    double *wte, *wpe; /* [V,C], [P,C] */
    const double *R;   /* [N,C] */
    size_t pos0;
} emb_ctx;

/* L = sum_n,c (wte[tok[n],c] + wpe[pos0+t,c]) * R[n,c] in double */
static double emb_loss(void *vctx) {
    emb_ctx *c = vctx;
    double L = 0;
    for (size_t n = 0; n < EN; n++) {
        size_t t = n % ET;
        for (size_t ch = 0; ch < EC; ch++) {
            double o = c->wte[(size_t)c->tokens[n] * EC + ch] + c->wpe[(c->pos0 + t) * EC + ch];
            L += o * c->R[n * EC + ch];
        }
    }
    return L;
}

TEST(test_embed_forward) {
    int32_t tokens[EN] = {0, 3, 3, 5, 1, 2, 0, 5, 5, 4};
    float wte[EV * EC], wpe[EP * EC], out[EN * EC];
    fd_seed(1);
    fd_fill(wte, NULL, EV * EC, -1, 1);
    fd_fill(wpe, NULL, EP * EC, -1, 1);
    embedding_forward(out, tokens, wte, EN, EC);
    for (size_t n = 0; n < EN; n++)
        for (size_t c = 0; c < EC; c++) CHECK(out[n * EC + c] == wte[tokens[n] * EC + c]);
    posemb_forward(out, wpe, EB, ET, EC, EPOS0);
    for (size_t n = 0; n < EN; n++) {
        size_t t = n % ET;
        for (size_t c = 0; c < EC; c++) {
            float want = wte[tokens[n] * EC + c] + wpe[(EPOS0 + t) * EC + c];
            CHECK(out[n * EC + c] == want);
        }
    }
}

TEST(test_embed_backward_fd) {
    int32_t tokens[EN] = {0, 3, 3, 5, 1, 2, 0, 5, 5, 4}; /* repeats: 0, 3, 5 */
    float wte[EV * EC], wpe[EP * EC], R[EN * EC];
    double wte_d[EV * EC], wpe_d[EP * EC], R_d[EN * EC];
    fd_seed(2);
    fd_fill(wte, wte_d, EV * EC, -1, 1);
    fd_fill(wpe, wpe_d, EP * EC, -1, 1);
    fd_fill(R, R_d, EN * EC, -1, 1);
    emb_ctx ctx = {tokens, wte_d, wpe_d, R_d, EPOS0};

    double gwte[EV * EC], gwpe[EP * EC];
    fd_grad(gwte, wte_d, EV * EC, FD_EPS, emb_loss, &ctx);
    fd_grad(gwpe, wpe_d, EP * EC, FD_EPS, emb_loss, &ctx);

    float dwte[EV * EC] = {0}, dwpe[EP * EC] = {0};
    embedding_backward(dwte, R, tokens, EN, EC);
    posemb_backward(dwpe, R, EB, ET, EC, EPOS0);
    double e1 = fd_rel_err(dwte, gwte, EV * EC), e2 = fd_rel_err(dwpe, gwpe, EP * EC);
    CHECK_MSG(e1 < FD_TOL, "dwte rel err %.3g", e1);
    CHECK_MSG(e2 < FD_TOL, "dwpe rel err %.3g", e2);
    /* rows of wpe outside pos0..pos0+T-1 get exactly nothing */
    for (size_t p = 0; p < EP; p++)
        if (p < EPOS0 || p >= EPOS0 + ET)
            for (size_t c = 0; c < EC; c++) CHECK(dwpe[p * EC + c] == 0.0f);

    /* += rule */
    float awte[EV * EC], awpe[EP * EC];
    fd_const(awte, EV * EC, FD_PREFILL);
    fd_const(awpe, EP * EC, FD_PREFILL);
    embedding_backward(awte, R, tokens, EN, EC);
    posemb_backward(awpe, R, EB, ET, EC, EPOS0);
    CHECK(fd_accum_err(awte, dwte, EV * EC, FD_PREFILL) < 1e-6);
    CHECK(fd_accum_err(awpe, dwpe, EP * EC, FD_PREFILL) < 1e-6);
}

/* Positions given per token (GLM's 2D positions): out += table[ids[n]], and its
 * backward (embedding_backward on the ids) against finite differences of
 * L = sum_n,c (out_in[n,c] + table[ids[n],c]) * R[n,c]. */
typedef struct {
    const int32_t *ids;
    double *table;   /* [P,C] */
    const double *R; /* [N,C] */
} add_ctx;

static double add_loss(void *vctx) {
    add_ctx *c = vctx;
    double L = 0;
    for (size_t n = 0; n < EN; n++)
        for (size_t ch = 0; ch < EC; ch++) L += c->table[(size_t)c->ids[n] * EC + ch] * c->R[n * EC + ch];
    return L;
}

TEST(test_embed_add_2d_positions) {
    int32_t ids[EN] = {0, 1, 2, 2, 2, 0, 1, 1, 8, 3}; /* repeats, as part B's span positions */
    float table[EP * EC], out[EN * EC], base[EN * EC], R[EN * EC];
    double table_d[EP * EC], R_d[EN * EC], g[EP * EC];
    fd_seed(4);
    fd_fill(table, table_d, EP * EC, -1, 1);
    fd_fill(base, NULL, EN * EC, -1, 1);
    fd_fill(R, R_d, EN * EC, -1, 1);
    memcpy(out, base, sizeof out);
    embed_add_forward(out, ids, table, EN, EC);
    for (size_t n = 0; n < EN; n++)
        for (size_t c = 0; c < EC; c++) CHECK(out[n * EC + c] == base[n * EC + c] + table[ids[n] * EC + c]);
    add_ctx ctx = {ids, table_d, R_d};
    fd_grad(g, table_d, EP * EC, FD_EPS, add_loss, &ctx);
    float d[EP * EC] = {0};
    embedding_backward(d, R, ids, EN, EC);
    double e = fd_rel_err(d, g, EP * EC);
    CHECK_MSG(e < FD_TOL, "dtable rel err %.3g", e);
    for (size_t c = 0; c < EC; c++) CHECK(d[4 * EC + c] == 0.0f); /* row 4 is never read */
}

/* Large enough to take the OpenMP path: channel-blocked backward must not race */
TEST(test_embed_backward_parallel) {
    enum { N = 512, C = 96, V = 5 };
    int32_t *tokens = fd_alloc(N, sizeof *tokens);
    float *dout = fd_alloc(N * C, sizeof(float));
    float *dwte = fd_alloc(V * C, sizeof(float));
    double *ref = fd_alloc(V * C, sizeof(double));
    fd_seed(3);
    for (size_t n = 0; n < N; n++) tokens[n] = (int32_t)(n * 7 % V);
    fd_fill(dout, NULL, N * C, -1, 1);
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++) ref[(size_t)tokens[n] * C + c] += dout[n * C + c];
    embedding_backward(dwte, dout, tokens, N, C);
    double e = fd_rel_err(dwte, ref, V * C);
    free(tokens), free(dout), free(dwte), free(ref);
    CHECK_MSG(e < 1e-4, "rel err %.3g", e);
}

int main(void) {
    RUN(test_embed_forward);
    RUN(test_embed_backward_fd);
    RUN(test_embed_backward_parallel);
    RUN(test_embed_add_2d_positions);
    return test_summary();
}
