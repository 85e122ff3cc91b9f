/* Training objectives and their batches (include/xfmr/objective.h,
 * docs/algorithms.md §1 and §5, docs/objectives.md).
 *
 * Every example is drawn from the token stream of the dataset: the training
 * part [0, n_train) or, for val = 1, the validation part [n_train, n). A window
 * of W tokens starts uniformly in the part (one xf_rng_below(len - W + 1)).
 * RNG draws per example, in order:
 *   clm     window (W = T + 1)
 *   prefix  window, split P (decoder, prefix_lm: W = T + 1, P in [1, T-1];
 *           encoder_decoder: W = min(S, T) + 1, P in [1, W-1])
 *   span    window (W = raw length R), the noise mask
 *   ul2     denoiser (one xf_rng_double), setting (xf_rng_below when the
 *           denoiser has several), window, the noise mask (R and X)
 *   mlm     window (W = T), the partial shuffle, per chosen token one
 *           xf_rng_below(10) and, for a random replacement, ids until one is
 *           not special */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "xfmr/objective.h"

static const char *const k_names[XF_OBJ_COUNT] = {"clm", "prefix", "span", "mlm", "ul2", "bart", "glm", "gmask"};

const char *xf_objective_name(xf_objective o) {
    return ((int)o >= 0 && o < XF_OBJ_COUNT) ? k_names[o] : "unknown";
}

xf_status xf_objective_parse(const char *s, xf_objective *out) {
    for (int i = 0; s && i < XF_OBJ_COUNT; i++)
        if (strcmp(s, k_names[i]) == 0) {
            *out = (xf_objective)i;
            return XF_OK;
        }
    return xf_fail(XF_ERR_ARG, "unknown objective '%s' (choose clm, prefix, span, mlm, ul2, bart, glm or gmask)",
                   s ? s : "");
}

/* What each objective needs from a model, for the refusal messages. */
static const char *const k_needs[XF_OBJ_COUNT] = {
    [XF_OBJ_CLM] = "one stack that predicts every next token",
    [XF_OBJ_PREFIX] = "a decoder that predicts the output after a prefix",
    [XF_OBJ_SPAN] = "a decoder that reads the corrupted inputs bidirectionally (prefix_lm or encoder_decoder)",
    [XF_OBJ_MLM] = "a bidirectional encoder",
    [XF_OBJ_UL2] = "a decoder that reads the corrupted inputs bidirectionally (prefix_lm or encoder_decoder)",
    [XF_OBJ_BART] = "an encoder for the noised text and a decoder that rewrites all of it",
    [XF_OBJ_GLM] = "one decoder stack that reads part A and writes the blanks as part B (prefix_lm or decoder)",
    [XF_OBJ_GMASK] = "one decoder stack that reads part A and writes the blanks as part B (prefix_lm or decoder)",
};

#define OBJ(o) (1u << (o))
/* One row per family: which objectives it trains with, its default, and what
 * it is (docs/objectives.md's table is this one). */
static const struct {
    unsigned objectives;
    xf_objective deflt;
    const char *is;
} k_families[XF_ARCH_COUNT] = {
    [XF_ARCH_DECODER] = {OBJ(XF_OBJ_CLM) | OBJ(XF_OBJ_PREFIX) | OBJ(XF_OBJ_GLM) | OBJ(XF_OBJ_GMASK), XF_OBJ_CLM,
                         "is causal"},
    [XF_ARCH_ENCODER] = {OBJ(XF_OBJ_MLM), XF_OBJ_MLM, "is bidirectional with no decoder"},
    [XF_ARCH_PREFIX_LM] = {OBJ(XF_OBJ_CLM) | OBJ(XF_OBJ_PREFIX) | OBJ(XF_OBJ_SPAN) | OBJ(XF_OBJ_UL2) |
                               OBJ(XF_OBJ_GLM) | OBJ(XF_OBJ_GMASK),
                           XF_OBJ_PREFIX, "has one stack that predicts the next token"},
    [XF_ARCH_ENCODER_DECODER] = {OBJ(XF_OBJ_PREFIX) | OBJ(XF_OBJ_SPAN) | OBJ(XF_OBJ_UL2) | OBJ(XF_OBJ_BART),
                                 XF_OBJ_SPAN, "learns through its decoder from a source"},
};

xf_objective xf_objective_default(xf_arch arch) {
    return (int)arch >= 0 && arch < XF_ARCH_COUNT ? k_families[arch].deflt : XF_OBJ_CLM;
}

