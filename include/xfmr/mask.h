/* xfmr: the attention masks (docs/masks.md). The kinds of mask the attention
 * kernel applies, and its rule as a predicate, for pictures and tests of masks.
 *
 * The predicate mirrors the kernel's rule (src/kernels/attention.c, "Mask: key
 * j is visible from query i iff ..."), less key padding, which is per sequence:
 *   XF_MASK_CAUSAL  visible iff j <= past + i
 *   XF_MASK_PREFIX  visible iff j < prefix_len || j <= past + i
 *   XF_MASK_BIDIR   always visible (encoder self-attention, cross-attention)
 * Query row i has absolute position past + i (KV cache); key j is absolute.
 * An unknown kind is treated as bidirectional, as the kernel does. */
#ifndef XFMR_MASK_H
#define XFMR_MASK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    XF_MASK_CAUSAL = 0, /* key j visible from query i iff j <= past + i */
    XF_MASK_BIDIR,      /* every key visible (encoder, cross-attention) */
    XF_MASK_PREFIX      /* j < P[b] || j <= past + i   (prefix LM) */
} xf_mask_kind;

/* 1 if key j is visible from query i under `kind`, else 0. */
int xf_mask_visible(xf_mask_kind kind, size_t i, size_t j, size_t prefix_len, size_t past);

#ifdef __cplusplus
}
#endif

#endif
