/* xfmr study: the fixed held-out sets and the measures that compare models
 * trained with different objectives (docs/study.md §Measures).
 *
 *   bpb      decoder and prefix_lm (causal, prefix 0) except GLM's objectives:
 *            windows of T + 1 held-out tokens, sum of -log2 p(next token) over
 *            the T predicted tokens / the bytes those tokens spell
 *   denoise  models trained to denoise (mlm, span, bart, glm, gmask): one corruption of
 *            held-out windows of L tokens, drawn once (T5 spans: density
 *            0.15, mean length 3, a fixed seed), given to each model in the
 *            format it was trained on:
 *              mlm   every corrupted token -> the mask token, predicted in place
 *              bart  every span -> one mask token; the decoder rebuilds the window
 *              span  every span -> a sentinel; the target lists the spans
 *                    (encoder_decoder: source/target; prefix_lm: [inputs targets])
 *              glm   every span -> GLM's [MASK] in part A; part B lists the spans
 *                    in window order, each [START] span (targets: span, [END]),
 *                    with GLM's 2D positions (docs/objectives.md §GLM)
 *            mean cross-entropy (nats) over the corrupted tokens only, teacher forced
 *   fill     the share of the corrupted tokens whose most likely id is the original */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "xfmr/study.h"
#include "xfmr/model.h"

#define EVAL_ROWS 8

void xf_study_evalset_free(xf_study_evalset *e) {
    if (!e) return;
    free(e->lm);
    free(e->dn);
    free(e->mask);
    memset(e, 0, sizeof *e);
}

/* Ids a window of L costs under span corruption as [inputs targets]: the kept
 * tokens, one sentinel per span on each side, the noise and two EOS. */
static size_t span_cost(size_t L) {
    size_t noise = 0, spans = 0;
    xf_span_counts(L, 0.15f, 3.0f, &noise, &spans);
    return L + 2 * spans + 2;
}

xf_status xf_study_evalset_make(xf_study_evalset *e, const xf_dataset *ds, const xf_tokenizer *tok, size_t seq,
                                size_t max_windows, uint64_t seed) {
    memset(e, 0, sizeof *e);
    size_t n_train = xf_dataset_train_len(ds), n_val = xf_dataset_val_len(ds);
    if (seq < 8) return xf_fail(XF_ERR_ARG, "study: --seq %zu is too short to evaluate (need 8)", seq);
    e->T = seq;
    e->n_lm = n_val > seq ? (n_val - 1) / seq : 0;
    if (e->n_lm > max_windows) e->n_lm = max_windows;
    e->L = seq;
    while (e->L > 4 && span_cost(e->L) > seq) e->L--;
    /* and no longer than GLM's training window: a glm row of T ids holds
     * xf_glm_window(T) raw tokens, and its learned positions past that are
     * never trained (a first study that ignored this saw GLM's loss 0.35 nats
     * worse on the longer windows than on its own) */
    xf_objective_opts glm = {.kind = XF_OBJ_GLM, .glm_ratio = 0.15f};
    size_t Lg = xf_glm_window(&glm, seq);
    if (Lg >= 4 && e->L > Lg) e->L = Lg;
    e->n_dn = n_val / e->L;
    if (e->n_dn > max_windows) e->n_dn = max_windows;
    if (e->n_lm == 0 || e->n_dn == 0)
        return xf_fail(XF_ERR_SHAPE, "study: the held-out part has %zu tokens, fewer than one window of %zu", n_val,
                       seq + 1);
    e->lm = malloc(e->n_lm * (seq + 1) * sizeof *e->lm);
    e->dn = malloc(e->n_dn * e->L * sizeof *e->dn);
    e->mask = malloc(e->n_dn * e->L);
    if (!e->lm || !e->dn || !e->mask) {
        xf_study_evalset_free(e);
        return xf_fail(XF_ERR_OOM, "out of memory for the evaluation sets");
    }
    xf_status s = XF_OK;
    char piece[XF_TOKENIZER_PIECE_MAX];
    for (size_t w = 0; w < e->n_lm && !s; w++) {
        int32_t *row = e->lm + w * (seq + 1);
        s = xf_dataset_copy(ds, n_train + w * seq, seq + 1, row);
        for (size_t t = 1; t <= seq && !s; t++) {
            size_t len = 0;
            s = xf_tokenizer_piece(tok, row[t - 1], row[t], piece, sizeof piece, &len);
            e->lm_bytes += (double)len;
        }
    }
    xf_rng rng;
    xf_rng_seed(&rng, seed);
    for (size_t w = 0; w < e->n_dn && !s; w++) {
        s = xf_dataset_copy(ds, n_train + w * e->L, e->L, e->dn + w * e->L);
        xf_span_noise_mask(e->mask + w * e->L, e->L, 0.15f, 3.0f, &rng);
        for (size_t i = 0; i < e->L; i++) e->n_masked += e->mask[w * e->L + i];
    }
    if (!s && !(e->lm_bytes > 0)) s = xf_fail(XF_ERR_SHAPE, "study: the held-out tokens spell no bytes");
    if (s) xf_study_evalset_free(e);
    return s;
}

