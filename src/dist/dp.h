/* Data parallelism for the trainer (docs/scale-out.md §Data parallel): what
 * the training loop needs beyond dist.h's collectives. */
#ifndef XFMR_DIST_DP_H
#define XFMR_DIST_DP_H

#include <stddef.h>
#include <stdint.h>

#include "model/model_internal.h"
#include "xfmr/status.h"

/* Targets that count in the loss (not XF_IGNORE_INDEX) among n. */
size_t dp_valid(const int32_t *targets, size_t n);
/* Every MoE layer's accumulated statistics (kept token counts, drops,
 * entropy, aux and z partials) summed over the ranks, so the logs see the
 * global batch (the loads for the balancing bias are global already). */
xf_status dp_sum_moe_stats(xf_model *m);
/* Makes the model's MoE layers route on the global batch (kernels/moe.h
 * xf_moe_world) in a world of more than one rank; a no-op otherwise. Undone
 * and freed by dp_moe_detach. */
xf_status dp_moe_attach(xf_model *m);
void dp_moe_detach(xf_model *m);
/* Whether a collective inside the MoE routing failed since the last call. */
xf_status dp_moe_check(xf_model *m);

#endif
