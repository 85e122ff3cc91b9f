/* xoshiro256** (Blackman & Vigna), seeded with splitmix64. */
#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void xf_rng_seed(xf_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t xf_rng_u64(xf_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float xf_rng_float(xf_rng *r) { return (float)(xf_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

double xf_rng_double(xf_rng *r) { return (double)(xf_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

uint64_t xf_rng_below(xf_rng *r, uint64_t n) {
    /* rejection sampling: drop the top partial block of the 2^64 range */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = xf_rng_u64(r);
    while (x >= limit);
    return x % n;
}

double xf_rng_normal(xf_rng *r) {
    double u1 = xf_rng_double(r), u2 = xf_rng_double(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
