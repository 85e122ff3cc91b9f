/* Flash attention: every mask kind (causal, bidir, prefix with per-sequence
 * prefix lengths), key padding, MHA and GQA (H=4 with Hkv=2 and Hkv=1), a KV
 * cache (past > 0, Tq < Tk, Tkcap > Tk), cross-attention shapes (Tq != Tk), the
 * per-offset additive bias (T5) and its gradient, unscaled logits, a fully
 * blocked row, leakage, and 1 vs 2 threads.
 *
 * The reference is a naive double implementation that materialises the whole
 * [B,H,Tq,Tk] softmax. Each small case checks
 *   - out and lse against it (FWD_TOL relative, see fd.h; lse = -inf exactly
 *     for a row that sees no key), and the probabilities read back through
 *     the kernel itself (v = one-hot rows make out = P): blocked keys exactly 0;
 *   - dq, dk, dv (and dbias) against central finite differences of the double
 *     reference loss L = sum(out * R) (FD_TOL relative);
 *   - the += rule, and that k/v rows Tk..Tkcap-1 get no gradient;
 *   - that the analytic double backward used by the large test matches the
 *     finite differences too.
 * The large cases (Tq > the kernel's 64-row query block and Tk > its 128-key
 * block, so the online softmax rescales across key blocks and the causal skip
 * is exercised) check the kernel against that analytic double backward for
 * every mask kind, with and without bias, MHA/GQA/MQA, and that 1 and 2
 * threads give bit-identical results. */
#include <omp.h>

#include "kernels/kernels.h"
#include "test.h"
#include "kernels/fd.h"

#define FD_TOL 1e-3
#define FD_EPS 1e-6
#define FWD_TOL 1e-5
#define BIG_TOL 1e-3

typedef struct {
    const char *name;
    xf_mask_kind kind;
    size_t B, Tq, Tk, Tkcap, H, Hkv, D, past;
    int use_bias;
    const int32_t *prefix; /* [B] or NULL */
    const uint8_t *pad;    /* [B, Tk] or NULL */
    float scale;           /* 0: 1/sqrt(D) */
} att_case;

/* double state of one case */
typedef struct {
    const att_case *c;
    double *q, *k, *v, *bias; /* bias [H, Tq+Tk-1] per offset, may be NULL */
    const double *R;          /* [B, Tq, H, D] */
    double scale;
} att_ref_ctx;

static int ref_visible(const att_case *c, size_t b, size_t i, size_t j) {
    if (c->pad && c->pad[b * c->Tk + j]) return 0;
    switch (c->kind) {
    case XF_MASK_CAUSAL:
        return j <= c->past + i;
    case XF_MASK_PREFIX:
        return (long)j < (long)c->prefix[b] || j <= c->past + i;
    case XF_MASK_BIDIR:
    default:
        return 1;
    }
}

/* out [B,Tq,H,D], P [B,H,Tq,Tk] and lse [B,H,Tq] (both may be NULL) in double */
static void att_ref_forward(double *out, double *P, double *lse, const att_ref_ctx *x) {
    const att_case *c = x->c;
    size_t H = c->H, D = c->D, Tq = c->Tq, Tk = c->Tk, G = c->H / c->Hkv;
    double S[512];
    for (size_t b = 0; b < c->B; b++)
        for (size_t h = 0; h < H; h++)
            for (size_t i = 0; i < Tq; i++) {
                const double *qi = x->q + ((b * Tq + i) * H + h) * D;
                double mx = -INFINITY, sum = 0;
                for (size_t j = 0; j < Tk; j++) {
                    if (!ref_visible(c, b, i, j)) continue;
                    const double *kj = x->k + ((b * c->Tkcap + j) * c->Hkv + h / G) * D;
                    double s = 0;
                    for (size_t d = 0; d < D; d++) s += qi[d] * kj[d];
                    s = x->scale * s + (x->bias ? x->bias[h * (Tq + Tk - 1) + j + Tq - 1 - i] : 0.0);
                    S[j] = s;
                    mx = s > mx ? s : mx;
                }
                for (size_t j = 0; j < Tk; j++) {
                    S[j] = ref_visible(c, b, i, j) ? exp(S[j] - mx) : 0.0;
                    sum += S[j];
                }
                if (lse) lse[(b * H + h) * Tq + i] = sum > 0 ? mx + log(sum) : -INFINITY;
                double *o = out + ((b * Tq + i) * H + h) * D;
                for (size_t d = 0; d < D; d++) o[d] = 0;
                for (size_t j = 0; j < Tk; j++) {
                    double p = sum > 0 ? S[j] / sum : 0.0;
                    if (P) P[((b * H + h) * Tq + i) * Tk + j] = p;
                    const double *vj = x->v + ((b * c->Tkcap + j) * c->Hkv + h / G) * D;
                    for (size_t d = 0; d < D; d++) o[d] += p * vj[d];
                }
            }
}

