/* GLM blank infilling (objectives glm and gmask; docs/objectives.md §GLM):
 * the structure of parts A and B and of the 2D positions, rebuilt back into
 * the window; span length and coverage statistics; the shuffle of part B;
 * gmask's one span at the end; the batch layout; the tokens taken from the
 * tokenizer and the refusals; and no leakage through the model, checked by
 * perturbation (a part-B token changes no part-A logit and no earlier part-B
 * logit; a part-A token changes every part-B logit). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "test.h"
#include "test_tok_util.h"
#include "test_obj_util.h"
#include "xfmr/config.h"
#include "xfmr/data.h"
#include "xfmr/model.h"
#include "xfmr/objective.h"
#include "xfmr/tokenizer.h"


typedef struct {
    size_t spans, covered, first_len_sum, first_len_n, len1, in_order;
} shape;

/* Check one example of raw = 0..L-1 (distinct ids below 256) and rebuild the
 * window from it: every [MASK] of A at position p is filled by exactly one
 * part-B span with position p, and the fills put back give 0..L-1. */
static void check_example(const xf_objective_opts *o, const int32_t *ids, const int32_t *tg, const int32_t *pos,
                          const int32_t *blk, size_t n, size_t na, size_t L, shape *sh) {
    int32_t mark = o->kind == XF_OBJ_GMASK ? o->glm.gmask : o->glm.mask;
    size_t masks = 0;
    for (size_t i = 0; i < na; i++) {
        CHECK_MSG(pos[i] == (int32_t)i && blk[i] == 0 && tg[i] == -1, "part A token %zu: pos %d blk %d target %d",
                  i, pos[i], blk[i], tg[i]);
        masks += ids[i] == mark;
    }
    /* part B: spans [sop] s_1..s_len -> s_1..s_len [eop], block 1..len+1, one position each */
    size_t *span_at = calloc(na + 1, sizeof *span_at), *span_len = calloc(na + 1, sizeof *span_len);
    size_t spans = 0, last_p = 0, ordered = 1;
    for (size_t i = na; i < n;) {
        CHECK_MSG(ids[i] == o->glm.start && blk[i] == 1, "span at %zu starts with %d (block %d)", i, ids[i], blk[i]);
        size_t p = (size_t)pos[i], len = 0;
        CHECK_MSG(p < na && ids[p] == mark, "span at %zu points at A[%zu] = %d, not the mask", i, p, ids[p]);
        CHECK_MSG(span_at[p] == 0, "two spans fill the mask at %zu", p);
        while (i + len + 1 < n && ids[i + len + 1] != o->glm.start) len++;
        for (size_t j = 0; j <= len; j++) {
            CHECK(pos[i + j] == (int32_t)p && blk[i + j] == (int32_t)(j + 1));
            if (j > 0) CHECK(ids[i + j] == tg[i + j - 1]); /* teacher forcing inside the span */
        }
        CHECK_MSG(tg[i + len] == o->glm.end, "span at %zu ends with target %d, not [eop]", i, tg[i + len]);
        CHECK(len >= 1);
        span_at[p] = i + 1;
        span_len[p] = len;
        if (spans && p < last_p) ordered = 0;
        last_p = p;
        spans++;
        i += len + 1;
    }
    CHECK_MSG(spans == masks, "%zu masks in A, %zu spans in B", masks, spans);
    /* put the fills back: the window again */
    size_t r = 0, first = 1;
    for (size_t i = 0; i < na; i++) {
        if (ids[i] != mark) {
            CHECK_MSG(ids[i] == (int32_t)r, "A[%zu] = %d, expected raw %zu", i, ids[i], r);
            r++;
            continue;
        }
        size_t at = span_at[i] - 1, len = span_len[i];
        for (size_t j = 0; j < len; j++) CHECK_MSG(tg[at + j] == (int32_t)(r + j), "fill of mask %zu", i);
        if (o->kind == XF_OBJ_GLM && sh) { /* spans in the window's order; the last drawn length may be cut */
            sh->covered += len;
            sh->len1 += len == 1;
            (void)first;
        }
        r += len;
    }
    CHECK_MSG(r == L, "the parts rebuild %zu of %zu tokens", r, L);
    CHECK(n == L + 2 * spans);
    if (sh) {
        sh->spans += spans;
        sh->in_order += ordered && spans > 1;
    }
    free(span_at);
    free(span_len);
}

