/* BART noising (xf_bart_noise, objective bart; docs/objectives.md §BART
 * noising): infilling keeps the unmasked tokens in order and replaces each
 * span with one mask; its statistics (30% of tokens, Poisson(3) span lengths,
 * zero-length insertions); sentence permutation moves whole sentences; the
 * batch layout; refusals. */
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
#include "xfmr/objective.h"
#include "xfmr/tokenizer.h"

enum { EOS = 256, MASK = 259 }; /* the byte tokenizer's */

static void bart_opts(xf_objective_opts *o, const xf_tokenizer *tok) {
    init_opts(o, XF_OBJ_BART, XF_ARCH_ENCODER_DECODER, tok);
}

/* Which original positions survive in out (ids 0..L-1 are distinct, masks are
 * MASK): alive[i] = 1 if raw position i appears. Checks the order as it goes. */
static void survivors(const int32_t *out, size_t n, size_t L, uint8_t *alive, size_t *masks) {
    memset(alive, 0, L);
    *masks = 0;
    long last = -1;
    for (size_t j = 0; j < n; j++) {
        if (out[j] == MASK) {
            (*masks)++;
            continue;
        }
        CHECK_MSG(out[j] >= 0 && (size_t)out[j] < L, "id %d is no raw token", out[j]);
        CHECK_MSG(out[j] > last, "token %d after %ld: the order changed", out[j], last);
        last = out[j];
        alive[out[j]] = 1;
    }
}

TEST(test_infilling_structure) {
    xf_tokenizer *tok = byte_tok();
    xf_objective_opts o;
    bart_opts(&o, tok);
    o.bart_permute = 0; /* infilling alone: the order is kept */
    enum { L = 200 };
    int32_t raw[L], out[L + 8];
    size_t *work = malloc(xf_bart_work_size(L) * sizeof *work);
    uint8_t alive[L];
    xf_rng rng;
    xf_rng_seed(&rng, 7);
    double removed = 0, masks_total = 0, runs = 0, run_len = 0;
    const int trials = 400;
    for (int t = 0; t < trials; t++) {
        for (size_t i = 0; i < L; i++) raw[i] = (int32_t)i;
        size_t n = 0, masks = 0;
        CHECK_OK(xf_bart_noise(&o, raw, L, &rng, work, out, L + 8, &n));
        survivors(out, n, L, alive, &masks);
        /* every maximal run of removed raw tokens shows as at least one mask in its gap */
        size_t gone = 0;
        for (size_t i = 0; i < L; i++) gone += !alive[i];
        removed += (double)gone;
        masks_total += (double)masks;
        CHECK(n == L - gone + masks);
        for (size_t i = 0; i < L;) {
            if (alive[i]) {
                i++;
                continue;
            }
            size_t j = i;
            while (j < L && !alive[j]) j++;
            runs++;
            run_len += (double)(j - i);
            /* between the survivors around the gap there is a mask */
            long before = -1;
            for (size_t k = 0; k < n; k++)
                if (out[k] != MASK && (size_t)out[k] < i) before = (long)k;
            CHECK_MSG((size_t)(before + 1) < n && out[before + 1] == MASK, "gap [%zu, %zu) has no mask", i, j);
            i = j;
        }
    }
    /* ceil(0.3 L) tokens are covered by spans; overlapping spans cover less */
    double frac = removed / (trials * (double)L);
    CHECK_MSG(frac > 0.24 && frac <= 0.30 + 1e-9, "removed fraction %.4f", frac);
    /* Poisson(3) spans: about M / 3 spans per window, merged runs are longer */
    double per_window = masks_total / trials;
    CHECK_MSG(per_window > 15 && per_window < 24, "masks per window %.2f (60 tokens in spans of mean ~3.2)",
              per_window);
    CHECK_MSG(run_len / runs > 2.5 && run_len / runs < 5.0, "mean removed run %.2f", run_len / runs);
    free(work);
    xf_tokenizer_free(tok);
}