/* analytic backward in double: dq, dk, dv, dbias [H, Tq+Tk-1] (+=; dbias may be NULL) */
static void att_ref_backward(double *dq, double *dk, double *dv, double *dbias, const double *P,
                             const double *dout, const att_ref_ctx *x) {
    const att_case *c = x->c;
    size_t H = c->H, D = c->D, Tq = c->Tq, Tk = c->Tk, G = c->H / c->Hkv;
    double dS[512];
    for (size_t b = 0; b < c->B; b++)
        for (size_t h = 0; h < H; h++)
            for (size_t i = 0; i < Tq; i++) {
                const double *p = P + ((b * H + h) * Tq + i) * Tk;
                const double *doi = dout + ((b * Tq + i) * H + h) * D;
                double dot = 0;
                for (size_t j = 0; j < Tk; j++) {
                    size_t kv = ((b * c->Tkcap + j) * c->Hkv + h / G) * D;
                    double dp = 0;
                    for (size_t d = 0; d < D; d++) {
                        dp += doi[d] * x->v[kv + d];
                        dv[kv + d] += p[j] * doi[d];
                    }
                    dS[j] = dp;
                    dot += p[j] * dp;
                }
                size_t qi = ((b * Tq + i) * H + h) * D;
                for (size_t j = 0; j < Tk; j++) {
                    double ds = p[j] * (dS[j] - dot);
                    size_t kv = ((b * c->Tkcap + j) * c->Hkv + h / G) * D;
                    for (size_t d = 0; d < D; d++) {
                        dq[qi + d] += x->scale * ds * x->k[kv + d];
                        dk[kv + d] += x->scale * ds * x->q[qi + d];
                    }
                    if (dbias) dbias[h * (Tq + Tk - 1) + j + Tq - 1 - i] += ds;
                }
            }
}

static double att_loss(void *vctx) {
    att_ref_ctx *x = vctx;
    const att_case *c = x->c;
    size_t n = c->B * c->Tq * c->H * c->D;
    double *out = fd_alloc(n, sizeof(double));
    att_ref_forward(out, NULL, NULL, x);
    double L = fd_dot(out, x->R, n);
    free(out);
    return L;
}

/* all buffers of one case, float and double; dbias is double in the kernel */
typedef struct {
    size_t nq, nkv, nb, nl;
    float *q, *k, *v, *bias, *R, *out, *lse, *dq, *dk, *dv;
    double *dbias;
    double *q_d, *k_d, *v_d, *bias_d, *R_d;
    xf_mask mask;
    float scale;
} att_bufs;

