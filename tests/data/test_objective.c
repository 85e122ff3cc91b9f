/* Training objectives (xfmr/objective.h, docs/algorithms.md §1 and §5): T5's length
 * tables, the noise mask's statistics and shape, the span format and its round
 * trip, BERT masking proportions, prefix splits and loss masks, UL2 mode tokens
 * and mixture, the objective/arch matrix, supervised pairs files and determinism. */
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
#include "xfmr/objective.h"
#include "xfmr/tokenizer.h"

/* byte tokenizer: EOS 256, PAD 257, MASK 259, <extra_id_k> = 359 - k;
 * [R] [S] [X] = <extra_id_99> <extra_id_98> <extra_id_97> = 260 261 262 */
enum { EOS = 256, PAD = 257, MASK = 259, MODE_R = 260, MODE_S = 261, MODE_X = 262 };
#define X(k) ((int32_t)(359 - (int)(k)))

/* n ids cycling through 0..255: any unmasked token gives its whole window. */
static xf_dataset *cyclic_ds(const xf_tokenizer *tok, size_t n) {
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)(i % 256);
    xf_dataset *ds = make_ds("cyclic.bin", ids, n, tok, 0.0, 8);
    free(ids);
    return ds;
}

static void batch_alloc(xf_batch_buf *b, size_t B, size_t T, size_t S) {
    memset(b, 0, sizeof *b);
    b->B = B;
    b->T = T;
    b->S = S;
    b->ids = calloc(B * T, sizeof(int32_t));
    b->targets = calloc(B * T, sizeof(int32_t));
    b->lengths = calloc(B, sizeof(int32_t));
    b->prefix_len = calloc(B, sizeof(int32_t));
    if (S) {
        b->src = calloc(B * S, sizeof(int32_t));
        b->src_lengths = calloc(B, sizeof(int32_t));
    }
}

static void batch_free(xf_batch_buf *b) {
    free(b->ids);
    free(b->targets);
    free(b->lengths);
    free(b->prefix_len);
    free(b->src);
    free(b->src_lengths);
}

static int is_span_sentinel(int32_t id) { return id >= X(96) && id <= X(0); }

/* Undo a T5 corruption: every sentinel of inputs[0..n_in) (EOS at the end
 * dropped) is replaced by the tokens after the same sentinel in targets.
 * Returns the raw length. */
static size_t uncorrupt(const int32_t *in, size_t n_in, const int32_t *tg, size_t n_tg, int32_t *out) {
    CHECK(n_in > 0 && in[n_in - 1] == EOS && n_tg > 0 && tg[n_tg - 1] == EOS);
    size_t n = 0;
    for (size_t i = 0; i + 1 < n_in; i++) {
        if (!is_span_sentinel(in[i])) {
            out[n++] = in[i];
            continue;
        }
        size_t j = 0;
        while (j < n_tg && tg[j] != in[i]) j++;
        CHECK_MSG(j < n_tg, "sentinel %d of the inputs missing from the targets", (int)in[i]);
        for (j++; j + 1 < n_tg && !is_span_sentinel(tg[j]); j++) out[n++] = tg[j];
    }
    return n;
}

/* The cyclic data's window: consecutive ids mod 256. */
static void check_consecutive(const int32_t *raw, size_t n) {
    for (size_t i = 1; i < n; i++)
        CHECK_MSG(raw[i] == (raw[i - 1] + 1) % 256, "raw[%zu] = %d after %d", i, (int)raw[i],
                  (int)raw[i - 1]);
}

/* ---- T5 lengths ------------------------------------------------------------ */

TEST(test_length_table) {
    static const size_t rows[][3] = {{512, 568, 114}, {256, 284, 58}, {128, 141, 29}, {64, 70, 14}};
    for (size_t i = 0; i < 4; i++) {
        size_t raw, tg;
        xf_span_lengths(rows[i][0], 0.15f, 3.0f, &raw, &tg);
        CHECK_MSG(raw == rows[i][1] && tg == rows[i][2], "inputs %zu: raw %zu targets %zu", rows[i][0],
                  raw, tg);
        /* the mask's counts give exactly these lengths */
        size_t nn, ns;
        xf_span_counts(raw, 0.15f, 3.0f, &nn, &ns);
        CHECK(raw - nn + ns + 1 == rows[i][0] && nn + ns + 1 == tg);
    }
    size_t raw, tg;
    xf_span_lengths(2, 0.15f, 3.0f, &raw, &tg);
    CHECK(raw == 0 && tg == 0);
    xf_span_lengths(3, 0.15f, 3.0f, &raw, &tg);
    CHECK(raw == 2 && tg == 3);
}

TEST(test_ul2_table) {
    static const struct {
        float mean, r;
        size_t raw, tg;
    } rows[] = {{3, .15f, 568, 114}, {8, .15f, 588, 100}, {64, .15f, 600, 92},
                {3, .5f, 766, 512},  {8, .5f, 908, 512},  {64, .5f, 1006, 512}};
    for (size_t i = 0; i < 6; i++) {
        size_t raw, tg;
        xf_span_lengths(512, rows[i].r, rows[i].mean, &raw, &tg);
        CHECK_MSG(raw == rows[i].raw && tg == rows[i].tg, "(%g, %g): raw %zu targets %zu",
                  (double)rows[i].mean, (double)rows[i].r, raw, tg);
    }
}

/* ---- the noise mask ---------------------------------------------------------- */

TEST(test_noise_mask_stats) {
    enum { L = 512, DRAWS = 2000 };
    size_t nn, ns;
    xf_span_counts(L, 0.15f, 3.0f, &nn, &ns);
    CHECK(nn == 77 && ns == 26); /* round(76.8), round(77 / 3) */
    xf_rng rng;
    xf_rng_seed(&rng, 7);
    uint8_t mask[L];
    double noise = 0, spans = 0, first_noise_1 = 0, first_keep_1 = 0;
    for (int d = 0; d < DRAWS; d++) {
        xf_span_noise_mask(mask, L, 0.15f, 3.0f, &rng);
        CHECK_MSG(mask[0] == 0 && mask[L - 1] == 1, "draw %d starts with %d, ends with %d", d,
                  mask[0], mask[L - 1]);
        size_t n1 = 0, runs1 = 0, runs0 = 0, first1 = 0, first0 = 0;
        for (size_t i = 0; i < L; i++) {
            CHECK(mask[i] <= 1);
            n1 += mask[i];
            if (i == 0 || mask[i] != mask[i - 1]) {
                if (mask[i])
                    runs1++;
                else
                    runs0++;
            }
            if (mask[i] && runs1 == 1) first1++;
            if (!mask[i] && runs0 == 1) first0++;
        }
        CHECK_MSG(n1 == nn && runs1 == ns && runs0 == ns, "draw %d: %zu noise in %zu spans, %zu kept spans",
                  d, n1, runs1, runs0);
        noise += (double)n1;
        spans += (double)runs1;
        first_noise_1 += first1 == 1;
        first_keep_1 += first0 == 1;
    }
    CHECK_NEAR(noise / (DRAWS * (double)L), 0.15, 0.002);
    CHECK_NEAR(noise / spans, 3.0, 0.05);
    /* a uniform composition of n into s parts has a first part of 1 with
     * probability (s - 1) / (n - 1): 25/76 for the noise, 25/434 kept */
    CHECK_NEAR(first_noise_1 / DRAWS, 25.0 / 76.0, 0.04);
    CHECK_NEAR(first_keep_1 / DRAWS, 25.0 / 434.0, 0.02);
}