/* One example of a window raw = 0, 1, .. L-1 (L <= LMAX), drawn and checked. */
enum { LMAX = 200, CAP = 2 * LMAX + 2 };
typedef struct {
    size_t L, n, na;
    int32_t raw[LMAX], ids[CAP], tg[CAP], pos[CAP], blk[CAP];
    size_t work[5 * (LMAX + 1)];
} example;

static example *draw(const xf_objective_opts *o, size_t L, xf_rng *rng, shape *sh) {
    static example e;
    CHECK(L <= LMAX && xf_glm_work_size(L) <= 5 * (LMAX + 1));
    e.L = L;
    for (size_t i = 0; i < L; i++) e.raw[i] = (int32_t)(i % 256);
    CHECK_OK(xf_glm_example(o, e.raw, L, rng, e.work, e.ids, e.tg, e.pos, e.blk, CAP, &e.n, &e.na));
    check_example(o, e.ids, e.tg, e.pos, e.blk, e.n, e.na, L, sh);
    return &e;
}

TEST(test_glm_structure_and_statistics) {
    xf_tokenizer *tok = byte_tok();
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_GLM, XF_ARCH_PREFIX_LM, tok);
    xf_rng rng;
    xf_rng_seed(&rng, 11);
    shape sh = {0};
    const int trials = 2000;
    double cover_mid = 0;
    for (int t = 0; t < trials; t++) {
        const example *e = draw(&o, 200, &rng, &sh);
        const int32_t *ids = e->ids, *pos = e->pos, *blk = e->blk;
        size_t n = e->n, na = e->na;
        /* coverage of the middle positions 50..149: which raw tokens went to part B */
        size_t r = 0;
        for (size_t i = 0; i < na; i++) {
            if (ids[i] != o.glm.mask) {
                r++;
                continue;
            }
            size_t len = 0;
            for (size_t j = na; j < n; j++) len += pos[j] == (int32_t)i && blk[j] > 1;
            for (size_t j = 0; j < len; j++) cover_mid += r + j >= 50 && r + j < 150;
            r += len;
        }
    }
    /* exactly round(0.15 * 200) = 30 tokens covered every time */
    CHECK_MSG(sh.covered == 30u * trials, "covered %zu tokens, want %d", sh.covered, 30 * trials);
    /* span lengths: Poisson(3) conditioned on >= 1 has mean 3 / (1 - e^-3) = 3.157
     * and P(1) = 3 e^-3 / (1 - e^-3) = 0.157; the last span of each example is
     * cut to the remainder, which pulls the mean down: 30 tokens in n spans */
    double mean = (double)sh.covered / (double)sh.spans, p1 = (double)sh.len1 / (double)sh.spans;
    printf("# glm: %zu spans, mean length %.3f, P(len 1) %.3f, middle coverage %.4f, in order %zu of %d\n",
           sh.spans, mean, p1, cover_mid / (100.0 * trials), sh.in_order, trials);
    CHECK_MSG(mean > 2.85 && mean < 3.16, "mean span length %.3f", mean);
    CHECK_MSG(p1 > 0.14 && p1 < 0.21, "share of one-token spans %.3f", p1);
    /* placement is uniform: each middle position is covered 15% of the time */
    double cm = cover_mid / (100.0 * trials);
    CHECK_MSG(fabs(cm - 0.15) < 0.01, "middle coverage %.4f", cm);
    /* part B is shuffled: about 10 spans are in window order 1 / 10! of the time */
    CHECK_MSG(sh.in_order < (size_t)trials / 100, "%zu of %d part Bs in window order", sh.in_order, trials);
    xf_tokenizer_free(tok);
}

