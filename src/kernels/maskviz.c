/* The attention mask rule as a predicate (see maskviz.h). attention.c computes
 * the same rule as an end of the visible key range, hi(i) = past + i + 1 for
 * causal and max(P, past + i + 1) for prefix: j < hi(i) is the test below. */
#include "kernels/maskviz.h"

int xf_mask_visible(xf_mask_kind kind, size_t i, size_t j, size_t prefix_len, size_t past) {
    switch (kind) {
    case XF_MASK_CAUSAL:
        return j <= past + i;
    case XF_MASK_PREFIX:
        return j < prefix_len || j <= past + i;
    case XF_MASK_BIDIR:
    default:
        return 1;
    }
}