TEST(test_noise_mask_edges) {
    /* half points round to even on the decimal product: 10.5 -> 10, 7.5 -> 8,
     * 28.5 -> 28 (float32 would make 190 * 0.15f = 28.500002 -> 29) */
    static const size_t half[][3] = {{70, 10, 3}, {50, 8, 3}, {190, 28, 9}, {30, 4, 1}, {10, 2, 1}};
    for (size_t i = 0; i < 5; i++) {
        size_t nn, ns;
        xf_span_counts(half[i][0], 0.15f, 3.0f, &nn, &ns);
        CHECK_MSG(nn == half[i][1] && ns == half[i][2], "L = %zu: %zu noise in %zu spans", half[i][0],
                  nn, ns);
    }
    size_t nn, ns;
    xf_span_counts(1, 0.15f, 3.0f, &nn, &ns);
    CHECK(nn == 1 && ns == 1); /* L' = 2 */
    xf_span_counts(100, 0.5f, 0.5f, &nn, &ns);
    CHECK(nn == 50 && ns == 50); /* at most one span per noise and per kept token */
    xf_rng rng;
    xf_rng_seed(&rng, 1);
    uint8_t m[16];
    memset(m, 7, sizeof m);
    xf_span_noise_mask(m, 1, 0.15f, 3.0f, &rng);
    CHECK(m[0] == 0 && m[1] == 7);
    xf_span_noise_mask(m, 2, 0.15f, 3.0f, &rng);
    CHECK(m[0] == 0 && m[1] == 1 && m[2] == 7);
    xf_span_noise_mask(m, 10, 0.0f, 3.0f, &rng);
    for (int i = 0; i < 10; i++) CHECK(m[i] == 0);
    /* density 0.5 on 10 tokens: 5 noise in round(5/3) = 2 spans */
    for (int d = 0; d < 50; d++) {
        xf_span_noise_mask(m, 10, 0.5f, 3.0f, &rng);
        size_t n1 = 0;
        for (int i = 0; i < 10; i++) n1 += m[i];
        CHECK(n1 == 5 && m[0] == 0 && m[9] == 1);
    }
}

/* ---- span format ---------------------------------------------------------------- */

TEST(test_span_apply_format) {
    xf_tokenizer *tok = byte_tok();
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_SPAN, XF_ARCH_ENCODER_DECODER, tok);
    CHECK(o.sentinels[0] == X(0) && o.sentinels[1] == X(1) && o.n_sentinels == 97);
    int32_t raw[10] = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    uint8_t mask[10] = {0, 0, 1, 1, 0, 0, 0, 1, 0, 1};
    int32_t in[16], tg[16];
    size_t ni, nt;
    CHECK_OK(xf_span_apply(raw, mask, 10, o.sentinels, o.n_sentinels, EOS, in, 16, &ni, tg, 16, &nt));
    int32_t want_in[] = {10, 11, X(0), 14, 15, 16, X(1), 18, X(2), EOS};
    int32_t want_tg[] = {X(0), 12, 13, X(1), 17, X(2), 19, EOS};
    CHECK(ni == 10 && memcmp(in, want_in, sizeof want_in) == 0);
    CHECK(nt == 8 && memcmp(tg, want_tg, sizeof want_tg) == 0);
    /* too few sentinels, too little room */
    CHECK(xf_span_apply(raw, mask, 10, o.sentinels, 2, EOS, in, 16, &ni, tg, 16, &nt) == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "sentinel") != NULL);
    CHECK(xf_span_apply(raw, mask, 10, o.sentinels, 3, EOS, in, 9, &ni, tg, 16, &nt) == XF_ERR_ARG);
    CHECK(xf_span_apply(raw, mask, 10, o.sentinels, 3, EOS, in, 10, &ni, tg, 7, &nt) == XF_ERR_ARG);
    CHECK_OK(xf_span_apply(raw, mask, 10, o.sentinels, 3, EOS, in, 10, &ni, tg, 8, &nt));

    /* round trip over random masks: filling the sentinels gives raw back */
    xf_rng rng;
    xf_rng_seed(&rng, 3);
    enum { L = 568 };
    int32_t r[L], back[L], ci[L + 2], ct[L + 2];
    uint8_t m[L];
    for (size_t i = 0; i < L; i++) r[i] = (int32_t)(i % 200);
    for (int d = 0; d < 200; d++) {
        xf_span_noise_mask(m, L, 0.15f, 3.0f, &rng);
        CHECK_OK(xf_span_apply(r, m, L, o.sentinels, o.n_sentinels, EOS, ci, L + 2, &ni, ct, L + 2, &nt));
        CHECK(ni == 512 && nt == 114);
        /* sentinels count down in order of appearance, in both */
        size_t k = 0;
        for (size_t i = 0; i < ni; i++)
            if (is_span_sentinel(ci[i])) CHECK(ci[i] == X(k++));
        CHECK(k == 28); /* round(85 / 3) */
        k = 0;
        for (size_t i = 0; i < nt; i++)
            if (is_span_sentinel(ct[i])) CHECK(ct[i] == X(k++));
        CHECK(k == 28 && ct[0] == X(0));
        CHECK(uncorrupt(ci, ni, ct, nt, back) == L && memcmp(back, r, sizeof r) == 0);
    }
    xf_tokenizer_free(tok);
}

/* ---- arch / objective matrix ------------------------------------------------------- */

