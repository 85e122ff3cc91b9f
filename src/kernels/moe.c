/* Sparse Mixture-of-Experts FFN (docs/algorithms.md §4); the contract, with the
 * forward maths and the losses, is moe.h.
 *
 * Forward
 *   1. router input xr = x*u, u[t,c] = 1 - j + 2j*U[0,1) from a xoshiro stream
 *      seeded by (jitter_seed, t), so the noise depends on the seed and the
 *      token only (jitter > 0; else the router reads x)
 *   2. logits [N,E] = xr @ Wr^T                                   (one GEMM)
 *   3. per token: s, p, lse, the top-K choice, the weights w      (parallel)
 *   4. load, capacity in GShard order, slots grouped by expert    (serial, O(N*K))
 *   5. xs[slot] = x[slot_tok[slot]]                                (parallel)
 *   6. per expert e over its rows start[e]..start[e+1]             (sequential)
 *        h1 = xs W1_e^T, h3 = xs W3_e^T      [n_e,I]
 *        hh = act(h1)*h3 (gated) or act(h1)  (over all kept rows at once)
 *        ys = hh W2_e^T                      [n_e,C]
 *   7. out_t = sum_r w_tr ys[slot_of[t,r]], kept r in rank order   (parallel)
 *   8. aux, z, entropy                                             (serial)
 *
 * Backward (the choice and the drops are constants). A' = kept assignments.
 *   g[t,r]   = <dy_t, ys[slot]>, dys[slot] = w_tr dy_t             (parallel)
 *   per expert: dhh = dys W2_e, dW2_e += dys^T hh
 *   dh1, dh3 = act/glu backward of dhh                             (all rows)
 *   per expert: dxs = dh1 W1_e (+ dh3 W3_e), dW1_e += dh1^T xs, dW3_e += dh3^T xs
 *   dx_t += sum_r dxs[slot_of[t,r]] in rank order                  (parallel)
 *   dl [N,E] per token (parallel); with r = route_scale, S the K choices (kept
 *   or not: a dropped weight keeps its place in the normaliser, with g = 0),
 *   q_j = aux_w (E/K) load_j / N^2 = dL/dp_tj and c_t = z_w (2/N) lse_t:
 *     softmax_topk:        ds_j = q_j + r g_j [j in S];  dl_j = s_j (ds_j - <s, ds>)
 *     softmax_topk_renorm: ds_j = q_j;                   dl_j = s_j (ds_j - <s, ds>)
 *                          + [j in S] r wn_j (g_j - sum_{i in S} wn_i g_i),
 *                          wn_j = s_j / sum_{i in S} s_i
 *     sigmoid_topk_norm:   dl_j = s_j (1 - s_j) (q_j - <p, q>) / sum_i s_i
 *                          + [j in S] r s_j (1 - s_j) (g_j - sum_{i in S} wn_i g_i) / sigma_S,
 *                          sigma_S = sum_{i in S} s_i
 *     all:                 dl_j += c_t softmax(l_t)_j
 *   dWr += dl^T xr;  dx += (dl Wr) * u   (dx += dl Wr without jitter)
 *
 * Threads: the per-token and per-slot loops use static schedules and each
 * writes its own rows (every row's sum in rank order), the serial steps run in
 * a fixed order, and the experts run one after another with the BLAS threads
 * inside each GEMM (matmul_forward/backward). The kernel's own loops
 * therefore give the same bits for any thread count; the GEMMs do too while
 * OpenBLAS keeps them on one thread (M*N*K <= 2^18), and above that they are
 * reproducible for a given thread count but round differently for different
 * counts, as xf_linear does.
 * Routing reads the logits, so a near-tie may then route differently.
 *
 * Memory: the act holds [N,E] router tensors and O(N*K) everything else; the
 * backward scratch is O(N*K) plus dl [N,E]. */
#include "kernels/moe.h"

#include <math.h>
#include <string.h>

