/* Beam search (xf_beam_search) and generation for every family with a decoder:
 *  - exhaustive: with V = 4 and 3 new tokens, K = 64 beams keep every sequence,
 *    so the hypotheses must be all sequences, scored as a brute-force search
 *    with full forwards (no KV cache) scores them, best first;
 *  - a reference beam search written plainly over full forwards (HF's
 *    BeamSearchScorer, early_stopping=True) gives the same hypotheses with K = 3
 *    (this checks the cache reordering), also when EOS stops it early;
 *  - beams = 1 equals greedy generation (xf_generate / xf_generate_seq2seq);
 *  - bad arguments are refused. */
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "core/rng.h"
#include "test.h"
#include "xfmr/generate.h"
#include "xfmr/model.h"

enum { FAM_GPT, FAM_PREFIX, FAM_T5, FAM_BART, FAM_MOE, FAM_COUNT };
static const char *const FAM_NAME[FAM_COUNT] = {"decoder", "prefix_lm", "t5", "bart", "moe"};

static xf_config family(int fam, size_t V) {
    xf_config c;
    xf_config_defaults(&c);
    c.vocab_size = V;
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 4;
    c.max_position_embeddings = 16;
    c.initializer_range = 0.6f;
    if (fam == FAM_PREFIX || fam == FAM_MOE) { /* LLaMA style */
        c.arch = fam == FAM_PREFIX ? XF_ARCH_PREFIX_LM : XF_ARCH_DECODER;
        c.num_key_value_heads = 2;
        c.hidden_act = XF_ACT_SILU;
        c.gated_ffn = 1;
        c.norm_type = XF_NORM_RMSNORM;
        c.position_type = XF_POS_ROPE;
        c.use_bias = 0;
        c.tie_word_embeddings = 0;
        if (fam == FAM_MOE) {
            c.num_experts = 4;
            c.num_experts_per_tok = 2;
            c.moe_intermediate_size = 8;
        }
    } else if (fam == FAM_T5) {
        c.arch = XF_ARCH_ENCODER_DECODER;
        c.num_decoder_layers = 2;
        c.hidden_act = XF_ACT_RELU;
        c.norm_type = XF_NORM_RMSNORM;
        c.norm_eps = 1e-6f;
        c.position_type = XF_POS_RELATIVE;
        c.relative_attention_num_buckets = 8;
        c.relative_attention_max_distance = 16;
        c.use_bias = 0;
        c.scale_attn_logits = 0;
        c.rescale_tied_head = 1;
        c.decoder_start_token_id = 0;
    } else if (fam == FAM_BART) {
        c.arch = XF_ARCH_ENCODER_DECODER;
        c.num_decoder_layers = 2;
        c.hidden_act = XF_ACT_GELU;
        c.norm_placement = XF_NORM_POST;
        c.position_offset = 2;
        c.embed_layernorm = 1;
        c.lm_head_bias = 1;
        c.decoder_start_token_id = 1;
    }
    return c;
}

static int is_encdec(int fam) { return fam == FAM_T5 || fam == FAM_BART; }

/* Two models with the same random weights: one for the beam search (KV cache),
 * one for full forwards. */
static void make_pair(int fam, size_t V, uint64_t seed, xf_model **a, xf_model **b) {
    xf_config c = family(fam, V);
    CHECK_OK(xf_model_create(a, &c));
    CHECK_OK(xf_model_create(b, &c));
    xf_model_init_weights(*a, seed);
    /* norm gains and biases away from 1 and 0 so they matter */
    xf_rng r;
    xf_rng_seed(&r, seed + 100);
    for (size_t i = 0; i < xf_model_num_tensors(*a); i++) {
        const xf_param_info *p = xf_model_tensor(*a, i);
        if (p->init_std == 0 && p->trainable)
            for (size_t j = 0; j < p->numel; j++) xf_model_params(*a)[p->offset + j] += (float)(0.3 * xf_rng_normal(&r));
    }
    /* the arena, alignment gaps included (xf_model_num_params counts only the tensors) */
    size_t end = 0;
    for (size_t i = 0; i < xf_model_num_tensors(*a); i++) {
        const xf_param_info *p = xf_model_tensor(*a, i);
        if (p->offset + p->numel > end) end = p->offset + p->numel;
    }
    memcpy(xf_model_params(*b), xf_model_params(*a), end * sizeof(float));
}

