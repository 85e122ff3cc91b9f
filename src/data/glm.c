/* GLM autoregressive blank infilling (docs/objectives.md §GLM; Du et al. 2022,
 * "GLM: General Language Model Pretraining with Autoregressive Blank
 * Infilling", §2.1-2.3).
 *
 * glm, on a window x[0..L):
 *   1. M = round(ratio * L) tokens (clamped to [1, L-1]) are covered by spans
 *      whose lengths are Poisson(lambda) draws conditioned on >= 1 (zeros are
 *      redrawn), drawn until their sum reaches M, the last cut so it is M.
 *   2. The n spans are placed without overlap, uniformly among the orders of
 *      the n spans and the L - M kept tokens: n of the L - M + n slots (partial
 *      Fisher-Yates) are spans, the k-th span slot from the left takes the k-th
 *      length.
 *   3. Part A is x with each span replaced by one [MASK]; part B the spans in a
 *      random order (full Fisher-Yates), each fed as [START] s_1 .. s_len and
 *      predicting s_1 .. s_len [END].
 *   4. 2D positions: position id = index in part A, and for every part-B token
 *      the index of its span's [MASK] in A; block position id = 0 in A and
 *      1 .. len + 1 along a part-B span ([START] is 1).
 * gmask: one span covering the last s tokens, s uniform in [ceil(L/2), L-1];
 *   part A is x[0..L-s) [gMASK], part B [START] x[L-s..L) -> x[L-s..L) [END].
 *
 * A row is part A then part B: |A| + |B| = L + 2n tokens (gmask: L + 2). The
 * prefix_lm mask with prefix |A| makes A bidirectional and B causal with all of
 * A visible; the loss is on part B only (targets -1 in A).
 *
 * RNG draws, in order: the span lengths (Poisson, Knuth), the span slots
 * (partial Fisher-Yates), the part-B order (Fisher-Yates); gmask: one
 * xf_rng_below for the span length. */
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "data/sample.h"
#include "xfmr/objective.h"

/* ---- the special tokens ------------------------------------------------------ */

/* Spellings looked up in the vocabulary, then the sentinel that stands in. */
static const struct {
    const char *name;
    const char *spell[2];
    size_t sentinel;
    size_t field;
} k_glm_tokens[] = {
    {"[sop]", {"[sop]", "<|startofpiece|>"}, 0, offsetof(xf_glm_tokens, start)},
    {"[eop]", {"[eop]", "<|endofpiece|>"}, 1, offsetof(xf_glm_tokens, end)},
    {"[gMASK]", {"[gMASK]", NULL}, 2, offsetof(xf_glm_tokens, gmask)},
};

xf_status xf_glm_tokens_find(const xf_tokenizer *tok, xf_glm_tokens *out) {
    if (!tok || !out) return xf_fail(XF_ERR_ARG, "glm: NULL tokenizer");
    size_t V = xf_tokenizer_vocab_size(tok);
    const char *tn = xf_tokenizer_name(tok);
    out->mask = xf_tokenizer_special(tok, XF_TOK_MASK);
    if (out->mask < 0) out->mask = xf_tokenizer_str_to_id(tok, "[MASK]", 6);
    if (out->mask < 0 || (size_t)out->mask >= V)
        return xf_fail(XF_ERR_ARG, "objective glm needs a mask token [MASK]; tokenizer %s has none", tn);
    size_t ns = xf_tokenizer_sentinel_count(tok);
    for (size_t i = 0; i < sizeof k_glm_tokens / sizeof k_glm_tokens[0]; i++) {
        int32_t id = -1;
        for (int s = 0; s < 2 && id < 0 && k_glm_tokens[i].spell[s]; s++)
            id = xf_tokenizer_str_to_id(tok, k_glm_tokens[i].spell[s], strlen(k_glm_tokens[i].spell[s]));
        if (id < 0 && k_glm_tokens[i].sentinel < ns) id = xf_tokenizer_sentinel(tok, k_glm_tokens[i].sentinel);
        if (id < 0 || (size_t)id >= V)
            return xf_fail(XF_ERR_ARG, "objective glm needs the token %s (spelled %s, or sentinel <extra_id_%zu>); "
                           "tokenizer %s has neither", k_glm_tokens[i].name, k_glm_tokens[i].spell[0],
                           k_glm_tokens[i].sentinel, tn);
        *(int32_t *)((char *)out + k_glm_tokens[i].field) = id;
    }
    if (out->start == out->end || out->start == out->gmask || out->end == out->gmask || out->mask == out->start ||
        out->mask == out->end || out->mask == out->gmask)
        return xf_fail(XF_ERR_ARG, "objective glm: tokenizer %s gives [MASK] %d, [gMASK] %d, [sop] %d, [eop] %d: "
                       "they must differ", tn, (int)out->mask, (int)out->gmask, (int)out->start, (int)out->end);
    return XF_OK;
}

/* ---- sizes ------------------------------------------------------------------- */

/* Tokens covered by spans in a window of L: round half to even of the decimal
 * product (0.15f taken as 0.15, as xf_span_counts), clamped to [1, L-1]. */
