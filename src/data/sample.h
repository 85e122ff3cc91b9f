/* Random draws shared by the noising objectives (bart.c, glm.c). */
#ifndef XFMR_DATA_SAMPLE_H
#define XFMR_DATA_SAMPLE_H

#include <stddef.h>

#include "core/rng.h"

/* One Poisson(lambda) draw: Knuth's product of uniforms (lambda is small: 3 by default). */
size_t sample_poisson(double lambda, xf_rng *rng);
/* The first k of a uniformly random permutation of idx[0..n) (partial Fisher-Yates). */
void sample_partial_shuffle(size_t *idx, size_t n, size_t k, xf_rng *rng);

#endif