/* The log-probabilities of seq[0..n) after the input under full forwards:
 * decoder/prefix_lm read input ++ seq (prefix_lm with the input as its prefix),
 * an encoder-decoder reads src = input and [start, seq[0..n-2]]. */
static double seq_logprob(xf_model *m, int fam, const int32_t *input, size_t ni, int32_t start, const int32_t *seq,
                          size_t n) {
    int32_t ids[64];
    size_t T, first; /* row `first + i` predicts seq[i] */
    xf_batch b = {.B = 1};
    int32_t plen = (int32_t)ni;
    if (is_encdec(fam)) {
        ids[0] = start;
        memcpy(ids + 1, seq, (n - 1) * sizeof *ids);
        T = n;
        first = 0;
        b.S = ni;
        b.src = input;
        CHECK_OK(xf_model_reserve_ex(m, 1, T, ni, 0));
    } else {
        memcpy(ids, input, ni * sizeof *ids);
        memcpy(ids + ni, seq, (n - 1) * sizeof *ids);
        T = ni + n - 1;
        first = ni - 1;
        if (fam == FAM_PREFIX) b.prefix_len = &plen;
        CHECK_OK(xf_model_reserve(m, 1, T, 0));
    }
    b.T = T;
    b.ids = ids;
    CHECK_OK(xf_model_forward_batch(m, &b, NULL, NULL));
    const xf_config *cfg = xf_model_config(m);
    size_t V = cfg->vocab_size;
    double lp = 0;
    for (size_t i = 0; i < n; i++) {
        const float *z = xf_model_logits(m) + (first + i) * V;
        double mx = -INFINITY, sum = 0;
        for (size_t v = 0; v < V; v++) mx = fmax(mx, z[v]);
        for (size_t v = 0; v < V; v++) sum += exp((double)z[v] - mx);
        lp += (double)z[seq[i]] - mx - log(sum);
    }
    return lp;
}

/* ---- exhaustive ------------------------------------------------------------ */

typedef struct {
    int32_t ids[4];
    size_t n;
    double score;
    int finished;
    int matched;
} bf_seq;

/* Every sequence beam search can end with: EOS only last; shorter than L only
 * when it ends with EOS. */
static size_t enumerate(bf_seq *out, size_t V, size_t L, int32_t eos) {
    size_t k = 0;
    for (size_t n = 1; n <= L; n++) {
        size_t total = 1;
        for (size_t i = 0; i < n; i++) total *= V;
        for (size_t code = 0; code < total; code++) {
            bf_seq s = {.n = n};
            size_t c = code;
            int ok = 1;
            for (size_t i = 0; i < n; i++, c /= V) {
                s.ids[i] = (int32_t)(c % V);
                if (s.ids[i] == eos && i + 1 < n) ok = 0;
            }
            s.finished = eos >= 0 && s.ids[n - 1] == eos;
            if (ok && (s.finished || n == L)) out[k++] = s;
        }
    }
    return k;
}

