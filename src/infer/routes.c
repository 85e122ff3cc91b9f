/* MoE routing statistics for `xfmr routes`: token classes, entropies, KL,
 * mutual information and the per-layer accumulator (include/xfmr/routes.h). */
#include "xfmr/routes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_class_names[XF_TC_COUNT] = {"punct", "digit", "Cap-start", "lower-start",
                                                       "inner", "space", "other"};

const char *xf_token_class_name(xf_token_class c) {
    return (unsigned)c < XF_TC_COUNT ? k_class_names[c] : "?";
}

static int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static int is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static int is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_punct(unsigned char c) { return c > ' ' && c < 0x7f && !is_upper(c) && !is_lower(c) && !is_digit(c); }

xf_token_class xf_token_class_of(const char *text, size_t len, int prev_last) {
    if (!text || len == 0) return XF_TC_OTHER;
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len && is_space(s[i])) i++;
    if (i == len) return XF_TC_SPACE;
    unsigned char c = s[i];
    if (is_digit(c)) return XF_TC_DIGIT;
    if (is_upper(c) || is_lower(c)) {
        /* a word goes on after letters, digits and non-ASCII (UTF-8) bytes */
        int glued = i == 0 && prev_last >= 0 &&
                    (is_upper((unsigned char)prev_last) || is_lower((unsigned char)prev_last) ||
                     is_digit((unsigned char)prev_last) || prev_last >= 0x80);
        if (glued) return XF_TC_WORD_INNER;
        return is_upper(c) ? XF_TC_CAP_START : XF_TC_LOWER_START;
    }
    if (is_punct(c)) return XF_TC_PUNCT;
    return XF_TC_OTHER;
}

/* ---- information measures -------------------------------------------------- */

static double sum_of(const double *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    return s;
}

double xf_entropy_bits(const double *counts, size_t n) {
    double tot = sum_of(counts, n);
    if (!(tot > 0)) return 0;
    double h = 0;
    for (size_t i = 0; i < n; i++)
        if (counts[i] > 0) {
            double p = counts[i] / tot;
            h -= p * log2(p);
        }
    return h > 0 ? h : 0;
}

double xf_kl_bits(const double *p, const double *q, size_t n) {
    double sp = sum_of(p, n), sq = sum_of(q, n);
    if (!(sp > 0) || !(sq > 0)) return NAN;
    double kl = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(p[i] > 0)) continue;
        if (!(q[i] > 0)) return INFINITY;
        double pi = p[i] / sp, qi = q[i] / sq;
        kl += pi * log2(pi / qi);
    }
    return kl > 0 ? kl : 0; /* rounding can leave -1e-17 */
}

double xf_mutual_info_bits(const double *joint, size_t nx, size_t ny, double *h_y, double *h_y_given_x) {
    double tot = 0;
    for (size_t i = 0; i < nx * ny; i++) tot += joint[i];
    double hy = 0, hyx = 0;
    if (tot > 0) {
        /* H(Y) from the column sums; H(Y|X) = sum_x p(x) H(Y | X = x) */
        for (size_t y = 0; y < ny; y++) {
            double c = 0;
            for (size_t x = 0; x < nx; x++) c += joint[x * ny + y];
            if (c > 0) hy -= c / tot * log2(c / tot);
        }
        for (size_t x = 0; x < nx; x++) {
            double rx = sum_of(joint + x * ny, ny);
            if (rx > 0) hyx += rx / tot * xf_entropy_bits(joint + x * ny, ny);
        }
    }
    if (h_y) *h_y = hy;
    if (h_y_given_x) *h_y_given_x = hyx;
    double mi = hy - hyx;
    return mi > 0 ? mi : 0;
}

/* ---- accumulator ------------------------------------------------------------- */

void xf_routes_acc_free(xf_routes_acc *a) {
    if (!a) return;
    free(a->expert);
    free(a->token);
    free(a->token_expert);
    free(a->cls_expert);
    free(a->pos_expert);
    free(a->seg_expert);
    memset(a, 0, sizeof *a);
}