static size_t covered(const xf_objective_opts *o, size_t L) {
    double r = nearbyint((double)o->glm_ratio * 1e7) / 1e7;
    size_t M = (size_t)nearbyint((double)L * r);
    if (M < 1) M = 1;
    if (M > L - 1) M = L - 1;
    return M;
}

size_t xf_glm_window(const xf_objective_opts *o, size_t T) {
    if (T < 4) return 0;
    if (o->kind == XF_OBJ_GMASK) return T - 2;
    for (size_t L = T - 2; L >= 2; L--) /* worst case: every span one token, n = M */
        if (L + 2 * covered(o, L) <= T) return L;
    return 0;
}

size_t xf_glm_work_size(size_t L) { return 5 * (L + 1); }

/* ---- one example ------------------------------------------------------------- */

/* Part B's span k: [START] raw[from..from+len) at position p, blocks 1..len+1. */
static size_t put_span(const xf_objective_opts *o, const int32_t *raw, size_t from, size_t len, size_t p,
                       int32_t *ids, int32_t *tg, int32_t *pos, int32_t *blk) {
    for (size_t j = 0; j <= len; j++) {
        ids[j] = j == 0 ? o->glm.start : raw[from + j - 1];
        tg[j] = j == len ? o->glm.end : raw[from + j];
        pos[j] = (int32_t)p;
        blk[j] = (int32_t)(j + 1);
    }
    return len + 1;
}

xf_status xf_glm_example(const xf_objective_opts *o, const int32_t *raw, size_t L, xf_rng *rng, size_t *work,
                         int32_t *ids, int32_t *tg, int32_t *pos, int32_t *blk, size_t cap, size_t *n,
                         size_t *n_a) {
    if (!o || !raw || !rng || !work || !ids || !tg || !pos || !blk || !n || !n_a || L < 2)
        return xf_fail(XF_ERR_ARG, "glm: NULL argument or a window of %zu tokens (need 2)", L);
    if (!(o->glm_ratio > 0 && o->glm_ratio < 1) || !(o->glm_lambda > 0 && o->glm_lambda <= 64))
        return xf_fail(XF_ERR_ARG, "objective glm: ratio %g must be in (0, 1) and lambda %g in (0, 64]",
                       (double)o->glm_ratio, (double)o->glm_lambda);
    if (o->kind == XF_OBJ_GMASK) {
        size_t lo = (L + 1) / 2, s = lo + (size_t)xf_rng_below(rng, (uint64_t)(L - lo)), k = L - s;
        if (L + 2 > cap) return xf_fail(XF_ERR_ARG, "gmask: %zu tokens do not fit %zu", L + 2, cap);
        for (size_t i = 0; i <= k; i++) {
            ids[i] = i < k ? raw[i] : o->glm.gmask;
            tg[i] = -1;
            pos[i] = (int32_t)i;
            blk[i] = 0;
        }
        *n_a = k + 1;
        *n = *n_a + put_span(o, raw, k, s, k, ids + *n_a, tg + *n_a, pos + *n_a, blk + *n_a);
        return XF_OK;
    }
    /* work: span lengths, slots, span starts in raw, mask positions in A, order */
    size_t *len = work, *slot = work + (L + 1), *from = work + 2 * (L + 1), *at = work + 3 * (L + 1),
           *order = work + 4 * (L + 1);
    size_t M = covered(o, L), ns = 0, sum = 0;
    while (sum < M) {
        size_t k = 0;
        for (int tries = 0; k == 0 && tries < 1000; tries++) k = sample_poisson((double)o->glm_lambda, rng);
        if (k == 0) k = 1; /* P(0)^1000 is 0 for lambda >= 0.7; a tiny lambda gets length 1 */
        if (k > M - sum) k = M - sum;
        len[ns++] = k;
        sum += k;
    }
    size_t K = L - M, items = K + ns, nb = L + 2 * ns;
    if (nb > cap) return xf_fail(XF_ERR_ARG, "glm: %zu tokens do not fit %zu", nb, cap);
    /* slot[i] = 1: item i is a span (the first ns of a random permutation of the items) */
    for (size_t i = 0; i < items; i++) order[i] = i;
    sample_partial_shuffle(order, items, ns, rng);
    for (size_t i = 0; i < items; i++) slot[i] = 0;
    for (size_t j = 0; j < ns; j++) slot[order[j]] = 1;
    /* part A */
    size_t r = 0, a = 0, k = 0;
    for (size_t i = 0; i < items; i++) {
        pos[a] = (int32_t)a;
        blk[a] = 0;
        tg[a] = -1;
        if (slot[i]) {
            ids[a] = o->glm.mask;
            from[k] = r;
            at[k] = a;
            r += len[k++];
        } else {
            ids[a] = raw[r++];
        }
        a++;
    }
    /* part B: the spans shuffled */
    for (size_t j = 0; j < ns; j++) order[j] = j;
    sample_partial_shuffle(order, ns, ns, rng);
    size_t b = a;
    for (size_t j = 0; j < ns; j++) {
        size_t s = order[j];
        b += put_span(o, raw, from[s], len[s], at[s], ids + b, tg + b, pos + b, blk + b);
    }
    *n_a = a;
    *n = b;
    return XF_OK;
}
