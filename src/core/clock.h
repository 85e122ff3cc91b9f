/* Monotonic wall clock for progress, ETA and benchmarks. */
#ifndef XF_CLOCK_H
#define XF_CLOCK_H

/* Milliseconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double xf_now_ms(void);

#endif