TEST(test_compat_matrix) {
    /* rows: decoder, encoder, prefix_lm, encoder_decoder; columns: clm prefix span mlm ul2 bart glm gmask */
    static const int ok[XF_ARCH_COUNT][XF_OBJ_COUNT] = {
        [XF_ARCH_DECODER] = {1, 1, 0, 0, 0, 0, 1, 1},
        [XF_ARCH_ENCODER] = {0, 0, 0, 1, 0, 0, 0, 0},
        [XF_ARCH_PREFIX_LM] = {1, 1, 1, 0, 1, 0, 1, 1},
        [XF_ARCH_ENCODER_DECODER] = {0, 1, 1, 0, 1, 1, 0, 0},
    };
    for (int a = 0; a < XF_ARCH_COUNT; a++)
        for (int k = 0; k < XF_OBJ_COUNT; k++) {
            xf_clear_error();
            xf_status st = xf_objective_check((xf_objective)k, (xf_arch)a);
            CHECK_MSG((st == XF_OK) == ok[a][k], "%s on %s: %d", xf_objective_name((xf_objective)k),
                      xf_arch_name((xf_arch)a), (int)st);
            if (st == XF_OK) continue;
            const char *m = xf_last_error();
            CHECK(st == XF_ERR_ARG && strchr(m, '\n') == NULL);
            CHECK_MSG(strstr(m, xf_objective_name((xf_objective)k)) && strstr(m, xf_arch_name((xf_arch)a)),
                      "message names neither side: %s", m);
            CHECK_MSG(strstr(m, "(use "), "message gives no alternative: %s", m);
        }
    CHECK(xf_objective_check(XF_OBJ_MLM, XF_ARCH_DECODER) == XF_ERR_ARG);
    CHECK(strcmp(xf_last_error(), "objective mlm needs a bidirectional encoder; arch decoder is causal "
                                  "(use clm, prefix, glm or gmask)") == 0);
    for (int a = 0; a < XF_ARCH_COUNT; a++)
        CHECK_OK(xf_objective_check(xf_objective_default((xf_arch)a), (xf_arch)a));
    CHECK(xf_objective_default(XF_ARCH_DECODER) == XF_OBJ_CLM);
    CHECK(xf_objective_default(XF_ARCH_PREFIX_LM) == XF_OBJ_PREFIX);
    CHECK(xf_objective_default(XF_ARCH_ENCODER) == XF_OBJ_MLM);
    CHECK(xf_objective_default(XF_ARCH_ENCODER_DECODER) == XF_OBJ_SPAN);
    for (int k = 0; k < XF_OBJ_COUNT; k++) {
        xf_objective got;
        CHECK_OK(xf_objective_parse(xf_objective_name((xf_objective)k), &got));
        CHECK(got == (xf_objective)k);
    }
    xf_objective got;
    CHECK(xf_objective_parse("bert", &got) == XF_ERR_ARG && strstr(xf_last_error(), "bart") &&
          strstr(xf_last_error(), "ul2"));
    CHECK(xf_objective_parse(NULL, &got) == XF_ERR_ARG);
    /* the batch refuses the same pairs (opts_init records the arch unchecked:
     * pairs files use clm's options with any arch that has a decoder) */
    xf_tokenizer *tok = byte_tok();
    xf_dataset *ds = cyclic_ds(tok, 1000);
    xf_objective_opts o;
    xf_config cfg;
    xf_config_defaults(&cfg);
    cfg.arch = XF_ARCH_DECODER;
    CHECK_OK(xf_objective_opts_init(&o, XF_OBJ_SPAN, &cfg, tok));
    xf_batch_buf b;
    batch_alloc(&b, 2, 64, 64);
    xf_rng rng;
    xf_rng_seed(&rng, 1);
    CHECK(xf_objective_batch(&o, ds, 0, &rng, &b) == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "span") && strstr(xf_last_error(), "decoder"));
    cfg.arch = XF_ARCH_ENCODER_DECODER;
    CHECK_OK(xf_objective_opts_init(&o, XF_OBJ_CLM, &cfg, tok));
    CHECK(xf_objective_batch(&o, ds, 0, &rng, &b) == XF_ERR_ARG);
    CHECK(xf_objective_opts_init(&o, XF_OBJ_COUNT, &cfg, tok) == XF_ERR_ARG);
    batch_free(&b);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

TEST(test_opts_init) {
    xf_tokenizer *tok = byte_tok();
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_UL2, XF_ARCH_ENCODER_DECODER, tok);
    CHECK(o.pad == PAD && o.eos == EOS && o.mask == MASK && o.decoder_start == PAD);
    CHECK(o.mode[0] == MODE_R && o.mode[1] == MODE_S && o.mode[2] == MODE_X);
    CHECK(o.n_sentinels == 97 && o.n_all_sentinels == 100 && o.sentinels == o.sentinel_ids);
    CHECK(o.sentinels[96] == X(96) && o.vocab_size == 360);
    CHECK(o.noise_density == 0.15f && o.mean_span == 3.0f && o.mlm_probability == 0.15f);
    CHECK(o.ul2_weights[0] == 1 && o.ul2_weights[1] == 1 && o.ul2_weights[2] == 1);
    xf_config cfg;
    xf_config_defaults(&cfg);
    cfg.arch = XF_ARCH_ENCODER_DECODER;
    cfg.decoder_start_token_id = 5;
    CHECK_OK(xf_objective_opts_init(&o, XF_OBJ_SPAN, &cfg, tok));
    CHECK(o.decoder_start == 5);
    cfg.decoder_start_token_id = 360;
    CHECK(xf_objective_opts_init(&o, XF_OBJ_SPAN, &cfg, tok) == XF_ERR_ARG);
    cfg.decoder_start_token_id = -1;
    cfg.vocab_size = 300; /* smaller than the tokenizer */
    CHECK(xf_objective_opts_init(&o, XF_OBJ_SPAN, &cfg, tok) == XF_ERR_SHAPE);
    xf_tokenizer_free(tok);

    /* a tokenizer with no sentinels and no mask token */
    tbuf j = {0};
    tok_tiny_json(&j);
    const char *path = tok_path("tiny.json");
    CHECK(tok_write(path, j.p, j.n) == 0);
    free(j.p);
    CHECK_OK(xf_tokenizer_load(&tok, path));
    init_opts(&o, XF_OBJ_CLM, XF_ARCH_DECODER, tok);
    cfg.arch = XF_ARCH_ENCODER_DECODER;
    cfg.vocab_size = 0;
    CHECK(xf_objective_opts_init(&o, XF_OBJ_SPAN, &cfg, tok) == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "sentinel") != NULL);
    CHECK(xf_objective_opts_init(&o, XF_OBJ_UL2, &cfg, tok) == XF_ERR_ARG);
    cfg.arch = XF_ARCH_ENCODER;
    CHECK(xf_objective_opts_init(&o, XF_OBJ_MLM, &cfg, tok) == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "mask") != NULL);
    xf_tokenizer_free(tok);
}

/* ---- decoder-style batches ------------------------------------------------------- */