TEST(test_insertions) {
    /* zero-length spans: masks that replace nothing. Over many windows some
     * masks stand between two consecutive raw tokens (P(0) = e^-3 per draw). */
    xf_tokenizer *tok = byte_tok();
    xf_objective_opts o;
    bart_opts(&o, tok);
    o.bart_permute = 0;
    enum { L = 120 };
    int32_t raw[L], out[L + 8];
    size_t *work = malloc(xf_bart_work_size(L) * sizeof *work);
    xf_rng rng;
    xf_rng_seed(&rng, 11);
    size_t inserted = 0, spans = 0;
    for (int t = 0; t < 500; t++) {
        for (size_t i = 0; i < L; i++) raw[i] = (int32_t)i;
        size_t n = 0;
        CHECK_OK(xf_bart_noise(&o, raw, L, &rng, work, out, L + 8, &n));
        for (size_t k = 0; k < n; k++) {
            if (out[k] != MASK) continue;
            spans++;
            /* a mask between raw i and raw i + 1 (or at an end next to raw 0 / L-1) replaced nothing */
            long prev = -1, next = L;
            for (size_t j = k; j-- > 0;)
                if (out[j] != MASK) {
                    prev = out[j];
                    break;
                }
            for (size_t j = k + 1; j < n; j++)
                if (out[j] != MASK) {
                    next = out[j];
                    break;
                }
            if (next == prev + 1) inserted++;
        }
    }
    double share = (double)inserted / (double)spans;
    /* e^-3 = 0.0498 of the draws are zero-length; the last span is cut, so a little more */
    CHECK_MSG(share > 0.02 && share < 0.10, "inserted masks %.4f of all masks", share);
    free(work);
    xf_tokenizer_free(tok);
}

TEST(test_sentence_permutation) {
    xf_tokenizer *tok = byte_tok();
    xf_objective_opts o;
    bart_opts(&o, tok);
    CHECK(o.n_sentence_ends == 3); /* '.', '!' and '?' */
    o.bart_mask = 0; /* permutation alone */
    const char *text = "One fish. Two fish! Red fish? Blue fish. The end.";
    size_t L = strlen(text);
    int32_t raw[64], out[72];
    for (size_t i = 0; i < L; i++) raw[i] = (unsigned char)text[i];
    size_t *work = malloc(xf_bart_work_size(L) * sizeof *work);
    xf_rng rng;
    xf_rng_seed(&rng, 3);
    int changed = 0;
    for (int t = 0; t < 20; t++) {
        size_t n = 0;
        CHECK_OK(xf_bart_noise(&o, raw, L, &rng, work, out, sizeof out / sizeof out[0], &n));
        CHECK(n == L);
        char got[72];
        for (size_t i = 0; i < n; i++) got[i] = (char)out[i];
        got[n] = 0;
        /* the same five sentences (cut after each end mark), in some order */
        static const char *const sent[] = {"One fish.", " Two fish!", " Red fish?", " Blue fish.", " The end."};
        size_t used = 0;
        for (size_t pos = 0; pos < n;) {
            int found = 0;
            for (int s = 0; s < 5 && !found; s++) {
                size_t sl = strlen(sent[s]);
                if (!(used & (1u << s)) && pos + sl <= n && !memcmp(got + pos, sent[s], sl)) {
                    used |= 1u << s;
                    pos += sl;
                    found = 1;
                }
            }
            CHECK_MSG(found, "'%s' is not a permutation of the sentences", got);
        }
        CHECK(used == 31);
        changed += strcmp(got, text) != 0;
    }
    CHECK_MSG(changed >= 15, "only %d of 20 permutations changed the order", changed);
    free(work);
    xf_tokenizer_free(tok);
}

