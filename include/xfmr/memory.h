/* xfmr: memory planned up front. Training, benchmarking and generation add up
 * the arenas they are about to allocate (parameters, gradients, AdamW moments,
 * activations, KV cache) and refuse, before allocating anything, when the sum
 * exceeds the memory available to the process. */
#ifndef XFMR_MEMORY_H
#define XFMR_MEMORY_H

#include <stddef.h>

#include "xfmr/config.h"
#include "xfmr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t params, grads, optimizer, activations, kv_cache; /* bytes */
} xf_mem_plan;

/* Training (and the training benchmark): batch B of T tokens (S source tokens for
 * an encoder-decoder, else 0): parameters, gradients, two AdamW moments, activations. */
void xf_mem_plan_train(xf_mem_plan *p, const xf_config *cfg, size_t B, size_t T, size_t S);
/* Generation: parameters, the inference activations for `beams` rows of up to
 * Tmax positions (Smax source tokens), and the KV cache (self and cross). */
void xf_mem_plan_generate(xf_mem_plan *p, const xf_config *cfg, size_t beams, size_t Tmax, size_t Smax);
size_t xf_mem_plan_total(const xf_mem_plan *p); /* saturates at SIZE_MAX */

/* Bytes available: XFMR_MEMORY_LIMIT when set (a number with an optional K, M,
 * G or T suffix, powers of 1024: a limit for tests and for sharing a machine);
 * otherwise the smaller of MemAvailable (/proc/meminfo) and the cgroup's room
 * (memory.max - memory.current, cgroup v2; v1's limit_in_bytes - usage_in_bytes).
 * *source names where the figure came from. Fails only when nothing is known
 * (then nothing is refused) or XFMR_MEMORY_LIMIT is malformed. */
xf_status xf_mem_available(size_t *bytes, const char **source);

/* XF_OK when the plan fits; else XF_ERR_OOM with a message giving the total, its
 * parts, the available figure and its source, and `hint` (what to make smaller).
 * `what` names the job ("train", "generate", "bench train"). When the available
 * memory cannot be determined the plan is accepted. */
xf_status xf_mem_check(const xf_mem_plan *p, const char *what, const char *hint);

#ifdef __cplusplus
}
#endif

#endif
