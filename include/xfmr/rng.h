/* xfmr: explicit-state random numbers (xoshiro256**, seeded by splitmix64).
 * The whole state is four u64 words, public so that callers can keep one on
 * the stack, save it and restore it: a checkpoint that stores s[] resumes the
 * exact stream. Functions taking `struct xf_rng *` (data.h, objective.h) draw
 * from it and advance it. Not thread-safe: one generator per thread. */
#ifndef XFMR_RNG_H
#define XFMR_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xf_rng {
    uint64_t s[4];
} xf_rng;

void xf_rng_seed(xf_rng *r, uint64_t seed);
uint64_t xf_rng_u64(xf_rng *r);
/* uniform in [0, 1) with 24 random bits (float) / 53 bits (double) */
float xf_rng_float(xf_rng *r);
double xf_rng_double(xf_rng *r);
/* uniform integer in [0, n), n > 0, without modulo bias */
uint64_t xf_rng_below(xf_rng *r, uint64_t n);
/* standard normal (Box-Muller, double precision) */
double xf_rng_normal(xf_rng *r);

#ifdef __cplusplus
}
#endif

#endif