static double *zeros(size_t n, size_t m, int *bad) {
    if (m && n > (size_t)-1 / sizeof(double) / m) {
        *bad = 1;
        return NULL;
    }
    size_t cnt = n * m;
    double *p = calloc(cnt ? cnt : 1, sizeof(double));
    if (!p) *bad = 1;
    return p;
}

xf_status xf_routes_acc_init(xf_routes_acc *a, size_t V, size_t E, size_t K, size_t npos, size_t nseg) {
    memset(a, 0, sizeof *a);
    if (V == 0 || E == 0 || K == 0 || K > E || npos == 0 || nseg == 0 || E > INT32_MAX || V > INT32_MAX)
        return xf_fail(XF_ERR_ARG, "routes: bad accumulator sizes V=%zu E=%zu K=%zu positions=%zu segments=%zu",
                       V, E, K, npos, nseg);
    int bad = 0;
    a->V = V, a->E = E, a->K = K, a->npos = npos, a->nseg = nseg;
    a->expert = zeros(E, 1, &bad);
    a->token = zeros(V, 1, &bad);
    a->token_expert = zeros(V, E, &bad);
    a->cls_expert = zeros(XF_TC_COUNT, E, &bad);
    a->pos_expert = zeros(npos, E, &bad);
    a->seg_expert = zeros(nseg, E, &bad);
    if (bad) {
        xf_routes_acc_free(a);
        return xf_fail(XF_ERR_OOM, "routes: out of memory for %zu x %zu token counts", V, E);
    }
    return XF_OK;
}

xf_status xf_routes_acc_add(xf_routes_acc *a, size_t n, const int32_t *ids, const uint8_t *cls,
                            const int32_t *pos, const int32_t *seg, const int32_t *sel) {
    size_t E = a->E, K = a->K;
    for (size_t t = 0; t < n; t++) {
        if (ids[t] < 0 || (size_t)ids[t] >= a->V)
            return xf_fail(XF_ERR_ARG, "routes: token id %d at row %zu is outside [0, %zu)", (int)ids[t], t, a->V);
        if (cls[t] >= XF_TC_COUNT) return xf_fail(XF_ERR_ARG, "routes: class %u at row %zu", (unsigned)cls[t], t);
        if (pos[t] < 0 || (size_t)pos[t] >= a->npos)
            return xf_fail(XF_ERR_ARG, "routes: position bucket %d at row %zu is outside [0, %zu)", (int)pos[t], t,
                           a->npos);
        if (seg[t] < 0 || (size_t)seg[t] >= a->nseg)
            return xf_fail(XF_ERR_ARG, "routes: segment %d at row %zu is outside [0, %zu)", (int)seg[t], t, a->nseg);
        for (size_t j = 0; j < K; j++)
            if (sel[t * K + j] < -1 || sel[t * K + j] >= (int32_t)E)
                return xf_fail(XF_ERR_ARG, "routes: expert %d at row %zu is outside [-1, %zu)", (int)sel[t * K + j],
                               t, E);
    }
    for (size_t t = 0; t < n; t++) {
        size_t v = (size_t)ids[t];
        a->rows += 1;
        a->token[v] += 1;
        a->cls[cls[t]] += 1;
        for (size_t j = 0; j < K; j++) {
            int32_t e = sel[t * K + j];
            if (e < 0) {
                a->dropped += 1;
                continue;
            }
            a->expert[e] += 1;
            a->token_expert[v * E + (size_t)e] += 1;
            a->cls_expert[(size_t)cls[t] * E + (size_t)e] += 1;
            a->pos_expert[(size_t)pos[t] * E + (size_t)e] += 1;
            a->seg_expert[(size_t)seg[t] * E + (size_t)e] += 1;
        }
    }
    return XF_OK;
}

double xf_routes_share(const xf_routes_acc *a, size_t e) {
    double tot = a->rows * (double)a->K;
    return e < a->E && tot > 0 ? a->expert[e] / tot : 0;
}