static void check_exhaustive(int fam, int32_t eos, float alpha, uint64_t seed) {
    const size_t V = 4, L = 3, K = 64;
    xf_model *m = NULL, *ref = NULL;
    make_pair(fam, V, seed, &m, &ref);
    int32_t input[3] = {2, 0, 1};
    size_t ni = 3;
    xf_beam_opts o;
    xf_beam_opts_init(&o);
    o.beams = K;
    o.max_new = L;
    o.length_penalty = alpha;
    o.eos_id = eos;
    o.start_id = xf_decoder_start_id(xf_model_config(m), -1);
    xf_beam_result r;
    CHECK_OK(xf_beam_search(m, input, ni, &o, &r));
    static bf_seq all[4 + 16 + 64];
    size_t ns = enumerate(all, V, L, eos);
    size_t best = 0;
    for (size_t i = 0; i < ns; i++) {
        all[i].score = seq_logprob(ref, fam, input, ni, o.start_id, all[i].ids, all[i].n) / pow((double)all[i].n, alpha);
        if (all[i].score > all[best].score) best = i;
    }
    CHECK_MSG(r.n == ns, "%s: %zu hypotheses, brute force has %zu sequences", FAM_NAME[fam], r.n, ns);
    /* the best hypothesis is the brute-force best */
    CHECK(r.hyps[0].n == all[best].n);
    CHECK(!memcmp(r.hyps[0].ids, all[best].ids, all[best].n * sizeof(int32_t)));
    CHECK(r.hyps[0].finished == all[best].finished);
    CHECK_NEAR(r.hyps[0].score, all[best].score, 1e-4);
    /* every hypothesis is a distinct sequence with its brute-force score, best first */
    for (size_t h = 0; h < r.n; h++) {
        const xf_beam_hyp *y = &r.hyps[h];
        if (h) CHECK(y->score <= r.hyps[h - 1].score);
        CHECK_NEAR(y->score, y->logprob / pow((double)y->n, alpha), 1e-9);
        size_t i = 0;
        while (i < ns && !(all[i].n == y->n && !memcmp(all[i].ids, y->ids, y->n * sizeof(int32_t)))) i++;
        CHECK_MSG(i < ns, "%s: hypothesis %zu is not a possible sequence", FAM_NAME[fam], h);
        CHECK(!all[i].matched);
        all[i].matched = 1;
        CHECK(y->finished == all[i].finished);
        CHECK_NEAR(y->score, all[i].score, 1e-4);
    }
    CHECK(!r.early_stop);
    xf_beam_result_free(&r);
    CHECK(r.n == 0 && r.hyps == NULL);
    xf_model_free(m);
    xf_model_free(ref);
}

TEST(test_exhaustive_decoder) {
    check_exhaustive(FAM_GPT, 3, 1.0f, 1);
    check_exhaustive(FAM_GPT, -1, 1.0f, 2);
    check_exhaustive(FAM_GPT, 0, 0.0f, 3);
    check_exhaustive(FAM_GPT, 3, 2.5f, 4);
    check_exhaustive(FAM_GPT, 1, -0.7f, 5);
}
TEST(test_exhaustive_prefix_lm) {
    check_exhaustive(FAM_PREFIX, 3, 1.0f, 11);
    check_exhaustive(FAM_PREFIX, 2, 2.0f, 12);
    check_exhaustive(FAM_PREFIX, -1, 1.0f, 13);
}
TEST(test_exhaustive_t5) {
    check_exhaustive(FAM_T5, 3, 1.0f, 21);
    check_exhaustive(FAM_T5, 1, 0.5f, 22);
    check_exhaustive(FAM_T5, -1, 1.0f, 23);
}
TEST(test_exhaustive_bart) {
    check_exhaustive(FAM_BART, 2, 1.0f, 31);
    check_exhaustive(FAM_BART, -1, 3.0f, 32);
}
TEST(test_exhaustive_moe) { check_exhaustive(FAM_MOE, 3, 1.0f, 41); }

/* ---- a plain reference beam search over full forwards ----------------------- */

typedef struct {
    int32_t ids[32];
    size_t n;
    double lp, score;
    int finished;
} ref_hyp;

typedef struct {
    double s;
    int32_t tok;
    size_t beam;
} ref_cand;

static int ref_cand_cmp(const void *pa, const void *pb) {
    const ref_cand *a = pa, *b = pb;
    if (a->s != b->s) return a->s > b->s ? -1 : 1;
    if (a->tok != b->tok) return a->tok < b->tok ? -1 : 1;
    return a->beam < b->beam ? -1 : a->beam > b->beam;
}

/* HF BeamHypotheses as a list in insertion order: add if not full, else
 * replace the lowest (first of equals) when strictly better. */
static void ref_add(ref_hyp *hyps, size_t *nh, size_t K, const int32_t *ids, size_t n, double lp, int fin,
                    double alpha) {
    ref_hyp h = {.n = n, .lp = lp, .score = lp / pow((double)n, alpha), .finished = fin};
    memcpy(h.ids, ids, n * sizeof *ids);
    if (*nh < K) {
        hyps[(*nh)++] = h;
        return;
    }
    size_t w = 0;
    for (size_t i = 1; i < *nh; i++)
        if (hyps[i].score < hyps[w].score) w = i;
    if (!(h.score > hyps[w].score)) return;
    memmove(hyps + w, hyps + w + 1, (*nh - w - 1) * sizeof *hyps); /* del beams[w], then append */
    hyps[*nh - 1] = h;
}

