/* The attention mask rule as a predicate (xf_mask_visible), for pictures and
 * tests of masks: public, declared in include/xfmr/mask.h. */
#ifndef XF_KERNELS_MASKVIZ_H
#define XF_KERNELS_MASKVIZ_H

#include "xfmr/mask.h"

#endif