TEST(test_clm_matches_dataset) {
    xf_tokenizer *tok = byte_tok();
    xf_dataset *ds = cyclic_ds(tok, 5000);
    CHECK_OK(xf_dataset_split(ds, 0.0, 32));
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_CLM, XF_ARCH_DECODER, tok);
    xf_batch_buf b;
    batch_alloc(&b, 6, 32, 0);
    xf_rng r1, r2;
    xf_rng_seed(&r1, 11);
    r2 = r1;
    CHECK_OK(xf_objective_batch(&o, ds, 0, &r1, &b));
    int32_t in[6 * 32], tg[6 * 32];
    xf_dataset_train_batch(ds, &r2, 6, 32, in, tg);
    CHECK(memcmp(in, b.ids, sizeof in) == 0 && memcmp(tg, b.targets, sizeof tg) == 0);
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0);
    for (int i = 0; i < 6; i++) CHECK(b.lengths[i] == 32 && b.prefix_len[i] == 0);
    /* prefix_lm clm: the same batch */
    init_opts(&o, XF_OBJ_CLM, XF_ARCH_PREFIX_LM, tok);
    xf_rng_seed(&r1, 11);
    CHECK_OK(xf_objective_batch(&o, ds, 0, &r1, &b));
    CHECK(memcmp(in, b.ids, sizeof in) == 0 && memcmp(tg, b.targets, sizeof tg) == 0);
    batch_free(&b);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

TEST(test_prefix_split) {
    xf_tokenizer *tok = byte_tok();
    xf_dataset *ds = cyclic_ds(tok, 3000);
    enum { B = 50, T = 8, ROUNDS = 60 };
    xf_batch_buf b;
    batch_alloc(&b, B, T, 0);
    xf_rng rng;
    xf_rng_seed(&rng, 5);
    for (int arch = 0; arch < 2; arch++) {
        xf_objective_opts o;
        init_opts(&o, XF_OBJ_PREFIX, arch ? XF_ARCH_PREFIX_LM : XF_ARCH_DECODER, tok);
        size_t seen[T + 1] = {0};
        for (int round = 0; round < ROUNDS; round++) {
            CHECK_OK(xf_objective_batch(&o, ds, 0, &rng, &b));
            for (size_t r = 0; r < B; r++) {
                int32_t P = b.prefix_len[r];
                CHECK_MSG(P >= 1 && P <= T - 1, "prefix %d", (int)P);
                seen[P]++;
                CHECK(b.lengths[r] == T);
                const int32_t *ids = b.ids + r * T, *tg = b.targets + r * T;
                check_consecutive(ids, T);
                for (int32_t i = 0; i < T; i++) {
                    /* the logit at P-1 predicts the first output token */
                    if (i < P - 1)
                        CHECK(tg[i] == -1);
                    else
                        CHECK(tg[i] == (ids[i] + 1) % 256);
                }
            }
        }
        /* uniform on [1, T-1]: 3000 draws over 7 values */
        for (size_t P = 1; P < T; P++) CHECK_NEAR(seen[P] / (double)(B * ROUNDS), 1.0 / 7, 0.03);
    }
    batch_free(&b);

    /* encoder_decoder: source = the prefix, target = the rest, W = min(S, T) + 1 */
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_PREFIX, XF_ARCH_ENCODER_DECODER, tok);
    batch_alloc(&b, B, 6, 10);
    size_t seen[8] = {0};
    for (int round = 0; round < ROUNDS; round++) {
        CHECK_OK(xf_objective_batch(&o, ds, 0, &rng, &b));
        for (size_t r = 0; r < B; r++) {
            int32_t P = b.src_lengths[r], n = b.lengths[r];
            CHECK(P >= 1 && P <= 6 && P + n == 7);
            seen[P]++;
            const int32_t *s = b.src + r * 10, *ids = b.ids + r * 6, *tg = b.targets + r * 6;
            check_consecutive(s, (size_t)P);
            for (int i = P; i < 10; i++) CHECK(s[i] == PAD);
            CHECK(tg[0] == (s[P - 1] + 1) % 256);
            check_consecutive(tg, (size_t)n);
            CHECK(ids[0] == o.decoder_start);
            for (int i = 1; i < n; i++) CHECK(ids[i] == tg[i - 1]);
            for (int i = n; i < 6; i++) CHECK(ids[i] == PAD && tg[i] == -1);
        }
    }
    for (size_t P = 1; P <= 6; P++) CHECK(seen[P] > 0);
    batch_free(&b);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

/* ---- span batches ---------------------------------------------------------------------- */

TEST(test_span_encdec_batch) {
    xf_tokenizer *tok = byte_tok();
    xf_dataset *ds = cyclic_ds(tok, 4000);
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_SPAN, XF_ARCH_ENCODER_DECODER, tok);
    enum { B = 8, S = 128, T = 40 };
    xf_batch_buf b;
    batch_alloc(&b, B, T, S);
    xf_rng rng;
    xf_rng_seed(&rng, 9);
    int32_t raw[256];
    for (int round = 0; round < 20; round++) {
        CHECK_OK(xf_objective_batch(&o, ds, 0, &rng, &b));
        for (size_t r = 0; r < B; r++) {
            const int32_t *s = b.src + r * S, *ids = b.ids + r * T, *tg = b.targets + r * T;
            CHECK(b.src_lengths[r] == 128 && b.lengths[r] == 29); /* 141 raw tokens */
            CHECK(tg[0] == X(0) && ids[0] == PAD);
            for (size_t i = 1; i < 29; i++) CHECK(ids[i] == tg[i - 1]);
            for (size_t i = 29; i < T; i++) CHECK(ids[i] == PAD && tg[i] == -1);
            CHECK(uncorrupt(s, 128, tg, 29, raw) == 141);
            check_consecutive(raw, 141);
        }
    }
    batch_free(&b);
    /* targets longer than T: the message names the target length needed */
    batch_alloc(&b, B, 20, S);
    CHECK(xf_objective_batch(&o, ds, 0, &rng, &b) == XF_ERR_ARG);
    CHECK_MSG(strstr(xf_last_error(), "--target-seq 29"), "%s", xf_last_error());
    batch_free(&b);
    /* the source buffer is needed */
    batch_alloc(&b, B, T, 0);
    CHECK(xf_objective_batch(&o, ds, 0, &rng, &b) == XF_ERR_ARG);
    batch_free(&b);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

