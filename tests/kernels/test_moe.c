/* Sparse Mixture-of-Experts (moe.h): every router type, gated and plain
 * experts, K = 1, 2 and K = E, route_scale, capacity with drops, the sigmoid
 * router's selection bias, jitter, the losses, and hostile shapes.
 *
 * The reference is a straightforward double-precision dense layer: every expert
 * runs on every token, the selection is a sort (key descending, index
 * ascending), capacity claims slots rank by rank in token order, and y is the
 * weighted sum of the kept experts' outputs. The jitter noise u is read from
 * the kernel's act (it is fixed by the seed), so the reference sees the same
 * router input.
 *
 * Gradients: L = sum(R * y) + aux_w * aux + z_w * z, differentiated by central
 * differences of the reference in double (FD_EPS) and compared with the
 * kernel's dx, dwr, dw1, dw2, dw3 (fd_rel_err < FD_TOL). Cases are drawn until
 * every token's top K+1 selection keys are GAP apart, and the reference counts
 * any perturbation that changes the choice or the drops (must be none), so the
 * selection is the constant the backward assumes.
 *
 * The act block and the scratch start as NaN, so reading anything the kernel
 * did not write shows. Threads: 1 and 2 threads agree bit for bit on shapes
 * whose GEMMs OpenBLAS keeps on one thread; on larger shapes a thread count
 * reproduces itself bit for bit and 1 vs 2 threads agree to rounding. */
#include <omp.h>

/* Cases list their fields in order; the trailing ones (groups, per-sequence
 * aux) default to zero, "off", in the cases written before them. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include "kernels/kernels.h"
#include "kernels/moe.h"
#include "test.h"
#include "kernels/fd.h"

#define FD_TOL 1e-3
#define FD_EPS 1e-6
/* forward: y sums K weighted outputs of three chained float products, and the
 * error floor (1e-2 * max|ref|) leaves about 2 ulp of max|y| at 1e-5: 5e-5 */
#define FWD_TOL 5e-5
#define GAP 1e-3

typedef struct {
    const char *name;
    size_t N, C, I, E, K;
    xf_router_type router;
    int gated;
    xf_act act;
    float rs, cf, jitter;
    int use_bias;  /* sigmoid router: a random selection bias */
    float aux_w, z_w;
    int no_lm;     /* R = 0: L is the router losses alone */
    size_t G, TG;  /* group-limited routing: G groups, TG of them usable (0, 0: none) */
    size_t seq;    /* per-sequence aux over sequences of seq tokens (0: per call) */
} moe_case;

/* ---- double reference ---------------------------------------------------- */

typedef struct {
    const moe_case *c;
    const double *x, *wr, *bias, *w1, *w2, *w3, *R, *u; /* bias, w3, u may be NULL */
    const int *base_choice, *base_sel;                    /* flip detection, or NULL */
    int flips;
} ref_ctx;

typedef struct {
    double *y, *ex;                 /* [N,C], [E,N,C] every expert on every token */
    double *logits, *s, *p, *lse;   /* [N,E], [N] */
    double *w;                      /* [N,K] */
    int *choice, *sel;              /* [N,K] */
    int *load, *count;              /* [E] */
    double aux, z, entropy, L, gap; /* gap: min distance of adjacent top-(K+1) keys */
    size_t dropped;
} ref_out;

static void ref_alloc(ref_out *o, const moe_case *c) {
    size_t N = c->N, E = c->E, K = c->K;
    o->y = fd_alloc(N * c->C, 8), o->ex = fd_alloc(E * N * c->C, 8);
    o->logits = fd_alloc(N * E, 8), o->s = fd_alloc(N * E, 8), o->p = fd_alloc(N * E, 8);
    o->lse = fd_alloc(N, 8), o->w = fd_alloc(N * K, 8);
    o->choice = fd_alloc(N * K, sizeof(int)), o->sel = fd_alloc(N * K, sizeof(int));
    o->load = fd_alloc(E, sizeof(int)), o->count = fd_alloc(E, sizeof(int));
}

static void ref_free(ref_out *o) {
    free(o->y), free(o->ex), free(o->logits), free(o->s), free(o->p), free(o->lse), free(o->w);
    free(o->choice), free(o->sel), free(o->load), free(o->count);
}

static double act_ref(double v, xf_act act) {
    switch (act) {
    case XF_ACT_GELU:
        return 0.5 * v * erfc(-v / sqrt(2.0));
    case XF_ACT_GELU_TANH:
        return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    case XF_ACT_RELU:
        return v > 0 ? v : 0.0;
    case XF_ACT_SILU:
    default:
        return v / (1.0 + exp(-v));
    }
}