xf_status xf_objective_check(xf_objective o, xf_arch arch) {
    if ((int)o < 0 || o >= XF_OBJ_COUNT)
        return xf_fail(XF_ERR_ARG, "objective %d is not one of clm, prefix, span, mlm, ul2, bart, glm, gmask", (int)o);
    if ((int)arch < 0 || arch >= XF_ARCH_COUNT)
        return xf_fail(XF_ERR_ARG, "objective %s: unknown arch %d", xf_objective_name(o), (int)arch);
    unsigned ok = k_families[arch].objectives;
    if (ok & OBJ(o)) return XF_OK;
    /* "use a, b or c": the family's objectives */
    char use[96] = "";
    size_t n = 0, total = 0, pos = 0;
    for (int k = 0; k < XF_OBJ_COUNT; k++) total += (ok >> k) & 1u;
    for (int k = 0; k < XF_OBJ_COUNT && pos < sizeof use; k++) {
        if (!(ok & OBJ(k))) continue;
        const char *sep = n == 0 ? "" : n + 1 == total ? " or " : ", ";
        pos += (size_t)snprintf(use + pos, sizeof use - pos, "%s%s", sep, k_names[k]);
        n++;
    }
    return xf_fail(XF_ERR_ARG, "objective %s needs %s; arch %s %s (use %s)", xf_objective_name(o), k_needs[o],
                   xf_arch_name(arch), k_families[arch].is, use);
}

static int is_special(const xf_objective_opts *o, int32_t id);

xf_status xf_objective_opts_init(xf_objective_opts *opts, xf_objective kind, const xf_config *cfg,
                                 const xf_tokenizer *tok) {
    if (!opts || !tok) return xf_fail(XF_ERR_ARG, "objective: NULL options or tokenizer");
    memset(opts, 0, sizeof *opts);
    /* the arch is recorded, not checked: xf_objective_check and the batch
     * functions refuse a pair that makes no sense (pairs files use clm's ids
     * with any arch that has a decoder) */
    xf_arch arch = cfg ? cfg->arch : XF_ARCH_DECODER;
    if ((int)kind < 0 || kind >= XF_OBJ_COUNT || (int)arch < 0 || arch >= XF_ARCH_COUNT)
        return xf_fail(XF_ERR_ARG, "objective %d / arch %d out of range", (int)kind, (int)arch);
    const char *on = xf_objective_name(kind), *tn = xf_tokenizer_name(tok);
    size_t V = xf_tokenizer_vocab_size(tok);
    if (V == 0 || V > INT32_MAX)
        return xf_fail(XF_ERR_ARG, "objective %s: tokenizer %s has %zu ids", on, tn, V);
    if (cfg && cfg->vocab_size && cfg->vocab_size < V)
        return xf_fail(XF_ERR_SHAPE,
                       "objective %s: tokenizer %s has %zu ids but the model's vocab_size is %zu",
                       on, tn, V, cfg->vocab_size);
    opts->kind = kind;
    opts->arch = arch;
    opts->noise_density = 0.15f;
    opts->mean_span = 3.0f;
    opts->mlm_probability = 0.15f;
    for (int i = 0; i < 3; i++) opts->ul2_weights[i] = 1.0f;
    opts->vocab_size = V;
    for (int i = 0; i < XF_TOK_SPECIAL_COUNT; i++) {
        int32_t id = xf_tokenizer_special(tok, (xf_tok_special)i);
        opts->special[i] = id >= 0 && (size_t)id < V ? id : -1;
    }
    opts->pad = opts->special[XF_TOK_PAD];
    opts->eos = opts->special[XF_TOK_EOS];
    opts->mask = opts->special[XF_TOK_MASK];
    if (cfg && cfg->decoder_start_token_id >= 0 && (size_t)cfg->decoder_start_token_id >= V)
        return xf_fail(XF_ERR_ARG, "objective %s: decoder_start_token_id %d is not below %zu", on,
                       cfg->decoder_start_token_id, V);
    xf_config defaults;
    xf_config_defaults(&defaults);
    opts->decoder_start = xf_decoder_start_id(cfg ? cfg : &defaults, opts->pad);

    /* sentinels: spans use <extra_id_0 .. n-4>, the last three are [R] [S] [X] */
    size_t ns_tok = xf_tokenizer_sentinel_count(tok);
    size_t kept = ns_tok < XF_OBJ_MAX_SENTINELS ? ns_tok : XF_OBJ_MAX_SENTINELS;
    for (size_t k = 0; k < kept; k++) {
        int32_t id = xf_tokenizer_sentinel(tok, k);
        if (id < 0 || (size_t)id >= V)
            return xf_fail(XF_ERR_FORMAT, "objective %s: tokenizer %s gives <extra_id_%zu> id %d",
                           on, tn, k, (int)id);
        opts->sentinel_ids[k] = id;
    }
    opts->n_all_sentinels = kept;
    opts->sentinels = opts->sentinel_ids;
    opts->n_sentinels = ns_tok > 3 ? (ns_tok - 3 < kept ? ns_tok - 3 : kept) : 0;
    for (int m = 0; m < 3; m++)
        opts->mode[m] = ns_tok >= 3 ? xf_tokenizer_sentinel(tok, ns_tok - 1 - (size_t)m) : -1;

    if (kind == XF_OBJ_SPAN || kind == XF_OBJ_UL2) {
        if (opts->eos < 0)
            return xf_fail(XF_ERR_ARG, "objective %s needs an end-of-sequence token; tokenizer %s "
                           "has none", on, tn);
        if (kind == XF_OBJ_SPAN && opts->n_sentinels == 0)
            return xf_fail(XF_ERR_ARG,
                           "objective span needs sentinel tokens <extra_id_k> (more than 3: the "
                           "last 3 are kept for ul2's mode tokens); tokenizer %s has %zu",
                           tn, ns_tok);
        if (kind == XF_OBJ_UL2 && ns_tok < 4)
            return xf_fail(XF_ERR_ARG,
                           "objective ul2 needs at least 4 sentinel tokens <extra_id_k> (the last "
                           "3 become the mode tokens [R] [S] [X]); tokenizer %s has %zu",
                           tn, ns_tok);
    }
    if (kind == XF_OBJ_BART) {
        opts->bart_mask = 0.3f;
        opts->bart_lambda = 3.0f;
        opts->bart_permute = 1.0f;
        if (opts->mask < 0)
            return xf_fail(XF_ERR_ARG, "objective bart needs a mask token; tokenizer %s has none", tn);
        if (opts->eos < 0)
            return xf_fail(XF_ERR_ARG, "objective bart needs an end-of-sequence token; tokenizer %s has none",
                           tn);
        /* sentence ends: tokens whose text is ".", "!" or "?" with spaces around at most */
        char buf[XF_TOKENIZER_PIECE_MAX];
        for (size_t id = 0; id < V && opts->n_sentence_ends < XF_OBJ_MAX_SENTENCE_ENDS; id++) {
            size_t len = 0;
            if (xf_tokenizer_piece(tok, -1, (int32_t)id, buf, sizeof buf, &len) != XF_OK) continue;
            size_t lo = 0, hi = len;
            while (lo < hi && (buf[lo] == ' ' || buf[lo] == '\n')) lo++;
            while (hi > lo && (buf[hi - 1] == ' ' || buf[hi - 1] == '\n')) hi--;
            if (hi - lo == 1 && (buf[lo] == '.' || buf[lo] == '!' || buf[lo] == '?') &&
                !is_special(opts, (int32_t)id))
                opts->sentence_ends[opts->n_sentence_ends++] = (int32_t)id;
        }
    }
    if (kind == XF_OBJ_GLM || kind == XF_OBJ_GMASK) {
        opts->glm_ratio = 0.15f;
        opts->glm_lambda = 3.0f;
        xf_status st = xf_glm_tokens_find(tok, &opts->glm);
        if (st != XF_OK) return st;
    }
    if (kind == XF_OBJ_MLM) {
        if (opts->mask < 0)
            return xf_fail(XF_ERR_ARG, "objective mlm needs a mask token; tokenizer %s has none", tn);
        if (ns_tok > kept)
            return xf_fail(XF_ERR_UNSUPPORTED,
                           "objective mlm: tokenizer %s has %zu sentinels, more than the %d kept "
                           "out of random replacements",
                           tn, ns_tok, XF_OBJ_MAX_SENTINELS);
        if (V <= XF_TOK_SPECIAL_COUNT + 3 + kept) /* enough for one id outside is_special */
            return xf_fail(XF_ERR_ARG, "objective mlm: tokenizer %s has no ordinary token to draw "
                           "as a random replacement", tn);
    }
    return XF_OK;
}

