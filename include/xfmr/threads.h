/* xfmr: the thread count. Kernels and OpenBLAS (its OpenMP build) share one
 * OpenMP pool; this sets its size for the calling thread's parallel regions.
 * A run is deterministic for a given seed and thread count. */
#ifndef XFMR_THREADS_H
#define XFMR_THREADS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Use n threads (n <= 0: all cores) for kernels and BLAS. */
void xf_set_threads(int n);
/* Threads a parallel region will use. */
int xf_threads(void);

#ifdef __cplusplus
}
#endif

#endif
