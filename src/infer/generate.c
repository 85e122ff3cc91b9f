/* Sampling (algorithms.md §7, nanoGPT order: temperature, top-k, then top-p,
 * softmax, multinomial) and the generation loop over the KV cache. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/model_internal.h"
#include "xfmr/generate.h"

struct xf_sampler {
    xf_sample_opts o;
    size_t V;
    xf_rng rng;
    float *prob;  /* [V] */
    int32_t *idx; /* [V] */
};

xf_status xf_sampler_create(xf_sampler **out, size_t vocab, const xf_sample_opts *o) {
    *out = NULL;
    if (!(o->temperature >= 0) || !(o->top_p > 0 && o->top_p <= 1))
        return xf_fail(XF_ERR_ARG, "temperature must be >= 0 and top-p in (0, 1]");
    xf_sampler *s = calloc(1, sizeof *s);
    if (!s) return xf_fail(XF_ERR_OOM, "out of memory");
    s->o = *o;
    s->V = vocab;
    s->prob = malloc(vocab * sizeof(float));
    s->idx = malloc(vocab * sizeof(int32_t));
    if (!s->prob || !s->idx) {
        xf_sampler_free(s);
        return xf_fail(XF_ERR_OOM, "out of memory");
    }
    xf_rng_seed(&s->rng, o->seed);
    *out = s;
    return XF_OK;
}

void xf_sampler_free(xf_sampler *s) {
    if (!s) return;
    free(s->prob);
    free(s->idx);
    free(s);
}

/* qsort_r comparator: ids by descending probability (keys = prob [V]) */
static int by_prob_desc(const void *a, const void *b, void *keys) {
    const float *prob = keys;
    float x = prob[*(const int32_t *)a], y = prob[*(const int32_t *)b];
    if (x != y) return x < y ? 1 : -1;
    return *(const int32_t *)a - *(const int32_t *)b; /* stable: lower id first */
}

int32_t xf_sampler_next(xf_sampler *s, const float *logits) {
    size_t V = s->V;
    if (s->o.temperature == 0) {
        size_t best = 0;
        for (size_t i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        return (int32_t)best;
    }
    /* softmax(z / temperature) */
    float mx = -INFINITY;
    for (size_t i = 0; i < V; i++) mx = fmaxf(mx, logits[i]);
    double sum = 0;
    for (size_t i = 0; i < V; i++) {
        s->prob[i] = expf((logits[i] - mx) / s->o.temperature);
        sum += s->prob[i];
        s->idx[i] = (int32_t)i;
    }
    for (size_t i = 0; i < V; i++) s->prob[i] = (float)(s->prob[i] / sum);
    /* sort ids by probability, keep the top-k, then the smallest prefix whose
     * mass reaches top-p (always at least one) */
    qsort_r(s->idx, V, sizeof *s->idx, by_prob_desc, s->prob);
    size_t keep = V;
    if (s->o.top_k && s->o.top_k < keep) keep = s->o.top_k;
    if (s->o.top_p < 1) {
        double kept = 0, total = 0;
        for (size_t i = 0; i < keep; i++) total += s->prob[s->idx[i]];
        size_t k = 0;
        while (k < keep) {
            kept += s->prob[s->idx[k++]];
            if (kept >= s->o.top_p * total) break;
        }
        keep = k;
    }
    double mass = 0;
    for (size_t i = 0; i < keep; i++) mass += s->prob[s->idx[i]];
    double r = xf_rng_double(&s->rng) * mass, acc = 0;
    for (size_t i = 0; i < keep; i++) {
        acc += s->prob[s->idx[i]];
        if (r < acc) return s->idx[i];
    }
    return s->idx[keep - 1];
}

xf_status xf_generate(xf_model *m, const int32_t *prompt, size_t np, size_t n_new,
                      xf_sampler *s, int32_t stop_id, xf_token_cb cb, void *ctx) {
    size_t P = m->cfg.max_position_embeddings;
    if (np == 0) return xf_fail(XF_ERR_ARG, "the prompt needs at least one token");
    /* the window: the whole context, or less when the output is short */
    size_t win = np + n_new < P ? np + n_new : P, keep = win / 2 ? win / 2 : 1;
    xf_status st = xf_model_cache_reserve(m, win);
    if (st) return st;
    /* history of the last `win` tokens, for re-filling the cache when it is full */
    int32_t *hist = malloc(win * sizeof *hist);
    if (!hist) return xf_fail(XF_ERR_OOM, "out of memory");
    size_t nh = np < win ? np : keep; /* a prompt longer than the window keeps its tail */
    memcpy(hist, prompt + (np - nh), nh * sizeof *hist);
    const float *logits = NULL;
    if ((st = xf_model_decode(m, hist, nh, 0, &logits))) goto done;
    for (size_t made = 0; made < n_new; made++) {
        int32_t id = xf_sampler_next(s, logits);
        if (cb && cb(id, ctx)) break;
        if (id == stop_id || made + 1 == n_new) break;
        if (nh == win) {
            /* context full: keep the last half and re-encode it from position 0
             * (positions are absolute, so the cache cannot simply be shifted) */
            memmove(hist, hist + (win - keep) + 1, (keep - 1) * sizeof *hist);
            hist[keep - 1] = id;
            nh = keep;
            if ((st = xf_model_decode(m, hist, nh, 0, &logits))) goto done;
        } else {
            hist[nh] = id;
            if ((st = xf_model_decode(m, &id, 1, nh, &logits))) goto done;
            nh++;
        }
    }
done:
    free(hist);
    return st;
}