/* Returns the hypotheses sorted best first (stable) in hyps[0..*nh); *early when K finished. */
static void ref_beam(xf_model *m, int fam, const int32_t *input, size_t ni, int32_t start, size_t V, size_t K,
                     size_t L, int32_t eos, double alpha, ref_hyp *hyps, size_t *nh, int *early) {
    ref_hyp beams[8], next[8];
    size_t nb = 1;
    memset(beams, 0, sizeof beams);
    *nh = 0;
    *early = 0;
    static ref_cand cands[8 * 64];
    for (size_t step = 0; step < L; step++) {
        size_t nc = 0;
        for (size_t b = 0; b < nb; b++) {
            int32_t seq[32];
            memcpy(seq, beams[b].ids, beams[b].n * sizeof *seq);
            for (size_t v = 0; v < V; v++) {
                seq[beams[b].n] = (int32_t)v;
                /* the new token's log-prob: the whole sequence's minus the beam's */
                double lp = seq_logprob(m, fam, input, ni, start, seq, beams[b].n + 1);
                cands[nc++] = (ref_cand){.s = lp, .tok = (int32_t)v, .beam = b};
            }
        }
        qsort(cands, nc, sizeof *cands, ref_cand_cmp);
        size_t nn = 0;
        for (size_t r = 0; r < nc && r < 2 * K && nn < K; r++) {
            ref_hyp h = beams[cands[r].beam];
            h.ids[h.n++] = cands[r].tok;
            h.lp = cands[r].s;
            if (cands[r].tok == eos) {
                if (r < K) ref_add(hyps, nh, K, h.ids, h.n, h.lp, 1, alpha);
                continue;
            }
            next[nn++] = h;
        }
        memcpy(beams, next, nn * sizeof *beams);
        nb = nn;
        if (*nh == K) {
            *early = 1;
            break;
        }
        if (!nb) break;
    }
    if (!*early)
        for (size_t b = 0; b < nb; b++) ref_add(hyps, nh, K, beams[b].ids, beams[b].n, beams[b].lp, 0, alpha);
    for (size_t i = 1; i < *nh; i++) /* stable sort, best first */
        for (size_t j = i; j > 0 && hyps[j].score > hyps[j - 1].score; j--) {
            ref_hyp t = hyps[j];
            hyps[j] = hyps[j - 1];
            hyps[j - 1] = t;
        }
}

/* eos_boost: added to the LM head bias of eos (a BART-style head has one), so
 * hypotheses finish and the search stops early. */
static void check_reference(int fam, size_t V, size_t K, size_t L, int32_t eos, float alpha, float eos_boost,
                            uint64_t seed, int want_early) {
    xf_model *m = NULL, *ref = NULL;
    make_pair(fam, V, seed, &m, &ref);
    if (eos_boost != 0) {
        for (int w = 0; w < 2; w++) {
            xf_model *x = w ? ref : m;
            size_t t = (size_t)-1;
            for (size_t i = 0; i < xf_model_num_tensors(x); i++) {
                const char *nm = xf_model_tensor(x, i)->name;
                size_t l = strlen(nm);
                if (l >= 12 && !strcmp(nm + l - 12, "lm_head.bias")) t = i;
            }
            CHECK_MSG(t != (size_t)-1, "no lm_head.bias in %s", FAM_NAME[fam]);
            xf_model_params(x)[xf_model_tensor(x, t)->offset + (size_t)eos] += eos_boost;
        }
    }
    int32_t input[5] = {3, 1, 4, 1, 5};
    size_t ni = 5;
    xf_beam_opts o;
    xf_beam_opts_init(&o);
    o.beams = K;
    o.max_new = L;
    o.length_penalty = alpha;
    o.eos_id = eos;
    o.start_id = xf_decoder_start_id(xf_model_config(m), -1);
    xf_beam_result r;
    CHECK_OK(xf_beam_search(m, input, ni, &o, &r));
    ref_hyp hyps[8];
    size_t nh;
    int early;
    ref_beam(ref, fam, input, ni, o.start_id, V, K, L, eos, alpha, hyps, &nh, &early);
    CHECK_MSG(r.n == nh, "%s: %zu hypotheses, the reference has %zu", FAM_NAME[fam], r.n, nh);
    CHECK(r.early_stop == early);
    if (want_early >= 0) CHECK_MSG(early == want_early, "%s: early stop %d, wanted %d", FAM_NAME[fam], early, want_early);
    for (size_t h = 0; h < nh; h++) {
        CHECK_MSG(r.hyps[h].n == hyps[h].n && !memcmp(r.hyps[h].ids, hyps[h].ids, hyps[h].n * sizeof(int32_t)),
                  "%s: hypothesis %zu differs from the reference", FAM_NAME[fam], h);
        CHECK(r.hyps[h].finished == hyps[h].finished);
        CHECK_NEAR(r.hyps[h].logprob, hyps[h].lp, 1e-4);
        CHECK_NEAR(r.hyps[h].score, hyps[h].score, 1e-4);
    }
    xf_beam_result_free(&r);
    xf_model_free(m);
    xf_model_free(ref);
}

