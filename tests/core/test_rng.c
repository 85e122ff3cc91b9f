/* The explicit-state RNG (include/xfmr/rng.h) against the published
 * algorithms: splitmix64 seeding (first output for seed 0 is the reference
 * implementation's 0xE220A8397B1DCDAF) and xoshiro256** worked by hand from
 * the state {1, 2, 3, 4}; then the distributions of the derived draws. */
#include "test.h"
#include "xfmr/rng.h"

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

TEST(test_seed_is_splitmix64) {
    xf_rng r;
    xf_rng_seed(&r, 0);
    CHECK(r.s[0] == 0xE220A8397B1DCDAFull);
    CHECK(r.s[1] != r.s[0] && r.s[2] != r.s[1] && r.s[3] != r.s[2]);
}

TEST(test_xoshiro_by_hand) {
    xf_rng r = {{1, 2, 3, 4}};
    /* out = rotl(s1 * 5, 7) * 9 before the update */
    CHECK(xf_rng_u64(&r) == 11520u); /* rotl(10, 7) * 9 = 1280 * 9 */
    /* update from {1,2,3,4}: t = 2 << 17; s2 = 3^1 = 2; s3 = 4^2 = 6; s1 = 2^2 = 0;
     * s0 = 1^6 = 7; s2 = 2 ^ t; s3 = rotl(6, 45) */
    CHECK(r.s[0] == 7 && r.s[1] == 0 && r.s[2] == (2u ^ (2u << 17)) && r.s[3] == rotl(6, 45));
    CHECK(xf_rng_u64(&r) == 0u); /* s1 = 0 */
}

TEST(test_below_is_uniform) {
    xf_rng r;
    xf_rng_seed(&r, 11);
    enum { K = 7, N = 70000 };
    size_t count[K] = {0};
    for (int i = 0; i < N; i++) {
        uint64_t v = xf_rng_below(&r, K);
        CHECK(v < K);
        count[v]++;
    }
    /* chi-square with 6 degrees of freedom: P(X > 22.46) = 0.001 */
    double chi = 0, e = (double)N / K;
    for (int k = 0; k < K; k++) chi += (count[k] - e) * (count[k] - e) / e;
    CHECK_MSG(chi < 22.46, "chi-square %g", chi);
    /* a bound near 2^64 (where a modulo would be biased) stays in range */
    uint64_t big = (UINT64_MAX / 3) * 2;
    for (int i = 0; i < 1000; i++) CHECK(xf_rng_below(&r, big) < big);
    CHECK(xf_rng_below(&r, 1) == 0);
}

TEST(test_float_double_normal) {
    xf_rng r;
    xf_rng_seed(&r, 5);
    enum { N = 200000 };
    double sf = 0, sn = 0, sn2 = 0;
    for (int i = 0; i < N; i++) {
        float f = xf_rng_float(&r);
        double d = xf_rng_double(&r);
        CHECK(f >= 0 && f < 1 && d >= 0 && d < 1);
        sf += f;
        double z = xf_rng_normal(&r);
        sn += z;
        sn2 += z * z;
    }
    /* standard errors: uniform mean 1/sqrt(12 N) = 6.5e-4, normal mean 2.2e-3, variance ~3.2e-3 */
    CHECK_NEAR(sf / N, 0.5, 4e-3);
    CHECK_NEAR(sn / N, 0.0, 1.5e-2);
    CHECK_NEAR(sn2 / N, 1.0, 2e-2);
}

int main(void) {
    RUN(test_seed_is_splitmix64);
    RUN(test_xoshiro_by_hand);
    RUN(test_below_is_uniform);
    RUN(test_float_double_normal);
    return test_summary();
}
