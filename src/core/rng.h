/* Explicit-state random numbers (xoshiro256**, seeded by splitmix64).
 * The whole state is four u64 words, so checkpoints save and restore it and a
 * resumed run draws exactly the numbers an unbroken run would. */
#ifndef XF_RNG_H
#define XF_RNG_H

#include <stdint.h>
#include <stddef.h>

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

#endif