TEST(test_reference_decoder) {
    check_reference(FAM_GPT, 13, 3, 7, 5, 1.0f, 0, 51, -1);
    check_reference(FAM_GPT, 13, 4, 6, -1, 1.0f, 0, 52, 0);
}
TEST(test_reference_prefix_lm) { check_reference(FAM_PREFIX, 13, 3, 7, 4, 0.8f, 0, 61, -1); }
TEST(test_reference_t5) { check_reference(FAM_T5, 13, 3, 7, 2, 1.0f, 0, 71, -1); }
TEST(test_reference_moe) { check_reference(FAM_MOE, 13, 2, 6, 6, 1.5f, 0, 81, -1); }
/* a likely EOS: K hypotheses finish before the length and the search stops early */
TEST(test_reference_early_stop) { check_reference(FAM_BART, 13, 3, 10, 7, 1.0f, 3.0f, 91, 1); }
/* an EOS that always wins: every hypothesis is one token */
TEST(test_reference_eos_first) { check_reference(FAM_BART, 13, 3, 10, 7, 1.0f, 40.0f, 92, 1); }

/* EOS often but not always best: EOS candidates ranked K..2K-1 must be dropped
 * (HF's is_beam_token_worse_than_top_num_beams), others kept */
TEST(test_reference_eos_ranks) {
    /* (seeds 308 with K = 3 and 306, 308 with K = 4 do drop such an EOS) */
    for (uint64_t seed = 300; seed < 310; seed++) {
        check_reference(FAM_BART, 13, 3, 8, 7, 1.0f, 1.5f, seed, -1);
        check_reference(FAM_BART, 13, 4, 8, 7, 1.0f, 1.5f, seed, -1);
    }
}

/* Zero weights give uniform logits, so every candidate ties: lower token id
 * first, then lower beam; equal hypotheses keep the order they were made in. */
TEST(test_ties) {
    xf_config c = family(FAM_GPT, 5);
    xf_model *m = NULL;
    CHECK_OK(xf_model_create(&m, &c)); /* zeroed parameters */
    int32_t p[2] = {1, 2};
    xf_beam_opts o;
    xf_beam_opts_init(&o);
    o.beams = 2;
    o.max_new = 3;
    xf_beam_result r;
    CHECK_OK(xf_beam_search(m, p, 2, &o, &r));
    /* step 0 keeps tokens 0, 1; then (0, beam 0), (0, beam 1) ... */
    const int32_t want0[3] = {0, 0, 0}, want1[3] = {1, 0, 0};
    CHECK(r.n == 2 && r.hyps[0].n == 3 && r.hyps[1].n == 3);
    CHECK(!memcmp(r.hyps[0].ids, want0, sizeof want0) && !memcmp(r.hyps[1].ids, want1, sizeof want1));
    CHECK_NEAR(r.hyps[0].score, -log(5.0), 1e-6);
    CHECK(!r.early_stop && r.steps == 3);
    xf_beam_result_free(&r);
    /* EOS = 0 ranks first each step: [0] finishes, then [1, 0] with the same
     * score (-2 log 5 / 2): two finished, early stop, made-first first */
    o.eos_id = 0;
    CHECK_OK(xf_beam_search(m, p, 2, &o, &r));
    CHECK(r.n == 2 && r.early_stop && r.steps == 2);
    CHECK(r.hyps[0].n == 1 && r.hyps[0].ids[0] == 0 && r.hyps[0].finished);
    CHECK(r.hyps[1].n == 2 && r.hyps[1].ids[0] == 1 && r.hyps[1].ids[1] == 0 && r.hyps[1].finished);
    CHECK(r.hyps[0].score == r.hyps[1].score);
    xf_beam_result_free(&r);
    xf_model_free(m);
}