static void ref_forward(ref_out *o, const ref_ctx *r) {
    const moe_case *c = r->c;
    size_t N = c->N, C = c->C, I = c->I, E = c->E, K = c->K;
    int sig = c->router == XF_ROUTER_SIGMOID_TOPK_NORM;
    double keys[64], xr[64];
    size_t order[64];
    if (C > 64 || I > 64 || E > 64) FAILF("%s: the reference takes C, I, E <= 64", c->name);
    o->gap = INFINITY;
    for (size_t t = 0; t < N; t++) {
        for (size_t ch = 0; ch < C; ch++) xr[ch] = r->x[t * C + ch] * (r->u ? r->u[t * C + ch] : 1.0);
        double *l = o->logits + t * E, *s = o->s + t * E, *p = o->p + t * E, mx = -INFINITY;
        for (size_t j = 0; j < E; j++) {
            l[j] = 0;
            for (size_t ch = 0; ch < C; ch++) l[j] += r->wr[j * C + ch] * xr[ch];
            mx = l[j] > mx ? l[j] : mx;
        }
        double se = 0, ss = 0;
        for (size_t j = 0; j < E; j++) se += exp(l[j] - mx);
        o->lse[t] = mx + log(se);
        for (size_t j = 0; j < E; j++) {
            s[j] = sig ? 1.0 / (1.0 + exp(-l[j])) : exp(l[j] - o->lse[t]);
            ss += s[j];
        }
        for (size_t j = 0; j < E; j++) {
            p[j] = sig ? s[j] / ss : s[j];
            keys[j] = s[j] + (sig && r->bias ? r->bias[j] : 0.0);
            order[j] = j;
        }
        if (c->G > 1 && c->TG < c->G) {
            /* group score: top-2 sum (sigmoid) or max (softmax); the TG best groups
             * (lower index on ties) keep their keys, the others drop to -inf */
            size_t gsz = E / c->G, gord[64];
            double gs[64];
            for (size_t g = 0; g < c->G; g++) {
                double m1 = -INFINITY, m2 = -INFINITY;
                for (size_t j = g * gsz; j < (g + 1) * gsz; j++) {
                    if (keys[j] > m1) m2 = m1, m1 = keys[j];
                    else if (keys[j] > m2) m2 = keys[j];
                }
                gs[g] = !sig || gsz == 1 ? m1 : m1 + m2;
                gord[g] = g;
            }
            for (size_t i = 1; i < c->G; i++)
                for (size_t j = i; j > 0 && gs[gord[j]] > gs[gord[j - 1]]; j--) {
                    size_t tmp = gord[j];
                    gord[j] = gord[j - 1], gord[j - 1] = tmp;
                }
            for (size_t q = c->TG; q < c->G; q++)
                for (size_t j = gord[q] * gsz; j < (gord[q] + 1) * gsz; j++) keys[j] = -INFINITY;
            /* the group choice is a constant too: its deciding gap joins o->gap */
            double gg = gs[gord[c->TG - 1]] - gs[gord[c->TG]];
            o->gap = gg < o->gap ? gg : o->gap;
        }
        /* insertion sort: key descending, index ascending on ties */
        for (size_t i = 1; i < E; i++)
            for (size_t j = i; j > 0 && keys[order[j]] > keys[order[j - 1]]; j--) {
                size_t tmp = order[j];
                order[j] = order[j - 1], order[j - 1] = tmp;
            }
        for (size_t q = 0; q + 1 < E && q < K; q++) {
            double g = keys[order[q]] - keys[order[q + 1]];
            o->gap = g < o->gap ? g : o->gap;
        }
        double den = 0;
        for (size_t q = 0; q < K; q++) den += s[order[q]];
        for (size_t q = 0; q < K; q++) {
            o->choice[t * K + q] = (int)order[q];
            double sq = s[order[q]];
            o->w[t * K + q] = c->rs * (c->router == XF_ROUTER_SOFTMAX_TOPK ? sq : sq / den);
        }
    }
    /* load and capacity (GShard order) */
    size_t cap = N;
    if (c->cf > 0) {
        double want = ceil((double)K * (double)N * (double)c->cf / (double)E);
        cap = want < (double)N ? (size_t)want : N;
    }
    for (size_t e = 0; e < E; e++) o->load[e] = o->count[e] = 0;
    for (size_t i = 0; i < N * K; i++) o->load[o->choice[i]]++;
    o->dropped = 0;
    for (size_t q = 0; q < K; q++)
        for (size_t t = 0; t < N; t++) {
            int e = o->choice[t * K + q];
            if ((size_t)o->count[e] < cap) {
                o->count[e]++;
                o->sel[t * K + q] = e;
            } else {
                o->sel[t * K + q] = -1;
                o->dropped++;
            }
        }
    /* every expert on every token */
    double h1[64], h3[64];
    for (size_t e = 0; e < E; e++)
        for (size_t t = 0; t < N; t++) {
            const double *xt = r->x + t * C;
            for (size_t i = 0; i < I; i++) {
                double a1 = 0, a3 = 0;
                for (size_t ch = 0; ch < C; ch++) {
                    a1 += r->w1[(e * I + i) * C + ch] * xt[ch];
                    if (c->gated) a3 += r->w3[(e * I + i) * C + ch] * xt[ch];
                }
                h1[i] = act_ref(a1, c->act);
                h3[i] = c->gated ? a3 : 1.0;
            }
            double *ot = o->ex + (e * N + t) * C;
            for (size_t ch = 0; ch < C; ch++) {
                double v = 0;
                for (size_t i = 0; i < I; i++) v += r->w2[(e * C + ch) * I + i] * h1[i] * h3[i];
                ot[ch] = v;
            }
        }
    /* combine, losses */
    double L = 0, P[64] = {0}, zs = 0, ent = 0;
    for (size_t t = 0; t < N; t++) {
        double *yt = o->y + t * C;
        for (size_t ch = 0; ch < C; ch++) yt[ch] = 0;
        for (size_t q = 0; q < K; q++) {
            int e = o->sel[t * K + q];
            if (e < 0) continue;
            for (size_t ch = 0; ch < C; ch++)
                yt[ch] += o->w[t * K + q] * o->ex[((size_t)e * N + t) * C + ch];
        }
        for (size_t ch = 0; ch < C; ch++) L += r->R[t * C + ch] * yt[ch];
        for (size_t j = 0; j < E; j++) {
            double pj = o->p[t * E + j];
            P[j] += pj / (double)N;
            if (pj > 0) ent -= pj * log(pj);
        }
        zs += o->lse[t] * o->lse[t];
    }
    double fp = 0;
    for (size_t j = 0; j < E; j++) fp += (double)o->load[j] / (double)N * P[j];
    o->aux = (double)E / (double)K * fp;
    if (c->seq) { /* mean over sequences of (E/K) sum_j F_bj P_bj */
        size_t nseq = (N + c->seq - 1) / c->seq;
        o->aux = 0;
        for (size_t b = 0; b < nseq; b++) {
            size_t t0 = b * c->seq, t1 = t0 + c->seq < N ? t0 + c->seq : N;
            double Tb = (double)(t1 - t0), f = 0;
            for (size_t j = 0; j < E; j++) {
                double Fb = 0, Pb = 0;
                for (size_t t = t0; t < t1; t++) {
                    for (size_t q = 0; q < K; q++) Fb += o->choice[t * K + q] == (int)j;
                    Pb += o->p[t * E + j];
                }
                f += (Fb / Tb) * (Pb / Tb);
            }
            o->aux += (double)E / (double)K * f / (double)nseq;
        }
    }
    o->z = zs / (double)N;
    o->entropy = ent;
    o->L = L + c->aux_w * o->aux + c->z_w * o->z;
}

static double ref_loss(void *vctx) {
    ref_ctx *r = vctx;
    ref_out o;
    ref_alloc(&o, r->c);
    ref_forward(&o, r);
    size_t NK = r->c->N * r->c->K;
    if (r->base_choice && (memcmp(o.choice, r->base_choice, NK * sizeof(int)) ||
                           memcmp(o.sel, r->base_sel, NK * sizeof(int))))
        r->flips++;
    double L = o.L;
    ref_free(&o);
    return L;
}

/* ---- kernel buffers ------------------------------------------------------ */

typedef struct {
    const moe_case *c;
    xf_moe_dims d;
    size_t nx, nwr, nw;
    float *x, *wr, *bias, *w1, *w2, *w3, *R, *out, *block, *scratch;
    float *dx, *dwr, *dw1, *dw2, *dw3;
    double *x_d, *wr_d, *bias_d, *w1_d, *w2_d, *w3_d, *R_d, *u_d;
    xf_moe_act a;
    xf_moe_out res;
} moe_bufs;

