/* The attention mask rule as a predicate, for pictures and tests of masks.
 *
 * It mirrors the rule of xf_attention_forward (attention.c, "Mask: key j is
 * visible from query i iff ..."), less key padding, which is per sequence:
 *   XF_MASK_CAUSAL  visible iff j <= past + i
 *   XF_MASK_PREFIX  visible iff j < prefix_len || j <= past + i
 *   XF_MASK_BIDIR   always visible (encoder self-attention, cross-attention)
 * Query row i has absolute position past + i (KV cache); key j is absolute.
 * An unknown kind is treated as bidirectional, as the kernel does. */
#ifndef XF_KERNELS_MASKVIZ_H
#define XF_KERNELS_MASKVIZ_H

#include <stddef.h>

#include "kernels/kernels.h" /* xf_mask_kind */

/* 1 if key j is visible from query i under `kind`, else 0. */
int xf_mask_visible(xf_mask_kind kind, size_t i, size_t j, size_t prefix_len, size_t past);

#endif