/* ---- row writers ---------------------------------------------------------- */

static int32_t pad_id(const xf_objective_opts *o) { return o->pad >= 0 ? o->pad : 0; }

xf_status xf_batch_put_lm(const xf_objective_opts *o, xf_batch_buf *b, size_t row,
                          const int32_t *seq, size_t n, size_t prefix_len) {
    size_t T = b->T;
    if (row >= b->B || !b->ids || !b->targets || (n && !seq))
        return xf_fail(XF_ERR_ARG, "batch: row %zu of %zu, or ids/targets missing", row, b->B);
    if (n > T + 1 || prefix_len > n)
        return xf_fail(XF_ERR_ARG, "batch: a sequence of %zu tokens (prefix %zu) does not fit length %zu",
                       n, prefix_len, T);
    int32_t *ids = b->ids + row * T, *tg = b->targets + row * T, pad = pad_id(o);
    size_t m = n ? n - 1 : 0; /* positions with a next token */
    for (size_t i = 0; i < m; i++) {
        ids[i] = seq[i];
        tg[i] = i + 1 >= prefix_len ? seq[i + 1] : -1;
    }
    for (size_t i = m; i < T; i++) {
        ids[i] = pad;
        tg[i] = -1;
    }
    if (b->lengths) b->lengths[row] = (int32_t)m;
    if (b->prefix_len) b->prefix_len[row] = (int32_t)prefix_len;
    return XF_OK;
}