TEST(test_span_prefix_lm_batch) {
    xf_tokenizer *tok = byte_tok();
    xf_dataset *ds = cyclic_ds(tok, 4000);
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_SPAN, XF_ARCH_PREFIX_LM, tok);
    enum { B = 8, T = 128 };
    /* the raw length: largest R with inputs + targets = R + 2 ns + 2 <= T + 1 */
    size_t R = 2, nn, ns;
    for (;;) {
        xf_span_counts(R + 1, 0.15f, 3.0f, &nn, &ns);
        if (R + 1 + 2 * ns + 2 > T + 1) break;
        R++;
    }
    xf_span_counts(R, 0.15f, 3.0f, &nn, &ns);
    size_t n_in = R - nn + ns + 1, n_tg = nn + ns + 1;
    xf_batch_buf b;
    batch_alloc(&b, B, T, 0);
    xf_rng rng;
    xf_rng_seed(&rng, 10);
    int32_t seq[T + 1], raw[T + 1];
    for (int round = 0; round < 20; round++) {
        CHECK_OK(xf_objective_batch(&o, ds, 0, &rng, &b));
        for (size_t r = 0; r < B; r++) {
            const int32_t *ids = b.ids + r * T, *tg = b.targets + r * T;
            size_t P = (size_t)b.prefix_len[r], n = (size_t)b.lengths[r];
            CHECK(P == n_in && n + 1 == n_in + n_tg && n <= T);
            memcpy(seq, ids, n * sizeof *seq);
            seq[n] = tg[n - 1];
            CHECK(seq[P - 1] == EOS && seq[P] == X(0) && seq[n] == EOS);
            for (size_t i = 0; i < T; i++) {
                if (i + 1 < P || i >= n)
                    CHECK(tg[i] == -1);
                else
                    CHECK(tg[i] == seq[i + 1]);
                if (i >= n) CHECK(ids[i] == PAD);
            }
            CHECK(uncorrupt(seq, P, seq + P, n + 1 - P, raw) == R);
            check_consecutive(raw, R);
        }
    }
    batch_free(&b);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

/* ---- UL2 ---------------------------------------------------------------------------------- */

/* The prefix_lm UL2 sizes of each setting at length T, as the batch must choose them. */
typedef struct {
    int32_t mode;
    float mean, r;
    size_t n_in, n_tg, spans;
} ul2_row;

static void ul2_sizes(ul2_row *rows, size_t T) {
    static const ul2_row base[7] = {{MODE_R, 3, .15f, 0, 0, 0}, {MODE_R, 8, .15f, 0, 0, 0},
                                    {MODE_S, 0, .25f, 0, 0, 0}, {MODE_X, 3, .5f, 0, 0, 0},
                                    {MODE_X, 8, .5f, 0, 0, 0},  {MODE_X, 64, .15f, 0, 0, 0},
                                    {MODE_X, 64, .5f, 0, 0, 0}};
    for (int i = 0; i < 7; i++) {
        rows[i] = base[i];
        if (base[i].mode == MODE_S) { /* [S] x </s> y </s>: R + 3 <= T + 1 */
            size_t R = T - 2, nt = (size_t)nearbyint((double)R * 0.25);
            rows[i].n_in = 1 + R - nt + 1;
            rows[i].n_tg = nt + 1;
            continue;
        }
        size_t R = 2, nn, ns;
        for (;;) {
            xf_span_counts(R + 1, base[i].r, base[i].mean, &nn, &ns);
            if (1 + R + 1 + 2 * ns + 2 > T + 1 || ns > 97) break;
            R++;
        }
        xf_span_counts(R, base[i].r, base[i].mean, &nn, &ns);
        rows[i].n_in = 1 + R - nn + ns + 1;
        rows[i].n_tg = nn + ns + 1;
        rows[i].spans = ns;
    }
}

TEST(test_ul2_prefix_lm) {
    xf_tokenizer *tok = byte_tok();
    xf_dataset *ds = cyclic_ds(tok, 4000);
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_UL2, XF_ARCH_PREFIX_LM, tok);
    enum { B = 100, T = 96, ROUNDS = 30 };
    ul2_row rows[7];
    ul2_sizes(rows, T);
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < i; j++)
            CHECK_MSG(rows[i].mode != rows[j].mode || rows[i].n_in != rows[j].n_in ||
                          rows[i].spans != rows[j].spans,
                      "settings %d and %d look alike at T = %d", i, j, T);
    xf_batch_buf b;
    batch_alloc(&b, B, T, 0);
    xf_rng rng;
    xf_rng_seed(&rng, 12);
    size_t count[7] = {0};
    int32_t seq[T + 1], raw[2 * T];
    for (int round = 0; round < ROUNDS; round++) {
        CHECK_OK(xf_objective_batch(&o, ds, 0, &rng, &b));
        for (size_t r = 0; r < B; r++) {
            const int32_t *ids = b.ids + r * T, *tg = b.targets + r * T;
            size_t P = (size_t)b.prefix_len[r], n = (size_t)b.lengths[r];
            size_t spans = 0;
            for (size_t i = P; i < n; i++) spans += is_span_sentinel(ids[i]);
            int which = -1;
            for (int i = 0; i < 7; i++)
                if (ids[0] == rows[i].mode && P == rows[i].n_in && spans == rows[i].spans) which = i;
            CHECK_MSG(which >= 0, "row %zu: mode %d, prefix %zu fits no setting", r, (int)ids[0], P);
            count[which]++;
            CHECK(n + 1 == rows[which].n_in + rows[which].n_tg);
            memcpy(seq, ids, n * sizeof *seq);
            seq[n] = tg[n - 1];
            /* loss on the targets only: [mode] + inputs are the prefix */
            for (size_t i = 0; i < T; i++) CHECK(tg[i] == (i + 1 < P || i >= n ? -1 : seq[i + 1]));
            /* mode tokens appear only in front; spans use <extra_id_0..96> */
            for (size_t i = 1; i <= n; i++) CHECK(seq[i] < MODE_R || seq[i] > MODE_X);
            size_t R;
            if (ids[0] == MODE_S) {
                /* [S] x </s> y </s> with y the last quarter */
                for (size_t i = 1; i <= n; i++) CHECK(!is_span_sentinel(seq[i]));
                CHECK(seq[P - 1] == EOS && seq[n] == EOS);
                R = 0;
                for (size_t i = 1; i <= n; i++)
                    if (seq[i] != EOS) raw[R++] = seq[i];
                CHECK(R == T - 2);
            } else {
                CHECK(seq[P] == X(0));
                R = uncorrupt(seq + 1, P - 1, seq + P, n + 1 - P, raw);
            }
            check_consecutive(raw, R);
        }
    }
    /* weights 1, 1, 1: each denoiser a third, then uniform among its settings */
    double N = B * ROUNDS;
    CHECK_NEAR((count[0] + count[1]) / N, 1.0 / 3, 0.04);
    CHECK_NEAR(count[2] / N, 1.0 / 3, 0.04);
    CHECK_NEAR((count[3] + count[4] + count[5] + count[6]) / N, 1.0 / 3, 0.04);
    CHECK_NEAR(count[0] / N, 1.0 / 6, 0.03);
    for (int i = 3; i < 7; i++) CHECK_NEAR(count[i] / N, 1.0 / 12, 0.025);

    /* weights 0, 1, 3: no R, a quarter S */
    o.ul2_weights[0] = 0;
    o.ul2_weights[1] = 1;
    o.ul2_weights[2] = 3;
    size_t s = 0, x = 0;
    for (int round = 0; round < ROUNDS; round++) {
        CHECK_OK(xf_objective_batch(&o, ds, 0, &rng, &b));
        for (size_t r = 0; r < B; r++) {
            CHECK(b.ids[r * T] != MODE_R);
            s += b.ids[r * T] == MODE_S;
            x += b.ids[r * T] == MODE_X;
        }
    }
    CHECK(s + x == (size_t)N);
    CHECK_NEAR(s / N, 0.25, 0.04);
    o.ul2_weights[1] = -1;
    CHECK(xf_objective_batch(&o, ds, 0, &rng, &b) == XF_ERR_ARG);
    o.ul2_weights[1] = o.ul2_weights[2] = 0;
    CHECK(xf_objective_batch(&o, ds, 0, &rng, &b) == XF_ERR_ARG);
    batch_free(&b);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