/* Everything one evaluation holds. */
typedef struct {
    xf_model *m;
    xf_tokenizer *tok;
    xf_objective_opts oo;
    xf_batch_buf bb;
    size_t T, S, live;
    uint8_t *flag; /* [T+1] which target ids are corrupted tokens */
    int32_t *in, *tg, *src;
    int glm_pos, glm_blk; /* the model reads GLM's position rows / block position rows */
} evaluator;

static void ev_free(evaluator *v) {
    xf_model_free(v->m);
    xf_tokenizer_free(v->tok);
    free(v->bb.ids);
    free(v->bb.targets);
    free(v->bb.lengths);
    free(v->bb.prefix_len);
    free(v->bb.src);
    free(v->bb.src_lengths);
    free(v->bb.position_ids);
    free(v->bb.block_position_ids);
    free(v->flag);
    free(v->in);
    free(v->tg);
    free(v->src);
}

/* Run rows [0, B) of v->bb; add the summed loss and, with fill != NULL, the
 * correct argmaxes over the targets. */
static xf_status ev_forward(evaluator *v, size_t B, double *loss_sum, double *count, double *fill) {
    xf_batch b = {.B = B, .T = v->T, .ids = v->bb.ids, .targets = v->bb.targets, .lengths = v->bb.lengths};
    const xf_config *cfg = xf_model_config(v->m);
    if (cfg->arch == XF_ARCH_PREFIX_LM) b.prefix_len = v->bb.prefix_len;
    if (v->glm_pos) b.position_ids = v->bb.position_ids;
    if (v->glm_blk) b.block_position_ids = v->bb.block_position_ids;
    if (cfg->arch == XF_ARCH_ENCODER_DECODER) {
        b.S = v->S;
        b.src = v->bb.src;
        b.src_lengths = v->bb.src_lengths;
    }
    float loss = 0;
    size_t valid = 0;
    xf_status s = xf_model_forward_batch(v->m, &b, &loss, &valid);
    if (s || valid == 0) return s;
    *loss_sum += (double)loss * (double)valid;
    *count += (double)valid;
    if (!fill) return XF_OK;
    const float *lg = xf_model_logits(v->m);
    size_t V = cfg->vocab_size;
    for (size_t i = 0; i < B * v->T; i++) {
        if (v->bb.targets[i] < 0) continue;
        const float *row = lg + i * V;
        size_t best = 0;
        for (size_t k = 1; k < v->live; k++)
            if (row[k] > row[best]) best = k;
        *fill += (int32_t)best == v->bb.targets[i];
    }
    return XF_OK;
}

/* Bits per byte over the next-token windows (causal: prefix 0). */
static xf_status eval_bpb(evaluator *v, const xf_study_evalset *e, double *bpb) {
    double sum = 0, n = 0;
    xf_status s = XF_OK;
    for (size_t w0 = 0; w0 < e->n_lm && !s; w0 += EVAL_ROWS) {
        size_t B = e->n_lm - w0 < EVAL_ROWS ? e->n_lm - w0 : EVAL_ROWS;
        for (size_t r = 0; r < B && !s; r++)
            s = xf_batch_put_lm(&v->oo, &v->bb, r, e->lm + (w0 + r) * (e->T + 1), e->T + 1, 0);
        if (!s) s = ev_forward(v, B, &sum, &n, NULL);
    }
    *bpb = sum / log(2.0) / e->lm_bytes;
    return s;
}

