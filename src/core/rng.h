/* Explicit-state random numbers: the generator is public (include/xfmr/rng.h),
 * since data.h and objective.h take it; library code includes this header. */
#ifndef XF_RNG_H
#define XF_RNG_H

#include "xfmr/rng.h"

#endif