TEST(test_ul2_encdec) {
    xf_tokenizer *tok = byte_tok();
    xf_dataset *ds = cyclic_ds(tok, 8000);
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_UL2, XF_ARCH_ENCODER_DECODER, tok);
    /* S = 512: X (3, .5) would need 128 sentinels, the tokenizer has 97 for
     * spans, so that setting shrinks; everything still fits T = 512 */
    enum { B = 40, S = 512, T = 512 };
    xf_batch_buf b;
    batch_alloc(&b, B, T, S);
    xf_rng rng;
    xf_rng_seed(&rng, 13);
    int32_t raw[1200];
    size_t modes[3] = {0};
    for (int round = 0; round < 10; round++) {
        CHECK_OK(xf_objective_batch(&o, ds, 0, &rng, &b));
        for (size_t r = 0; r < B; r++) {
            const int32_t *s = b.src + r * S, *ids = b.ids + r * T, *tg = b.targets + r * T;
            size_t ns = (size_t)b.src_lengths[r], nt = (size_t)b.lengths[r];
            CHECK(ns <= S && nt <= T && ns >= 3 && nt >= 2);
            CHECK(s[0] >= MODE_R && s[0] <= MODE_X);
            modes[s[0] - MODE_R]++;
            for (size_t i = ns; i < S; i++) CHECK(s[i] == PAD);
            CHECK(ids[0] == PAD);
            for (size_t i = 1; i < nt; i++) CHECK(ids[i] == tg[i - 1]);
            for (size_t i = nt; i < T; i++) CHECK(tg[i] == -1 && ids[i] == PAD);
            size_t R;
            if (s[0] == MODE_S) {
                CHECK(s[ns - 1] == EOS && tg[nt - 1] == EOS);
                memcpy(raw, s + 1, (ns - 2) * sizeof *raw);
                memcpy(raw + ns - 2, tg, (nt - 1) * sizeof *raw);
                R = ns - 2 + nt - 1;
                CHECK(ns == S); /* the source is filled */
            } else {
                CHECK(tg[0] == X(0));
                R = uncorrupt(s + 1, ns - 1, tg, nt, raw);
            }
            check_consecutive(raw, R);
        }
    }
    for (int m = 0; m < 3; m++) CHECK(modes[m] > 0);
    batch_free(&b);
    /* T too short for the X denoisers' targets */
    batch_alloc(&b, 2, 128, S);
    CHECK(xf_objective_batch(&o, ds, 0, &rng, &b) == XF_ERR_ARG);
    CHECK_MSG(strstr(xf_last_error(), "--target-seq"), "%s", xf_last_error());
    batch_free(&b);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

/* ---- MLM -------------------------------------------------------------------------------- */

TEST(test_mlm_proportions) {
    xf_tokenizer *tok = byte_tok();
    xf_dataset *ds = cyclic_ds(tok, 6000);
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_MLM, XF_ARCH_ENCODER, tok);
    enum { B = 16, T = 128, ROUNDS = 250 };
    xf_batch_buf b;
    batch_alloc(&b, B, T, 0);
    xf_rng rng;
    xf_rng_seed(&rng, 21);
    size_t chosen = 0, masked = 0, kept = 0, random = 0, total = 0;
    for (int round = 0; round < ROUNDS; round++) {
        CHECK_OK(xf_objective_batch(&o, ds, 0, &rng, &b));
        for (size_t r = 0; r < B; r++) {
            const int32_t *ids = b.ids + r * T, *tg = b.targets + r * T;
            CHECK(b.lengths[r] == T);
            /* the original window from any unchosen token */
            int32_t base = -1;
            for (size_t i = 0; i < T && base < 0; i++)
                if (tg[i] == -1) base = (int32_t)((ids[i] - (int32_t)(i % 256) + 512) % 256);
            CHECK(base >= 0);
            size_t n = 0;
            for (size_t i = 0; i < T; i++) {
                int32_t orig = (int32_t)((base + i) % 256);
                total++;
                if (tg[i] == -1) {
                    CHECK(ids[i] == orig); /* loss only on chosen positions */
                    continue;
                }
                n++;
                CHECK(tg[i] == orig);
                if (ids[i] == MASK)
                    masked++;
                else if (ids[i] == orig)
                    kept++;
                else {
                    random++;
                    CHECK_MSG(ids[i] >= 0 && ids[i] < 256, "random replacement %d is special",
                              (int)ids[i]);
                }
            }
            CHECK(n == 19); /* round(0.15 * 128) */
            chosen += n;
        }
    }
    CHECK_NEAR((double)chosen / total, 19.0 / 128, 1e-12);
    CHECK_NEAR((double)masked / chosen, 0.8, 0.01);
    /* a random draw equals the original 1 time in 256 */
    CHECK_NEAR((double)kept / chosen, 0.1 + 0.1 / 256, 0.008);
    CHECK_NEAR((double)random / chosen, 0.1 - 0.1 / 256, 0.008);
    batch_free(&b);
    xf_dataset_free(ds);

    /* pad tokens are never chosen; n = max(1, round(0.15 * non-pad)) */
    int32_t ids[400];
    for (size_t i = 0; i < 400; i++) ids[i] = i % 40 < 30 ? (int32_t)(i % 200) : PAD;
    ds = make_ds("mlm_pad.bin", ids, 400, tok, 0.0, 8);
    batch_alloc(&b, 4, 40, 0);
    for (int round = 0; round < 50; round++) {
        CHECK_OK(xf_objective_batch(&o, ds, 0, &rng, &b));
        for (size_t r = 0; r < 4; r++) {
            size_t n = 0, pads = 0;
            for (size_t i = 0; i < 40; i++) {
                int32_t t = b.targets[r * 40 + i];
                if (b.ids[r * 40 + i] == PAD) {
                    pads++;
                    CHECK(t == -1);
                }
                if (t != -1) {
                    n++;
                    CHECK(t != PAD);
                }
            }
            CHECK(pads == 10 && n == 4); /* round(0.15 * 30) = round(4.5) = 4 */
        }
    }
    batch_free(&b);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

/* ---- validation part, determinism, errors ---------------------------------------------------- */

