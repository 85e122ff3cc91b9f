/* xfmr: training objectives and the batches they make (docs/algorithms.md §1, §5).
 *
 *   clm     causal LM: loss on every token (decoder, prefix_lm with prefix 0)
 *   prefix  random split point, loss on the output part only (decoder: causal
 *           mask; prefix_lm: bidirectional prefix; encoder_decoder: the prefix
 *           is the source, the rest the target)
 *   span    T5 span corruption (noise density 0.15, mean span 3) with
 *           sentinels; encoder_decoder, or prefix_lm as [inputs targets]
 *   mlm     BERT masked LM (15%: 80% mask, 10% random, 10% kept); encoder
 *   ul2     UL2 mixture of the R, S and X denoisers with mode tokens;
 *           encoder_decoder or prefix_lm
 *   bart    BART noising: sentence permutation, then text infilling (30% of
 *           the tokens in Poisson(3) spans, each span one mask); encoder_decoder
 *   glm     GLM blank infilling: 15% of the tokens in Poisson(3) spans, each
 *           one [MASK] in part A; the spans shuffled as part B, [START] span
 *           -> span [END]; 2D positions; prefix_lm or decoder
 *   gmask   GLM's generation variant: one long span at the end, [gMASK]
 * Nonsensical pairs (mlm on a decoder, clm on an encoder, ...) are refused by
 * xf_objective_check with a message naming both.
 *
 * Supervised pairs: a file of `input<TAB>target` lines (xf_pairs) trains
 * encoder_decoder (source = input, target = target), prefix_lm (prefix =
 * input) and decoder (loss on the target only). */
#ifndef XFMR_OBJECTIVE_H
#define XFMR_OBJECTIVE_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/config.h"
#include "xfmr/data.h"
#include "xfmr/rng.h"
#include "xfmr/status.h"
#include "xfmr/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    XF_OBJ_CLM = 0, XF_OBJ_PREFIX, XF_OBJ_SPAN, XF_OBJ_MLM, XF_OBJ_UL2, XF_OBJ_BART, XF_OBJ_GLM, XF_OBJ_GMASK,
    XF_OBJ_COUNT
} xf_objective;

const char *xf_objective_name(xf_objective o);
/* Parse "clm", "prefix", "span", "mlm", "ul2", "bart", "glm", "gmask"; XF_ERR_ARG naming the choices otherwise. */
xf_status xf_objective_parse(const char *s, xf_objective *out);
/* The default objective of an architecture: decoder clm, prefix_lm prefix,
 * encoder mlm, encoder_decoder span. */
xf_objective xf_objective_default(xf_arch arch);
/* XF_OK if `o` makes sense for `arch`, else XF_ERR_ARG with a one-line reason. */
xf_status xf_objective_check(xf_objective o, xf_arch arch);

/* GLM's special tokens (xf_glm_tokens_find): [MASK] is the tokenizer's mask;
 * [gMASK], [sop] (START) and [eop] (END) are the tokens spelled "[gMASK]",
 * "[sop]", "[eop]" when the tokenizer has them, else <extra_id_2>, <extra_id_0>
 * and <extra_id_1>. -1: none. */
typedef struct {
    int32_t mask, gmask, start, end;
} xf_glm_tokens;

/* Most sentinels kept in xf_objective_opts (T5 and the byte tokenizer have 100). */
#define XF_OBJ_MAX_SENTINELS 1024
/* Most sentence-end ids kept for bart's sentence permutation. */
#define XF_OBJ_MAX_SENTENCE_ENDS 64

typedef struct {
    xf_objective kind;
    xf_arch arch;
    float noise_density;        /* span: 0.15 */
    float mean_span;            /* span: 3.0 */
    float mlm_probability;      /* mlm: 0.15 */
    float ul2_weights[3];       /* ul2: mixing weights of R, S, X (default 1, 1, 1) */
    /* token ids, from the tokenizer (xf_objective_opts_init) */
    int32_t pad, eos, mask;     /* -1 where the tokenizer has none */
    int32_t decoder_start;      /* enc-dec first decoder input (config value, or pad) */
    int32_t mode[3];            /* ul2 [R], [S], [X]: the tokenizer's last three sentinels */
    const int32_t *sentinels;   /* <extra_id_k> ids, k < n_sentinels (minus the 3 mode tokens) */
    size_t n_sentinels;
    size_t vocab_size;          /* random replacement tokens for mlm: [0, vocab_size) non-special */
    /* the storage behind `sentinels`, and the ids mlm never draws */
    int32_t special[XF_TOK_SPECIAL_COUNT];       /* BOS, EOS, PAD, UNK, MASK ids (-1: none) */
    int32_t sentinel_ids[XF_OBJ_MAX_SENTINELS];  /* every <extra_id_k>, mode tokens included */
    size_t n_all_sentinels;                      /* entries of sentinel_ids */
    /* bart: mask ratio 0.3, Poisson span mean 3, share of sentences permuted 1 */
    float bart_mask, bart_lambda, bart_permute;
    int32_t sentence_ends[XF_OBJ_MAX_SENTENCE_ENDS]; /* ids whose text is ".", "!" or "?" (spaces aside) */
    size_t n_sentence_ends;
    /* glm, gmask (docs/objectives.md §GLM): share of tokens in spans 0.15, Poisson
     * span mean 3; the gmask span covers [0.5, 1) of the window */
    float glm_ratio, glm_lambda;
    xf_glm_tokens glm;
} xf_objective_opts;