/* 64-byte aligned, zeroed */
static float *alloc64(size_t n) {
    size_t bytes = ((n ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (!p) abort();
    memset(p, 0, bytes);
    return p;
}

/* The act block and the scratch start as NaN, so a kernel that reads what it
 * did not write shows it. */
static void fill_nan(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = NAN;
}

static xf_moe_dims case_dims(const moe_case *c) {
    xf_moe_dims d = {c->E, c->K, c->C, c->I, c->router, c->gated, c->act, c->rs, c->cf, c->jitter,
                     c->I * c->C, c->G, c->TG, c->seq > 0, c->seq};
    return d;
}

/* Buffers for case c drawn from seed (no kernel call yet). */
static void bufs_init(moe_bufs *b, const moe_case *c, uint64_t seed) {
    memset(b, 0, sizeof *b);
    b->c = c;
    b->d = case_dims(c);
    b->nx = c->N * c->C, b->nwr = c->E * c->C, b->nw = c->E * c->I * c->C;
    b->x = fd_alloc(b->nx, 4), b->R = fd_alloc(b->nx, 4), b->out = fd_alloc(b->nx, 4);
    b->dx = fd_alloc(b->nx, 4);
    b->wr = fd_alloc(b->nwr, 4), b->dwr = fd_alloc(b->nwr, 4), b->bias = fd_alloc(c->E, 4);
    b->w1 = fd_alloc(b->nw, 4), b->w2 = fd_alloc(b->nw, 4), b->w3 = fd_alloc(b->nw, 4);
    b->dw1 = fd_alloc(b->nw, 4), b->dw2 = fd_alloc(b->nw, 4), b->dw3 = fd_alloc(b->nw, 4);
    b->x_d = fd_alloc(b->nx, 8), b->R_d = fd_alloc(b->nx, 8), b->wr_d = fd_alloc(b->nwr, 8);
    b->bias_d = fd_alloc(c->E, 8), b->u_d = fd_alloc(b->nx, 8);
    b->w1_d = fd_alloc(b->nw, 8), b->w2_d = fd_alloc(b->nw, 8), b->w3_d = fd_alloc(b->nw, 8);
    fd_seed(seed);
    fd_fill(b->x, b->x_d, b->nx, -1, 1);
    fd_fill(b->wr, b->wr_d, b->nwr, -1.5, 1.5);
    fd_fill(b->bias, b->bias_d, c->E, -0.3, 0.3);
    fd_fill(b->w1, b->w1_d, b->nw, -0.6, 0.6);
    fd_fill(b->w2, b->w2_d, b->nw, -0.6, 0.6);
    fd_fill(b->w3, b->w3_d, b->nw, -0.6, 0.6);
    fd_fill(b->R, b->R_d, b->nx, -1, 1);
    if (c->no_lm) {
        memset(b->R, 0, b->nx * 4);
        memset(b->R_d, 0, b->nx * 8);
    }
    b->block = alloc64(moe_act_floats(c->N, &b->d));
    b->scratch = alloc64(moe_scratch_floats(c->N, &b->d));
    fill_nan(b->block, moe_act_floats(c->N, &b->d));
    moe_carve(&b->a, b->block, c->N, &b->d);
}

static void bufs_free(moe_bufs *b) {
    free(b->x), free(b->R), free(b->out), free(b->dx), free(b->wr), free(b->dwr), free(b->bias);
    free(b->w1), free(b->w2), free(b->w3), free(b->dw1), free(b->dw2), free(b->dw3);
    free(b->x_d), free(b->R_d), free(b->wr_d), free(b->bias_d), free(b->u_d);
    free(b->w1_d), free(b->w2_d), free(b->w3_d), free(b->block), free(b->scratch);
}

static const float *case_bias(const moe_bufs *b) {
    return b->c->use_bias ? b->bias : NULL;
}

static void run_forward(moe_bufs *b, uint64_t jseed) {
    const moe_case *c = b->c;
    moe_forward(b->out, &b->a, &b->res, b->x, b->wr, case_bias(b), b->w1, b->w2,
                   c->gated ? b->w3 : NULL, c->N, &b->d, jseed);
    if (b->a.u)
        for (size_t i = 0; i < b->nx; i++) b->u_d[i] = b->a.u[i];
}

static void run_backward(moe_bufs *b, float *dx, float *dwr, float *dw1, float *dw2, float *dw3) {
    const moe_case *c = b->c;
    fill_nan(b->scratch, moe_scratch_floats(c->N, &b->d));
    moe_backward(dx, dwr, dw1, dw2, c->gated ? dw3 : NULL, b->R, &b->a, b->x, b->wr, b->w1,
                    b->w2, c->gated ? b->w3 : NULL, &b->d, c->aux_w, c->z_w, b->scratch);
}

static ref_ctx ctx_of(const moe_bufs *b) {
    const moe_case *c = b->c;
    ref_ctx r = {c,    b->x_d, b->wr_d, c->use_bias ? b->bias_d : NULL, b->w1_d, b->w2_d,
                 b->w3_d, b->R_d, c->jitter > 0 ? b->u_d : NULL, NULL, NULL, 0};
    return r;
}

/* Draws case c (seed, seed+1, ...) until every token's top keys are GAP apart;
 * leaves the kernel forward of that draw in b. */
static void draw_case(moe_bufs *b, const moe_case *c, uint64_t seed) {
    for (int tries = 0; tries < 100; tries++) {
        bufs_init(b, c, seed + (uint64_t)tries);
        run_forward(b, seed * 7 + 1);
        ref_ctx r = ctx_of(b);
        ref_out o;
        ref_alloc(&o, c);
        ref_forward(&o, &r);
        double gap = o.gap;
        ref_free(&o);
        if (gap >= GAP) return;
        bufs_free(b);
    }
    FAILF("%s: no draw with selection gaps >= %g", c->name, GAP);
}

static int any_nonfinite(const float *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 1;
    return 0;
}

static double rel(double a, double b) {
    return fabs(a - b) / (fabs(b) > 1e-12 ? fabs(b) : 1e-12);
}

/* Kernel forward state in b against the reference. */
static void check_forward(moe_bufs *b) {
    const moe_case *c = b->c;
    const xf_moe_act *a = &b->a;
    size_t N = c->N, E = c->E, K = c->K, NE = N * E, NK = N * K;
    ref_ctx r = ctx_of(b);
    ref_out o;
    ref_alloc(&o, c);
    ref_forward(&o, &r);
    double ey = fd_rel_err(b->out, o.y, b->nx), el = fd_rel_err(a->logits, o.logits, NE);
    double es = fd_rel_err(a->s, o.s, NE), ep = fd_rel_err(a->p, o.p, NE);
    double ez = fd_rel_err(a->lse, o.lse, N), ew = fd_rel_err(a->w, o.w, NK);
    int sel_ok = 1, load_ok = 1, slots_ok = a->start[0] == 0 && a->N == N;
    for (size_t i = 0; i < NK; i++) sel_ok &= a->choice[i] == o.choice[i] && a->sel[i] == o.sel[i];
    for (size_t e = 0; e < E; e++) {
        load_ok &= a->load[e] == o.load[e] && a->count[e] == o.count[e];
        slots_ok &= a->start[e + 1] == a->start[e] + a->count[e];
        for (int32_t sl = a->start[e]; sl < a->start[e + 1]; sl++) {
            size_t i = (size_t)a->slot_tok[sl] * K + (size_t)a->slot_k[sl];
            slots_ok &= a->sel[i] == (int32_t)e && a->slot_of[i] == sl;
            if (sl > a->start[e]) slots_ok &= a->slot_tok[sl] > a->slot_tok[sl - 1];
        }
    }
    for (size_t i = 0; i < NK; i++) slots_ok &= (a->sel[i] < 0) == (a->slot_of[i] < 0);
    double eaux = rel(b->res.aux, o.aux), ezl = rel(b->res.z, o.z);
    double eent = rel(b->res.entropy, o.entropy);
    size_t dropped = o.dropped;
    int nonfinite = any_nonfinite(b->out, b->nx);
    ref_free(&o);
    CHECK_MSG(!nonfinite, "%s: NaN/inf in out", c->name);
    CHECK_MSG(sel_ok, "%s: choice/sel differ from the reference", c->name);
    CHECK_MSG(load_ok, "%s: load/count differ from the reference", c->name);
    CHECK_MSG(slots_ok, "%s: slots not grouped by expert in token order", c->name);
    CHECK_MSG(ey < FWD_TOL, "%s: out rel err %.3g", c->name, ey);
    CHECK_MSG(el < FWD_TOL && es < FWD_TOL && ep < FWD_TOL && ez < FWD_TOL && ew < FWD_TOL,
              "%s: router rel err logits %.3g s %.3g p %.3g lse %.3g w %.3g", c->name, el, es, ep,
              ez, ew);
    CHECK_MSG(eaux < FWD_TOL && ezl < FWD_TOL && eent < FWD_TOL,
              "%s: aux %.3g z %.3g entropy %.3g rel err", c->name, eaux, ezl, eent);
    CHECK_MSG(b->res.dropped == dropped && b->res.assigned == NK, "%s: dropped %zu (ref %zu)",
              c->name, b->res.dropped, dropped);
}

/* max_i |got[i] - 2*once[i]| / max(1, |once[i]|) */
static double twice_err(const float *got, const float *once, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double s = fabs((double)once[i]) > 1.0 ? fabs((double)once[i]) : 1.0;
        double e = fabs((double)got[i] - 2.0 * (double)once[i]) / s;
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* Every gradient against finite differences, then the += rule. */
static void check_grads(moe_bufs *b) {
    const moe_case *c = b->c;
    size_t NK = c->N * c->K;
    ref_ctx r = ctx_of(b);
    ref_out o;
    ref_alloc(&o, c);
    ref_forward(&o, &r);
    int *bc = fd_alloc(NK, sizeof(int)), *bs = fd_alloc(NK, sizeof(int));
    memcpy(bc, o.choice, NK * sizeof(int)), memcpy(bs, o.sel, NK * sizeof(int));
    ref_free(&o);
    r.base_choice = bc, r.base_sel = bs;

    double *gx = fd_alloc(b->nx, 8), *gr = fd_alloc(b->nwr, 8), *g1 = fd_alloc(b->nw, 8);
    double *g2 = fd_alloc(b->nw, 8), *g3 = fd_alloc(b->nw, 8);
    fd_grad(gx, b->x_d, b->nx, FD_EPS, ref_loss, &r);
    fd_grad(gr, b->wr_d, b->nwr, FD_EPS, ref_loss, &r);
    fd_grad(g1, b->w1_d, b->nw, FD_EPS, ref_loss, &r);
    fd_grad(g2, b->w2_d, b->nw, FD_EPS, ref_loss, &r);
    if (c->gated) fd_grad(g3, b->w3_d, b->nw, FD_EPS, ref_loss, &r);

    run_backward(b, b->dx, b->dwr, b->dw1, b->dw2, b->dw3);
    double ex = fd_rel_err(b->dx, gx, b->nx), er = fd_rel_err(b->dwr, gr, b->nwr);
    double e1 = fd_rel_err(b->dw1, g1, b->nw), e2 = fd_rel_err(b->dw2, g2, b->nw);
    double e3 = c->gated ? fd_rel_err(b->dw3, g3, b->nw) : 0;

    /* += rule: a second backward into the same gradients doubles them */
    float *once[5] = {b->dx, b->dwr, b->dw1, b->dw2, b->dw3}, *twice[5];
    size_t n[5] = {b->nx, b->nwr, b->nw, b->nw, b->nw};
    for (int k = 0; k < 5; k++) {
        twice[k] = fd_alloc(n[k], 4);
        memcpy(twice[k], once[k], n[k] * 4);
    }
    run_backward(b, twice[0], twice[1], twice[2], twice[3], twice[4]);
    double acc = 0;
    for (int k = 0; k < 5; k++) {
        acc = fmax(acc, twice_err(twice[k], once[k], n[k]));
        free(twice[k]);
    }
    int flips = r.flips;
    free(gx), free(gr), free(g1), free(g2), free(g3), free(bc), free(bs);
    CHECK_MSG(flips == 0, "%s: %d perturbations changed the selection", c->name, flips);
    CHECK_MSG(ex < FD_TOL, "%s: dx rel err %.3g", c->name, ex);
    CHECK_MSG(er < FD_TOL, "%s: dwr rel err %.3g", c->name, er);
    CHECK_MSG(e1 < FD_TOL, "%s: dw1 rel err %.3g", c->name, e1);
    CHECK_MSG(e2 < FD_TOL, "%s: dw2 rel err %.3g", c->name, e2);
    CHECK_MSG(e3 < FD_TOL, "%s: dw3 rel err %.3g", c->name, e3);
    CHECK_MSG(acc < 1e-6, "%s: += rule err %.3g", c->name, acc);
}

/* draw, forward check, gradient check; returns the dropped count */
static size_t full_check(const moe_case *c, uint64_t seed) {
    moe_bufs b;
    draw_case(&b, c, seed);
    check_forward(&b);
    check_grads(&b);
    size_t dropped = b.res.dropped;
    bufs_free(&b);
    return dropped;
}

/* ---- forward ------------------------------------------------------------- */

static const char *router_name(xf_router_type r) {
    if (r == XF_ROUTER_SOFTMAX_TOPK_RENORM) return "renorm";
    return r == XF_ROUTER_SOFTMAX_TOPK ? "topk" : "sigmoid";
}

/* Every router x gated/plain x K=1,2 x capacity on/off, E cycling 4..8,
 * route_scale 1 or 2.5, four activations, the sigmoid bias on or off. */
TEST(test_moe_forward) {
    static const xf_act acts[4] = {XF_ACT_SILU, XF_ACT_GELU, XF_ACT_GELU_TANH, XF_ACT_RELU};
    char name[128];
    int n = 0;
    for (int router = 0; router < XF_ROUTER_COUNT; router++)
        for (int gated = 0; gated < 2; gated++)
            for (size_t K = 1; K <= 2; K++)
                for (int capped = 0; capped < 2; capped++, n++) {
                    moe_case c = {name, 24, 12, 8, 4 + (size_t)n % 5, K, (xf_router_type)router,
                                  gated, acts[n % 4], n % 3 == 1 ? 2.5f : 1.0f,
                                  capped ? 0.6f : 0.0f, 0.0f, router == 2 && n % 2, 0.01f, 0.001f, 0};
                    snprintf(name, sizeof name, "%s %s K%zu E%zu cap%d rs%g bias%d",
                             router_name(c.router), gated ? "gated" : "plain", K, c.E, capped,
                             (double)c.rs, c.use_bias);
                    moe_bufs b;
                    draw_case(&b, &c, 1000 + (uint64_t)n * 131);
                    check_forward(&b);
                    size_t dropped = b.res.dropped;
                    bufs_free(&b);
                    /* cap = ceil(0.6 * mean load) < mean load <= the largest load */
                    CHECK_MSG(!capped || dropped > 0, "%s: no drops", name);
                    CHECK_MSG(capped || dropped == 0, "%s: drops without capacity", name);
                }
}

/* The sigmoid router's bias changes the selection (the weights still use the
 * unbiased scores, checked against the reference); the softmax routers ignore it. */
TEST(test_moe_sigmoid_bias_selection) {
    moe_case c0 = {"sigmoid no bias", 16, 8, 6, 6, 2, XF_ROUTER_SIGMOID_TOPK_NORM, 1, XF_ACT_SILU,
                   2.5f, 0.0f, 0.0f, 0, 0.0f, 0.0f, 0};
    moe_case c1 = c0;
    c1.name = "sigmoid bias", c1.use_bias = 1;
    moe_bufs b0, b1;
    bufs_init(&b0, &c0, 77);
    bufs_init(&b1, &c1, 77);
    /* a bias far above the score range moves expert 5 to rank 0 everywhere */
    for (size_t j = 0; j < c1.E; j++) b1.bias[j] = b1.bias_d[j] = j == 5 ? 2.0f : 0.0f;
    run_forward(&b0, 1);
    run_forward(&b1, 1);
    int differs = 0, first5 = 1;
    for (size_t t = 0; t < c1.N; t++) {
        differs |= b0.a.choice[t * 2] != b1.a.choice[t * 2] ||
                   b0.a.choice[t * 2 + 1] != b1.a.choice[t * 2 + 1];
        first5 &= b1.a.choice[t * 2] == 5;
    }
    check_forward(&b0);
    check_forward(&b1);
    bufs_free(&b0), bufs_free(&b1);
    CHECK_MSG(differs && first5, "bias did not change the selection");

    moe_case cs = {"softmax ignores bias", 16, 8, 6, 6, 2, XF_ROUTER_SOFTMAX_TOPK_RENORM, 1,
                   XF_ACT_SILU, 1.0f, 0.0f, 0.0f, 0, 0.0f, 0.0f, 0};
    moe_bufs bs;
    bufs_init(&bs, &cs, 78);
    float *o0 = fd_alloc(bs.nx, 4);
    run_forward(&bs, 1);
    memcpy(o0, bs.out, bs.nx * 4);
    for (size_t j = 0; j < cs.E; j++) bs.bias[j] = j == 5 ? 2.0f : 0.0f;
    cs.use_bias = 1;
    run_forward(&bs, 1);
    int same = memcmp(o0, bs.out, bs.nx * 4) == 0;
    free(o0);
    bufs_free(&bs);
    CHECK_MSG(same, "a softmax router used the bias");
}

/* ---- gradients ----------------------------------------------------------- */

/* Four cases per router: dropless with every loss term; capacity drops plus
 * jitter (and the sigmoid bias); aux alone; z alone. */
static void grad_cases(xf_router_type router, uint64_t seed) {
    int sig = router == XF_ROUTER_SIGMOID_TOPK_NORM;
    moe_case full = {"dropless gated K2 E6, LM+aux+z", 8, 5, 4, 6, 2, router, 1, XF_ACT_SILU,
                     1.0f, 0.0f, 0.0f, 0, 0.7f, 0.3f, 0};
    CHECK(full_check(&full, seed) == 0);
    moe_case drop = {"capacity+jitter plain K2 E4 rs2.5", 10, 5, 4, 4, 2, router, 0, XF_ACT_GELU,
                     2.5f, 0.5f, 0.2f, sig, 0.5f, 0.2f, 0};
    size_t dropped = full_check(&drop, seed + 100);
    CHECK_MSG(dropped > 0, "capacity case dropped nothing");
    moe_case drop1 = {"capacity+jitter gated K1 E5", 9, 5, 4, 5, 1, router, 1, XF_ACT_GELU_TANH,
                      1.0f, 0.4f, 0.1f, sig, 0.4f, 0.1f, 0};
    CHECK_MSG(full_check(&drop1, seed + 200) > 0, "capacity K1 case dropped nothing");
    moe_case aux = {"aux alone K2 E8", 8, 5, 3, 8, 2, router, 1, XF_ACT_SILU, 1.0f, 0.0f, 0.0f, sig,
                    1.0f, 0.0f, 1};
    full_check(&aux, seed + 300);
    moe_case z = {"z alone K1 E4 + jitter", 8, 5, 3, 4, 1, router, 0, XF_ACT_SILU, 1.0f, 0.0f, 0.1f, 0,
                  0.0f, 1.0f, 1};
    full_check(&z, seed + 400);
}

TEST(test_moe_grad_softmax_topk_renorm) { grad_cases(XF_ROUTER_SOFTMAX_TOPK_RENORM, 2000); }
TEST(test_moe_grad_softmax_topk) { grad_cases(XF_ROUTER_SOFTMAX_TOPK, 3000); }
TEST(test_moe_grad_sigmoid_topk_norm) { grad_cases(XF_ROUTER_SIGMOID_TOPK_NORM, 4000); }

/* Group-limited routing (DeepSeek-V2's max, V3's top-2 sum) and the
 * per-sequence balance loss, for every router: forward against the reference
 * (which experts are candidates, the per-sequence aux) and finite differences
 * (the group choice is a constant of the backward, like the selection). */
static void group_cases(xf_router_type router, uint64_t seed) {
    int sig = router == XF_ROUTER_SIGMOID_TOPK_NORM;
    moe_case grp = {"groups 4x2 top2 K2 + seq aux", 12, 5, 4, 8, 2, router, 1, XF_ACT_SILU, 2.5f, 0.0f, 0.0f,
                    sig, 0.6f, 0.2f, 0, 4, 2, 4};
    CHECK(full_check(&grp, seed) == 0);
    moe_case grp1 = {"groups 3x2 top1 K2 capacity", 9, 5, 4, 6, 2, router, 0, XF_ACT_GELU, 1.0f, 0.6f, 0.0f,
                     sig, 0.5f, 0.0f, 0, 3, 1, 0};
    full_check(&grp1, seed + 100);
    moe_case seq = {"seq aux alone, ragged last sequence", 10, 5, 3, 6, 2, router, 1, XF_ACT_SILU, 1.0f, 0.0f,
                    0.0f, sig, 1.0f, 0.0f, 1, 0, 0, 4};
    full_check(&seq, seed + 200);
    /* the candidates really are limited: every choice lies in a top group */
    moe_bufs b;
    draw_case(&b, &grp1, seed + 300);
    int outside = 0;
    for (size_t t = 0; t < grp1.N; t++) {
        const int32_t *gs = b.a.gsel + t * 3;
        CHECK(gs[0] + gs[1] + gs[2] == 1);
        for (size_t q = 0; q < grp1.K; q++) outside += !gs[b.a.choice[t * 2 + q] / 2];
    }
    bufs_free(&b);
    CHECK_MSG(outside == 0, "%d choices outside the chosen groups", outside);
}

TEST(test_moe_groups_softmax_topk_renorm) { group_cases(XF_ROUTER_SOFTMAX_TOPK_RENORM, 5000); }
TEST(test_moe_groups_softmax_topk) { group_cases(XF_ROUTER_SOFTMAX_TOPK, 6000); }
TEST(test_moe_groups_sigmoid_topk_norm) { group_cases(XF_ROUTER_SIGMOID_TOPK_NORM, 7000); }

/* ---- constructed cases --------------------------------------------------- */

/* All tokens choose expert 0 (then 1); capacity 1 keeps token 0 only: every
 * other token's row is exactly 0, so x + out == x, and with no router losses
 * its dx is exactly 0. */
TEST(test_moe_dropped_token_zero) {
    for (size_t K = 1; K <= 2; K++) {
        moe_case c = {"all dropped", 6, 3, 4, 3, K, XF_ROUTER_SOFTMAX_TOPK, 1, XF_ACT_SILU, 1.0f,
                      0.25f, 0.0f, 0, 0.0f, 0.0f, 0};
        moe_bufs b;
        bufs_init(&b, &c, 90 + K);
        CHECK(moe_capacity(c.N, &b.d) == 1);
        for (size_t t = 0; t < c.N; t++) {
            b.x[t * 3] = 1.0f, b.x[t * 3 + 1] = 0.1f * (float)t, b.x[t * 3 + 2] = -0.2f;
            b.x_d[t * 3] = 1.0, b.x_d[t * 3 + 1] = 0.1f * (float)t, b.x_d[t * 3 + 2] = -0.2f;
        }
        static const float wr[9] = {2, 0, 0, 1, 0, 0, -2, 0, 0};
        for (size_t i = 0; i < 9; i++) b.wr[i] = wr[i], b.wr_d[i] = wr[i];
        run_forward(&b, 0);
        check_forward(&b);
        float *res = fd_alloc(b.nx, 4);
        residual_forward(res, b.x, b.out, b.nx);
        int zero = 1, kept0 = 0, seldrop = 1;
        for (size_t t = 1; t < c.N; t++)
            for (size_t ch = 0; ch < 3; ch++) {
                zero &= b.out[t * 3 + ch] == 0.0f && res[t * 3 + ch] == b.x[t * 3 + ch];
                if (ch < K) seldrop &= b.a.sel[t * K + ch] == -1;
            }
        for (size_t ch = 0; ch < 3; ch++) kept0 |= b.out[ch] != 0.0f;
        run_backward(&b, b.dx, b.dwr, b.dw1, b.dw2, b.dw3);
        int dx_zero = 1;
        for (size_t i = 3; i < b.nx; i++) dx_zero &= b.dx[i] == 0.0f;
        size_t dropped = b.res.dropped;
        free(res);
        bufs_free(&b);
        CHECK_MSG(seldrop && dropped == (c.N - 1) * K, "K%zu: expected tokens 1.. dropped, %zu dropped",
                  K, dropped);
        CHECK_MSG(zero, "K%zu: a dropped token's row is not exactly 0", K);
        CHECK_MSG(kept0, "K%zu: the kept token's row is 0", K);
        CHECK_MSG(dx_zero, "K%zu: a dropped token got an input gradient", K);
    }
}

/* K = E with all-zero router weights: equal logits, ties in index order, and
 * every router's weights are 1/E, so y is the mean of the experts' outputs;
 * aux = 1 (perfect balance), z = (log E)^2, entropy = N log E. */
TEST(test_moe_k_equals_e_mean) {
    for (int router = 0; router < XF_ROUTER_COUNT; router++) {
        moe_case c = {"K=E mean", 7, 6, 5, 4, 4, (xf_router_type)router, 1, XF_ACT_SILU, 1.0f, 0.0f,
                      0.0f, 0, 0.0f, 0.0f, 0};
        moe_bufs b;
        bufs_init(&b, &c, 95);
        memset(b.wr, 0, b.nwr * 4), memset(b.wr_d, 0, b.nwr * 8);
        run_forward(&b, 0);
        ref_ctx r = ctx_of(&b);
        ref_out o;
        ref_alloc(&o, &c);
        ref_forward(&o, &r);
        double *mean = fd_alloc(b.nx, 8);
        for (size_t t = 0; t < c.N; t++)
            for (size_t ch = 0; ch < c.C; ch++) {
                for (size_t e = 0; e < c.E; e++) mean[t * c.C + ch] += o.ex[(e * c.N + t) * c.C + ch];
                mean[t * c.C + ch] /= (double)c.E;
            }
        double err = fd_rel_err(b.out, mean, b.nx);
        int order = 1;
        for (size_t t = 0; t < c.N; t++)
            for (size_t q = 0; q < c.K; q++) order &= b.a.choice[t * c.K + q] == (int32_t)q;
        double lE = log((double)c.E);
        double aux = b.res.aux, z = b.res.z, ent = b.res.entropy;
        free(mean);
        ref_free(&o);
        bufs_free(&b);
        CHECK_MSG(err < FWD_TOL, "%s: out vs mean of experts rel err %.3g", router_name(c.router), err);
        CHECK_MSG(order, "%s: ties not in index order", router_name(c.router));
        CHECK_NEAR(aux, 1.0, 1e-6);
        CHECK_NEAR(z, lE * lE, 1e-5);
        CHECK_NEAR(ent, (double)c.N * lE, 1e-5);
    }
}

/* aux at perfect balance is 1 for K=1 and K=2 with peaked (not uniform)
 * probabilities; all tokens on one expert give aux well above 1. */
TEST(test_moe_aux_balance) {
    for (int router = 0; router < XF_ROUTER_COUNT; router++)
        for (size_t K = 1; K <= 2; K++)
            for (int skew = 0; skew < 2; skew++) {
                moe_case c = {"aux", 8, 4, 3, 4, K, (xf_router_type)router, 0, XF_ACT_RELU, 1.0f, 0.0f,
                              0.0f, 0, 0.0f, 0.0f, 0};
                moe_bufs b;
                bufs_init(&b, &c, 96);
                memset(b.wr, 0, b.nwr * 4), memset(b.wr_d, 0, b.nwr * 8);
                memset(b.x, 0, b.nx * 4), memset(b.x_d, 0, b.nx * 8);
                for (size_t j = 0; j < 4; j++) b.wr[j * 4 + j] = 3.0f, b.wr_d[j * 4 + j] = 3.0;
                /* token t: logit 9 on expert t%4 (0 when skewed), 3 on the next */
                for (size_t t = 0; t < c.N; t++) {
                    size_t e0 = skew ? 0 : t % 4;
                    b.x[t * 4 + e0] = 3.0f, b.x[t * 4 + (e0 + 1) % 4] = 1.0f;
                    b.x_d[t * 4 + e0] = 3.0, b.x_d[t * 4 + (e0 + 1) % 4] = 1.0;
                }
                run_forward(&b, 0);
                check_forward(&b);
                double aux = b.res.aux;
                int balanced = 1;
                for (size_t e = 0; e < 4; e++) balanced &= (size_t)b.a.load[e] == c.N * K / 4;
                bufs_free(&b);
                if (!skew) {
                    CHECK_MSG(balanced, "%s K%zu: loads not balanced", router_name(c.router), K);
                    CHECK_MSG(fabs(aux - 1.0) < 1e-6, "%s K%zu: balanced aux %.9g != 1",
                              router_name(c.router), K, aux);
                } else {
                    CHECK_MSG(aux > 1.2, "%s K%zu: skewed aux %.9g not above 1", router_name(c.router),
                              K, aux);
                }
            }
}

/* ---- hostile shapes ------------------------------------------------------ */

TEST(test_moe_hostile_shapes) {
    /* one token (BLAS's matrix-vector path for every expert) */
    moe_case n1 = {"N=1", 1, 5, 4, 4, 2, XF_ROUTER_SOFTMAX_TOPK_RENORM, 1, XF_ACT_SILU, 1.0f, 1.0f,
                   0.0f, 0, 0.5f, 0.5f, 0};
    full_check(&n1, 500);
    moe_case n1s = {"N=1 sigmoid plain", 1, 5, 4, 4, 1, XF_ROUTER_SIGMOID_TOPK_NORM, 0, XF_ACT_GELU,
                    2.0f, 0.0f, 0.1f, 1, 0.5f, 0.5f, 0};
    full_check(&n1s, 510);
    /* K = E: the selection is every expert, only the rank order varies */
    for (int router = 0; router < XF_ROUTER_COUNT; router++) {
        moe_case ke = {"K=E=4", 6, 5, 3, 4, 4, (xf_router_type)router, 1, XF_ACT_SILU, 1.5f, 0.0f, 0.0f,
                       router == 2, 0.5f, 0.2f, 0};
        full_check(&ke, 520 + (uint64_t)router);
    }
    /* capacity 1 per expert */
    moe_case cap1 = {"capacity 1", 8, 5, 4, 4, 2, XF_ROUTER_SOFTMAX_TOPK, 1, XF_ACT_SILU, 1.0f, 0.25f,
                     0.0f, 0, 0.3f, 0.1f, 0};
    {
        xf_moe_dims d = case_dims(&cap1);
        CHECK(moe_capacity(cap1.N, &d) == 1);
    }
    moe_bufs b;
    draw_case(&b, &cap1, 530);
    int le1 = 1;
    for (size_t e = 0; e < cap1.E; e++) le1 &= b.a.count[e] <= 1;
    bufs_free(&b);
    CHECK_MSG(le1, "capacity 1: an expert kept more than one assignment");
    CHECK(full_check(&cap1, 530) > 0);

    /* an expert no token selects: a constant input channel and a very negative
     * router weight on it; its weight gradients stay exactly 0 */
    for (int router = 0; router < XF_ROUTER_COUNT; router++) {
        moe_case c = {"empty expert", 8, 5, 4, 5, 2, (xf_router_type)router, 1, XF_ACT_SILU, 1.0f, 0.0f,
                      0.0f, 0, 0.3f, 0.1f, 0};
        moe_bufs be;
        uint64_t seed = 540 + (uint64_t)router;
        int ok = 0;
        for (int tries = 0; tries < 100 && !ok; tries++) {
            bufs_init(&be, &c, seed + (uint64_t)tries * 1000);
            for (size_t t = 0; t < c.N; t++) be.x[t * 5] = 1.0f, be.x_d[t * 5] = 1.0;
            be.wr[0] = -8.0f, be.wr_d[0] = -8.0;
            run_forward(&be, 0);
            ref_ctx r = ctx_of(&be);
            ref_out o;
            ref_alloc(&o, &c);
            ref_forward(&o, &r);
            ok = o.gap >= GAP;
            ref_free(&o);
            if (!ok) bufs_free(&be);
        }
        CHECK_MSG(ok, "empty expert: no well-separated draw");
        check_forward(&be);
        int empty = be.a.count[0] == 0 && be.a.load[0] == 0;
        check_grads(&be);
        int zero = 1;
        for (size_t i = 0; i < c.I * c.C; i++)
            zero &= be.dw1[i] == 0.0f && be.dw2[i] == 0.0f && be.dw3[i] == 0.0f;
        bufs_free(&be);
        CHECK_MSG(empty, "%s: expert 0 received tokens", router_name(c.router));
        CHECK_MSG(zero, "%s: the empty expert got weight gradients", router_name(c.router));
    }
    /* N = 0 does nothing */
    moe_case c0 = {"N=0", 0, 5, 4, 4, 2, XF_ROUTER_SOFTMAX_TOPK_RENORM, 1, XF_ACT_SILU, 1.0f, 1.0f,
                   0.1f, 0, 0.5f, 0.5f, 0};
    moe_bufs bz;
    bufs_init(&bz, &c0, 550);
    run_forward(&bz, 0);
    run_backward(&bz, bz.dx, bz.dwr, bz.dw1, bz.dw2, bz.dw3);
    int quiet = bz.res.assigned == 0 && bz.res.aux == 0.0;
    for (size_t i = 0; i < bz.nwr; i++) quiet &= bz.dwr[i] == 0.0f;
    bufs_free(&bz);
    CHECK(quiet);
}

/* w_stride > I*C: the gaps between experts are NaN and never read; the
 * gradient gaps are never written; results match the contiguous layout. */
TEST(test_moe_w_stride) {
    moe_case c = {"stride", 12, 6, 5, 4, 2, XF_ROUTER_SOFTMAX_TOPK_RENORM, 1, XF_ACT_SILU, 1.0f, 0.7f,
                  0.1f, 0, 0.2f, 0.1f, 0};
    moe_bufs b;
    draw_case(&b, &c, 600);
    run_backward(&b, b.dx, b.dwr, b.dw1, b.dw2, b.dw3);
    size_t IC = c.I * c.C, ws = IC + 13, n = c.E * ws;
    float *w[3], *dw[3], *dx = fd_alloc(b.nx, 4), *dwr = fd_alloc(b.nwr, 4), *out = fd_alloc(b.nx, 4);
    const float *src[3] = {b.w1, b.w2, b.w3};
    for (int k = 0; k < 3; k++) {
        w[k] = fd_alloc(n, 4), dw[k] = fd_alloc(n, 4);
        for (size_t i = 0; i < n; i++) w[k][i] = NAN, dw[k][i] = FD_PREFILL;
        for (size_t e = 0; e < c.E; e++) {
            memcpy(w[k] + e * ws, src[k] + e * IC, IC * 4);
            memset(dw[k] + e * ws, 0, IC * 4);
        }
    }
    xf_moe_dims d = b.d;
    d.w_stride = ws;
    xf_moe_out res;
    moe_forward(out, &b.a, &res, b.x, b.wr, NULL, w[0], w[1], w[2], c.N, &d, 600 * 7 + 1);
    fill_nan(b.scratch, moe_scratch_floats(c.N, &d));
    moe_backward(dx, dwr, dw[0], dw[1], dw[2], b.R, &b.a, b.x, b.wr, w[0], w[1], w[2], &d,
                    c.aux_w, c.z_w, b.scratch);
    const float *ref_dw[3] = {b.dw1, b.dw2, b.dw3};
    double err = fmax(fmax(fd_rel_err_ff(out, b.out, b.nx), fd_rel_err_ff(dx, b.dx, b.nx)),
                      fd_rel_err_ff(dwr, b.dwr, b.nwr));
    int gaps = 1;
    for (int k = 0; k < 3; k++) {
        for (size_t e = 0; e < c.E; e++) {
            err = fmax(err, fd_rel_err_ff(dw[k] + e * ws, ref_dw[k] + e * IC, IC));
            for (size_t i = IC; i < ws; i++) gaps &= dw[k][e * ws + i] == FD_PREFILL;
        }
        free(w[k]), free(dw[k]);
    }
    free(dx), free(dwr), free(out);
    bufs_free(&b);
    CHECK_MSG(err < 1e-5, "strided weights: rel err %.3g vs contiguous", err);
    CHECK_MSG(gaps, "a gradient gap between experts was written");
}

/* The jitter noise: in [1-j, 1+j), fixed by the seed, different for another
 * seed, and a forward with jitter off on a jitter-carved act reads x. */
TEST(test_moe_jitter_noise) {
    moe_case c = {"jitter", 20, 8, 4, 4, 2, XF_ROUTER_SOFTMAX_TOPK_RENORM, 1, XF_ACT_SILU, 1.0f, 0.0f,
                  0.25f, 0, 0.1f, 0.1f, 0};
    moe_bufs b;
    bufs_init(&b, &c, 700);
    float *u0 = fd_alloc(b.nx, 4), *out0 = fd_alloc(b.nx, 4);
    run_forward(&b, 11);
    memcpy(u0, b.a.u, b.nx * 4);
    int inrange = 1, varied = 0;
    for (size_t i = 0; i < b.nx; i++) {
        inrange &= u0[i] >= 0.75f && u0[i] < 1.25f;
        varied |= u0[i] != u0[0];
    }
    run_forward(&b, 11);
    int same = memcmp(u0, b.a.u, b.nx * 4) == 0;
    run_forward(&b, 12);
    int other = memcmp(u0, b.a.u, b.nx * 4) != 0;
    check_forward(&b);
    /* jitter off: same as a layer carved without jitter */
    xf_moe_dims d = b.d;
    d.jitter = 0.0f;
    moe_forward(b.out, &b.a, &b.res, b.x, b.wr, NULL, b.w1, b.w2, b.w3, c.N, &d, 11);
    memcpy(out0, b.out, b.nx * 4);
    int off = !b.a.jittered;
    fill_nan(b.scratch, moe_scratch_floats(c.N, &d));
    moe_backward(b.dx, b.dwr, b.dw1, b.dw2, b.dw3, b.R, &b.a, b.x, b.wr, b.w1, b.w2, b.w3, &d,
                    c.aux_w, c.z_w, b.scratch);
    moe_case c2 = c;
    c2.jitter = 0.0f;
    moe_bufs b2;
    bufs_init(&b2, &c2, 700);
    run_forward(&b2, 11);
    run_backward(&b2, b2.dx, b2.dwr, b2.dw1, b2.dw2, b2.dw3);
    int plain = memcmp(out0, b2.out, b.nx * 4) == 0 && memcmp(b.dx, b2.dx, b.nx * 4) == 0 &&
                memcmp(b.dwr, b2.dwr, b.nwr * 4) == 0;
    free(u0), free(out0);
    bufs_free(&b), bufs_free(&b2);
    CHECK_MSG(inrange && varied, "u outside [1-j, 1+j) or constant");
    CHECK_MSG(same, "the same seed gave different noise");
    CHECK_MSG(other, "another seed gave the same noise");
    CHECK_MSG(off, "jitter = 0 forward still marked jittered");
    CHECK_MSG(plain, "jitter = 0 on a jitter-carved act differs from a plain layer");
}

/* OpenBLAS runs a GEMM on one thread when M*N*K <= 4*65536 (its
 * interface/gemm.c); above that it splits the work by the thread count and the
 * roundings differ between counts (test_linear.c). */
#define BLAS_ONE_THREAD_MNK 262144.0

/* the largest M*N*K of the layer's GEMMs (router and experts, either pass) */
static double max_gemm_mnk(const moe_bufs *b) {
    const moe_case *c = b->c;
    double m = (double)c->N * (double)c->C * (double)c->E;
    for (size_t e = 0; e < c->E; e++) m = fmax(m, (double)b->a.count[e] * (double)c->C * (double)c->I);
    return m;
}

/* forward and backward of b with `threads` OpenMP threads */
static void run_threads(moe_bufs *b, int threads) {
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    run_forward(b, 5);
    run_backward(b, b->dx, b->dwr, b->dw1, b->dw2, b->dw3);
    omp_set_num_threads(saved);
}

/* 1 and 2 threads give bitwise-identical act state, scratch, statistics and
 * gradients, on shapes where the MoE's own loops (jitter, routing, gather,
 * combine, scatter, router gradient) run in parallel and every GEMM stays
 * below OpenBLAS's threading threshold. */
TEST(test_moe_threads) {
    for (int router = 0; router < XF_ROUTER_COUNT; router++)
        for (int gated = 0; gated < 2; gated++) {
            moe_case c = {"threads", 600, 32, 24, 8, 2, (xf_router_type)router, gated,
                          gated ? XF_ACT_SILU : XF_ACT_GELU, 1.5f, router == 1 ? 0.0f : 1.25f,
                          router == 0 ? 0.0f : 0.05f, router == 2, 0.01f, 0.001f, 0};
            moe_bufs b[2];
            for (int r = 0; r < 2; r++) {
                bufs_init(&b[r], &c, 800 + (uint64_t)router * 2 + (uint64_t)gated);
                run_threads(&b[r], r + 1);
            }
            size_t act = moe_act_floats(c.N, &b[0].d), scr = moe_scratch_floats(c.N, &b[0].d);
            int same = !memcmp(b[0].out, b[1].out, b[0].nx * 4) &&
                       !memcmp(b[0].block, b[1].block, act * 4) &&
                       !memcmp(b[0].scratch, b[1].scratch, scr * 4) &&
                       !memcmp(&b[0].res, &b[1].res, sizeof b[0].res) &&
                       !memcmp(b[0].dx, b[1].dx, b[0].nx * 4) &&
                       !memcmp(b[0].dwr, b[1].dwr, b[0].nwr * 4) &&
                       !memcmp(b[0].dw1, b[1].dw1, b[0].nw * 4) &&
                       !memcmp(b[0].dw2, b[1].dw2, b[0].nw * 4) &&
                       !memcmp(b[0].dw3, b[1].dw3, b[0].nw * 4);
            double mnk = max_gemm_mnk(&b[0]);
            check_forward(&b[0]);
            bufs_free(&b[0]), bufs_free(&b[1]);
            CHECK_MSG(mnk <= BLAS_ONE_THREAD_MNK, "shape too large: a GEMM of %.0f would thread", mnk);
            CHECK_MSG(same, "%s gated%d: 1 thread and 2 threads differ", router_name(c.router), gated);
        }
}

/* Shapes where OpenBLAS threads the GEMMs: a thread count reproduces its run
 * bit for bit; 1 and 2 threads make the same routing decisions and agree to
 * rounding. */
TEST(test_moe_threads_large) {
    moe_case c = {"threads large", 1024, 96, 80, 8, 2, XF_ROUTER_SOFTMAX_TOPK_RENORM, 1, XF_ACT_SILU,
                  1.0f, 1.25f, 0.05f, 0, 0.01f, 0.001f, 0};
    moe_bufs b[3];
    for (int r = 0; r < 3; r++) {
        bufs_init(&b[r], &c, 850);
        run_threads(&b[r], r == 0 ? 1 : 2);
    }
    size_t NK = c.N * c.K, act = moe_act_floats(c.N, &b[0].d);
    int repro = !memcmp(b[1].out, b[2].out, b[1].nx * 4) && !memcmp(b[1].block, b[2].block, act * 4) &&
                !memcmp(b[1].dx, b[2].dx, b[1].nx * 4) && !memcmp(b[1].dwr, b[2].dwr, b[1].nwr * 4) &&
                !memcmp(b[1].dw1, b[2].dw1, b[1].nw * 4) && !memcmp(b[1].dw2, b[2].dw2, b[1].nw * 4) &&
                !memcmp(b[1].dw3, b[2].dw3, b[1].nw * 4);
    int routes = !memcmp(b[0].a.choice, b[1].a.choice, NK * 4) &&
                 !memcmp(b[0].a.sel, b[1].a.sel, NK * 4) &&
                 !memcmp(b[0].a.slot_of, b[1].a.slot_of, NK * 4);
    double err = fd_rel_err_ff(b[1].out, b[0].out, b[0].nx);
    err = fmax(err, fd_rel_err_ff(b[1].dx, b[0].dx, b[0].nx));
    err = fmax(err, fd_rel_err_ff(b[1].dwr, b[0].dwr, b[0].nwr));
    err = fmax(err, fd_rel_err_ff(b[1].dw1, b[0].dw1, b[0].nw));
    err = fmax(err, fd_rel_err_ff(b[1].dw2, b[0].dw2, b[0].nw));
    err = fmax(err, fd_rel_err_ff(b[1].dw3, b[0].dw3, b[0].nw));
    double mnk = max_gemm_mnk(&b[0]);
    for (int r = 0; r < 3; r++) bufs_free(&b[r]);
    CHECK_MSG(mnk > BLAS_ONE_THREAD_MNK, "shape too small to thread the GEMMs");
    CHECK_MSG(repro, "2 threads twice differ");
    CHECK_MSG(routes, "1 and 2 threads route differently");
    CHECK_MSG(err < 1e-4, "1 and 2 threads differ by %.3g", err);
}

/* ---- sizes, capacity, the checks themselves ------------------------------ */

/* Memory is O(N*K) besides the [N,E] router tensors: the act and scratch sizes
 * obey explicit bounds, and growing E adds only the router tensors. */
TEST(test_moe_memory_bound) {
    size_t N = 512, C = 64, I = 96;
    for (size_t K = 1; K <= 4; K *= 2)
        for (int router = 0; router < XF_ROUTER_COUNT; router++) {
            xf_moe_dims d8 = {8, K, C, I, (xf_router_type)router, 1, XF_ACT_SILU,
                              1.0f, 1.0f, 0.1f, I * C};
            xf_moe_dims d64 = d8;
            d64.E = 64;
            size_t A = N * K, pad = 16 * 32;
            size_t act_bound = 3 * N * 64 + A * (2 * C + 3 * I + 6) + 2 * N * C + N + 3 * 64 + pad;
            size_t scr_bound = A * (C + 3 * I + 1) + N * 64 + pad;
            CHECK(moe_act_floats(N, &d64) <= act_bound);
            CHECK(moe_scratch_floats(N, &d64) <= scr_bound);
            size_t grow = moe_act_floats(N, &d64) - moe_act_floats(N, &d8);
            CHECK_MSG(grow <= 3 * N * 56 + 3 * 56 + pad, "act grows by %zu floats from E=8 to 64",
                      grow);
            size_t sgrow = moe_scratch_floats(N, &d64) - moe_scratch_floats(N, &d8);
            CHECK_MSG(sgrow <= N * 56 + pad, "scratch grows by %zu floats from E=8 to 64", sgrow);
        }
    /* 64-byte aligned arrays in a carved block */
    xf_moe_dims d = {5, 3, 7, 9, XF_ROUTER_SIGMOID_TOPK_NORM, 1, XF_ACT_SILU, 1.0f, 1.0f, 0.1f, 63};
    float *blk = alloc64(moe_act_floats(13, &d));
    xf_moe_act a;
    moe_carve(&a, blk, 13, &d);
    const void *ptrs[] = {a.xr, a.u, a.logits, a.s, a.p, a.lse, a.sel, a.choice, a.w, a.load,
                          a.count, a.start, a.slot_tok, a.slot_k, a.slot_of, a.xs, a.h1, a.h3,
                          a.hh, a.ys};
    int aligned = 1;
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
        aligned &= ptrs[i] != NULL && ((uintptr_t)ptrs[i] & 63) == 0;
    free(blk);
    CHECK_MSG(aligned, "a carved array is NULL or not 64-byte aligned");
}

TEST(test_moe_capacity_values) {
    xf_moe_dims d = {4, 2, 8, 8, XF_ROUTER_SOFTMAX_TOPK_RENORM, 1, XF_ACT_SILU, 1.0f, 1.25f, 0.0f, 64};
    CHECK(moe_capacity(16, &d) == 10); /* 2*16*1.25/4 = 10 exactly */
    d.capacity_factor = 1.0f;
    CHECK(moe_capacity(10, &d) == 5);
    CHECK(moe_capacity(11, &d) == 6); /* 5.5 rounds up */
    d.capacity_factor = 0.0f;
    CHECK(moe_capacity(10, &d) == 10); /* dropless: no limit */
    d.capacity_factor = 100.0f;
    CHECK(moe_capacity(10, &d) == 10); /* clamped to N */
    d.capacity_factor = 1e-6f;
    CHECK(moe_capacity(10, &d) == 1);
}

/* The comparisons used above do fail on a wrong gradient or a changed selection. */
TEST(test_moe_checks_can_fail) {
    moe_case c = {"meta", 6, 4, 3, 4, 2, XF_ROUTER_SOFTMAX_TOPK_RENORM, 1, XF_ACT_SILU, 1.0f, 0.0f,
                  0.0f, 0, 0.2f, 0.1f, 0};
    moe_bufs b;
    draw_case(&b, &c, 900);
    ref_ctx r = ctx_of(&b);
    double *g = fd_alloc(b.nwr, 8);
    fd_grad(g, b.wr_d, b.nwr, FD_EPS, ref_loss, &r);
    run_backward(&b, b.dx, b.dwr, b.dw1, b.dw2, b.dw3);
    double good = fd_rel_err(b.dwr, g, b.nwr);
    double big = 0;
    for (size_t i = 0; i < b.nwr; i++) big = fmax(big, fabs(g[i]));
    b.dwr[3] += (float)(0.01 * big);
    double bad = fd_rel_err(b.dwr, g, b.nwr);
    /* a large router change flips the selection, and the flip is seen */
    ref_out o;
    ref_alloc(&o, &c);
    ref_forward(&o, &r);
    r.base_choice = o.choice, r.base_sel = o.sel;
    for (size_t i = 0; i < b.nwr; i++) b.wr_d[i] = -b.wr_d[i];
    ref_loss(&r);
    int flips = r.flips;
    ref_free(&o);
    free(g);
    bufs_free(&b);
    CHECK_MSG(good < FD_TOL, "dwr rel err %.3g", good);
    CHECK_MSG(bad > FD_TOL, "a 1%% gradient error went unnoticed (%.3g)", bad);
    CHECK_MSG(flips == 1, "a changed selection was not detected");
}

int main(void) {
    RUN(test_moe_forward);
    RUN(test_moe_sigmoid_bias_selection);
    RUN(test_moe_grad_softmax_topk_renorm);
    RUN(test_moe_grad_softmax_topk);
    RUN(test_moe_grad_sigmoid_topk_norm);
    RUN(test_moe_groups_softmax_topk_renorm);
    RUN(test_moe_groups_softmax_topk);
    RUN(test_moe_groups_sigmoid_topk_norm);
    RUN(test_moe_dropped_token_zero);
    RUN(test_moe_k_equals_e_mean);
    RUN(test_moe_aux_balance);
    RUN(test_moe_hostile_shapes);
    RUN(test_moe_w_stride);
    RUN(test_moe_jitter_noise);
    RUN(test_moe_threads);
    RUN(test_moe_threads_large);
    RUN(test_moe_memory_bound);
    RUN(test_moe_capacity_values);
    RUN(test_moe_checks_can_fail);
    return test_summary();
}