#include "core/parallel.h"
#include "core/rng.h"
#include "kernels/kernels.h"

/* ---- layout ------------------------------------------------------------- */

/* Groups of a group-limited router, or 0 when every expert is a candidate. */
static size_t moe_groups(const xf_moe_dims *d) {
    if (d->n_group <= 1 || d->topk_group >= d->n_group || d->E % d->n_group) return 0;
    return d->n_group;
}

/* Next n floats of the block (each array rounded up to 16 floats, 64 bytes),
 * or NULL while counting (base == NULL). */
static float *take(float *base, size_t *used, size_t n) {
    float *p = base ? base + *used : NULL;
    *used += (n + 15) & ~(size_t)15;
    return p;
}

/* Lays out the act in base (or only counts, base == NULL); returns the floats used. */
static size_t layout(xf_moe_act *a, float *base, size_t N, const xf_moe_dims *d) {
    size_t used = 0, E = d->E, C = d->C, I = d->I, A = N * d->K;
    int jit = d->jitter > 0.0f;
    a->N = 0;
    a->jittered = 0;
    a->xr = jit ? take(base, &used, N * C) : NULL;
    a->u = jit ? take(base, &used, N * C) : NULL;
    a->logits = take(base, &used, N * E);
    a->s = take(base, &used, N * E);
    a->p = d->router == XF_ROUTER_SIGMOID_TOPK_NORM ? take(base, &used, N * E) : a->s;
    a->lse = take(base, &used, N);
    a->sel = (int32_t *)take(base, &used, A);
    a->choice = (int32_t *)take(base, &used, A);
    a->w = take(base, &used, A);
    a->load = (int32_t *)take(base, &used, E);
    size_t G = moe_groups(d);
    a->seq_load = d->seq_aux ? (int32_t *)take(base, &used, N * E) : NULL;
    a->gscore = G ? take(base, &used, N * G) : NULL;
    a->gsel = G ? (int32_t *)take(base, &used, N * G) : NULL;
    a->count = (int32_t *)take(base, &used, E);
    a->start = (int32_t *)take(base, &used, E + 1);
    a->slot_tok = (int32_t *)take(base, &used, A);
    a->slot_k = (int32_t *)take(base, &used, A);
    a->slot_of = (int32_t *)take(base, &used, A);
    a->xs = take(base, &used, A * C);
    a->h1 = take(base, &used, A * I);
    a->h3 = d->gated ? take(base, &used, A * I) : NULL;
    a->hh = take(base, &used, A * I);
    a->ys = take(base, &used, A * C);
    return used;
}

size_t moe_act_floats(size_t N, const xf_moe_dims *d) {
    xf_moe_act a;
    return layout(&a, NULL, N, d);
}

void moe_carve(xf_moe_act *a, float *base, size_t N, const xf_moe_dims *d) {
    layout(a, base, N, d);
}

/* Backward scratch: dys [A,C] (reused for dxs, then for dxr [N,C]), dhh, dh1,
 * dh3 (gated) [A,I], g [N,K], dl [N,E]. */
typedef struct {
    float *dys, *dhh, *dh1, *dh3, *g, *dl;
} moe_scratch;

static size_t scratch_layout(moe_scratch *s, float *base, size_t N, const xf_moe_dims *d) {
    size_t used = 0, A = N * d->K;
    s->dys = take(base, &used, A * d->C);
    s->dhh = take(base, &used, A * d->I);
    s->dh1 = take(base, &used, A * d->I);
    s->dh3 = d->gated ? take(base, &used, A * d->I) : NULL;
    s->g = take(base, &used, A);
    s->dl = take(base, &used, N * d->E);
    return used;
}

size_t moe_scratch_floats(size_t N, const xf_moe_dims *d) {
    moe_scratch s;
    return scratch_layout(&s, NULL, N, d);
}