/* ---- beams = 1 is greedy ---------------------------------------------------- */

typedef struct {
    int32_t ids[64];
    size_t n;
} collect;

static int collect_cb(int32_t id, void *ctx) {
    collect *c = ctx;
    c->ids[c->n++] = id;
    return 0;
}

static void check_greedy(int fam, int32_t eos, uint64_t seed) {
    size_t V = 29, L = 9;
    xf_model *m = NULL, *g = NULL;
    make_pair(fam, V, seed, &m, &g);
    int32_t input[4] = {7, 3, 11, 2};
    int32_t start = xf_decoder_start_id(xf_model_config(m), 5);
    xf_beam_opts o;
    xf_beam_opts_init(&o);
    o.beams = 1;
    o.max_new = L;
    o.eos_id = eos;
    o.start_id = start;
    xf_beam_result r;
    CHECK_OK(xf_beam_search(m, input, 4, &o, &r));
    xf_sample_opts so = {.temperature = 0, .top_p = 1};
    xf_sampler *s = NULL;
    CHECK_OK(xf_sampler_create(&s, V, &so));
    collect c = {.n = 0};
    if (is_encdec(fam)) CHECK_OK(xf_generate_seq2seq(g, input, 4, start, L, s, eos, collect_cb, &c));
    else CHECK_OK(xf_generate(g, input, 4, L, s, eos, collect_cb, &c));
    xf_sampler_free(s);
    CHECK(r.n == 1);
    CHECK_MSG(r.hyps[0].n == c.n, "%s: beam has %zu ids, greedy %zu", FAM_NAME[fam], r.hyps[0].n, c.n);
    CHECK(!memcmp(r.hyps[0].ids, c.ids, c.n * sizeof(int32_t)));
    CHECK(r.hyps[0].finished == (eos >= 0 && c.ids[c.n - 1] == eos));
    xf_beam_result_free(&r);
    xf_model_free(m);
    xf_model_free(g);
}

TEST(test_greedy_equals_one_beam) {
    for (int fam = 0; fam < FAM_COUNT; fam++) {
        check_greedy(fam, -1, 100 + (uint64_t)fam);
        /* with an EOS id (greedy may or may not reach it) */
        check_greedy(fam, 4, 200 + (uint64_t)fam);
    }
}

/* ---- the start token and the cache length ------------------------------------ */