TEST(test_val_part) {
    xf_tokenizer *tok = byte_tok();
    int32_t *ids = malloc(4000 * sizeof *ids);
    for (size_t i = 0; i < 4000; i++) ids[i] = (int32_t)(i < 3000 ? i % 100 : 100 + i % 100);
    xf_dataset *ds = make_ds("val.bin", ids, 4000, tok, 0.25, 64);
    free(ids);
    CHECK(xf_dataset_train_len(ds) == 3000);
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_SPAN, XF_ARCH_ENCODER_DECODER, tok);
    xf_batch_buf b;
    batch_alloc(&b, 8, 32, 128);
    for (int val = 0; val < 2; val++) {
        xf_rng rng;
        xf_rng_seed(&rng, 99);
        for (int round = 0; round < 10; round++) {
            CHECK_OK(xf_objective_batch(&o, ds, val, &rng, &b));
            for (size_t i = 0; i < 8 * 128; i++) {
                int32_t t = b.src[i];
                if (t < 256) CHECK(val ? t >= 100 : t < 100);
            }
        }
    }
    batch_free(&b);
    /* too little validation data for an example */
    CHECK_OK(xf_dataset_split(ds, 0.02, 64));
    batch_alloc(&b, 2, 32, 128);
    xf_rng rng;
    xf_rng_seed(&rng, 1);
    CHECK(xf_objective_batch(&o, ds, 1, &rng, &b) == XF_ERR_SHAPE);
    CHECK(strstr(xf_last_error(), "validation") != NULL);
    batch_free(&b);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