size_t moe_capacity(size_t N, const xf_moe_dims *d) {
    if (!(d->capacity_factor > 0.0f) || d->E == 0) return N;
    double want = (double)d->K * (double)N * (double)d->capacity_factor / (double)d->E;
    return want >= (double)N ? N : (size_t)ceil(want);
}

/* ---- forward ------------------------------------------------------------ */

/* splitmix64 output number t+1 from seed: the seed of token t's jitter stream */
static uint64_t token_seed(uint64_t seed, size_t t) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * ((uint64_t)t + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Step 3 for token t: s, p, lse from the logits, the top-K choice and the weights.
 *   softmax: s = exp(l - lse), lse = max + log sum exp(l - max)
 *   sigmoid: s = 1/(1 + exp(-l)), p = s / sum s (lse still feeds the z-loss)
 * Selection key v_j = s_j (+ bias_j for sigmoid). Rank r takes the largest key
 * ordered after rank r-1's (smaller key, or equal key and higher index), so ties
 * go to the lower index; NaN keys are never preferred (taken last, lowest index
 * first, only when nothing else is left). */
static void route_token(xf_moe_act *a, const float *bias, size_t t, const xf_moe_dims *d) {
    size_t E = d->E, K = d->K;
    int sig = d->router == XF_ROUTER_SIGMOID_TOPK_NORM;
    const float *l = a->logits + t * E;
    float *s = a->s + t * E, *p = a->p + t * E;
    float mx = l[0];
    for (size_t j = 1; j < E; j++) mx = l[j] > mx ? l[j] : mx;
    /* e = exp(l - max): into s (softmax) or p (sigmoid, overwritten below) */
    float *e = sig ? p : s;
    for (size_t j = 0; j < E; j++) e[j] = l[j] - mx;
    xf_exp_inplace(e, E);
    double se = 0;
    for (size_t j = 0; j < E; j++) se += e[j];
    a->lse[t] = (float)((double)mx + log(se));
    if (sig) {
        for (size_t j = 0; j < E; j++) s[j] = -l[j];
        xf_exp_inplace(s, E);
        double ss = 0;
        for (size_t j = 0; j < E; j++) {
            s[j] = 1.0f / (1.0f + s[j]);
            ss += s[j];
        }
        for (size_t j = 0; j < E; j++) p[j] = ss > 0 ? (float)(s[j] / ss) : 0.0f;
    } else {
        for (size_t j = 0; j < E; j++) s[j] = (float)(s[j] / se);
    }

    int32_t *ch = a->choice + t * K;
    const float *b = sig ? bias : NULL;
    /* group-limited routing: gs[g] = 1 for the topk_group best groups */
    size_t G = moe_groups(d), gsz = G ? E / G : 0;
    int32_t *gs = G ? a->gsel + t * G : NULL;
    if (G) {
        float *gv = a->gscore + t * G;
        for (size_t g = 0; g < G; g++) {
            float m1 = -INFINITY, m2 = -INFINITY; /* the two largest keys of the group */
            for (size_t j = g * gsz; j < (g + 1) * gsz; j++) {
                float v = b ? s[j] + b[j] : s[j];
                if (isnan(v)) continue;
                if (v > m1) {
                    m2 = m1;
                    m1 = v;
                } else if (v > m2) {
                    m2 = v;
                }
            }
            gv[g] = !sig ? m1 : gsz == 1 ? m1 : m1 + m2;
            gs[g] = 0;
        }
        for (size_t r = 0; r < d->topk_group; r++) {
            size_t best = G;
            for (size_t g = 0; g < G; g++)
                if (!gs[g] && (best == G || gv[g] > gv[best] || (isnan(gv[best]) && !isnan(gv[g])))) best = g;
            gs[best] = 1;
        }
    }
    float pv = 0.0f;
    int32_t pj = -1;
    for (size_t r = 0; r < K; r++) {
        int32_t best = -1;
        float bv = 0.0f;
        for (size_t j = 0; j < E; j++) {
            if (gs && !gs[j / gsz]) continue;
            float v = b ? s[j] + b[j] : s[j];
            if (isnan(v)) continue;
            if (r > 0 && !(v < pv || (v == pv && (int32_t)j > pj))) continue;
            if (best < 0 || v > bv) {
                best = (int32_t)j;
                bv = v;
            }
        }
        if (best < 0) { /* only NaN keys left: the lowest unchosen index */
            for (size_t j = 0; j < E && best < 0; j++) {
                if (gs && !gs[j / gsz]) continue;
                int taken = 0;
                for (size_t q = 0; q < r; q++) taken |= ch[q] == (int32_t)j;
                if (!taken) best = (int32_t)j;
            }
            bv = NAN;
        }
        ch[r] = best;
        pv = bv;
        pj = best;
    }

    /* w_r = route_scale * s (softmax_topk) or route_scale * s / sum_{S} s */
    float *w = a->w + t * K;
    double rs = d->route_scale, den = 0;
    for (size_t r = 0; r < K; r++) den += s[ch[r]];
    for (size_t r = 0; r < K; r++) {
        double sr = s[ch[r]];
        if (d->router == XF_ROUTER_SOFTMAX_TOPK)
            w[r] = (float)(rs * sr);
        else
            w[r] = den > 0 ? (float)(rs * sr / den) : 0.0f;
    }
}

/* Tokens per sequence for the per-sequence aux loss (the whole call when unset). */
static size_t seq_tokens(size_t N, const xf_moe_dims *d) {
    return d->seq_len > 0 && d->seq_len < N ? d->seq_len : N;
}

/* The aux loss's weight on p_tj is scale * row[j] (the loads of the token's
 * sequence, or of the call), with scale = (E/K) / (n_seq * T_b^2): the
 * derivative of mean_b (E/K) sum_j (load_bj / T_b) (sum_{t in b} p_tj / T_b). */
static const int32_t *aux_row(const xf_moe_act *a, size_t t, size_t N, const xf_moe_dims *d, double *scale) {
    double EK = (double)d->E / (double)d->K, P = d->world ? (double)d->world->size : 1.0;
    if (!a->seq_load) { /* a world's loads are the global batch's, over its P*N tokens */
        *scale = EK / ((double)N * (double)N * P * P);
        return a->load;
    }
    size_t T = seq_tokens(N, d), b = t / T, nseq = (N + T - 1) / T;
    size_t Tb = (b + 1) * T <= N ? T : N - b * T;
    *scale = EK / ((double)nseq * P * (double)Tb * (double)Tb);
    return a->seq_load + b * d->E;
}

/* A world's step 4 (moe.h xf_moe_world): every rank's choices per rank r and
 * expert e, [size][K][E]. a->load becomes the global load, *cap the capacity of
 * the global batch, and the result [K,E] holds, per rank r and expert e, the
 * choices the global GShard order puts before this rank's first one: all
 * ranks' choices at ranks < r, then lower ranks' choices at rank r. NULL alone. */
static int32_t *world_counts(xf_moe_act *a, size_t N, const xf_moe_dims *d, size_t *cap) {
    xf_moe_world *w = d->world;
    if (!w || w->size <= 1) return NULL;
    size_t E = d->E, K = d->K, KE = K * E, P = (size_t)w->size;
    int32_t *mine = w->scratch + P * KE, *all = w->scratch;
    memset(mine, 0, KE * sizeof(int32_t));
    for (size_t i = 0; i < N * K; i++) mine[(i % K) * E + (size_t)a->choice[i]]++;
    if (w->allgather(mine, all, KE)) {
        w->failed = 1;
        return NULL;
    }
    *cap = moe_capacity(N * P, d);
    int32_t *before = mine; /* mine is no longer needed */
    memset(before, 0, KE * sizeof(int32_t));
    memset(a->load, 0, E * sizeof(int32_t));
    for (size_t q = 0; q < P; q++)
        for (size_t r = 0; r < K; r++)
            for (size_t e = 0; e < E; e++) {
                int32_t c = all[q * KE + r * E + e];
                a->load[e] += c;
                for (size_t r2 = r + 1; r2 < K; r2++) before[r2 * E + e] += c;
                if (q < (size_t)w->rank) before[r * E + e] += c;
            }
    return before;
}

/* Step 4: load (before capacity), capacity in GShard order (every rank-0
 * choice in token order, then rank 1, ...), count/start, and the slots grouped
 * by expert in token order. count serves as the fill counter, then as the
 * placement cursor, and ends as the kept count. */
static void assign_slots(xf_moe_act *a, size_t N, const xf_moe_dims *d) {
    size_t E = d->E, K = d->K, A = N * K;
    size_t cap = moe_capacity(N, d);
    memset(a->load, 0, E * sizeof(int32_t));
    memset(a->count, 0, E * sizeof(int32_t));
    for (size_t i = 0; i < A; i++) a->load[a->choice[i]]++;
    int32_t *before = world_counts(a, N, d, &cap); /* [K,E] global choices ahead of ours, or NULL */
    if (a->seq_load) {
        size_t T = seq_tokens(N, d), nseq = (N + T - 1) / T;
        memset(a->seq_load, 0, nseq * E * sizeof(int32_t));
        for (size_t i = 0; i < A; i++) a->seq_load[(i / K) / T * E + (size_t)a->choice[i]]++;
    }
    for (size_t r = 0; r < K; r++) {
        int32_t *ahead = before ? before + r * E : NULL;
        for (size_t t = 0; t < N; t++) {
            size_t i = t * K + r;
            int32_t e = a->choice[i];
            /* kept while fewer than cap choices of e precede it (all kept until then) */
            if (ahead ? (size_t)ahead[e]++ < cap : (size_t)a->count[e] < cap) {
                a->count[e]++;
                a->sel[i] = e;
            } else {
                a->sel[i] = -1;
            }
        }
    }
    a->start[0] = 0;
    for (size_t e = 0; e < E; e++) {
        a->start[e + 1] = a->start[e] + a->count[e];
        a->count[e] = 0;
    }
    for (size_t i = 0; i < A; i++) {
        int32_t e = a->sel[i];
        if (e < 0) {
            a->slot_of[i] = -1;
            continue;
        }
        int32_t pos = a->start[e] + a->count[e]++;
        a->slot_tok[pos] = (int32_t)(i / K);
        a->slot_k[pos] = (int32_t)(i % K);
        a->slot_of[i] = pos;
    }
}

/* Step 8: aux = (E/K) sum_i F_i P_i = E/(K N^2) sum_t sum_i load_i p_ti (per
 * sequence: aux_row's loads and scale),
 * z = mean_t lse_t^2, entropy = -sum_t sum_j p_tj log p_tj; in token order. */
static void moe_stats(xf_moe_out *res, const xf_moe_act *a, size_t N, const xf_moe_dims *d) {
    size_t E = d->E, K = d->K;
    double aux = 0, zs = 0, ent = 0;
    for (size_t t = 0; t < N; t++) {
        const float *p = a->p + t * E;
        double scale, an = 0;
        const int32_t *load = aux_row(a, t, N, d, &scale);
        zs += (double)a->lse[t] * a->lse[t];
        for (size_t j = 0; j < E; j++) {
            an += (double)load[j] * p[j];
            if (p[j] > 0.0f) ent -= (double)p[j] * log((double)p[j]);
        }
        aux += an * scale;
    }
    res->aux = aux;
    res->z = zs / ((double)N * (d->world ? (double)d->world->size : 1.0));
    res->entropy = ent;
    res->assigned = N * K;
    res->dropped = N * K - (size_t)a->start[E];
}

void moe_forward(float *out, xf_moe_act *a, xf_moe_out *res, const float *x, const float *wr,
                    const float *bias, const float *w1, const float *w2, const float *w3, size_t N,
                    const xf_moe_dims *d, uint64_t jitter_seed) {
    size_t E = d->E, K = d->K, C = d->C, I = d->I, ws = d->w_stride;
    a->N = N;
    a->jittered = d->jitter > 0.0f;
    if (res) memset(res, 0, sizeof *res);
    if (N == 0) return;

    /* 1. xr = x * u */
    const float *xin = x;
    if (a->jittered) {
        float lo = 1.0f - d->jitter, span = 2.0f * d->jitter;
#pragma omp parallel for schedule(static) if (N * C >= XF_PAR_MIN)
        for (size_t t = 0; t < N; t++) {
            xf_rng rng;
            xf_rng_seed(&rng, token_seed(jitter_seed, d->world ? t + (size_t)d->world->rank * N : t));
            float *ut = a->u + t * C, *xrt = a->xr + t * C;
            const float *xt = x + t * C;
            for (size_t c = 0; c < C; c++) {
                ut[c] = lo + span * xf_rng_float(&rng);
                xrt[c] = xt[c] * ut[c];
            }
        }
        xin = a->xr;
    }

    /* 2. logits = xr @ Wr^T */
    matmul_forward(a->logits, xin, wr, NULL, N, C, E);

    /* 3. route */
#pragma omp parallel for schedule(static) if (N * E >= XF_PAR_MIN / 4)
    for (size_t t = 0; t < N; t++) route_token(a, bias, t, d);

    /* 4. capacity and slots */
    assign_slots(a, N, d);
    size_t kept = (size_t)a->start[E];

    /* 5. gather the experts' inputs (x, never xr) */
#pragma omp parallel for schedule(static) if (kept * C >= XF_PAR_MIN)
    for (size_t sl = 0; sl < kept; sl++)
        memcpy(a->xs + sl * C, x + (size_t)a->slot_tok[sl] * C, C * sizeof(float));

    /* 6. experts, one after another */
    for (size_t e = 0; e < E; e++) {
        size_t n = (size_t)a->count[e], r0 = (size_t)a->start[e];
        if (n == 0) continue;
        matmul_forward(a->h1 + r0 * I, a->xs + r0 * C, w1 + e * ws, NULL, n, C, I);
        if (d->gated) matmul_forward(a->h3 + r0 * I, a->xs + r0 * C, w3 + e * ws, NULL, n, C, I);
    }
    if (d->gated)
        glu_forward(a->hh, a->h1, a->h3, kept * I, d->act);
    else
        act_forward(a->hh, a->h1, kept * I, d->act);
    for (size_t e = 0; e < E; e++) {
        size_t n = (size_t)a->count[e], r0 = (size_t)a->start[e];
        if (n == 0) continue;
        matmul_forward(a->ys + r0 * C, a->hh + r0 * I, w2 + e * ws, NULL, n, I, C);
    }

    /* 7. combine: out_t = sum over kept r (rank order) of w_tr * ys[slot] */
#pragma omp parallel for schedule(static) if (N * K * C >= XF_PAR_MIN)
    for (size_t t = 0; t < N; t++) {
        float *o = out + t * C;
        memset(o, 0, C * sizeof(float));
        for (size_t r = 0; r < K; r++) {
            int32_t sl = a->slot_of[t * K + r];
            if (sl < 0) continue;
            float wt = a->w[t * K + r];
            const float *y = a->ys + (size_t)sl * C;
#pragma omp simd
            for (size_t c = 0; c < C; c++) o[c] += wt * y[c];
        }
    }

    /* 8. losses and statistics */
    if (res) moe_stats(res, a, N, d);
}

/* ---- backward ----------------------------------------------------------- */

/* dl [E] of token t = dL/dl_t (the formulas in the header comment). */
static void router_grad(float *dl, const xf_moe_act *a, const float *g, size_t t, size_t N,
                        const xf_moe_dims *d, float aux_w, float z_w) {
    size_t E = d->E, K = d->K;
    const float *s = a->s + t * E, *l = a->logits + t * E;
    const int32_t *ch = a->choice + t * K;
    const float *gt = g + t * K;
    double rs = d->route_scale, qs;
    const int32_t *load = aux_row(a, t, N, d, &qs);
    qs *= (double)aux_w;
    double Nw = (double)N * (d->world ? (double)d->world->size : 1.0);
    double zc = (double)z_w * 2.0 / Nw * (double)a->lse[t];
    /* sum of the chosen scores, and gbar = sum_{S} wn_i g_i with wn = s / that */
    double den = 0, gbar = 0;
    for (size_t r = 0; r < K; r++) den += s[ch[r]];
    if (den > 0)
        for (size_t r = 0; r < K; r++) gbar += (double)s[ch[r]] / den * gt[r];

    if (d->router == XF_ROUTER_SIGMOID_TOPK_NORM) {
        const float *p = a->p + t * E;
        double ss = 0, pq = 0;
        for (size_t j = 0; j < E; j++) {
            ss += s[j];
            pq += (double)p[j] * qs * load[j];
        }
        for (size_t j = 0; j < E; j++) {
            double sj = s[j], v = 0;
            if (ss > 0) v = sj * (1.0 - sj) * (qs * load[j] - pq) / ss;
            if (zc != 0) v += zc * exp((double)l[j] - (double)a->lse[t]);
            dl[j] = (float)v;
        }
        if (den > 0)
            for (size_t r = 0; r < K; r++) {
                double sj = s[ch[r]];
                dl[ch[r]] += (float)(rs * sj * (1.0 - sj) * (gt[r] - gbar) / den);
            }
        return;
    }

    /* softmax routers: ds in dl, then dl_j = s_j (ds_j - <s, ds>) + c_t s_j */
    for (size_t j = 0; j < E; j++) dl[j] = (float)(qs * load[j]);
    if (d->router == XF_ROUTER_SOFTMAX_TOPK)
        for (size_t r = 0; r < K; r++) dl[ch[r]] += (float)(rs * gt[r]);
    double dot = 0;
    for (size_t j = 0; j < E; j++) dot += (double)s[j] * dl[j];
    for (size_t j = 0; j < E; j++) dl[j] = (float)((double)s[j] * ((double)dl[j] - dot + zc));
    if (d->router == XF_ROUTER_SOFTMAX_TOPK_RENORM && den > 0)
        for (size_t r = 0; r < K; r++) {
            double wn = (double)s[ch[r]] / den;
            dl[ch[r]] += (float)(rs * wn * (gt[r] - gbar));
        }
}

void moe_backward(float *dx, float *dwr, float *dw1, float *dw2, float *dw3, const float *dout,
                     const xf_moe_act *a, const float *x, const float *wr, const float *w1,
                     const float *w2, const float *w3, const xf_moe_dims *d, float aux_w, float z_w,
                     float *scratch) {
    size_t N = a->N, E = d->E, K = d->K, C = d->C, I = d->I, ws = d->w_stride;
    if (N == 0) return;
    moe_scratch sc;
    scratch_layout(&sc, scratch, N, d);
    size_t kept = (size_t)a->start[E];

    /* forward: out_t = sum_r w_tr ys[slot]  =>  g_tr = <dy_t, ys[slot]>, dys = w_tr dy_t */
    memset(sc.g, 0, N * K * sizeof(float));
#pragma omp parallel for schedule(static) if (kept * C >= XF_PAR_MIN)
    for (size_t sl = 0; sl < kept; sl++) {
        size_t t = (size_t)a->slot_tok[sl], i = t * K + (size_t)a->slot_k[sl];
        const float *dy = dout + t * C, *y = a->ys + sl * C;
        float *dys = sc.dys + sl * C, wt = a->w[i], dot = 0.0f;
        for (size_t c = 0; c < C; c++) {
            dot += dy[c] * y[c];
            dys[c] = wt * dy[c];
        }
        sc.g[i] = dot;
    }

    if (kept > 0) {
        /* forward: ys = hh W2_e^T  =>  dhh = dys W2_e, dW2_e += dys^T hh */
        memset(sc.dhh, 0, kept * I * sizeof(float));
        for (size_t e = 0; e < E; e++) {
            size_t n = (size_t)a->count[e], r0 = (size_t)a->start[e];
            if (n == 0) continue;
            matmul_backward(sc.dhh + r0 * I, dw2 + e * ws, NULL, sc.dys + r0 * C, a->hh + r0 * I,
                               w2 + e * ws, n, I, C);
        }
        /* forward: hh = act(h1)*h3 or act(h1) */
        memset(sc.dh1, 0, kept * I * sizeof(float));
        if (d->gated) {
            memset(sc.dh3, 0, kept * I * sizeof(float));
            glu_backward(sc.dh1, sc.dh3, sc.dhh, a->h1, a->h3, kept * I, d->act);
        } else {
            act_backward(sc.dh1, sc.dhh, a->h1, kept * I, d->act);
        }
        /* forward: h1 = xs W1_e^T, h3 = xs W3_e^T  =>  dxs = dh1 W1_e + dh3 W3_e,
         * dW1_e += dh1^T xs, dW3_e += dh3^T xs (dxs reuses the dys buffer) */
        float *dxs = sc.dys;
        memset(dxs, 0, kept * C * sizeof(float));
        for (size_t e = 0; e < E; e++) {
            size_t n = (size_t)a->count[e], r0 = (size_t)a->start[e];
            if (n == 0) continue;
            matmul_backward(dxs + r0 * C, dw1 + e * ws, NULL, sc.dh1 + r0 * I, a->xs + r0 * C,
                               w1 + e * ws, n, C, I);
            if (d->gated)
                matmul_backward(dxs + r0 * C, dw3 + e * ws, NULL, sc.dh3 + r0 * I,
                                   a->xs + r0 * C, w3 + e * ws, n, C, I);
        }
        /* forward: xs[slot] = x[slot_tok]  =>  dx_t += sum_r dxs[slot_of[t,r]] */
#pragma omp parallel for schedule(static) if (N * K * C >= XF_PAR_MIN)
        for (size_t t = 0; t < N; t++) {
            float *dxt = dx + t * C;
            for (size_t r = 0; r < K; r++) {
                int32_t sl = a->slot_of[t * K + r];
                if (sl < 0) continue;
                const float *src = dxs + (size_t)sl * C;
#pragma omp simd
                for (size_t c = 0; c < C; c++) dxt[c] += src[c];
            }
        }
    }

    /* forward: s, p, w from the logits; aux and z  =>  dl */
#pragma omp parallel for schedule(static) if (N * E >= XF_PAR_MIN / 4)
    for (size_t t = 0; t < N; t++) router_grad(sc.dl + t * E, a, sc.g, t, N, d, aux_w, z_w);

    /* forward: logits = xr Wr^T, xr = x * u  =>  dWr += dl^T xr, dx += (dl Wr) * u */
    if (a->jittered) {
        float *dxr = sc.dys; /* A*C >= N*C floats, free again */
        memset(dxr, 0, N * C * sizeof(float));
        matmul_backward(dxr, dwr, NULL, sc.dl, a->xr, wr, N, C, E);
#pragma omp parallel for schedule(static) if (N * C >= XF_PAR_MIN)
        for (size_t t = 0; t < N; t++) {
            float *dxt = dx + t * C;
            const float *g = dxr + t * C, *u = a->u + t * C;
#pragma omp simd
            for (size_t c = 0; c < C; c++) dxt[c] += g[c] * u[c];
        }
    } else {
        matmul_backward(dx, dwr, NULL, sc.dl, x, wr, N, C, E);
    }
}