/* Fill defaults and the ids from `tok` and `cfg` (decoder_start_token_id, -1
 * meaning the tokenizer's pad, else 0). Fails when the objective needs a token
 * the tokenizer lacks (span/ul2: sentinels and eos; mlm: a mask token). The
 * sentinel array points into storage owned by `opts` (no free needed; a copy
 * of the struct should point its `sentinels` at its own sentinel_ids). */
xf_status xf_objective_opts_init(xf_objective_opts *opts, xf_objective kind, const xf_config *cfg,
                                 const xf_tokenizer *tok);

/* Batch buffers (caller-owned, sized for B, T, S). Unused arrays may be NULL.
 * Padding positions hold opts->pad (or 0) in ids/src and -1 in targets. */
typedef struct {
    size_t B, T, S;
    int32_t *ids;          /* [B,T] */
    int32_t *targets;      /* [B,T] */
    int32_t *lengths;      /* [B] */
    int32_t *prefix_len;   /* [B] */
    int32_t *src;          /* [B,S] */
    int32_t *src_lengths;  /* [B] */
    /* glm and gmask: GLM's 2D positions (docs/objectives.md §GLM), or NULL (not
     * written); the other objectives never touch them */
    int32_t *position_ids;       /* [B,T] position in part A (part B: its span's mask) */
    int32_t *block_position_ids; /* [B,T] 0 in part A, 1..len+1 within a part-B span */
} xf_batch_buf;

/* ---- T5 span corruption (docs/algorithms.md §5, exact) ---------------------- */

/* random_spans_noise_mask: mask [L] (1 = noise) for length L. */
void xf_span_noise_mask(uint8_t *mask, size_t L, float density, float mean_span, struct xf_rng *rng);
/* random_spans_helper: the raw token count that fills inputs_length after
 * corruption, and the resulting target length (with the r = 0.5 special case). */
void xf_span_lengths(size_t inputs_length, float density, float mean_span, size_t *raw_tokens,
                     size_t *targets_length);
/* The counts behind the mask of length L: L' = max(L, 2),
 * noise_tokens = clamp(round(L' * density), 1, L' - 1) and
 * noise_spans = max(1, round(noise_tokens / mean_span)), rounding half to even
 * the decimal product (density 0.15f taken as 0.15, as random_spans_helper's
 * Python does; docs/objectives.md); noise_spans is also kept <= noise_tokens and
 * <= L' - noise_tokens (inactive for mean_span >= 1 and density <= 0.5). */
void xf_span_counts(size_t L, float density, float mean_span, size_t *noise_tokens,
                    size_t *noise_spans);
/* Apply a mask to raw [L]: inputs = keep_0 <X0> keep_1 <X1> ... </s>,
 * targets = <X0> noise_0 <X1> noise_1 ... </s>. Returns XF_ERR_ARG if the spans
 * need more sentinels than given or the outputs exceed their capacities. */
xf_status xf_span_apply(const int32_t *raw, const uint8_t *mask, size_t L, const int32_t *sentinels,
                        size_t n_sentinels, int32_t eos, int32_t *inputs, size_t in_cap, size_t *n_in,
                        int32_t *targets, size_t tg_cap, size_t *n_tg);

/* ---- BART noising (docs/objectives.md §BART noising) --------------------- */

/* Entries of the size_t work array xf_bart_noise needs for a window of L. */
size_t xf_bart_work_size(size_t L);
/* Noise raw[0..L) into out (at most cap ids, *n_out of them): sentence
 * permutation (o->bart_permute of the sentences), then text infilling
 * (ceil(L * o->bart_mask) tokens in Poisson(o->bart_lambda) spans, each span
 * one o->mask, zero-length spans inserted masks). The target is raw itself. */
