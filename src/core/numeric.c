/* Small numeric helpers (see numeric.h). */
#include "core/numeric.h"

#include <math.h>
#include <stdint.h>

size_t mulmod(size_t a, size_t b, size_t m) {
    if (a == 0 || b <= SIZE_MAX / a) return a * b % m;
    size_t r = 0;
    while (b) {
        if (b & 1) r = r >= m - a ? r - (m - a) : r + a;
        a = a >= m - a ? a - (m - a) : a + a;
        b >>= 1;
    }
    return r;
}

/* lse = m + log(sum_v exp(z_v - m)), m = max_v z_v, the sum in double. */
double xf_logsumexp(const float *z, size_t n) {
    float mx = -INFINITY;
    for (size_t v = 0; v < n; v++) mx = fmaxf(mx, z[v]);
    double sum = 0;
    for (size_t v = 0; v < n; v++) sum += exp((double)z[v] - mx);
    return (double)mx + log(sum);
}