static void bufs_init(att_bufs *s, const att_case *c, uint64_t seed) {
    s->nq = c->B * c->Tq * c->H * c->D;
    s->nkv = c->B * c->Tkcap * c->Hkv * c->D;
    s->nb = c->H * (c->Tq + c->Tk - 1);
    s->nl = c->B * c->H * c->Tq;
    s->q = fd_alloc(s->nq, 4), s->R = fd_alloc(s->nq, 4), s->out = fd_alloc(s->nq, 4);
    s->dq = fd_alloc(s->nq, 4);
    s->k = fd_alloc(s->nkv, 4), s->v = fd_alloc(s->nkv, 4);
    s->dk = fd_alloc(s->nkv, 4), s->dv = fd_alloc(s->nkv, 4);
    s->bias = fd_alloc(s->nb, 4), s->dbias = fd_alloc(s->nb, 8);
    s->lse = fd_alloc(s->nl, 4);
    s->q_d = fd_alloc(s->nq, 8), s->R_d = fd_alloc(s->nq, 8);
    s->k_d = fd_alloc(s->nkv, 8), s->v_d = fd_alloc(s->nkv, 8), s->bias_d = fd_alloc(s->nb, 8);
    fd_seed(seed);
    fd_fill(s->q, s->q_d, s->nq, -1, 1);
    fd_fill(s->k, s->k_d, s->nkv, -1, 1);
    fd_fill(s->v, s->v_d, s->nkv, -1, 1);
    fd_fill(s->bias, s->bias_d, s->nb, -1, 1);
    fd_fill(s->R, s->R_d, s->nq, -1, 1);
    s->mask = (xf_mask){c->kind, c->prefix, c->pad, c->past};
    s->scale = c->scale != 0.0f ? c->scale : 1.0f / sqrtf((float)c->D);
}

static void bufs_free(att_bufs *s) {
    free(s->q), free(s->R), free(s->out), free(s->dq), free(s->k), free(s->v), free(s->dk);
    free(s->dv), free(s->bias), free(s->dbias), free(s->lse);
    free(s->q_d), free(s->R_d), free(s->k_d), free(s->v_d), free(s->bias_d);
}

static void run_forward(att_bufs *s, const att_case *c) {
    attention_forward(s->out, s->lse, s->q, s->k, s->v, c->use_bias ? s->bias : NULL, &s->mask,
                         c->B, c->Tq, c->Tk, c->Tkcap, c->H, c->Hkv, c->D, s->scale);
}

static void run_backward(att_bufs *s, const att_case *c, float *dq, float *dk, float *dv,
                         double *dbias) {
    attention_backward(dq, dk, dv, c->use_bias ? dbias : NULL, s->R, s->out, s->lse, s->q, s->k,
                          s->v, c->use_bias ? s->bias : NULL, &s->mask, c->B, c->Tq, c->Tk,
                          c->Tkcap, c->H, c->Hkv, c->D, s->scale);
}

/* 1 if any float is NaN or inf */
static int any_nonfinite(const float *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 1;
    return 0;
}

/* fd_rel_err for a double result (dbias) */
static double rel_err_d(const double *got, const double *ref, size_t n) {
    float *f = fd_alloc(n, 4);
    for (size_t i = 0; i < n; i++) f[i] = (float)got[i];
    double e = fd_rel_err(f, ref, n);
    free(f);
    return e;
}

/* lse against the reference: -inf exactly where the reference row sees no
 * key, else the absolute error (lse is a log: its error is relative to 1) */
