/* Monotonic wall clock for progress, ETA and benchmarks: xf_now_ms, public,
 * declared in include/xfmr/system.h. */
#ifndef XF_CLOCK_H
#define XF_CLOCK_H

#include "xfmr/system.h"

#endif