TEST(test_gmask_one_span_at_the_end) {
    xf_tokenizer *tok = byte_tok();
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_GMASK, XF_ARCH_DECODER, tok);
    enum { L = 100 };
    size_t lo = L, hi = 0;
    double sum = 0;
    xf_rng rng;
    xf_rng_seed(&rng, 12);
    const int trials = 2000;
    for (int t = 0; t < trials; t++) {
        const example *e = draw(&o, L, &rng, NULL);
        size_t na = e->na, s = e->n - na - 1;
        CHECK(e->ids[na - 1] == o.glm.gmask && e->n == L + 2);
        CHECK(e->pos[na] == (int32_t)(na - 1)); /* part B sits at the [gMASK] */
        lo = s < lo ? s : lo;
        hi = s > hi ? s : hi;
        sum += (double)s;
    }
    /* s uniform in [50, 99]: mean 74.5, sd 14.4 / sqrt(2000) = 0.32 */
    CHECK_MSG(lo == 50 && hi == 99, "span lengths in [%zu, %zu], want [50, 99]", lo, hi);
    CHECK_MSG(fabs(sum / trials - 74.5) < 1.5, "mean gmask span %.2f", sum / trials);
    xf_tokenizer_free(tok);
}

/* The batch: rows fit T, prefix = |A|, padding, positions in range. */
TEST(test_glm_batch_layout) {
    xf_tokenizer *tok = byte_tok();
    enum { N = 4000, B = 4, T = 48 };
    int32_t *data = malloc(N * sizeof *data);
    for (size_t i = 0; i < N; i++) data[i] = (int32_t)("abcdefg hij. klmno pq! "[i % 23]);
    xf_dataset *ds = make_ds("glm.bin", data, N, tok, 0.0, 8);
    static int32_t ids[B * T], tg[B * T], pos[B * T], blk[B * T], len[B], pre[B];
    xf_batch_buf b = {.B = B, .T = T, .ids = ids, .targets = tg, .lengths = len, .prefix_len = pre,
                      .position_ids = pos, .block_position_ids = blk};
    for (int k = 0; k < 2; k++) {
        xf_objective_opts o;
        init_opts(&o, k ? XF_OBJ_GMASK : XF_OBJ_GLM, XF_ARCH_PREFIX_LM, tok);
        size_t W = xf_glm_window(&o, T);
        /* glm: 36 + 2 * round(5.4) = 46 fits 48, 37 + 2 * round(5.55) = 49 does not; gmask: T - 2 */
        CHECK_MSG(W == (k ? 46u : 36u), "window %zu for T %d", W, T);
        xf_rng rng;
        xf_rng_seed(&rng, 5);
        CHECK_OK(xf_objective_batch(&o, ds, 0, &rng, &b));
        for (size_t r = 0; r < B; r++) {
            size_t n = (size_t)len[r], na = (size_t)pre[r], spans = 0;
            CHECK(na >= 2 && na < n && n <= T);
            for (size_t i = na; i < n; i++) spans += ids[r * T + i] == o.glm.start;
            CHECK(n == W + 2 * spans);
            for (size_t i = 0; i < T; i++) {
                CHECK(pos[r * T + i] >= 0 && pos[r * T + i] < (int32_t)T);
                CHECK(blk[r * T + i] >= 0 && blk[r * T + i] < (int32_t)T);
                if (i >= n) CHECK(tg[r * T + i] == -1 && pos[r * T + i] == 0 && blk[r * T + i] == 0);
                if (i < na) CHECK(tg[r * T + i] == -1);
                else if (i < n) CHECK(tg[r * T + i] >= 0);
            }
        }
    }
    /* without position buffers the same rows come out */
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_GLM, XF_ARCH_DECODER, tok);
    static int32_t ids2[B * T];
    xf_batch_buf b2 = {.B = B, .T = T, .ids = ids2, .targets = tg, .lengths = len, .prefix_len = pre};
    xf_rng r1, r2;
    xf_rng_seed(&r1, 9);
    xf_rng_seed(&r2, 9);
    CHECK_OK(xf_objective_batch(&o, ds, 0, &r1, &b));
    CHECK_OK(xf_objective_batch(&o, ds, 0, &r2, &b2));
    CHECK(memcmp(ids, ids2, sizeof ids) == 0);
    /* too short a row */
    b.T = 3;
    CHECK(xf_objective_batch(&o, ds, 0, &r1, &b) == XF_ERR_ARG);
    CHECK_MSG(strstr(xf_last_error(), "glm") != NULL, "%s", xf_last_error());
    free(data);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