TEST(test_lengths_and_limits) {
    xf_model *m = NULL, *e = NULL;
    make_pair(FAM_GPT, 9, 7, &m, &e);
    xf_model_free(e);
    xf_beam_opts o;
    xf_beam_opts_init(&o);
    o.beams = 2;
    o.max_new = 100; /* the context (16) limits it: 16 - 10 + 1 = 7 tokens */
    int32_t p[16] = {0};
    xf_beam_result r;
    CHECK_OK(xf_beam_search(m, p, 10, &o, &r));
    CHECK(r.n == 2 && r.hyps[0].n == 7 && r.hyps[1].n == 7 && !r.hyps[0].finished);
    xf_beam_result_free(&r);
    CHECK_OK(xf_beam_search(m, p, 16, &o, &r)); /* a full context still predicts one token */
    CHECK(r.n == 2 && r.hyps[0].n == 1);
    xf_beam_result_free(&r);
    o.max_new = 0;
    CHECK_OK(xf_beam_search(m, p, 3, &o, &r));
    CHECK(r.n == 0);
    o.max_new = 5;
    CHECK(xf_beam_search(m, p, 17, &o, &r) == XF_ERR_ARG); /* longer than the context */
    CHECK(r.n == 0 && r.hyps == NULL);
    CHECK(xf_beam_search(m, p, 0, &o, &r) == XF_ERR_ARG);
    o.beams = 0;
    CHECK(xf_beam_search(m, p, 3, &o, &r) == XF_ERR_ARG);
    o.beams = 65;
    CHECK(xf_beam_search(m, p, 3, &o, &r) == XF_ERR_ARG);
    o.beams = 2;
    o.eos_id = 9;
    CHECK(xf_beam_search(m, p, 3, &o, &r) == XF_ERR_ARG);
    o.eos_id = -1;
    o.length_penalty = NAN;
    CHECK(xf_beam_search(m, p, 3, &o, &r) == XF_ERR_ARG);
    o.length_penalty = 1;
    xf_model_free(m);

    /* encoder-decoder: at most the context, from the start token */
    make_pair(FAM_T5, 9, 8, &m, &e);
    xf_model_free(e);
    o.max_new = 100;
    CHECK_OK(xf_beam_search(m, p, 5, &o, &r));
    CHECK(r.n == 2 && r.hyps[0].n == 16);
    xf_beam_result_free(&r);
    CHECK(xf_beam_search(m, p, 17, &o, &r) == XF_ERR_ARG); /* a source longer than the context */
    CHECK(xf_beam_search(m, p, 0, &o, &r) == XF_ERR_ARG);
    xf_sample_opts so = {.temperature = 0, .top_p = 1};
    xf_sampler *s = NULL;
    CHECK_OK(xf_sampler_create(&s, 9, &so));
    collect c = {.n = 0};
    CHECK_OK(xf_generate_seq2seq(m, p, 5, 0, 100, s, -1, collect_cb, &c));
    CHECK(c.n == 16); /* stops when the decoder's cache is full */
    CHECK(xf_generate(m, p, 5, 3, s, -1, NULL, NULL) == XF_ERR_ARG); /* needs xf_generate_seq2seq */
    xf_model_free(m);

    /* decoder-only generation refuses a source; an encoder has no decoder */
    make_pair(FAM_GPT, 9, 9, &m, &e);
    xf_model_free(e);
    CHECK(xf_generate_seq2seq(m, p, 5, 0, 3, s, -1, NULL, NULL) == XF_ERR_ARG);
    xf_model_free(m);
    xf_config c2 = family(FAM_GPT, 9);
    c2.arch = XF_ARCH_ENCODER;
    CHECK_OK(xf_model_create(&m, &c2));
    CHECK(xf_beam_search(m, p, 3, &o, &r) == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "encoder") != NULL);
    CHECK(xf_generate(m, p, 3, 3, s, -1, NULL, NULL) == XF_ERR_ARG);
    xf_model_free(m);
    xf_sampler_free(s);

    xf_config t5 = family(FAM_T5, 9);
    t5.decoder_start_token_id = -1;
    CHECK(xf_decoder_start_id(&t5, 5) == 5);
    CHECK(xf_decoder_start_id(&t5, -1) == 0);
    t5.decoder_start_token_id = 2;
    CHECK(xf_decoder_start_id(&t5, 5) == 2);
}

int main(void) {
    xf_set_threads(1); /* tiny models: a thread pool only adds waiting */
    RUN(test_exhaustive_decoder);
    RUN(test_exhaustive_prefix_lm);
    RUN(test_exhaustive_t5);
    RUN(test_exhaustive_bart);
    RUN(test_exhaustive_moe);
    RUN(test_reference_decoder);
    RUN(test_reference_prefix_lm);
    RUN(test_reference_t5);
    RUN(test_reference_moe);
    RUN(test_reference_early_stop);
    RUN(test_reference_eos_first);
    RUN(test_reference_eos_ranks);
    RUN(test_ties);
    RUN(test_greedy_equals_one_beam);
    RUN(test_lengths_and_limits);
    return test_summary();
}