/* Row r of the denoising batch from window w, in the format of objective obj. */
static xf_status dn_row(evaluator *v, const xf_study_evalset *e, xf_objective obj, size_t r, size_t w) {
    const int32_t *raw = e->dn + w * e->L;
    const uint8_t *mask = e->mask + w * e->L;
    size_t L = e->L, T = v->T;
    int32_t *ids = v->bb.ids + r * T, *tg = v->bb.targets + r * T;
    int encdec = v->oo.arch == XF_ARCH_ENCODER_DECODER;
    if (obj == XF_OBJ_MLM) { /* in place: ids corrupted, targets the originals */
        for (size_t i = 0; i < T; i++) {
            ids[i] = i < L ? (mask[i] ? v->oo.mask : raw[i]) : (v->oo.pad >= 0 ? v->oo.pad : 0);
            tg[i] = i < L && mask[i] ? raw[i] : -1;
        }
        v->bb.lengths[r] = (int32_t)L;
        v->bb.prefix_len[r] = 0;
        return XF_OK;
    }
    if (obj == XF_OBJ_GLM || obj == XF_OBJ_GMASK) { /* part A, then the spans in window order */
        int32_t *pos = v->bb.position_ids + r * T, *blk = v->bb.block_position_ids + r * T;
        size_t a = 0, nb = 0;
        for (size_t i = 0; i < L; i++) /* part A: kept tokens, one [MASK] per span */
            if (!mask[i] || i == 0 || !mask[i - 1]) a++;
        for (size_t i = 0, at = 0; i < L; i++) {
            if (mask[i] && (i > 0 && mask[i - 1])) continue;
            if (!mask[i]) { /* a kept token of part A */
                ids[at] = raw[i], tg[at] = -1, pos[at] = (int32_t)at, blk[at] = 0;
                at++;
                continue;
            }
            /* span from i: [MASK] at `at` in part A; [START] span in part B, targets span [END] */
            size_t len = 0;
            while (i + len < L && mask[i + len]) len++;
            ids[at] = v->oo.glm.mask, tg[at] = -1, pos[at] = (int32_t)at, blk[at] = 0;
            for (size_t j = 0; j <= len; j++) {
                size_t q = a + nb + j;
                if (q >= T) return xf_fail(XF_ERR_ARG, "study: a glm row of window %zu does not fit %zu", L, T);
                ids[q] = j == 0 ? v->oo.glm.start : raw[i + j - 1];
                tg[q] = j < len ? raw[i + j] : -1; /* [END] is format, not a corrupted token */
                pos[q] = (int32_t)at;
                blk[q] = (int32_t)(j + 1);
            }
            nb += len + 1;
            at++;
        }
        for (size_t i = a + nb; i < T; i++) {
            ids[i] = v->oo.pad >= 0 ? v->oo.pad : 0;
            tg[i] = -1, pos[i] = 0, blk[i] = 0;
        }
        v->bb.lengths[r] = (int32_t)(a + nb);
        v->bb.prefix_len[r] = (int32_t)a;
        return XF_OK;
    }
    size_t n_in = 0, n_tg = 0;
    xf_status s;
    if (obj == XF_OBJ_BART) { /* each span one mask; the target is the window and EOS */
        for (size_t i = 0; i < L; i++) {
            if (!mask[i]) v->in[n_in++] = raw[i];
            else if (i == 0 || !mask[i - 1]) v->in[n_in++] = v->oo.mask;
            v->tg[i] = raw[i];
            v->flag[i] = mask[i];
        }
        v->in[n_in++] = v->oo.eos;
        v->tg[L] = v->oo.eos;
        v->flag[L] = 0;
        n_tg = L + 1;
    } else { /* span: T5's format; the flags mark the noise tokens among sentinels and EOS */
        s = xf_span_apply(raw, mask, L, v->oo.sentinels, v->oo.n_sentinels, v->oo.eos, v->in, 2 * L + 2, &n_in,
                          v->tg, 2 * L + 2, &n_tg);
        if (s) return s;
        size_t j = 0;
        for (size_t i = 0; i < L; i++) {
            if (mask[i] && (i == 0 || !mask[i - 1])) v->flag[j++] = 0;
            if (mask[i]) v->flag[j++] = 1;
        }
        v->flag[j++] = 0;
        if (j != n_tg) return xf_fail(XF_ERR_ARG, "study: span target of %zu ids, expected %zu", n_tg, j);
    }
    if (encdec) {
        if ((s = xf_batch_put_seq2seq(&v->oo, &v->bb, r, v->in, n_in, v->tg, n_tg))) return s;
        for (size_t i = 0; i < n_tg; i++)
            if (!v->flag[i]) tg[i] = -1;
        return XF_OK;
    }
    /* prefix_lm: [inputs targets] with the inputs as the bidirectional prefix */
    memcpy(v->src, v->in, n_in * sizeof *v->src);
    memcpy(v->src + n_in, v->tg, n_tg * sizeof *v->src);
    if ((s = xf_batch_put_lm(&v->oo, &v->bb, r, v->src, n_in + n_tg, n_in))) return s;
    for (size_t i = 0; i < T; i++)
        if (i + 1 < n_in || i + 1 >= n_in + n_tg || !v->flag[i + 1 - n_in]) tg[i] = -1;
    return XF_OK;
}