xf_status xf_batch_put_seq2seq(const xf_objective_opts *o, xf_batch_buf *b, size_t row,
                               const int32_t *src, size_t ns, const int32_t *target, size_t nt) {
    size_t T = b->T, S = b->S;
    if (row >= b->B || !b->ids || !b->targets || !b->src || (ns && !src) || (nt && !target))
        return xf_fail(XF_ERR_ARG, "batch: row %zu of %zu, or ids/targets/src missing", row, b->B);
    if (ns > S || nt > T)
        return xf_fail(XF_ERR_ARG, "batch: source %zu / target %zu tokens exceed lengths %zu / %zu",
                       ns, nt, S, T);
    int32_t pad = pad_id(o);
    int32_t *s = b->src + row * S, *ids = b->ids + row * T, *tg = b->targets + row * T;
    for (size_t i = 0; i < S; i++) s[i] = i < ns ? src[i] : pad;
    for (size_t i = 0; i < T; i++) {
        /* shift_right: the decoder reads decoder_start, then the targets one late */
        ids[i] = i >= nt ? pad : i == 0 ? o->decoder_start : target[i - 1];
        tg[i] = i < nt ? target[i] : -1;
    }
    if (b->src_lengths) b->src_lengths[row] = (int32_t)ns;
    if (b->lengths) b->lengths[row] = (int32_t)nt;
    if (b->prefix_len) b->prefix_len[row] = 0;
    return XF_OK;
}

/* ---- plans: one per corruption setting, fixed for a batch -------------------- */

enum { UL2_R = 0, UL2_S = 1, UL2_X = 2 };
#define MAX_PLANS 8

typedef struct {
    float mean, density; /* span corruption setting */
    int split;           /* S-denoiser: the last quarter of the raw tokens is the target */
    int32_t mode;        /* mode token first in the inputs, or -1 */
    size_t raw;          /* raw tokens per example */
} plan;

/* UL2 settings (docs/algorithms.md §5): R (3, .15) (8, .15); X (3, .5) (8, .5)
 * (64, .15) (64, .5); S one prefix-LM split. */
static const struct {
    int denoiser;
    float mean, density;
} k_ul2[] = {{UL2_R, 3, 0.15f}, {UL2_R, 8, 0.15f}, {UL2_S, 0, 0.25f},  {UL2_X, 3, 0.5f},
             {UL2_X, 8, 0.5f},  {UL2_X, 64, 0.15f}, {UL2_X, 64, 0.5f}};
enum { N_UL2 = sizeof k_ul2 / sizeof k_ul2[0] };

/* Target tokens of the S-denoiser on R raw tokens: clamp(round(R / 4), 1, R - 1),
 * rounding half to even. */
static size_t split_targets(size_t R) {
    size_t nt = (size_t)nearbyint((double)R * 0.25);
    if (nt < 1) nt = 1;
    if (nt > R - 1) nt = R - 1;
    return nt;
}

/* Inputs (mode token and EOS included), targets and spans of R raw tokens. */
static void plan_sizes(const plan *p, size_t R, size_t *n_in, size_t *n_tg, size_t *spans) {
    size_t nn, ns = 0;
    if (p->split) {
        nn = split_targets(R);
        *n_in = R - nn + 1;
        *n_tg = nn + 1;
    } else {
        xf_span_counts(R, p->density, p->mean, &nn, &ns);
        *n_in = R - nn + ns + 1;
        *n_tg = nn + ns + 1;
    }
    if (p->mode >= 0) (*n_in)++;
    *spans = ns;
}

/* Whether R raw tokens fit: enc-dec inputs <= S; decoder-only inputs + targets
 * <= T + 1 (the sequence is shifted by one); spans <= sentinels. */
static int plan_fits(const xf_objective_opts *o, const plan *p, size_t R, size_t S, size_t T,
                     int encdec) {
    size_t n_in, n_tg, spans;
    plan_sizes(p, R, &n_in, &n_tg, &spans);
    if (spans > o->n_sentinels) return 0;
    return encdec ? n_in <= S : n_in + n_tg <= T + 1;
}

/* Raw length of a plan: the largest fitting R (every size above is
 * nondecreasing in R, so fitting is a prefix of R = 2, 3, ...). Encoder-decoder
 * span settings start from random_spans_helper(S), T5's own choice, and only
 * shrink further for want of sentinels. */
static xf_status plan_fit(const xf_objective_opts *o, plan *p, size_t S, size_t T, int encdec) {
    const char *on = xf_objective_name(o->kind);
    size_t R;
    if (encdec && !p->split) {
        size_t room = p->mode >= 0 ? (S ? S - 1 : 0) : S, tg;
        xf_span_lengths(room, p->density, p->mean, &R, &tg);
        while (R >= 2 && !plan_fits(o, p, R, S, T, encdec)) R--;
    } else {
        /* every fit here is below 2 (S or T): the bound only ends the search */
        size_t limit = (encdec ? S : T) * 8 + 16;
        R = 2;
        if (plan_fits(o, p, R, S, T, encdec))
            while (R < limit && plan_fits(o, p, R + 1, S, T, encdec)) R++;
        else
            R = 0;
    }
    if (R < 2)
        return xf_fail(XF_ERR_ARG, "objective %s: %s length %zu is too short to hold a corrupted "
                       "example", on, encdec ? "source" : "sequence", encdec ? S : T);
    p->raw = R;
    return XF_OK;
}

/* ---- batches -------------------------------------------------------------------- */

typedef struct {
    int32_t *raw, *in, *tg, *seq;
    uint8_t *mask;
    size_t *cand;
    size_t cap_io; /* entries of in and tg */
} scratch;

