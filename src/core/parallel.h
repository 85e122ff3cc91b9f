/* Thread policy: one OpenMP pool shared by our kernels and OpenBLAS (its
 * OpenMP build). Only this module sets thread counts; the setter and getter
 * are public (include/xfmr/threads.h). */
#ifndef XF_PARALLEL_H
#define XF_PARALLEL_H

#include "xfmr/threads.h"

#endif