static xf_status eval_denoise(evaluator *v, const xf_study_evalset *e, xf_objective obj, double *loss,
                              double *fill) {
    double sum = 0, n = 0, ok = 0;
    xf_status s = XF_OK;
    for (size_t w0 = 0; w0 < e->n_dn && !s; w0 += EVAL_ROWS) {
        size_t B = e->n_dn - w0 < EVAL_ROWS ? e->n_dn - w0 : EVAL_ROWS;
        for (size_t r = 0; r < B && !s; r++) s = dn_row(v, e, obj, r, w0 + r);
        if (!s) s = ev_forward(v, B, &sum, &n, &ok);
    }
    *loss = n > 0 ? sum / n : NAN;
    *fill = n > 0 ? ok / n : NAN;
    return s;
}

xf_status xf_study_evaluate(const xf_study_evalset *e, const char *dir, xf_objective obj, xf_study_scores *out) {
    evaluator v;
    memset(&v, 0, sizeof v);
    out->bpb = out->denoise = out->fill = NAN;
    xf_status s = xf_model_load(&v.m, dir);
    if (!s) s = xf_tokenizer_load(&v.tok, dir);
    if (s) goto done;
    const xf_config *cfg = xf_model_config(v.m);
    /* span and bart need their sentinels / mask; the lm rows need only pad */
    if ((s = xf_objective_opts_init(&v.oo, obj, cfg, v.tok))) goto done;
    v.oo.arch = cfg->arch;
    v.live = xf_tokenizer_vocab_size(v.tok);
    if (v.live > cfg->vocab_size) v.live = cfg->vocab_size;
    int encdec = cfg->arch == XF_ARCH_ENCODER_DECODER;
    v.T = e->T;
    v.S = encdec ? e->T : 0;
    size_t B = EVAL_ROWS, T = v.T, cap = 2 * e->L + 2 + T + 1;
    v.bb = (xf_batch_buf){.B = B, .T = T, .S = v.S};
    v.bb.ids = malloc(B * T * sizeof(int32_t));
    v.bb.targets = malloc(B * T * sizeof(int32_t));
    v.bb.lengths = malloc(B * sizeof(int32_t));
    v.bb.prefix_len = malloc(B * sizeof(int32_t));
    v.bb.src = malloc(B * (v.S ? v.S : 1) * sizeof(int32_t));
    v.bb.src_lengths = malloc(B * sizeof(int32_t));
    v.flag = malloc(cap);
    v.in = malloc(cap * sizeof(int32_t));
    v.tg = malloc(cap * sizeof(int32_t));
    v.src = malloc(2 * cap * sizeof(int32_t));
    int glm = obj == XF_OBJ_GLM || obj == XF_OBJ_GMASK;
    if (glm) {
        v.bb.position_ids = malloc(B * T * sizeof(int32_t));
        v.bb.block_position_ids = malloc(B * T * sizeof(int32_t));
        v.glm_pos = cfg->position_type == XF_POS_LEARNED;
        v.glm_blk = cfg->block_position_embeddings;
    }
    if ((glm && (!v.bb.position_ids || !v.bb.block_position_ids)) || !v.bb.ids || !v.bb.targets || !v.bb.lengths || !v.bb.prefix_len || !v.bb.src || !v.bb.src_lengths ||
        !v.flag || !v.in || !v.tg || !v.src) {
        s = xf_fail(XF_ERR_OOM, "out of memory for the evaluation batch");
        goto done;
    }
    if (!encdec) v.bb.src = (free(v.bb.src), NULL);
    if ((s = xf_model_reserve_ex(v.m, B, T, v.S, 0))) goto done;
    /* GLM's models predict left to right only inside a span, from its [START]
     * at the span's position in part A: a causal pass over raw text is not a
     * format they were trained on, so they get no bits/byte (docs/study.md) */
    if ((cfg->arch == XF_ARCH_DECODER || cfg->arch == XF_ARCH_PREFIX_LM) && !glm)
        if ((s = eval_bpb(&v, e, &out->bpb))) goto done;
    if (obj == XF_OBJ_MLM || obj == XF_OBJ_SPAN || obj == XF_OBJ_BART || glm)
        s = eval_denoise(&v, e, obj, &out->denoise, &out->fill);
done:
    ev_free(&v);
    return s;
}