xf_status xf_bart_noise(const xf_objective_opts *o, const int32_t *raw, size_t L, struct xf_rng *rng,
                        size_t *work, int32_t *out, size_t cap, size_t *n_out);

/* ---- GLM blank infilling (docs/objectives.md §GLM) ---------------------- */

/* GLM's tokens from `tok`; XF_ERR_ARG naming the tokenizer and the missing token
 * when one is absent. */
xf_status xf_glm_tokens_find(const xf_tokenizer *tok, xf_glm_tokens *out);
/* The raw window of a glm / gmask row of T tokens: the largest L whose worst
 * case (every span one token) fits, L + 2 * round(ratio * L) <= T, or T - 2 for
 * gmask; 0 when T is too short. */
size_t xf_glm_window(const xf_objective_opts *o, size_t T);
/* Entries of the size_t work array xf_glm_example needs for a window of L. */
size_t xf_glm_work_size(size_t L);
/* One example from raw[0..L): part A then part B into ids, targets, pos, blk
 * (cap entries each; *n written, *n_a of them part A). Targets are -1 in part
 * A, and in part B the span's tokens then [END]. */
xf_status xf_glm_example(const xf_objective_opts *o, const int32_t *raw, size_t L, struct xf_rng *rng,
                         size_t *work, int32_t *ids, int32_t *targets, int32_t *pos, int32_t *blk, size_t cap,
                         size_t *n, size_t *n_a);

/* ---- batches ------------------------------------------------------------ */

/* Fill one batch from the token stream of `ds`: the training split (val = 0,
 * random windows from rng) or the validation split (val = 1: windows chosen
 * deterministically by rng, which the caller seeds per evaluation batch).
 * Layout per family:
 *   decoder/prefix_lm: ids [B,T], targets [B,T] (next-token, -1 where no loss),
 *                      prefix_len [B], lengths [B]
 *   encoder:           ids [B,T] corrupted, targets [B,T] original id at chosen
 *                      positions else -1, lengths [B]
 *   encoder_decoder:   src [B,S], src_lengths [B], ids [B,T] = decoder inputs
 *                      (targets shifted right behind decoder_start), targets [B,T],
 *                      lengths [B]
 * Deterministic given the rng state. */
xf_status xf_objective_batch(const xf_objective_opts *o, const xf_dataset *ds, int val,
                             struct xf_rng *rng, xf_batch_buf *b);

/* Row writers, shared by the objectives and the pairs:
 * decoder-only row: seq[0..n) with n <= T + 1 gives ids[i] = seq[i] and
 *   targets[i] = seq[i+1] for i < n - 1, targets[i] = -1 where i + 1 < prefix_len
 *   (the logit at prefix_len - 1 predicts the first output token); lengths = n - 1,
 *   prefix_len as given; the rest is pad / -1.
 * encoder-decoder row: src[0..ns) with ns <= S, target[0..nt) with nt <= T:
 *   ids = [decoder_start, target[0..nt-2]], targets = target; lengths = nt,
 *   src_lengths = ns; the rest is pad / -1.
 * XF_ERR_ARG if a length exceeds the buffer or a needed array is NULL. */
xf_status xf_batch_put_lm(const xf_objective_opts *o, xf_batch_buf *b, size_t row,
                          const int32_t *seq, size_t n, size_t prefix_len);
xf_status xf_batch_put_seq2seq(const xf_objective_opts *o, xf_batch_buf *b, size_t row,
                               const int32_t *src, size_t ns, const int32_t *target, size_t nt);

/* ---- supervised pairs (input<TAB>target lines) ------------------------ */

typedef struct xf_pairs xf_pairs;
/* Read and tokenize every line of `path`; a line without exactly one TAB is an
 * error naming the file and line. Empty lines are skipped. */
xf_status xf_pairs_open(xf_pairs **out, const char *path, const xf_tokenizer *tok);
void xf_pairs_free(xf_pairs *p);
size_t xf_pairs_count(const xf_pairs *p);
/* Split off the last max(1, fraction * n) pairs for validation (0: none). */
xf_status xf_pairs_split(xf_pairs *p, double val_fraction);
size_t xf_pairs_val_count(const xf_pairs *p);
/* A batch of pairs (random from the training part, or validation pairs index*B+b). */
xf_status xf_pairs_batch(const xf_objective_opts *o, const xf_pairs *p, int val, size_t index,
                         struct xf_rng *rng, xf_batch_buf *b);

#ifdef __cplusplus
}
#endif

#endif
