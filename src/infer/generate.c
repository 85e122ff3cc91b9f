/* Sampling (docs/algorithms.md §7, nanoGPT order: temperature, top-k, then top-p,
 * softmax, multinomial), the generation loops over the KV cache (decoder and
 * prefix_lm; encoder_decoder) and beam search (Hugging Face's, see generate.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
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

/* decoder or prefix_lm, else a one-line refusal naming `what` */
static xf_status need_decoder_only(const xf_config *cfg, const char *what) {
    if (cfg->arch == XF_ARCH_DECODER || cfg->arch == XF_ARCH_PREFIX_LM) return XF_OK;
    if (cfg->arch == XF_ARCH_ENCODER)
        return xf_fail(XF_ERR_ARG, "%s: arch encoder has no decoder to generate with (it fills masks)", what);
    return xf_fail(XF_ERR_ARG, "%s: arch %s needs a source (xf_generate_seq2seq / xf_beam_search)", what,
                   xf_arch_name(cfg->arch));
}

xf_status xf_generate(xf_model *m, const int32_t *prompt, size_t np, size_t n_new,
                      xf_sampler *s, int32_t stop_id, xf_token_cb cb, void *ctx) {
    const xf_config *cfg = xf_model_config(m);
    xf_status st = need_decoder_only(cfg, "generate");
    if (st) return st;
    size_t P = cfg->max_position_embeddings;
    if (np == 0) return xf_fail(XF_ERR_ARG, "the prompt needs at least one token");
    /* the window: the whole context, or less when the output is short */
    size_t win = np + n_new < P ? np + n_new : P, keep = win / 2 ? win / 2 : 1;
    if ((st = xf_model_cache_reserve(m, win))) return st;
    /* history of the last `win` tokens, for re-filling the cache when it is full */
    int32_t *hist = malloc(win * sizeof *hist);
    if (!hist) return xf_fail(XF_ERR_OOM, "out of memory");
    size_t nh = np < win ? np : keep; /* a prompt longer than the window keeps its tail */
    memcpy(hist, prompt + (np - nh), nh * sizeof *hist);
    const float *logits = NULL;
    /* one call at position 0: for a prefix_lm this makes the prompt the prefix */
    if ((st = xf_model_decode(m, hist, nh, 0, &logits))) goto done;
    for (size_t made = 0; made < n_new; made++) {
        int32_t id = xf_sampler_next(s, logits);
        if (cb && cb(id, ctx)) break;
        if (id == stop_id || made + 1 == n_new) break;
        if (nh == win) {
            /* context full: keep the last half and re-encode it from position 0
             * (positions are absolute, so the cache cannot simply be shifted);
             * a prefix_lm's kept tail becomes its prefix */
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

xf_status xf_generate_glm_fill(xf_model *m, const int32_t *prompt, size_t np, int32_t mask, int32_t gmask,
                               int32_t start, int32_t end, size_t max_fill, xf_sampler *s, int32_t **out,
                               size_t *n_out, size_t *blanks, size_t *ended) {
    const xf_config *cfg = xf_model_config(m);
    xf_status st = need_decoder_only(cfg, "glm fill");
    if (st) return st;
    if (!prompt || np == 0 || !s || !out || !n_out || !blanks || !ended)
        return xf_fail(XF_ERR_ARG, "glm fill: the prompt needs at least one token");
    size_t P = cfg->max_position_embeddings, nb = 0;
    if (np > P) return xf_fail(XF_ERR_ARG, "glm fill: the prompt has %zu tokens, more than the model's %zu positions",
                               np, P);
    for (size_t i = 0; i < np; i++) nb += prompt[i] == mask || prompt[i] == gmask;
    if (nb == 0) return xf_fail(XF_ERR_ARG, "glm fill: the prompt has no [MASK] or [gMASK] to fill");
    int use_pos = cfg->position_type == XF_POS_LEARNED, use_blk = cfg->block_position_embeddings;
    /* the output: the prompt's np - nb kept ids plus at most every cache slot left */
    int32_t *res = malloc((np + P) * sizeof *res);
    if (!res) return xf_fail(XF_ERR_OOM, "glm fill: out of memory");
    size_t nr = 0, cur = np, done_blanks = 0, done_end = 0;
    const float *logits = NULL;
    if ((st = xf_model_cache_reserve(m, P)) || (st = xf_model_decode(m, prompt, np, 0, &logits))) goto fail;
    for (size_t i = 0; i < np; i++) {
        if (prompt[i] != mask && prompt[i] != gmask) {
            res[nr++] = prompt[i];
            continue;
        }
        /* part B's span for blank i: [sop] at (i, 1), then (i, 2), (i, 3), ... */
        int32_t id = start, p = (int32_t)i, b = 1;
        for (size_t made = 0; cur < P; made++) {
            if ((st = xf_model_decode_pos(m, &id, use_pos ? &p : NULL, use_blk ? &b : NULL, 1, cur, &logits)))
                goto fail;
            cur++;
            id = xf_sampler_next(s, logits);
            if (id == end) {
                done_end++;
                break;
            }
            if (made == max_fill || b + 1 >= (int32_t)P) break;
            res[nr++] = id;
            b++;
        }
        done_blanks++;
    }
    *out = res;
    *n_out = nr;
    *blanks = done_blanks;
    *ended = done_end;
    return XF_OK;
fail:
    free(res);
    return st;
}

/* encoder_decoder with a source of ns ids that fits the context */
static xf_status check_source(const xf_config *cfg, size_t ns, const char *what) {
    if (cfg->arch != XF_ARCH_ENCODER_DECODER)
        return xf_fail(XF_ERR_ARG, "%s: arch %s has no encoder for a source", what, xf_arch_name(cfg->arch));
    if (ns == 0) return xf_fail(XF_ERR_ARG, "%s: the source needs at least one token", what);
    if (ns > cfg->max_position_embeddings)
        return xf_fail(XF_ERR_ARG, "%s: the source has %zu tokens, more than the model's %zu positions", what, ns,
                       cfg->max_position_embeddings);
    return XF_OK;
}

xf_status xf_generate_seq2seq(xf_model *m, const int32_t *src, size_t ns, int32_t start_id,
                              size_t n_new, xf_sampler *s, int32_t stop_id, xf_token_cb cb,
                              void *ctx) {
    const xf_config *cfg = xf_model_config(m);
    xf_status st = check_source(cfg, ns, "generate");
    if (st || n_new == 0) return st;
    /* the decoder reads the start token then n_new - 1 generated ids */
    size_t P = cfg->max_position_embeddings, Tmax = n_new < P ? n_new : P;
    if ((st = xf_model_cache_reserve_ex(m, 1, Tmax, ns))) return st;
    if ((st = xf_model_encode(m, src, ns))) return st;
    int32_t tok = start_id;
    for (size_t pos = 0; pos < Tmax; pos++) {
        const float *logits = NULL;
        if ((st = xf_model_decode(m, &tok, 1, pos, &logits))) return st;
        int32_t id = xf_sampler_next(s, logits);
        if (cb && cb(id, ctx)) break;
        if (id == stop_id) break;
        tok = id;
    }
    return XF_OK;
}

/* ---- beam search --------------------------------------------------------- */

void xf_beam_opts_init(xf_beam_opts *o) {
    memset(o, 0, sizeof *o);
    o->beams = 4;
    o->max_new = 20;
    o->length_penalty = 1.0f;
    o->eos_id = -1;
    o->start_id = 0;
}

void xf_beam_result_free(xf_beam_result *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) free(r->hyps[i].ids);
    free(r->hyps);
    memset(r, 0, sizeof *r);
}

/* One candidate: beam `beam` extended by token `tok`, cumulative log-prob `score`. */
typedef struct {
    double score;
    int32_t tok;
    uint32_t beam;
} cand;

/* The total order of candidates: higher score, then lower token id, then lower beam. */
static int cand_better(const cand *a, const cand *b) {
    if (a->score != b->score) return a->score > b->score;
    if (a->tok != b->tok) return a->tok < b->tok;
    return a->beam < b->beam;
}

static int cand_cmp(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    return cand_better(a, b) ? -1 : cand_better(b, a) ? 1 : 0;
}

/* A bounded heap keeping the best `cap` candidates; h[0] is the worst kept. */
typedef struct {
    cand *h;
    size_t n, cap;
} cand_heap;

static void heap_push(cand_heap *q, cand c) {
    size_t i;
    if (q->n < q->cap) { /* sift up: parents are worse than children */
        i = q->n++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!cand_better(&q->h[p], &c)) break;
            q->h[i] = q->h[p];
            i = p;
        }
        q->h[i] = c;
        return;
    }
    if (!cand_better(&c, &q->h[0])) return;
    i = 0; /* replace the worst and sift down */
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        const cand *wc = &c;
        if (l < q->n && cand_better(wc, &q->h[l])) w = l, wc = &q->h[l];
        if (r < q->n && cand_better(wc, &q->h[r])) w = r, wc = &q->h[r];
        if (w == i) break;
        q->h[i] = q->h[w];
        i = w;
    }
    q->h[i] = c;
}

