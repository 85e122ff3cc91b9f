/* T5 span corruption (docs/algorithms.md §5; t5/data/preprocessors.py:
 * random_spans_noise_mask, random_spans_helper, noise_span_to_unique_sentinel).
 *
 * For a length L (L' = max(L, 2)):
 *   nn = clamp(round(L' * density), 1, L' - 1)      noise tokens
 *   ns = max(1, round(nn / mean_span))               noise spans = non-noise spans
 *   noise lengths = a random composition of nn into ns positive parts,
 *   keep lengths  = a random composition of L' - nn into ns positive parts,
 *   mask = keep_0 noise_0 keep_1 noise_1 ... keep_{ns-1} noise_{ns-1}, cut to L.
 * round() is round half to even (Python's round, tf.round) of the decimal
 * product: the density, a float, is first taken back to the decimal it was
 * written as (7 significant digits: 0.15f -> 0.15) and the product is formed in
 * double, exactly as random_spans_helper does in Python. T5's TF mask forms it
 * in float32 instead, which can round a half point the other way (L = 190:
 * 190 * 0.15f = 28.500002 -> 29, 190 * 0.15 = 28.5 -> 28); using one rule for
 * the helper and the mask keeps the helper's lengths exact. */
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "xfmr/objective.h"

/* round half to even of a non-negative double (the default rounding mode) */
static size_t round_even(double x) {
    if (!(x > 0)) return 0;
    return x < 9e18 ? (size_t)nearbyint(x) : (size_t)9e18;
}

/* A float rate as the decimal it was written as (0.15f -> 0.15). */
static double decimal_rate(float x) { return nearbyint((double)x * 1e7) / 1e7; }

void xf_span_counts(size_t L, float density, float mean_span, size_t *noise_tokens,
                    size_t *noise_spans) {
    size_t Lp = L < 2 ? 2 : L;
    size_t nn = round_even((double)Lp * decimal_rate(density));
    if (nn < 1) nn = 1;
    if (nn > Lp - 1) nn = Lp - 1;
    size_t ns = mean_span > 0 ? round_even((double)nn / (double)mean_span) : nn;
    if (ns < 1) ns = 1;
    if (ns > nn) ns = nn;
    if (ns > Lp - nn) ns = Lp - nn;
    *noise_tokens = nn;
    *noise_spans = ns;
}

/* T5's _random_segmentation of n items into s parts reads the bit vector
 * shuffle([1]*(s-1) + [0]*(n-s)) behind a leading 0: a part ends before every 1.
 * The bits are drawn here one at a time by selection sampling (Knuth's
 * Algorithm S: the next bit is 1 with probability ones_left / bits_left),
 * which gives every arrangement of the s-1 ones the same probability 1/C(n-1, s-1),
 * exactly as the shuffle does, without a scratch array. */
typedef struct {
    size_t bits; /* bits not read yet */
    size_t ones; /* ones among them */
} composition;

/* Length of the next part: 1 + the zeros read before the next 1 (or the end). */
static size_t next_part(composition *c, xf_rng *rng) {
    size_t len = 1;
    while (c->bits > 0) {
        if (c->ones == 0) { /* only zeros left: the last part takes them */
            len += c->bits;
            c->bits = 0;
            break;
        }
        int one = c->ones == c->bits || xf_rng_below(rng, c->bits) < c->ones;
        c->bits--;
        if (one) {
            c->ones--;
            break;
        }
        len++;
    }
    return len;
}

void xf_span_noise_mask(uint8_t *mask, size_t L, float density, float mean_span, xf_rng *rng) {
    if (L == 0) return;
    if (!(density > 0) || L < 2) {
        /* T5: density 0 is no noise; L = 1 is the mask of length 2, [keep, noise], cut to 1 */
        memset(mask, 0, L);
        return;
    }
    size_t nn, ns;
    xf_span_counts(L, density, mean_span, &nn, &ns);
    composition keep = {L - nn - 1, ns - 1}, noise = {nn - 1, ns - 1};
    size_t at = 0;
    for (size_t s = 0; s < ns; s++) {
        size_t k = next_part(&keep, rng);
        memset(mask + at, 0, k);
        at += k;
        size_t m = next_part(&noise, rng);
        memset(mask + at, 1, m);
        at += m;
    }
}