size_t xf_routes_top_tokens(const xf_routes_acc *a, size_t e, size_t n, int32_t *ids, double *counts) {
    if (e >= a->E) return 0;
    size_t got = 0;
    /* insertion into a sorted list of at most n: V * n, fine for n ~ 10 */
    for (size_t v = 0; v < a->V; v++) {
        double c = a->token_expert[v * a->E + e];
        if (!(c > 0)) continue;
        size_t at = got;
        while (at > 0 && a->token_expert[(size_t)ids[at - 1] * a->E + e] < c) at--;
        if (at >= n) continue;
        size_t last = got < n ? got : n - 1;
        for (size_t i = last; i > at; i--) ids[i] = ids[i - 1];
        ids[at] = (int32_t)v;
        if (got < n) got++;
    }
    if (counts)
        for (size_t i = 0; i < got; i++) counts[i] = a->token_expert[(size_t)ids[i] * a->E + e];
    return got;
}

void xf_routes_class_dist(const xf_routes_acc *a, size_t e, double out[XF_TC_COUNT]) {
    double tot = 0;
    for (size_t c = 0; c < XF_TC_COUNT; c++) {
        double v = 0;
        if (e == XF_ROUTES_ALL) v = sum_of(a->cls_expert + c * a->E, a->E);
        else if (e < a->E) v = a->cls_expert[c * a->E + e];
        out[c] = v;
        tot += v;
    }
    for (size_t c = 0; c < XF_TC_COUNT; c++) out[c] = tot > 0 ? out[c] / tot : 0;
}

double xf_routes_class_kl(const xf_routes_acc *a, size_t e) {
    double q[XF_TC_COUNT], p[XF_TC_COUNT];
    xf_routes_class_dist(a, e, q);
    xf_routes_class_dist(a, XF_ROUTES_ALL, p);
    return xf_kl_bits(q, p, XF_TC_COUNT);
}

double xf_routes_class_max_lift(const xf_routes_acc *a, size_t e, double min_share, xf_token_class *which) {
    double q[XF_TC_COUNT], p[XF_TC_COUNT];
    xf_routes_class_dist(a, e, q);
    xf_routes_class_dist(a, XF_ROUTES_ALL, p);
    double best = NAN;
    int got = 0;
    for (size_t c = 0; c < XF_TC_COUNT; c++) got |= q[c] > 0;
    if (!got) return NAN;
    for (size_t c = 0; c < XF_TC_COUNT; c++) {
        if (!(p[c] > 0) || p[c] < min_share) continue;
        double l = q[c] / p[c];
        if (isnan(best) || l > best) {
            best = l;
            if (which) *which = (xf_token_class)c;
        }
    }
    return best;
}

static const char *const k_var_names[XF_RV_COUNT] = {"token id", "token class", "position", "text segment"};

const char *xf_routes_var_name(xf_routes_var v) { return (unsigned)v < XF_RV_COUNT ? k_var_names[v] : "?"; }

void xf_routes_info_of(const xf_routes_acc *a, xf_routes_var v, xf_routes_info *out) {
    memset(out, 0, sizeof *out);
    const double *joint = NULL;
    size_t nx = 0, E = a->E;
    switch (v) {
    case XF_RV_TOKEN: joint = a->token_expert, nx = a->V; break;
    case XF_RV_CLASS: joint = a->cls_expert, nx = XF_TC_COUNT; break;
    case XF_RV_POSITION: joint = a->pos_expert, nx = a->npos; break;
    case XF_RV_SEGMENT: joint = a->seg_expert, nx = a->nseg; break;
    default: return;
    }
    if (!joint) return;
    out->mi = xf_mutual_info_bits(joint, nx, E, &out->h_expert, &out->h_cond);
    size_t xs = 0, es = 0;
    double M = 0;
    for (size_t x = 0; x < nx; x++) {
        double r = sum_of(joint + x * E, E);
        xs += r > 0;
        M += r;
    }
    for (size_t e = 0; e < E; e++) es += a->expert[e] > 0;
    out->values = xs;
    out->chance = M > 0 && xs > 0 && es > 0 ? (double)(xs - 1) * (double)(es - 1) / (2.0 * M * log(2.0)) : 0;
}