/* Finished hypotheses: at most K, each slot holding up to Lmax ids. */
typedef struct {
    int32_t *ids;      /* [K, Lmax] */
    size_t *len;       /* [K] */
    double *logprob;   /* [K] */
    double *score;     /* [K] */
    int *finished;     /* [K] */
    size_t *order;     /* [K] insertion order (ties) */
    size_t n, K, Lmax, made;
    double alpha;
} hyp_set;

/* HF BeamHypotheses.add: keep while fewer than K, else replace the worst
 * (lowest score, the earliest of equals) when strictly better. */
static void hyps_add(hyp_set *hs, const int32_t *ids, size_t n, double logprob, int finished) {
    double score = logprob / pow((double)n, hs->alpha);
    size_t slot;
    if (hs->n < hs->K) {
        slot = hs->n++;
    } else {
        slot = 0;
        for (size_t i = 1; i < hs->n; i++)
            if (hs->score[i] < hs->score[slot] || (hs->score[i] == hs->score[slot] && hs->order[i] < hs->order[slot]))
                slot = i;
        if (!(score > hs->score[slot])) return;
    }
    memcpy(hs->ids + slot * hs->Lmax, ids, n * sizeof *ids);
    hs->len[slot] = n;
    hs->logprob[slot] = logprob;
    hs->score[slot] = score;
    hs->finished[slot] = finished;
    hs->order[slot] = hs->made++;
}