TEST(test_batch_layout) {
    xf_tokenizer *tok = byte_tok();
    xf_objective_opts o;
    bart_opts(&o, tok);
    enum { N = 4000, B = 3, T = 40, S = 40 };
    int32_t *ids = malloc(N * sizeof *ids);
    for (size_t i = 0; i < N; i++) ids[i] = (int32_t)("abcdefg hij. klmno pq! "[i % 23]);
    xf_dataset *ds = make_ds("bart.bin", ids, N, tok, 0.0, 8);
    xf_batch_buf b = {.B = B, .T = T, .S = S};
    b.ids = calloc(B * T, sizeof(int32_t));
    b.targets = calloc(B * T, sizeof(int32_t));
    b.lengths = calloc(B, sizeof(int32_t));
    b.prefix_len = calloc(B, sizeof(int32_t));
    b.src = calloc(B * S, sizeof(int32_t));
    b.src_lengths = calloc(B, sizeof(int32_t));
    xf_rng rng;
    xf_rng_seed(&rng, 5);
    CHECK_OK(xf_objective_batch(&o, ds, 0, &rng, &b));
    for (size_t r = 0; r < B; r++) {
        const int32_t *src = b.src + r * S, *tg = b.targets + r * T, *in = b.ids + r * T;
        size_t ns = (size_t)b.src_lengths[r], nt = (size_t)b.lengths[r];
        CHECK(nt == T); /* the window (T - 1) and EOS */
        CHECK(tg[nt - 1] == EOS && src[ns - 1] == EOS);
        CHECK(ns >= 2 && ns <= S);
        size_t masks = 0;
        for (size_t i = 0; i < ns; i++) masks += src[i] == MASK;
        CHECK(masks > 0);
        for (size_t i = 0; i + 1 < nt; i++) CHECK(tg[i] != MASK && tg[i] < 256); /* the clean text */
        CHECK(in[0] == o.decoder_start);
        for (size_t i = 1; i < nt; i++) CHECK(in[i] == tg[i - 1]);
    }
    free(b.ids);
    free(b.targets);
    free(b.lengths);
    free(b.prefix_len);
    free(b.src);
    free(b.src_lengths);
    free(ids);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

TEST(test_refusals) {
    xf_tokenizer *tok = byte_tok();
    xf_objective_opts o;
    bart_opts(&o, tok);
    int32_t raw[4] = {1, 2, 3, 4}, out[8];
    size_t work[32], n;
    xf_rng rng;
    xf_rng_seed(&rng, 1);
    o.bart_mask = 1.5f;
    CHECK(xf_bart_noise(&o, raw, 4, &rng, work, out, 8, &n) == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "bart") != NULL);
    bart_opts(&o, tok);
    o.bart_lambda = 0;
    CHECK(xf_bart_noise(&o, raw, 4, &rng, work, out, 8, &n) == XF_ERR_ARG);
    CHECK(xf_objective_check(XF_OBJ_BART, XF_ARCH_DECODER) == XF_ERR_ARG);
    CHECK(xf_objective_check(XF_OBJ_BART, XF_ARCH_PREFIX_LM) == XF_ERR_ARG);
    CHECK(xf_objective_check(XF_OBJ_BART, XF_ARCH_ENCODER) == XF_ERR_ARG);
    CHECK_OK(xf_objective_check(XF_OBJ_BART, XF_ARCH_ENCODER_DECODER));
    /* a ratio of 1 still gives a valid source with masks (overlapping spans
     * may leave some tokens uncovered, as in fairseq) */
    bart_opts(&o, tok);
    o.bart_mask = 1.0f;
    CHECK_OK(xf_bart_noise(&o, raw, 4, &rng, work, out, 8, &n));
    CHECK(n >= 1 && n <= 5);
    size_t masks = 0;
    for (size_t i = 0; i < n; i++) masks += out[i] == MASK;
    CHECK(masks >= 1);
    xf_tokenizer_free(tok);
}

int main(void) {
    RUN(test_infilling_structure);
    RUN(test_insertions);
    RUN(test_sentence_permutation);
    RUN(test_batch_layout);
    RUN(test_refusals);
    int rc = test_summary();
    tok_tmpdir_remove();
    return rc;
}
