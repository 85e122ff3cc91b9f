/* Data parallelism for the trainer (docs/scale-out.md §Data parallel): what
 * the training loop needs beyond dist.h's collectives. */
#ifndef XFMR_DIST_DP_H
#define XFMR_DIST_DP_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/model.h"
#include "xfmr/status.h"

/* Targets that count in the loss (not XF_IGNORE_INDEX) among n. */
size_t xf_dp_valid(const int32_t *targets, size_t n);
/* Every MoE layer's accumulated statistics (token counts, loads for the
 * balancing bias, drops, entropy, aux and z sums) summed over the ranks, so
 * the logs and the bias update see the global batch. */
xf_status xf_dp_sum_moe_stats(xf_model *m);

#endif