static double lse_err(const float *got, const double *ref, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = ref[i] == -INFINITY ? (got[i] == -INFINITY ? 0.0 : INFINITY)
                                       : fabs((double)got[i] - ref[i]);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* k/v rows t in [Tk, Tkcap) of dk/dv must hold exactly `value` */
static int cap_rows_untouched(const float *dkv, const att_case *c, float value) {
    for (size_t b = 0; b < c->B; b++)
        for (size_t t = c->Tk; t < c->Tkcap; t++)
            for (size_t e = 0; e < c->Hkv * c->D; e++)
                if (dkv[(b * c->Tkcap + t) * c->Hkv * c->D + e] != value) return 0;
    return 1;
}

/* The probabilities through the kernel: with D = Tk and v[b, j] = e_j (every
 * KV head), out[b, i, h, :] = P[b, h, i, :]. 1 iff every key that the
 * reference gives probability 0 (blocked) gets exactly 0 and the rest match
 * within FWD_TOL. */
static int probs_through_kernel(const att_case *c, uint64_t seed) {
    att_case e = *c;
    e.D = c->Tk;
    att_bufs s;
    bufs_init(&s, &e, seed);
    for (size_t b = 0; b < e.B; b++)
        for (size_t j = 0; j < e.Tkcap; j++)
            for (size_t g = 0; g < e.Hkv; g++)
                for (size_t d = 0; d < e.D; d++) {
                    float one = (float)(d == j);
                    s.v[((b * e.Tkcap + j) * e.Hkv + g) * e.D + d] = one;
                    s.v_d[((b * e.Tkcap + j) * e.Hkv + g) * e.D + d] = one;
                }
    s.scale = c->scale != 0.0f ? c->scale : 1.0f / sqrtf((float)c->D);
    run_forward(&s, &e);
    att_ref_ctx x = {&e, s.q_d, s.k_d, s.v_d, e.use_bias ? s.bias_d : NULL, s.R_d, (double)s.scale};
    size_t np = e.B * e.H * e.Tq * e.Tk;
    double *P = fd_alloc(np, 8), *out = fd_alloc(s.nq, 8);
    att_ref_forward(out, P, NULL, &x);
    int ok = 1;
    for (size_t b = 0; b < e.B; b++)
        for (size_t h = 0; h < e.H; h++)
            for (size_t i = 0; i < e.Tq; i++)
                for (size_t j = 0; j < e.Tk; j++) {
                    double p = P[((b * e.H + h) * e.Tq + i) * e.Tk + j];
                    float got = s.out[((b * e.Tq + i) * e.H + h) * e.D + j];
                    if (p == 0.0 ? got != 0.0f : fabs(got - p) > FWD_TOL) ok = 0;
                }
    free(P), free(out);
    bufs_free(&s);
    return ok;
}

/* The full small-case check; returns through FAILF on the first failure. */
static void check_case(const att_case *c, uint64_t seed) {
    att_bufs s;
    bufs_init(&s, c, seed);
    att_ref_ctx x = {c, s.q_d, s.k_d, s.v_d, c->use_bias ? s.bias_d : NULL, s.R_d, (double)s.scale};

    /* forward */
    double *out_ref = fd_alloc(s.nq, 8), *lse_ref = fd_alloc(s.nl, 8);
    double *P_ref = fd_alloc(c->B * c->H * c->Tq * c->Tk, 8);
    run_forward(&s, c);
    att_ref_forward(out_ref, P_ref, lse_ref, &x);
    double eo = fd_rel_err(s.out, out_ref, s.nq), el = lse_err(s.lse, lse_ref, s.nl);
    int nonfinite = any_nonfinite(s.out, s.nq);
    int probs_ok = probs_through_kernel(c, seed);

    /* finite differences of the double reference */
    double *gq = fd_alloc(s.nq, 8), *gk = fd_alloc(s.nkv, 8), *gv = fd_alloc(s.nkv, 8);
    double *gb = fd_alloc(s.nb, 8);
    fd_grad(gq, s.q_d, s.nq, FD_EPS, att_loss, &x);
    fd_grad(gk, s.k_d, s.nkv, FD_EPS, att_loss, &x);
    fd_grad(gv, s.v_d, s.nkv, FD_EPS, att_loss, &x);
    if (c->use_bias) fd_grad(gb, s.bias_d, s.nb, FD_EPS, att_loss, &x);

    /* analytic double backward agrees with the finite differences */
    double *aq = fd_alloc(s.nq, 8), *ak = fd_alloc(s.nkv, 8), *av = fd_alloc(s.nkv, 8);
    double *ab = fd_alloc(s.nb, 8);
    att_ref_backward(aq, ak, av, c->use_bias ? ab : NULL, P_ref, s.R_d, &x);
    double ref_err = 0;
    for (size_t i = 0; i < s.nq; i++) ref_err = fmax(ref_err, fabs(aq[i] - gq[i]));
    for (size_t i = 0; i < s.nkv; i++) ref_err = fmax(ref_err, fmax(fabs(ak[i] - gk[i]), fabs(av[i] - gv[i])));
    if (c->use_bias)
        for (size_t i = 0; i < s.nb; i++) ref_err = fmax(ref_err, fabs(ab[i] - gb[i]));

    /* kernel backward from zero */
    run_backward(&s, c, s.dq, s.dk, s.dv, s.dbias);
    double eq = fd_rel_err(s.dq, gq, s.nq), ek = fd_rel_err(s.dk, gk, s.nkv);
    double ev = fd_rel_err(s.dv, gv, s.nkv), eb = c->use_bias ? rel_err_d(s.dbias, gb, s.nb) : 0;
    int cap_ok = cap_rows_untouched(s.dk, c, 0.0f) && cap_rows_untouched(s.dv, c, 0.0f);

    /* += rule */
    float *pq = fd_alloc(s.nq, 4), *pk = fd_alloc(s.nkv, 4), *pv = fd_alloc(s.nkv, 4);
    double *pb = fd_alloc(s.nb, 8);
    fd_const(pq, s.nq, FD_PREFILL), fd_const(pk, s.nkv, FD_PREFILL);
    fd_const(pv, s.nkv, FD_PREFILL);
    for (size_t i = 0; i < s.nb; i++) pb[i] = FD_PREFILL;
    run_backward(&s, c, pq, pk, pv, pb);
    double acc = fmax(fmax(fd_accum_err(pq, s.dq, s.nq, FD_PREFILL), fd_accum_err(pk, s.dk, s.nkv, FD_PREFILL)),
                      fd_accum_err(pv, s.dv, s.nkv, FD_PREFILL));
    if (c->use_bias)
        for (size_t i = 0; i < s.nb; i++) acc = fmax(acc, fabs(pb[i] - FD_PREFILL - s.dbias[i]));
    int cap_acc_ok = cap_rows_untouched(pk, c, FD_PREFILL) && cap_rows_untouched(pv, c, FD_PREFILL);

    free(out_ref), free(lse_ref), free(P_ref), free(gq), free(gk), free(gv), free(gb);
    free(aq), free(ak), free(av), free(ab), free(pq), free(pk), free(pv), free(pb);
    bufs_free(&s);

    CHECK_MSG(!nonfinite, "%s: NaN/inf in out", c->name);
    CHECK_MSG(eo < FWD_TOL && el < FWD_TOL, "%s: forward rel err out %.3g, lse err %.3g", c->name, eo, el);
    CHECK_MSG(probs_ok, "%s: probabilities (blocked exactly 0) wrong", c->name);
    CHECK_MSG(ref_err < 1e-7, "%s: analytic double backward vs FD %.3g", c->name, ref_err);
    CHECK_MSG(eq < FD_TOL, "%s: dq rel err %.3g", c->name, eq);
    CHECK_MSG(ek < FD_TOL, "%s: dk rel err %.3g", c->name, ek);
    CHECK_MSG(ev < FD_TOL, "%s: dv rel err %.3g", c->name, ev);
    CHECK_MSG(eb < FD_TOL, "%s: dbias rel err %.3g", c->name, eb);
    CHECK_MSG(cap_ok && cap_acc_ok, "%s: dk/dv rows beyond Tk touched", c->name);
    CHECK_MSG(acc < 1e-6, "%s: += rule err %.3g", c->name, acc);
}
TEST(test_attention_causal_mha) {
    att_case c = {"causal mha", XF_MASK_CAUSAL, 2, 5, 5, 5, 3, 3, 4, 0, 0, NULL, NULL, 0};
    check_case(&c, 100);
}

TEST(test_attention_causal_gqa2) {
    att_case c = {"causal gqa H4/Hkv2", XF_MASK_CAUSAL, 2, 5, 5, 5, 4, 2, 4, 0, 0, NULL, NULL, 0};
    check_case(&c, 101);
}

TEST(test_attention_causal_gqa1_pad) {
    /* batch 1 pads its last two keys (right padding) */
    static const uint8_t pad[2 * 5] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
    att_case c = {"causal mqa Hkv1 + pad", XF_MASK_CAUSAL, 2, 5, 5, 5, 4, 1, 4, 0, 0, NULL, pad, 0};
    check_case(&c, 102);
}

TEST(test_attention_bidir_pad) {
    static const uint8_t pad[2 * 6] = {0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0};
    att_case c = {"bidir gqa + pad", XF_MASK_BIDIR, 2, 6, 6, 6, 4, 2, 4, 0, 0, NULL, pad, 0};
    check_case(&c, 103);
}

TEST(test_attention_cross) {
    /* cross-attention shapes: 3 decoder queries over 5 padded encoder keys */
    static const uint8_t pad[2 * 5] = {0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
    att_case c = {"cross bidir Tq3 Tk5", XF_MASK_BIDIR, 2, 3, 5, 5, 4, 4, 4, 0, 0, NULL, pad, 0};
    check_case(&c, 104);
}

TEST(test_attention_prefix) {
    static const int32_t prefix[3] = {2, 4, 0};
    static const uint8_t pad[3 * 6] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    att_case c = {"prefix gqa", XF_MASK_PREFIX, 3, 6, 6, 6, 4, 2, 4, 0, 0, prefix, pad, 0};
    check_case(&c, 105);
}

TEST(test_attention_kv_cache) {
    /* 2 new queries after 3 cached keys, cache capacity 7 */
    att_case c = {"causal cache past3", XF_MASK_CAUSAL, 2, 2, 5, 7, 4, 2, 4, 3, 0, NULL, NULL, 0};
    check_case(&c, 106);
}

TEST(test_attention_kv_cache_prefix_pad) {
    static const int32_t prefix[2] = {5, 1};
    static const uint8_t pad[2 * 6] = {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    att_case c = {"prefix cache past2", XF_MASK_PREFIX, 2, 4, 6, 8, 4, 1, 4, 2, 0, prefix, pad, 0};
    check_case(&c, 107);
}

TEST(test_attention_bias) {
    att_case c1 = {"bidir + bias (T5 scale 1)", XF_MASK_BIDIR, 2, 4, 4, 4, 4, 4, 4, 0, 1, NULL, NULL,
                   1.0f};
    check_case(&c1, 108);
    att_case c2 = {"causal gqa + bias", XF_MASK_CAUSAL, 3, 5, 5, 5, 4, 2, 4, 0, 1, NULL, NULL, 0};
    check_case(&c2, 109);
}

TEST(test_attention_blocked_row) {
    /* causal with key 0 padded: query 0 sees nothing; batch 1 is all padding */
    static const uint8_t pad[2 * 4] = {1, 0, 0, 0, 1, 1, 1, 1};
    att_case c = {"blocked rows", XF_MASK_CAUSAL, 2, 4, 4, 4, 2, 1, 4, 0, 1, NULL, pad, 0};
    check_case(&c, 110);

    att_bufs s;
    bufs_init(&s, &c, 110);
    run_forward(&s, &c);
    run_backward(&s, &c, s.dq, s.dk, s.dv, s.dbias);
    int ok = !any_nonfinite(s.out, s.nq) && !any_nonfinite(s.dq, s.nq);
    /* out and att are exactly 0 for every blocked row, dq too */
    for (size_t h = 0; h < c.H; h++)
        for (size_t d = 0; d < c.D; d++) ok &= s.out[h * c.D + d] == 0.0f && s.dq[h * c.D + d] == 0.0f;
    for (size_t i = c.Tq * c.H * c.D; i < s.nq; i++) ok &= s.out[i] == 0.0f && s.dq[i] == 0.0f;
    for (size_t i = c.H * c.Tq; i < s.nl; i++) ok &= s.lse[i] == -INFINITY; /* batch 1: no key */
    for (size_t h = 0; h < c.H; h++) ok &= s.lse[h * c.Tq] == -INFINITY;  /* batch 0, query 0 */
    for (size_t i = c.Tk * c.Hkv * c.D; i < s.nkv; i++) ok &= s.dk[i] == 0.0f && s.dv[i] == 0.0f;
    bufs_free(&s);
    CHECK_MSG(ok, "blocked rows not exactly zero");
}

/* Perturbing a blocked key/value leaves out unchanged bit for bit; perturbing
 * a visible one changes it. */
TEST(test_attention_leakage) {
    static const int32_t prefix[2] = {3, 1};
    static const uint8_t pad[2 * 6] = {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    att_case c = {"leak", XF_MASK_PREFIX, 2, 6, 6, 6, 4, 2, 4, 0, 1, prefix, pad, 0};
    att_bufs s;
    bufs_init(&s, &c, 111);
    float *base = fd_alloc(s.nq, 4);
    run_forward(&s, &c);
    memcpy(base, s.out, s.nq * 4);
    size_t HD = c.H * c.D, KD = c.Hkv * c.D, G = c.H / c.Hkv;
    /* a key perturbation cannot show when the query sees that key alone
     * (softmax of one logit is 1), so "visible changes out" is asserted for
     * values always and for keys only when the row sees two or more keys */
    int leak = 0, blind = 0;
    for (size_t b = 0; b < c.B; b++)
        for (size_t j = 0; j < c.Tk; j++)
            for (int which = 0; which < 2; which++) {
                float *kv = which ? s.v : s.k;
                size_t off = (b * c.Tkcap + j) * KD; /* KV head 0, first element */
                float saved = kv[off];
                kv[off] += 0.5f;
                run_forward(&s, &c);
                kv[off] = saved;
                for (size_t i = 0; i < c.Tq; i++)
                    for (size_t h = 0; h < G; h++) { /* query heads reading KV head 0 */
                        int vis = ref_visible(&c, b, i, j), nvis = 0;
                        for (size_t jj = 0; jj < c.Tk; jj++) nvis += ref_visible(&c, b, i, jj);
                        int changed = memcmp(s.out + (b * c.Tq + i) * HD + h * c.D,
                                             base + (b * c.Tq + i) * HD + h * c.D, c.D * 4) != 0;
                        if (!vis && changed) leak = 1;
                        if (vis && !changed && (which || nvis > 1)) blind = 1;
                    }
                /* other batches never change */
                for (size_t bb = 0; bb < c.B; bb++)
                    if (bb != b && memcmp(s.out + bb * c.Tq * HD, base + bb * c.Tq * HD, c.Tq * HD * 4))
                        leak = 1;
            }
    free(base);
    bufs_free(&s);
    CHECK_MSG(!leak, "a blocked key/value changed the output");
    CHECK_MSG(!blind, "a visible key/value did not change the output");
}

/* Large case: kernel vs analytic double reference, and 1 vs 2 threads */
static void check_large(const att_case *c, uint64_t seed) {
    att_bufs s[2];
    int saved = omp_get_max_threads();
    for (int r = 0; r < 2; r++) {
        bufs_init(&s[r], c, seed);
        omp_set_num_threads(r + 1);
        run_forward(&s[r], c);
        run_backward(&s[r], c, s[r].dq, s[r].dk, s[r].dv, s[r].dbias);
    }
    omp_set_num_threads(saved);
    int same = !memcmp(s[0].out, s[1].out, s[0].nq * 4) && !memcmp(s[0].lse, s[1].lse, s[0].nl * 4) &&
               !memcmp(s[0].dq, s[1].dq, s[0].nq * 4) && !memcmp(s[0].dk, s[1].dk, s[0].nkv * 4) &&
               !memcmp(s[0].dv, s[1].dv, s[0].nkv * 4) && !memcmp(s[0].dbias, s[1].dbias, s[0].nb * 8);

    att_ref_ctx x = {c, s[0].q_d, s[0].k_d, s[0].v_d, c->use_bias ? s[0].bias_d : NULL, s[0].R_d,
                     (double)s[0].scale};
    double *out = fd_alloc(s[0].nq, 8), *P = fd_alloc(c->B * c->H * c->Tq * c->Tk, 8);
    double *lse = fd_alloc(s[0].nl, 8);
    double *dq = fd_alloc(s[0].nq, 8), *dk = fd_alloc(s[0].nkv, 8), *dv = fd_alloc(s[0].nkv, 8);
    double *db = fd_alloc(s[0].nb, 8);
    att_ref_forward(out, P, lse, &x);
    att_ref_backward(dq, dk, dv, c->use_bias ? db : NULL, P, s[0].R_d, &x);
    double eo = fd_rel_err(s[0].out, out, s[0].nq), el = lse_err(s[0].lse, lse, s[0].nl);
    double eq = fd_rel_err(s[0].dq, dq, s[0].nq), ek = fd_rel_err(s[0].dk, dk, s[0].nkv);
    double ev = fd_rel_err(s[0].dv, dv, s[0].nkv);
    double eb = c->use_bias ? rel_err_d(s[0].dbias, db, s[0].nb) : 0;
    free(out), free(P), free(lse), free(dq), free(dk), free(dv), free(db);
    bufs_free(&s[0]), bufs_free(&s[1]);
    CHECK_MSG(eo < 1e-4 && el < 1e-4, "%s: forward rel err out %.3g lse %.3g", c->name, eo, el);
    CHECK_MSG(eq < BIG_TOL && ek < BIG_TOL && ev < BIG_TOL && eb < BIG_TOL,
              "%s: backward rel err dq %.3g dk %.3g dv %.3g dbias %.3g", c->name, eq, ek, ev, eb);
    CHECK_MSG(same, "%s: 1 thread and 2 threads differ", c->name);
}

TEST(test_attention_large_threads) {
    static uint8_t pad[2 * 150];
    static const int32_t prefix[2] = {70, 130};
    pad[149] = pad[148] = pad[150 + 3] = 1;
    att_case c1 = {"large causal gqa", XF_MASK_CAUSAL, 2, 150, 150, 150, 4, 2, 16, 0, 0, NULL, pad, 0};
    check_large(&c1, 120);
    att_case c2 = {"large prefix mqa + bias", XF_MASK_PREFIX, 2, 150, 150, 150, 4, 1, 16, 0, 1, prefix,
                   pad, 0};
    check_large(&c2, 121);
    att_case c3 = {"large cache", XF_MASK_CAUSAL, 2, 70, 150, 160, 2, 2, 8, 80, 0, NULL, NULL, 0};
    check_large(&c3, 122);
    att_case c4 = {"large bidir", XF_MASK_BIDIR, 3, 100, 120, 120, 2, 1, 8, 0, 1, NULL, NULL, 0};
    check_large(&c4, 123);
}

/* Several key blocks (Tk > 2 x 128): the running max and sum rescale across
 * blocks, for every mask kind, with the bias, padding and unscaled logits. */
TEST(test_attention_large_key_blocks) {
    static uint8_t pad[2 * 300];
    static const int32_t prefix[2] = {200, 5};
    pad[299] = pad[298] = pad[300 + 130] = pad[300 + 0] = 1;
    att_case c1 = {"kblocks causal mha + bias", XF_MASK_CAUSAL, 2, 300, 300, 300, 2, 2, 8, 0, 1,
                   NULL, pad, 0};
    check_large(&c1, 130);
    att_case c2 = {"kblocks prefix gqa + pad", XF_MASK_PREFIX, 2, 300, 300, 300, 4, 2, 8, 0, 0,
                   prefix, pad, 0};
    check_large(&c2, 131);
    att_case c3 = {"kblocks bidir mqa + bias unscaled", XF_MASK_BIDIR, 2, 70, 300, 300, 2, 1, 8, 0,
                   1, NULL, pad, 1.0f};
    check_large(&c3, 132);
    /* decode steps: one query after 290 cached keys, with the bias */
    att_case c4 = {"kblocks decode step", XF_MASK_CAUSAL, 2, 1, 291, 300, 4, 2, 8, 290, 1, NULL,
                   NULL, 0};
    check_large(&c4, 133);
    att_case c5 = {"kblocks cross Tq<Tk", XF_MASK_BIDIR, 2, 40, 300, 300, 4, 4, 8, 0, 0, NULL, pad,
                   0};
    check_large(&c5, 134);
}

int main(void) {
    RUN(test_attention_causal_mha);
    RUN(test_attention_causal_gqa2);
    RUN(test_attention_causal_gqa1_pad);
    RUN(test_attention_bidir_pad);
    RUN(test_attention_cross);
    RUN(test_attention_prefix);
    RUN(test_attention_kv_cache);
    RUN(test_attention_kv_cache_prefix_pad);
    RUN(test_attention_bias);
    RUN(test_attention_blocked_row);
    RUN(test_attention_leakage);
    RUN(test_attention_large_threads);
    RUN(test_attention_large_key_blocks);
    return test_summary();
}
