/* Thread policy: one OpenMP pool shared by our kernels and OpenBLAS (its
 * OpenMP build). Only this module sets thread counts; the setter and getter
 * are public (include/xfmr/threads.h). */
#ifndef XF_PARALLEL_H
#define XF_PARALLEL_H

#include "xfmr/threads.h"

/* Elementwise and row-wise kernels run a loop in parallel only from this many
 * elements of work on (`#pragma omp parallel for if (N * C >= XF_PAR_MIN)`):
 * below it the fork/join costs more than the loop. Every kernel threshold is
 * this constant or a multiple of it (residual.c, qmat.c: 2x and 4x); the
 * GEMM's own (gemm.c) counts multiply-adds, not elements. */
#define XF_PAR_MIN 16384

#endif