/* One window of W tokens from the training or validation part. */
static xf_status draw_window(const xf_dataset *ds, int val, size_t W, xf_rng *rng, int32_t *out) {
    size_t lo = val ? xf_dataset_train_len(ds) : 0;
    size_t len = val ? xf_dataset_val_len(ds) : xf_dataset_train_len(ds);
    if (len < W)
        return xf_fail(XF_ERR_SHAPE, "objective: the %s part has %zu tokens, a window needs %zu",
                       val ? "validation" : "training", len, W);
    size_t start = lo + (size_t)xf_rng_below(rng, (uint64_t)(len - W + 1));
    return xf_dataset_copy(ds, start, W, out);
}

/* Corrupt R raw tokens per plan p into sc->in (n_in) and sc->tg (n_tg). */
static xf_status corrupt(const xf_objective_opts *o, const plan *p, scratch *sc, xf_rng *rng,
                         size_t *n_in, size_t *n_tg) {
    size_t R = p->raw, off = p->mode >= 0 ? 1 : 0;
    if (off) sc->in[0] = p->mode;
    if (p->split) {
        size_t nt = split_targets(R), nk = R - nt;
        memcpy(sc->in + off, sc->raw, nk * sizeof *sc->raw);
        sc->in[off + nk] = o->eos;
        memcpy(sc->tg, sc->raw + nk, nt * sizeof *sc->raw);
        sc->tg[nt] = o->eos;
        *n_in = off + nk + 1;
        *n_tg = nt + 1;
        return XF_OK;
    }
    xf_span_noise_mask(sc->mask, R, p->density, p->mean, rng);
    xf_status st = xf_span_apply(sc->raw, sc->mask, R, o->sentinels, o->n_sentinels, o->eos,
                                 sc->in + off, sc->cap_io - off, n_in, sc->tg, sc->cap_io, n_tg);
    *n_in += off;
    return st;
}

static int is_special(const xf_objective_opts *o, int32_t id) {
    for (int i = 0; i < XF_TOK_SPECIAL_COUNT; i++)
        if (o->special[i] == id) return 1;
    if (id == o->mask || id == o->pad || id == o->eos) return 1;
    for (size_t k = 0; k < o->n_all_sentinels && k < XF_OBJ_MAX_SENTINELS; k++)
        if (o->sentinel_ids[k] == id) return 1;
    return 0;
}

/* BERT masking of one row (ids already hold the window). */
static void mlm_row(const xf_objective_opts *o, int32_t *ids, int32_t *tg, size_t T, size_t *cand,
                    xf_rng *rng) {
    size_t nv = 0;
    for (size_t i = 0; i < T; i++) {
        tg[i] = -1;
        if (o->pad < 0 || ids[i] != o->pad) cand[nv++] = i;
    }
    if (nv == 0) return;
    /* round half to even of the decimal product, as xf_span_counts (0.15f -> 0.15) */
    double p = nearbyint((double)o->mlm_probability * 1e7) / 1e7;
    size_t n = (size_t)nearbyint((double)nv * p);
    if (n < 1) n = 1;
    if (n > nv) n = nv;
    for (size_t j = 0; j < n; j++) { /* the first n of a Fisher-Yates shuffle */
        size_t r = j + (size_t)xf_rng_below(rng, (uint64_t)(nv - j));
        size_t t = cand[j];
        cand[j] = cand[r];
        cand[r] = t;
    }
    for (size_t j = 0; j < n; j++) {
        size_t i = cand[j];
        tg[i] = ids[i];
        uint64_t u = xf_rng_below(rng, 10); /* 0..7 mask, 8 random, 9 kept */
        if (u < 8) {
            ids[i] = o->mask;
        } else if (u == 8) {
            int32_t id;
            do id = (int32_t)xf_rng_below(rng, (uint64_t)o->vocab_size);
            while (is_special(o, id));
            ids[i] = id;
        }
    }
}

