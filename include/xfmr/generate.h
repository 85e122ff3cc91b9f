/* xfmr: sampling and generation with a KV cache. */
#ifndef XFMR_GENERATE_H
#define XFMR_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/model.h"
#include "xfmr/status.h"

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

/* Called for every generated id; return nonzero to stop. */
typedef int (*xf_token_cb)(int32_t id, void *ctx);

/* Feed the prompt (np >= 1 ids) then sample up to n_new ids, stopping early at
 * stop_id (>= 0). When the context (max_position_embeddings) fills up, the last
 * half of it is re-encoded from position 0 and generation goes on, so n_new is
 * not limited by the context; a longer prompt keeps its last half-context.
 * Reserves the model's KV cache. */
xf_status xf_generate(xf_model *m, const int32_t *prompt, size_t np, size_t n_new,
                      xf_sampler *s, int32_t stop_id, xf_token_cb cb, void *ctx);

#endif