/* Input length (R - nn) + ns + 1 of R raw tokens. */
static size_t inputs_of(size_t R, float density, float mean_span) {
    size_t nn, ns;
    xf_span_counts(R, density, mean_span, &nn, &ns);
    return R - nn + ns + 1;
}

void xf_span_lengths(size_t inputs_length, float density, float mean_span, size_t *raw_tokens,
                     size_t *targets_length) {
    *raw_tokens = 0;
    *targets_length = 0;
    /* the smallest corruption, one kept token, one sentinel and EOS, needs 3 */
    if (inputs_length < 3 || !(density > 0 && density < 1) || !(mean_span >= 1)) return;
    /* largest R with (R - nn) + ns + 1 <= inputs_length; inputs_of is
     * nondecreasing in R and grows about (1 - density) per token. The cap only
     * guards against densities so close to 1 that the search would be long. */
    size_t R = inputs_length - 1, cap = inputs_length * 64 + 64;
    while (R < cap && inputs_of(R + 1, density, mean_span) <= inputs_length) R++;
    size_t nn, ns;
    xf_span_counts(R, density, mean_span, &nn, &ns);
    size_t tg = nn + ns + 1;
    /* T5's "minor hack" so targets do not exceed a round inputs length */
    if (density == 0.5f && tg > inputs_length) {
        R--;
        xf_span_counts(R, density, mean_span, &nn, &ns);
        tg = nn + ns + 1;
    }
    *raw_tokens = R;
    *targets_length = tg;
}

/* T5's noise_span_to_unique_sentinel: every maximal run of positions with
 * mask[i] == want_noise becomes the next sentinel, the other tokens are copied,
 * and EOS (when >= 0) ends the sequence. */
static xf_status replace_spans(const int32_t *raw, const uint8_t *mask, size_t L, int want_noise,
                               const int32_t *sentinels, size_t n_sentinels, int32_t eos,
                               int32_t *out, size_t cap, size_t *n_out, const char *what) {
    size_t n = 0, k = 0;
    for (size_t i = 0; i < L; i++) {
        int hit = (mask[i] != 0) == (want_noise != 0);
        int32_t id;
        if (hit) {
            if (i > 0 && (mask[i - 1] != 0) == (mask[i] != 0)) continue; /* inside a span */
            if (k >= n_sentinels)
                return xf_fail(XF_ERR_ARG,
                               "span corruption: the %s need more than the %zu sentinel tokens "
                               "available",
                               what, n_sentinels);
            id = sentinels[k++];
        } else {
            id = raw[i];
        }
        if (n >= cap)
            return xf_fail(XF_ERR_ARG, "span corruption: the %s do not fit in %zu tokens", what, cap);
        out[n++] = id;
    }
    if (eos >= 0) {
        if (n >= cap)
            return xf_fail(XF_ERR_ARG, "span corruption: the %s do not fit in %zu tokens", what, cap);
        out[n++] = eos;
    }
    *n_out = n;
    return XF_OK;
}

xf_status xf_span_apply(const int32_t *raw, const uint8_t *mask, size_t L, const int32_t *sentinels,
                        size_t n_sentinels, int32_t eos, int32_t *inputs, size_t in_cap, size_t *n_in,
                        int32_t *targets, size_t tg_cap, size_t *n_tg) {
    *n_in = 0;
    *n_tg = 0;
    if ((L && (!raw || !mask)) || (n_sentinels && !sentinels) || (in_cap && !inputs) ||
        (tg_cap && !targets))
        return xf_fail(XF_ERR_ARG, "span corruption: NULL buffer");
    xf_status st = replace_spans(raw, mask, L, 1, sentinels, n_sentinels, eos, inputs, in_cap, n_in,
                                 "inputs");
    if (st == XF_OK)
        st = replace_spans(raw, mask, L, 0, sentinels, n_sentinels, eos, targets, tg_cap, n_tg,
                           "targets");
    if (st != XF_OK) {
        *n_in = 0;
        *n_tg = 0;
    }
    return st;
}
