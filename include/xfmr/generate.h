/* xfmr: sampling, generation with a KV cache, and beam search, for every family
 * with a decoder (decoder, prefix_lm, encoder_decoder). An encoder-only model
 * has no decoder to generate with: it predicts masked tokens (`xfmr fill`). */
#ifndef XFMR_GENERATE_H
#define XFMR_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/model.h"
#include "xfmr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float temperature; /* 0 = greedy (argmax) */
    size_t top_k;      /* 0 = off */
    float top_p;       /* 1 = off */
    uint64_t seed;
} xf_sample_opts;

typedef struct xf_sampler xf_sampler;

xf_status xf_sampler_create(xf_sampler **out, size_t vocab, const xf_sample_opts *o);
void xf_sampler_free(xf_sampler *s); /* NULL-safe */
/* Draw the next id from logits [V] (temperature, then top-k, then top-p
 * over the kept set, then a multinomial draw; greedy when temperature is 0). */
int32_t xf_sampler_next(xf_sampler *s, const float *logits);

/* log sum_v exp(z[v]) over logits z[0..n), stably: max + log sum exp(z - max),
 * the sum in double. log_softmax(z)[v] = z[v] - xf_logsumexp(z, n); -inf when
 * n is 0. */
double xf_logsumexp(const float *z, size_t n);

/* Called for every generated id; return nonzero to stop. */
typedef int (*xf_token_cb)(int32_t id, void *ctx);

/* decoder and prefix_lm: feed the prompt (np >= 1 ids) at position 0 in one
 * call, then sample up to n_new ids, stopping early at stop_id (>= 0; the stop
 * id is passed to cb). For a prefix_lm the prompt is the bidirectional prefix.
 * When the context (max_position_embeddings) fills up, the last half of it is
 * re-decoded from position 0 and generation goes on, so n_new is not limited
 * by the context; a longer prompt keeps its last half-context. For a prefix_lm
 * that re-decoded tail becomes the new (bidirectional) prefix: positions are
 * absolute and the prefix is what is fed at position 0.
 * Reserves the model's KV cache. encoder_decoder: use xf_generate_seq2seq. */
xf_status xf_generate(xf_model *m, const int32_t *prompt, size_t np, size_t n_new,
                      xf_sampler *s, int32_t stop_id, xf_token_cb cb, void *ctx);

/* encoder_decoder: run the encoder once over src (ns ids, 1 <= ns <= the
 * context), then decode from start_id (xf_decoder_start_id), sampling up to
 * n_new ids; stops at stop_id (>= 0; passed to cb), after n_new ids, or when
 * the decoder's cache (max_position_embeddings positions) is full.
 * Reserves the model's KV cache. */
xf_status xf_generate_seq2seq(xf_model *m, const int32_t *src, size_t ns, int32_t start_id,
                              size_t n_new, xf_sampler *s, int32_t stop_id, xf_token_cb cb,
                              void *ctx);

/* GLM blank infilling (docs/objectives.md §GLM), decoder and prefix_lm, batch 1.
 * The prompt (np >= 1 ids) is part A: it is fed at position 0 (a prefix_lm's
 * bidirectional prefix), and every id equal to g->mask or g->gmask is a blank.
 * Blank k, in order, gets part B's span: g->start at the blank's position with
 * block position 1, then ids sampled one at a time (block positions 2, 3, ...)
 * until g->end or max_fill ids; each span stays in the cache, so later blanks
 * see the earlier fills, as in training. Position ids are given to models with
 * learned positions, block ids to models with block_position_embeddings (as
 * the trainer gives them). *out (malloc'd, *n_out ids) is the prompt with every
 * blank replaced by its fill; *ended counts the spans that stopped at g->end
 * (the others hit max_fill or the context). Reserves the model's KV cache. */
xf_status xf_generate_glm_fill(xf_model *m, const int32_t *prompt, size_t np, int32_t mask, int32_t gmask,
                               int32_t start, int32_t end, size_t max_fill, xf_sampler *s, int32_t **out,
                               size_t *n_out, size_t *blanks, size_t *ended);

/* ---- beam search ----------------------------------------------------------
 * Hugging Face's beam search (BeamSearchScorer, early_stopping=True), batch 1:
 *  - each step, every live beam b extends by every token v with the score
 *    sum_b + log_softmax(logits_b)[v]; the best 2K candidates are taken in
 *    order (ties: lower token id, then lower beam index);
 *  - a candidate ending in eos_id, if among the first K, becomes a finished
 *    hypothesis (its ids include the EOS); the other candidates become the next
 *    beams until there are K;
 *  - a hypothesis scores  sum of log-probabilities / n^length_penalty  with n
 *    its generated tokens (the EOS included; HF's generated_len). The best K
 *    finished are kept (a newcomer must beat the worst strictly);
 *  - search stops when K hypotheses are finished (early_stopping=True), or
 *    after max_new tokens, or when the decoder's cache is full; then (unless K
 *    were finished) the live beams join the hypotheses as unfinished.
 * The first step expands only the prompt's one beam (HF gives the copies -1e9),
 * so fewer than K beams live while fewer than K candidates exist.
 * With beams = 1 this is greedy decoding (the same ids as temperature 0).
 * Beams fill the context without sliding: decoder and prefix_lm generate at most
 * max_position_embeddings - np + 1 tokens, an encoder_decoder at most
 * max_position_embeddings. */
/* Most beams a search keeps (its per-step work and memory grow with K). */
#define XF_BEAM_MAX 64

typedef struct {
    size_t beams;         /* K, in [1, XF_BEAM_MAX] (default 4) */
    size_t max_new;       /* generated tokens per hypothesis at most, EOS included (default 20) */
    float length_penalty; /* alpha: score = logprob / n^alpha; > 0 favours longer (default 1) */
    int32_t eos_id;       /* ends a hypothesis; < 0: none (default -1) */
    int32_t start_id;     /* encoder_decoder: first decoder input (xf_decoder_start_id; default 0) */
} xf_beam_opts;

/* Fill the defaults above. */
void xf_beam_opts_init(xf_beam_opts *o);

typedef struct {
    int32_t *ids;    /* the generated ids (the prompt and start token excluded) */
    size_t n;        /* their count (>= 1) */
    double logprob;  /* sum of the log-probabilities of ids */
    double score;    /* logprob / n^length_penalty */
    int finished;    /* 1: ends with eos_id; 0: stopped by the length */
} xf_beam_hyp;

typedef struct {
    xf_beam_hyp *hyps; /* best first: score descending, ties in the order they were made */
    size_t n;          /* <= beams (0 when max_new is 0) */
    size_t steps;      /* decoding steps run */
    int early_stop;    /* 1: stopped because K hypotheses were finished */
} xf_beam_result;

/* Beam search from `input`: the prompt for decoder and prefix_lm (np >= 1 ids,
 * at most the context; for prefix_lm the bidirectional prefix), the encoder's
 * source for encoder_decoder (at most the context). Reserves the model's KV
 * cache for o->beams rows. *out is filled on success (free it with
 * xf_beam_result_free) and zeroed on failure. */
xf_status xf_beam_search(xf_model *m, const int32_t *input, size_t n_input, const xf_beam_opts *o,
                         xf_beam_result *out);
void xf_beam_result_free(xf_beam_result *r); /* NULL-safe; leaves *r zeroed */

#ifdef __cplusplus
}
#endif

#endif