xf_status xf_beam_search(xf_model *m, const int32_t *input, size_t n_input, const xf_beam_opts *o,
                         xf_beam_result *out) {
    memset(out, 0, sizeof *out);
    const xf_config *cfg = xf_model_config(m);
    int encdec = cfg->arch == XF_ARCH_ENCODER_DECODER;
    size_t P = cfg->max_position_embeddings, V = cfg->vocab_size, K = o->beams;
    xf_status st = encdec ? check_source(cfg, n_input, "beam search") : need_decoder_only(cfg, "beam search");
    if (st) return st;
    if (K == 0 || K > XF_BEAM_MAX)
        return xf_fail(XF_ERR_ARG, "beam search: beams must be in [1, %d], got %zu", XF_BEAM_MAX, K);
    if (!isfinite(o->length_penalty))
        return xf_fail(XF_ERR_ARG, "beam search: the length penalty must be a finite number");
    if (o->eos_id >= 0 && (size_t)o->eos_id >= V)
        return xf_fail(XF_ERR_ARG, "beam search: eos id %d is outside the vocabulary [0, %zu)", (int)o->eos_id, V);
    if (!encdec) {
        if (n_input == 0) return xf_fail(XF_ERR_ARG, "beam search: the prompt needs at least one token");
        if (n_input > P)
            return xf_fail(XF_ERR_ARG, "beam search: the prompt has %zu tokens, more than the model's %zu positions",
                           n_input, P);
    }
    /* generated tokens at most: the cache holds the prompt (or the start token)
     * and every generated id but the last */
    size_t L = o->max_new, room = encdec ? P : P - n_input + 1;
    if (L > room) L = room;
    if (L == 0) return XF_OK;
    size_t pos = encdec ? 1 : n_input; /* positions cached */
    if ((st = xf_model_cache_reserve_ex(m, K, pos + L - 1, encdec ? n_input : 0))) return st;

    size_t ncap = 2 * K;
    hyp_set hs = {.K = K, .Lmax = L, .alpha = o->length_penalty};
    cand_heap q = {.cap = ncap};
    int32_t *seq = malloc(2 * K * L * sizeof *seq), *toks = malloc(K * sizeof *toks);
    double *score = malloc(2 * K * sizeof *score);
    size_t *parent = malloc(K * sizeof *parent);
    q.h = malloc(ncap * sizeof *q.h);
    hs.ids = malloc(K * L * sizeof *hs.ids);
    hs.len = malloc(K * sizeof *hs.len);
    hs.logprob = malloc(K * sizeof *hs.logprob);
    hs.score = malloc(K * sizeof *hs.score);
    hs.finished = malloc(K * sizeof *hs.finished);
    hs.order = malloc(K * sizeof *hs.order);
    if (!seq || !toks || !score || !parent || !q.h || !hs.ids || !hs.len || !hs.logprob || !hs.score ||
        !hs.finished || !hs.order) {
        st = xf_fail(XF_ERR_OOM, "out of memory");
        goto done;
    }
    int32_t *cur = seq, *nxt = seq + K * L; /* live beams' ids [K, L], and the next step's */
    double *cs = score, *ns = score + K;    /* their cumulative log-probs */
    const float *logits = NULL;
    if (encdec) {
        if ((st = xf_model_encode(m, input, n_input))) goto done;
        if ((st = xf_model_decode(m, &o->start_id, 1, 0, &logits))) goto done;
    } else if ((st = xf_model_decode(m, input, n_input, 0, &logits))) { /* prefix_lm: the prefix */
        goto done;
    }
    size_t nlive = 1, step = 0, len = 0; /* len: ids per live beam */
    cs[0] = 0;
    int done_early = 0;
    for (step = 0; step < L; step++) {
        q.n = 0;
        for (size_t b = 0; b < nlive; b++) {
            const float *z = logits + b * V;
            double lse = xf_logsumexp(z, V);
            for (size_t v = 0; v < V; v++)
                heap_push(&q, (cand){.score = cs[b] + ((double)z[v] - lse), .tok = (int32_t)v, .beam = (uint32_t)b});
        }
        qsort(q.h, q.n, sizeof *q.h, cand_cmp);
        size_t nn = 0;
        for (size_t r = 0; r < q.n && nn < K; r++) {
            const cand *c = &q.h[r];
            int32_t *row = nxt + nn * L;
            memcpy(row, cur + c->beam * L, len * sizeof *row);
            row[len] = c->tok;
            if (c->tok == o->eos_id) {
                if (r < K) hyps_add(&hs, row, len + 1, c->score, 1); /* row is scratch here */
                continue;
            }
            ns[nn] = c->score;
            parent[nn] = c->beam;
            toks[nn] = c->tok;
            nn++;
        }
        int32_t *ti = cur;
        cur = nxt, nxt = ti;
        double *td = cs;
        cs = ns, ns = td;
        nlive = nn;
        len++;
        if (hs.n == K) { /* early_stopping=True: K finished hypotheses */
            done_early = 1;
            step++;
            break;
        }
        if (nlive == 0 || step + 1 == L) {
            step++;
            break;
        }
        /* rows past the live beams repeat beam 0 (decoded, never read) */
        for (size_t r = nn; r < K; r++) parent[r] = parent[0], toks[r] = toks[0];
        if ((st = xf_model_cache_reorder(m, parent, pos))) goto done;
        if ((st = xf_model_decode_beams(m, toks, pos, &logits))) goto done;
        pos++;
    }
    if (!done_early)
        for (size_t b = 0; b < nlive; b++) hyps_add(&hs, cur + b * L, len, cs[b], 0);
    /* best first: score descending, ties by insertion order */
    size_t *idx = malloc((hs.n ? hs.n : 1) * sizeof *idx);
    out->hyps = calloc(hs.n ? hs.n : 1, sizeof *out->hyps);
    if (!idx || !out->hyps) {
        free(idx);
        st = xf_fail(XF_ERR_OOM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < hs.n; i++) idx[i] = i;
    for (size_t i = 1; i < hs.n; i++) /* insertion sort: K <= XF_BEAM_MAX */
        for (size_t j = i; j > 0; j--) {
            size_t a = idx[j - 1], b = idx[j];
            int swap = hs.score[b] > hs.score[a] || (hs.score[b] == hs.score[a] && hs.order[b] < hs.order[a]);
            if (!swap) break;
            idx[j - 1] = b, idx[j] = a;
        }
    for (size_t i = 0; i < hs.n; i++) {
        size_t h = idx[i];
        xf_beam_hyp *y = &out->hyps[i];
        y->ids = malloc(hs.len[h] * sizeof *y->ids);
        if (!y->ids) {
            free(idx);
            st = xf_fail(XF_ERR_OOM, "out of memory");
            goto done;
        }
        out->n = i + 1;
        memcpy(y->ids, hs.ids + h * L, hs.len[h] * sizeof *y->ids);
        y->n = hs.len[h];
        y->logprob = hs.logprob[h];
        y->score = hs.score[h];
        y->finished = hs.finished[h];
    }
    free(idx);
    out->steps = step;
    out->early_stop = done_early;
done:
    if (st) xf_beam_result_free(out);
    free(seq);
    free(toks);
    free(score);
    free(parent);
    free(q.h);
    free(hs.ids);
    free(hs.len);
    free(hs.logprob);
    free(hs.score);
    free(hs.finished);
    free(hs.order);
    return st;
}
