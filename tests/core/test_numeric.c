/* Small numeric helpers (src/core/numeric.c): mulmod against 128-bit
 * arithmetic, including products far past SIZE_MAX, and xf_logsumexp against
 * a long-double sum, including logits whose exp overflows a double. */
#include <math.h>
#include <stdint.h>

#include "core/numeric.h"
#include "core/rng.h"
#include "test.h"

static size_t ref_mulmod(size_t a, size_t b, size_t m) {
    return (size_t)((unsigned __int128)a * b % m);
}

TEST(test_mulmod_matches_128bit) {
    /* edge cases: the largest modulus and operands, 1, small values */
    const size_t M = SIZE_MAX;
    CHECK(mulmod(M - 1, M - 1, M) == ref_mulmod(M - 1, M - 1, M));
    CHECK(mulmod(M - 2, M - 3, M - 1) == ref_mulmod(M - 2, M - 3, M - 1));
    CHECK(mulmod(0, M - 1, M) == 0 && mulmod(M - 1, 0, M) == 0);
    CHECK(mulmod(5, 7, 1) == 0 && mulmod(5, 7, 9) == 8);
    /* random operands below random moduli of every size */
    xf_rng r;
    xf_rng_seed(&r, 3);
    for (int i = 0; i < 20000; i++) {
        int bits = 1 + i % 64;
        size_t m = (size_t)(xf_rng_u64(&r) >> (64 - bits));
        if (m == 0) m = 1;
        size_t a = (size_t)(xf_rng_u64(&r) % m), b = (size_t)(xf_rng_u64(&r) % m);
        size_t got = mulmod(a, b, m), want = ref_mulmod(a, b, m);
        CHECK_MSG(got == want, "%zu * %zu mod %zu: %zu, want %zu", a, b, m, got, want);
    }
}

static double ref_lse(const float *z, size_t n) {
    long double mx = -INFINITY, s = 0;
    for (size_t i = 0; i < n; i++) mx = z[i] > mx ? z[i] : mx;
    for (size_t i = 0; i < n; i++) s += expl((long double)z[i] - mx);
    return (double)(mx + logl(s));
}

TEST(test_logsumexp) {
    const float two[] = {0.0f, 0.0f};
    CHECK_NEAR(xf_logsumexp(two, 2), log(2.0), 1e-15);
    const float big[] = {1000.0f, 1000.0f, -1000.0f}; /* exp(1000) overflows a double */
    CHECK_NEAR(xf_logsumexp(big, 3), 1000.0 + log(2.0), 1e-12);
    const float one[] = {-3.5f};
    CHECK(xf_logsumexp(one, 1) == -3.5);
    CHECK(isinf(xf_logsumexp(one, 0)) && xf_logsumexp(one, 0) < 0);
    const float masked[] = {-INFINITY, 2.0f, -INFINITY}; /* masked logits add nothing */
    CHECK(xf_logsumexp(masked, 3) == 2.0);
    /* a vocabulary of random logits; the log-softmax sums to probability 1 */
    xf_rng r;
    xf_rng_seed(&r, 5);
    enum { V = 5000 };
    static float z[V];
    for (size_t i = 0; i < V; i++) z[i] = 8.0f * (xf_rng_float(&r) - 0.5f);
    double lse = xf_logsumexp(z, V), p = 0;
    CHECK_NEAR(lse, ref_lse(z, V), 1e-12);
    for (size_t i = 0; i < V; i++) p += exp((double)z[i] - lse);
    CHECK_NEAR(p, 1.0, 1e-12);
}

int main(void) {
    RUN(test_mulmod_matches_128bit);
    RUN(test_logsumexp);
    return test_summary();
}