TEST(test_determinism) {
    xf_tokenizer *tok = byte_tok();
    xf_dataset *ds = cyclic_ds(tok, 5000);
    for (int a = 0; a < XF_ARCH_COUNT; a++)
        for (int k = 0; k < XF_OBJ_COUNT; k++) {
            if (xf_objective_check((xf_objective)k, (xf_arch)a) != XF_OK) continue;
            xf_objective_opts o;
            init_opts(&o, (xf_objective)k, (xf_arch)a, tok);
            xf_batch_buf b1, b2;
            size_t S = a == XF_ARCH_ENCODER_DECODER ? 96 : 0;
            batch_alloc(&b1, 4, 96, S);
            batch_alloc(&b2, 4, 96, S);
            xf_rng r1, r2;
            xf_rng_seed(&r1, 42);
            xf_rng_seed(&r2, 42);
            CHECK_OK(xf_objective_batch(&o, ds, 0, &r1, &b1));
            CHECK_OK(xf_objective_batch(&o, ds, 0, &r2, &b2));
            CHECK(memcmp(&r1, &r2, sizeof r1) == 0);
            CHECK(memcmp(b1.ids, b2.ids, 4 * 96 * sizeof(int32_t)) == 0);
            CHECK(memcmp(b1.targets, b2.targets, 4 * 96 * sizeof(int32_t)) == 0);
            CHECK(memcmp(b1.lengths, b2.lengths, 4 * sizeof(int32_t)) == 0);
            CHECK(memcmp(b1.prefix_len, b2.prefix_len, 4 * sizeof(int32_t)) == 0);
            if (S) CHECK(memcmp(b1.src, b2.src, 4 * S * sizeof(int32_t)) == 0);
            /* another seed, another batch */
            xf_rng_seed(&r2, 43);
            CHECK_OK(xf_objective_batch(&o, ds, 0, &r2, &b2));
            CHECK(memcmp(b1.ids, b2.ids, 4 * 96 * sizeof(int32_t)) != 0);
            /* every target is an id or -1, every id in the vocabulary */
            for (size_t i = 0; i < 4 * 96; i++) {
                CHECK(b1.ids[i] >= 0 && b1.ids[i] < 360);
                CHECK(b1.targets[i] >= -1 && b1.targets[i] < 360);
            }
            batch_free(&b1);
            batch_free(&b2);
        }
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

TEST(test_batch_errors) {
    xf_tokenizer *tok = byte_tok();
    xf_dataset *ds = cyclic_ds(tok, 100);
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_CLM, XF_ARCH_DECODER, tok);
    xf_batch_buf b;
    batch_alloc(&b, 2, 200, 0);
    xf_rng rng;
    xf_rng_seed(&rng, 1);
    CHECK(xf_objective_batch(&o, ds, 0, &rng, &b) == XF_ERR_SHAPE); /* 100 tokens < 201 */
    batch_free(&b);
    batch_alloc(&b, 2, 1, 0);
    o.kind = XF_OBJ_PREFIX;
    CHECK(xf_objective_batch(&o, ds, 0, &rng, &b) == XF_ERR_ARG); /* no split point in T = 1 */
    batch_free(&b);
    batch_alloc(&b, 2, 16, 0);
    o.kind = XF_OBJ_MLM; /* the opts' arch is decoder */
    CHECK(xf_objective_batch(&o, ds, 0, &rng, &b) == XF_ERR_ARG);
    o.kind = XF_OBJ_CLM;
    free(b.targets);
    b.targets = NULL;
    CHECK(xf_objective_batch(&o, ds, 0, &rng, &b) == XF_ERR_ARG);
    batch_free(&b);
    /* data ids beyond the options' vocabulary */
    batch_alloc(&b, 2, 16, 0);
    o.vocab_size = 50;
    CHECK(xf_objective_batch(&o, ds, 0, &rng, &b) == XF_ERR_SHAPE);
    batch_free(&b);
    /* a sequence too short for span corruption */
    init_opts(&o, XF_OBJ_SPAN, XF_ARCH_PREFIX_LM, tok);
    batch_alloc(&b, 2, 3, 0);
    CHECK(xf_objective_batch(&o, ds, 0, &rng, &b) == XF_ERR_ARG);
    batch_free(&b);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

/* ---- supervised pairs ----------------------------------------------------------------------- */

static const char *write_text(const char *name, const char *text) {
    const char *path = tok_path(name);
    CHECK(tok_write(path, text, strlen(text)) == 0);
    return path;
}

static void expect_pairs_error(const xf_tokenizer *tok, const char *name, const char *text,
                               const char *also) {
    const char *path = write_text(name, text);
    xf_pairs *p = (xf_pairs *)1;
    CHECK_MSG(xf_pairs_open(&p, path, tok) != XF_OK, "%s opened", name);
    CHECK(p == NULL);
    const char *m = xf_last_error();
    CHECK_MSG(strstr(m, path) && (!also || strstr(m, also)), "message '%s' lacks %s / %s", m, path,
              also ? also : "");
    CHECK(strchr(m, '\n') == NULL);
}

TEST(test_pairs) {
    xf_tokenizer *tok = byte_tok();
    const char *path = write_text("pairs.tsv", "ab\tXYZ\r\n\nhello\tw\ncd\tQ\n");
    xf_pairs *p;
    CHECK_OK(xf_pairs_open(&p, path, tok));
    CHECK(xf_pairs_count(p) == 3 && xf_pairs_val_count(p) == 0);
    CHECK_OK(xf_pairs_split(p, 0.2));
    CHECK(xf_pairs_val_count(p) == 1); /* max(1, floor(0.6)) */
    CHECK(xf_pairs_split(p, 1.0) == XF_ERR_ARG);
    CHECK_OK(xf_pairs_split(p, 0.9));
    CHECK(xf_pairs_val_count(p) == 2);
    CHECK_OK(xf_pairs_split(p, 0.0));
    CHECK(xf_pairs_val_count(p) == 0);

    /* validation batch: pairs (index * B + b) mod n_val of the last third */
    CHECK_OK(xf_pairs_split(p, 0.5)); /* 1 of 3 */
    xf_objective_opts o;
    init_opts(&o, XF_OBJ_SPAN, XF_ARCH_ENCODER_DECODER, tok);
    xf_batch_buf b;
    batch_alloc(&b, 2, 3, 8);
    CHECK_OK(xf_pairs_batch(&o, p, 1, 0, NULL, &b));
    /* "cd" -> src c d </s>; "Q" -> Q </s> */
    int32_t src0[8] = {'c', 'd', EOS, PAD, PAD, PAD, PAD, PAD};
    CHECK(memcmp(b.src, src0, sizeof src0) == 0 && b.src_lengths[0] == 3);
    CHECK(b.ids[0] == PAD && b.ids[1] == 'Q' && b.ids[2] == PAD);
    CHECK(b.targets[0] == 'Q' && b.targets[1] == EOS && b.targets[2] == -1 && b.lengths[0] == 2);
    CHECK(memcmp(b.src + 8, src0, sizeof src0) == 0);
    batch_free(&b);

    /* training: target truncated to T, source to S */
    CHECK_OK(xf_pairs_split(p, 0.0));
    batch_alloc(&b, 16, 2, 2);
    xf_rng rng;
    xf_rng_seed(&rng, 4);
    CHECK_OK(xf_pairs_batch(&o, p, 0, 0, &rng, &b));
    for (size_t r = 0; r < 16; r++) {
        const int32_t *s = b.src + 2 * r, *tg = b.targets + 2 * r;
        CHECK(b.src_lengths[r] == 2 && b.lengths[r] == 2);
        if (s[0] == 'a') CHECK(s[1] == 'b' && tg[0] == 'X' && tg[1] == 'Y');
        else if (s[0] == 'h') CHECK(s[1] == 'e' && tg[0] == 'w' && tg[1] == EOS);
        else CHECK(s[0] == 'c' && tg[0] == 'Q' && tg[1] == EOS);
    }
    batch_free(&b);

    /* prefix_lm and decoder: seq = input target </s>, loss on the target part */
    for (int a = 0; a < 2; a++) {
        init_opts(&o, XF_OBJ_CLM, a ? XF_ARCH_PREFIX_LM : XF_ARCH_DECODER, tok);
        batch_alloc(&b, 8, 10, 0);
        CHECK_OK(xf_pairs_batch(&o, p, 0, 0, &rng, &b));
        for (size_t r = 0; r < 8; r++) {
            const int32_t *ids = b.ids + 10 * r, *tg = b.targets + 10 * r;
            if (ids[0] != 'h') continue;
            int32_t want_ids[10] = {'h', 'e', 'l', 'l', 'o', 'w', PAD, PAD, PAD, PAD};
            int32_t want_tg[10] = {-1, -1, -1, -1, 'w', EOS, -1, -1, -1, -1};
            CHECK(memcmp(ids, want_ids, sizeof want_ids) == 0);
            CHECK(memcmp(tg, want_tg, sizeof want_tg) == 0);
            CHECK(b.prefix_len[r] == 5 && b.lengths[r] == 6);
        }
        batch_free(&b);
        /* T = 4: the target "XYZ</s>" keeps all 4 tokens, the input 1 */
        batch_alloc(&b, 8, 4, 0);
        CHECK_OK(xf_pairs_batch(&o, p, 0, 0, &rng, &b));
        for (size_t r = 0; r < 8; r++) {
            const int32_t *ids = b.ids + 4 * r, *tg = b.targets + 4 * r;
            if (ids[0] != 'a') continue;
            int32_t want_ids[4] = {'a', 'X', 'Y', 'Z'}, want_tg[4] = {'X', 'Y', 'Z', EOS};
            CHECK(memcmp(ids, want_ids, sizeof want_ids) == 0 && memcmp(tg, want_tg, sizeof want_tg) == 0);
            CHECK(b.prefix_len[r] == 1 && b.lengths[r] == 4);
        }
        batch_free(&b);
    }
    /* an encoder has no decoder for the targets */
    init_opts(&o, XF_OBJ_MLM, XF_ARCH_ENCODER, tok);
    batch_alloc(&b, 2, 8, 0);
    CHECK(xf_pairs_batch(&o, p, 0, 0, &rng, &b) == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "encoder") != NULL);
    batch_free(&b);
    xf_pairs_free(p);

    /* bad files name the file and the line */
    expect_pairs_error(tok, "no_tab.tsv", "a\tb\nno tab here\n", ":2:");
    expect_pairs_error(tok, "two_tabs.tsv", "a\tb\tc\n", ":1:");
    expect_pairs_error(tok, "empty_target.tsv", "a\tb\n\nx\t\n", ":3:");
    expect_pairs_error(tok, "empty_input.tsv", "\tb\n", ":1:");
    expect_pairs_error(tok, "blank.tsv", "\n\n", "no input");
    expect_pairs_error(tok, "empty.tsv", "", NULL);
    const char nul[] = "a\tb\nc\0\td\n";
    const char *np = tok_path("nul.tsv");
    CHECK(tok_write(np, nul, sizeof nul - 1) == 0);
    p = NULL;
    CHECK(xf_pairs_open(&p, np, tok) == XF_ERR_FORMAT && strstr(xf_last_error(), ":2:"));
    CHECK(xf_pairs_open(&p, tok_path("missing.tsv"), tok) != XF_OK);
    CHECK(strstr(xf_last_error(), "missing.tsv") != NULL);
    xf_tokenizer_free(tok);
}

static void cleanup(void) { tok_tmpdir_remove(); }

int main(void) {
    RUN(test_length_table);
    RUN(test_ul2_table);
    RUN(test_noise_mask_stats);
    RUN(test_noise_mask_edges);
    RUN(test_span_apply_format);
    RUN(test_compat_matrix);
    RUN(test_opts_init);
    RUN(test_clm_matches_dataset);
    RUN(test_prefix_split);
    RUN(test_span_encdec_batch);
    RUN(test_span_prefix_lm_batch);
    RUN(test_ul2_prefix_lm);
    RUN(test_ul2_encdec);
    RUN(test_mlm_proportions);
    RUN(test_val_part);
    RUN(test_determinism);
    RUN(test_batch_errors);
    RUN(test_pairs);
    cleanup();
    return test_summary();
}