TEST(test_glm_tokens_and_refusals) {
    xf_objective k;
    CHECK_OK(xf_objective_parse("glm", &k));
    CHECK(k == XF_OBJ_GLM && strcmp(xf_objective_name(k), "glm") == 0);
    CHECK_OK(xf_objective_parse("gmask", &k));
    CHECK(k == XF_OBJ_GMASK);
    CHECK_OK(xf_objective_check(XF_OBJ_GLM, XF_ARCH_PREFIX_LM));
    CHECK_OK(xf_objective_check(XF_OBJ_GLM, XF_ARCH_DECODER));
    CHECK_OK(xf_objective_check(XF_OBJ_GMASK, XF_ARCH_PREFIX_LM));
    CHECK(xf_objective_check(XF_OBJ_GLM, XF_ARCH_ENCODER) == XF_ERR_ARG);
    CHECK(xf_objective_check(XF_OBJ_GLM, XF_ARCH_ENCODER_DECODER) == XF_ERR_ARG);
    CHECK_MSG(strstr(xf_last_error(), "part B") != NULL, "%s", xf_last_error());
    /* the byte tokenizer: <mask>, and sentinels 0, 1, 2 stand for [sop], [eop], [gMASK] */
    xf_tokenizer *tok = byte_tok();
    xf_glm_tokens g;
    CHECK_OK(xf_glm_tokens_find(tok, &g));
    CHECK(g.mask == xf_tokenizer_special(tok, XF_TOK_MASK));
    CHECK(g.start == xf_tokenizer_sentinel(tok, 0) && g.end == xf_tokenizer_sentinel(tok, 1) &&
          g.gmask == xf_tokenizer_sentinel(tok, 2));
    xf_tokenizer_free(tok);
    /* a BPE tokenizer without sentinels has no [sop]: refused, naming it */
    const char *text = "the cat sat on the mat and the dog sat on the log";
    size_t tl = strlen(text);
    xf_bpe_train_opts bo = {.vocab_size = 280, .n_sentinels = 0, .min_frequency = 2};
    CHECK_OK(xf_bpe_train_texts(&tok, &text, &tl, 1, &bo, NULL));
    CHECK(xf_glm_tokens_find(tok, &g) == XF_ERR_ARG);
    CHECK_MSG(strstr(xf_last_error(), "[sop]") != NULL, "%s", xf_last_error());
    xf_objective_opts o;
    xf_config cfg;
    xf_config_defaults(&cfg);
    cfg.arch = XF_ARCH_PREFIX_LM;
    CHECK(xf_objective_opts_init(&o, XF_OBJ_GLM, &cfg, tok) == XF_ERR_ARG);
    xf_tokenizer_free(tok);
    /* bad options */
    tok = byte_tok();
    init_opts(&o, XF_OBJ_GLM, XF_ARCH_PREFIX_LM, tok);
    int32_t raw[8] = {1, 2, 3, 4, 5, 6, 7, 8}, buf[4][32];
    size_t work[64], n, na;
    xf_rng rng;
    xf_rng_seed(&rng, 1);
    o.glm_ratio = 1.0f;
    CHECK(xf_glm_example(&o, raw, 8, &rng, work, buf[0], buf[1], buf[2], buf[3], 32, &n, &na) == XF_ERR_ARG);
    init_opts(&o, XF_OBJ_GLM, XF_ARCH_PREFIX_LM, tok);
    CHECK(xf_glm_example(&o, raw, 8, &rng, work, buf[0], buf[1], buf[2], buf[3], 9, &n, &na) == XF_ERR_ARG);
    CHECK_OK(xf_glm_example(&o, raw, 8, &rng, work, buf[0], buf[1], buf[2], buf[3], 10, &n, &na));
    CHECK(n == 10 && na == 8); /* round(1.2) = 1 token covered: one span */
    xf_tokenizer_free(tok);
}