/* The options and the buffers the layout needs. */
static xf_status check_opts(const xf_objective_opts *o, const xf_dataset *ds, const xf_batch_buf *b) {
    const char *on = xf_objective_name(o->kind);
    xf_status st = xf_objective_check(o->kind, o->arch);
    if (st != XF_OK) return st;
    size_t V = o->vocab_size;
    if (V == 0 || V > INT32_MAX) return xf_fail(XF_ERR_ARG, "objective %s: vocab size %zu", on, V);
    if (xf_dataset_len(ds) && xf_dataset_max_id(ds) >= V)
        return xf_fail(XF_ERR_SHAPE, "objective %s: the data holds id %zu, not below vocab size %zu",
                       on, xf_dataset_max_id(ds), V);
    int32_t ids[4] = {o->pad, o->eos, o->mask, o->decoder_start};
    for (int i = 0; i < 4; i++)
        if (ids[i] >= 0 && (size_t)ids[i] >= V)
            return xf_fail(XF_ERR_ARG, "objective %s: special id %d is not below vocab size %zu", on,
                           (int)ids[i], V);
    if (o->n_sentinels && !o->sentinels)
        return xf_fail(XF_ERR_ARG, "objective %s: no sentinel array", on);
    for (size_t k = 0; k < o->n_sentinels; k++)
        if (o->sentinels[k] < 0 || (size_t)o->sentinels[k] >= V)
            return xf_fail(XF_ERR_ARG, "objective %s: sentinel %zu has id %d", on, k,
                           (int)o->sentinels[k]);
    if (!b || b->B == 0 || b->T == 0 || !b->ids || !b->targets)
        return xf_fail(XF_ERR_ARG, "objective %s: the batch needs B, T > 0, ids and targets", on);
    if (b->T > INT32_MAX || b->S > INT32_MAX)
        return xf_fail(XF_ERR_ARG, "objective %s: lengths %zu / %zu exceed 2^31 - 1", on, b->T, b->S);
    if (b->B > SIZE_MAX / b->T || b->B * b->T > SIZE_MAX / sizeof(int32_t) ||
        (b->S && b->B > SIZE_MAX / sizeof(int32_t) / b->S))
        return xf_fail(XF_ERR_OOM, "objective %s: batch %zu x %zu is too large", on, b->B, b->T);
    if (o->arch == XF_ARCH_ENCODER_DECODER && (b->S == 0 || !b->src))
        return xf_fail(XF_ERR_ARG, "objective %s: encoder_decoder needs a source buffer (S > 0)", on);
    if (o->kind == XF_OBJ_SPAN) {
        if (!(o->noise_density > 0 && o->noise_density < 1) || !(o->mean_span >= 1) ||
            !(o->mean_span <= 1e6f))
            return xf_fail(XF_ERR_ARG, "objective span: noise density %g must be in (0, 1) and the "
                           "mean span %g at least 1", (double)o->noise_density, (double)o->mean_span);
        if (o->eos < 0 || o->n_sentinels == 0)
            return xf_fail(XF_ERR_ARG, "objective span needs an EOS id and sentinels");
    }
    if (o->kind == XF_OBJ_UL2) {
        double sum = 0;
        for (int i = 0; i < 3; i++) {
            if (!(o->ul2_weights[i] >= 0 && o->ul2_weights[i] <= 1e30f))
                return xf_fail(XF_ERR_ARG, "objective ul2: weight %g of %c is not >= 0",
                               (double)o->ul2_weights[i], "RSX"[i]);
            sum += o->ul2_weights[i];
        }
        if (!(sum > 0)) return xf_fail(XF_ERR_ARG, "objective ul2: the R, S, X weights are all 0");
        if (o->eos < 0 || o->n_sentinels == 0)
            return xf_fail(XF_ERR_ARG, "objective ul2 needs an EOS id and sentinels");
        for (int m = 0; m < 3; m++)
            if (o->mode[m] < 0 || (size_t)o->mode[m] >= V)
                return xf_fail(XF_ERR_ARG, "objective ul2: mode token [%c] has id %d", "RSX"[m],
                               (int)o->mode[m]);
    }
    if (o->kind == XF_OBJ_GLM || o->kind == XF_OBJ_GMASK) {
        int32_t g[4] = {o->glm.mask, o->glm.gmask, o->glm.start, o->glm.end};
        for (int i = 0; i < 4; i++)
            if (g[i] < 0 || (size_t)g[i] >= V)
                return xf_fail(XF_ERR_ARG, "objective %s: special token %s has id %d (vocab size %zu)", on,
                               (const char *[]){"[MASK]", "[gMASK]", "[sop]", "[eop]"}[i], (int)g[i], V);
        if (!(o->glm_ratio > 0 && o->glm_ratio < 1) || !(o->glm_lambda > 0 && o->glm_lambda <= 64))
            return xf_fail(XF_ERR_ARG, "objective %s: ratio %g must be in (0, 1) and lambda %g in (0, 64]", on,
                           (double)o->glm_ratio, (double)o->glm_lambda);
    }
    if (o->kind == XF_OBJ_BART && (o->mask < 0 || o->eos < 0))
        return xf_fail(XF_ERR_ARG, "objective bart needs a mask id and an EOS id");
    if (o->kind == XF_OBJ_MLM) {
        if (o->mask < 0) return xf_fail(XF_ERR_ARG, "objective mlm needs a mask id");
        if (!(o->mlm_probability > 0 && o->mlm_probability <= 1))
            return xf_fail(XF_ERR_ARG, "objective mlm: probability %g is not in (0, 1]",
                           (double)o->mlm_probability);
        if (o->n_all_sentinels > XF_OBJ_MAX_SENTINELS ||
            V <= XF_TOK_SPECIAL_COUNT + 3 + o->n_all_sentinels)
            return xf_fail(XF_ERR_ARG, "objective mlm: no ordinary token to draw at random");
    }
    return XF_OK;
}

/* The plans of a span or ul2 batch; for encoder_decoder, every enabled plan's
 * targets must fit T. */
