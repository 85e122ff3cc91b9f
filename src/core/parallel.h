/* Thread policy: one OpenMP pool shared by our kernels and OpenBLAS (its
 * OpenMP build). Only this module sets thread counts. */
#ifndef XF_PARALLEL_H
#define XF_PARALLEL_H

/* Use n threads (n <= 0: all cores) for kernels and BLAS. */
void xf_set_threads(int n);
/* Threads a parallel region will use. */
int xf_threads(void);

#endif