/* No leakage through the model, by perturbation: a prefix LM with 2D positions
 * on one glm example. */
TEST(test_glm_no_leakage) {
    xf_tokenizer *tok = byte_tok();
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_GLM, XF_ARCH_PREFIX_LM, tok);
    xf_config c;
    xf_config_defaults(&c);
    c.arch = XF_ARCH_PREFIX_LM;
    c.vocab_size = xf_tokenizer_vocab_size(tok);
    c.hidden_size = 16;
    c.intermediate_size = 32;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.num_key_value_heads = 2;
    c.max_position_embeddings = 64;
    c.initializer_range = 0.3f;
    c.block_position_embeddings = 1;
    xf_model *m = NULL;
    CHECK_OK(xf_model_create(&m, &c));
    xf_model_init_weights(m, 3);
    enum { T = 48 };
    size_t W = xf_glm_window(&o, T), n, na, V = c.vocab_size;
    int32_t raw[T], ids[T], tg[T], pos[T], blk[T];
    size_t work[5 * (T + 1)];
    for (size_t i = 0; i < W; i++) raw[i] = (int32_t)('a' + i % 26);
    xf_rng rng;
    xf_rng_seed(&rng, 4);
    CHECK_OK(xf_glm_example(&o, raw, W, &rng, work, ids, tg, pos, blk, T, &n, &na));
    CHECK(n - na >= 4);
    int32_t P = (int32_t)na, len = (int32_t)n;
    CHECK_OK(xf_model_reserve(m, 1, n, 0));
    xf_batch b = {.B = 1, .T = n, .ids = ids, .lengths = &len, .prefix_len = &P, .position_ids = pos,
                  .block_position_ids = blk};
    float *base = malloc(n * V * sizeof(float)), *now = malloc(n * V * sizeof(float));
    CHECK_OK(xf_model_forward_batch(m, &b, NULL, NULL));
    memcpy(base, xf_model_logits(m), n * V * sizeof(float));
    /* a part-B token: nothing before it moves (bit for bit), it and later rows do */
    size_t j = na + (n - na) / 2;
    ids[j] = ids[j] == 'z' ? 'y' : 'z';
    CHECK_OK(xf_model_forward_batch(m, &b, NULL, NULL));
    memcpy(now, xf_model_logits(m), n * V * sizeof(float));
    CHECK_MSG(memcmp(base, now, j * V * sizeof(float)) == 0, "changing part-B token %zu moved an earlier logit", j);
    CHECK_MSG(memcmp(base + j * V, now + j * V, V * sizeof(float)) != 0, "part-B token %zu changed nothing", j);
    ids[j] = (int32_t)(ids[j] == 'z' ? 'y' : 'z');
    /* a part-B position id too: only its own row onward */
    CHECK_OK(xf_model_forward_batch(m, &b, NULL, NULL));
    memcpy(base, xf_model_logits(m), n * V * sizeof(float));
    blk[j] += 1;
    CHECK_OK(xf_model_forward_batch(m, &b, NULL, NULL));
    memcpy(now, xf_model_logits(m), n * V * sizeof(float));
    CHECK(memcmp(base, now, j * V * sizeof(float)) == 0);
    blk[j] -= 1;
    /* a part-A token: every row moves, part B included */
    ids[1] = ids[1] == 'q' ? 'r' : 'q';
    CHECK_OK(xf_model_forward_batch(m, &b, NULL, NULL));
    memcpy(now, xf_model_logits(m), n * V * sizeof(float));
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(memcmp(base + i * V, now + i * V, V * sizeof(float)) != 0, "row %zu did not see part A", i);
    free(base);
    free(now);
    xf_model_free(m);
    xf_tokenizer_free(tok);
}

int main(void) {
    RUN(test_glm_structure_and_statistics);
    RUN(test_gmask_one_span_at_the_end);
    RUN(test_glm_batch_layout);
    RUN(test_glm_tokens_and_refusals);
    RUN(test_glm_no_leakage);
    int rc = test_summary();
    tok_tmpdir_remove();
    return rc;
}