static xf_status make_plans(const xf_objective_opts *o, const xf_batch_buf *b, plan *plans,
                            size_t *n_plans) {
    int encdec = o->arch == XF_ARCH_ENCODER_DECODER;
    size_t n = 0;
    if (o->kind == XF_OBJ_SPAN) {
        plans[n++] = (plan){o->mean_span, o->noise_density, 0, -1, 0};
    } else {
        for (int i = 0; i < N_UL2; i++) {
            int d = k_ul2[i].denoiser;
            plans[n++] = (plan){k_ul2[i].mean, k_ul2[i].density, d == UL2_S, o->mode[d], 0};
        }
    }
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        if (o->kind == XF_OBJ_UL2 && !(o->ul2_weights[k_ul2[i].denoiser] > 0)) continue;
        xf_status st = plan_fit(o, &plans[i], b->S, b->T, encdec);
        if (st != XF_OK) return st;
        size_t n_in, n_tg, spans;
        plan_sizes(&plans[i], plans[i].raw, &n_in, &n_tg, &spans);
        if (n_tg > need) need = n_tg;
    }
    if (encdec && need > b->T)
        return xf_fail(XF_ERR_ARG,
                       "objective %s on encoder_decoder: source length %zu makes targets of up to "
                       "%zu tokens, the target length is %zu (use --target-seq %zu or more)",
                       xf_objective_name(o->kind), b->S, need, b->T, need);
    *n_plans = n;
    return XF_OK;
}

/* Pick a UL2 plan: denoiser by weight, then uniformly among its settings. */
static size_t pick_ul2(const xf_objective_opts *o, xf_rng *rng) {
    double sum = 0;
    for (int i = 0; i < 3; i++) sum += o->ul2_weights[i];
    double u = xf_rng_double(rng) * sum, acc = 0;
    int d = -1;
    for (int i = 0; i < 3; i++) {
        if (!(o->ul2_weights[i] > 0)) continue;
        d = i;
        acc += o->ul2_weights[i];
        if (u < acc) break;
    }
    size_t first = N_UL2, count = 0;
    for (size_t i = 0; i < N_UL2; i++)
        if (k_ul2[i].denoiser == d) {
            if (first == N_UL2) first = i;
            count++;
        }
    return count > 1 ? first + (size_t)xf_rng_below(rng, count) : first;
}

static xf_status alloc_scratch(scratch *sc, size_t raw, size_t io, size_t cand) {
    memset(sc, 0, sizeof *sc);
    if (raw > SIZE_MAX / 8 || io > SIZE_MAX / 16 || cand > SIZE_MAX / sizeof(size_t))
        return xf_fail(XF_ERR_OOM, "objective: scratch too large");
    sc->cap_io = io;
    sc->raw = malloc((raw + 1) * sizeof *sc->raw);
    sc->mask = malloc(raw + 1);
    sc->in = malloc((io + 1) * sizeof *sc->in);
    sc->tg = malloc((io + 1) * sizeof *sc->tg);
    sc->seq = malloc((2 * io + 1) * sizeof *sc->seq);
    sc->cand = malloc((cand + 1) * sizeof *sc->cand);
    if (!sc->raw || !sc->mask || !sc->in || !sc->tg || !sc->seq || !sc->cand)
        return xf_fail(XF_ERR_OOM, "objective: out of memory for %zu-token examples", raw);
    return XF_OK;
}

static void free_scratch(scratch *sc) {
    free(sc->raw);
    free(sc->mask);
    free(sc->in);
    free(sc->tg);
    free(sc->seq);
    free(sc->cand);
}

/* Row r of a glm / gmask batch from the window in sc->raw: part A then part B,
 * padded (pad id, target -1, position 0, block 0); prefix_len = |A|. */
static xf_status glm_row(const xf_objective_opts *o, xf_batch_buf *b, size_t r, size_t W, scratch *sc, xf_rng *rng) {
    size_t T = b->T, n = 0, na = 0;
    int32_t *ids = b->ids + r * T, *tg = b->targets + r * T;
    /* positions go to sc->in and sc->tg (T entries each) when the batch has no room for them */
    int32_t *pos = b->position_ids ? b->position_ids + r * T : sc->in;
    int32_t *blk = b->block_position_ids ? b->block_position_ids + r * T : sc->tg;
    xf_status st = xf_glm_example(o, sc->raw, W, rng, sc->cand, ids, tg, pos, blk, T, &n, &na);
    if (st != XF_OK) return st;
    for (size_t i = n; i < T; i++) {
        ids[i] = pad_id(o);
        tg[i] = -1;
        pos[i] = blk[i] = 0;
    }
    if (b->lengths) b->lengths[r] = (int32_t)n;
    if (b->prefix_len) b->prefix_len[r] = (int32_t)na;
    return XF_OK;
}

xf_status xf_objective_batch(const xf_objective_opts *o, const xf_dataset *ds, int val,
                             xf_rng *rng, xf_batch_buf *b) {
    if (!o || !ds || !rng) return xf_fail(XF_ERR_ARG, "objective: NULL argument");
    xf_status st = check_opts(o, ds, b);
    if (st != XF_OK) return st;
    size_t B = b->B, T = b->T, S = b->S;
    int encdec = o->arch == XF_ARCH_ENCODER_DECODER;
    plan plans[MAX_PLANS];
    size_t n_plans = 0, W = 0;
    switch (o->kind) {
    case XF_OBJ_CLM: W = T + 1; break;
    case XF_OBJ_PREFIX:
        W = encdec ? (S < T ? S : T) + 1 : T + 1;
        if (W < 3 && !encdec)
            return xf_fail(XF_ERR_ARG, "objective prefix: sequence length %zu leaves no split point "
                           "(need at least 2)", T);
        break;
    case XF_OBJ_MLM: W = T; break;
    case XF_OBJ_GLM:
    case XF_OBJ_GMASK:
        W = xf_glm_window(o, T);
        if (W < 2)
            return xf_fail(XF_ERR_ARG, "objective %s: sequence length %zu leaves no room for parts A and B "
                           "(need at least 4)", xf_objective_name(o->kind), T);
        break;
    case XF_OBJ_BART:
        /* the window and its EOS are the target; the noised copy and EOS the source */
        W = (S < T ? S : T) - 1;
        if (W < 2)
            return xf_fail(XF_ERR_ARG, "objective bart: source %zu / target %zu leave no room for a "
                           "window (need at least 3)", S, T);
        break;
    default:
        st = make_plans(o, b, plans, &n_plans);
        if (st != XF_OK) return st;
        for (size_t i = 0; i < n_plans; i++)
            if (plans[i].raw > W) W = plans[i].raw;
    }
    size_t part = val ? xf_dataset_val_len(ds) : xf_dataset_train_len(ds);
    if (part < W)
        return xf_fail(XF_ERR_SHAPE,
                       "objective %s: the %s part has %zu tokens, an example needs %zu",
                       xf_objective_name(o->kind), val ? "validation" : "training", part, W);
    scratch sc;
    int glm = o->kind == XF_OBJ_GLM || o->kind == XF_OBJ_GMASK;
    st = alloc_scratch(&sc, W, glm ? T : W + 3,
                       o->kind == XF_OBJ_BART ? xf_bart_work_size(W) : glm ? xf_glm_work_size(W) : T);
    for (size_t r = 0; st == XF_OK && r < B; r++) {
        switch (o->kind) {
        case XF_OBJ_CLM:
            st = draw_window(ds, val, W, rng, sc.raw);
            if (st == XF_OK) st = xf_batch_put_lm(o, b, r, sc.raw, W, 0);
            break;
        case XF_OBJ_PREFIX: {
            st = draw_window(ds, val, W, rng, sc.raw);
            if (st != XF_OK) break;
            size_t P = 1 + (size_t)xf_rng_below(rng, (uint64_t)(W - 2 + encdec)); /* [1, W-2] or [1, W-1] */
            if (encdec)
                st = xf_batch_put_seq2seq(o, b, r, sc.raw, P, sc.raw + P, W - P);
            else
                st = xf_batch_put_lm(o, b, r, sc.raw, W, P);
            break;
        }
        case XF_OBJ_BART: {
            size_t n_in = 0;
            st = draw_window(ds, val, W, rng, sc.raw);
            if (st == XF_OK) st = xf_bart_noise(o, sc.raw, W, rng, sc.cand, sc.in, S - 1 < W + 2 ? S - 1 : W + 2, &n_in);
            if (st != XF_OK) break;
            sc.in[n_in++] = o->eos;
            sc.raw[W] = o->eos;
            st = xf_batch_put_seq2seq(o, b, r, sc.in, n_in, sc.raw, W + 1);
            break;
        }
        case XF_OBJ_GLM:
        case XF_OBJ_GMASK:
            st = draw_window(ds, val, W, rng, sc.raw);
            if (st == XF_OK) st = glm_row(o, b, r, W, &sc, rng);
            break;
        case XF_OBJ_MLM: {
            st = draw_window(ds, val, W, rng, b->ids + r * T);
            if (st != XF_OK) break;
            mlm_row(o, b->ids + r * T, b->targets + r * T, T, sc.cand, rng);
            if (b->lengths) b->lengths[r] = (int32_t)T;
            if (b->prefix_len) b->prefix_len[r] = 0;
            break;
        }
        default: {
            const plan *p = &plans[o->kind == XF_OBJ_UL2 ? pick_ul2(o, rng) : 0];
            size_t n_in = 0, n_tg = 0;
            st = draw_window(ds, val, p->raw, rng, sc.raw);
            if (st == XF_OK) st = corrupt(o, p, &sc, rng, &n_in, &n_tg);
            if (st != XF_OK) break;
            if (encdec) {
                st = xf_batch_put_seq2seq(o, b, r, sc.in, n_in, sc.tg, n_tg);
            } else {
                memcpy(sc.seq, sc.in, n_in * sizeof *sc.seq);
                memcpy(sc.seq + n_in, sc.tg, n_tg * sizeof *sc.seq);
                st = xf_batch_put_lm(o, b, r, sc.seq, n_in + n_tg, n_in);
            }
        }
        }
    }
    free_scratch(&sc);
    return st;
}
