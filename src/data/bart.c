/* BART noising (docs/objectives.md §BART noising): sentence permutation, then
 * text infilling, as fairseq's DenoisingDataset does with BART's settings
 * (--permute-sentences 1.0 --mask 0.3 --mask-length span-poisson
 * --poisson-lambda 3 --replace-length 1).
 *
 * On a window x[0..L) (the target is x itself):
 *   1. permutation: x is cut after each run of sentence-end tokens; the
 *      sentences are reordered (ceil(n * permute) of them are shuffled among
 *      their own slots, the others stay).
 *   2. infilling: M = ceil(L * mask) tokens are to be masked. Span lengths are
 *      drawn from Poisson(lambda) until their sum reaches M; the last is cut so
 *      the sum is exactly M. Zero-length spans become insertions; the others
 *      get distinct starts drawn uniformly from [0, L). Each start becomes one
 *      mask token and the len - 1 tokens after it are deleted (a start inside
 *      another span is deleted with it, as in fairseq).
 *   3. insertion: one mask token per zero-length span, at distinct positions
 *      drawn uniformly among the len(result) + inserts slots.
 * Spans here are over tokens (fairseq can widen them to whole words; with the
 * byte tokenizer a token is a byte, and the 30% is of tokens either way).
 *
 * RNG draws, in order: the sentence subset (partial Fisher-Yates) and its
 * shuffle, Poisson lengths (Knuth's product of uniforms), the starts (partial
 * Fisher-Yates over [0, L)), the insertion slots (partial Fisher-Yates). */
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "data/sample.h"
#include "xfmr/objective.h"

size_t sample_poisson(double lambda, xf_rng *rng) {
    double limit = exp(-lambda), p = 1.0;
    size_t k = 0;
    do {
        k++;
        p *= xf_rng_double(rng);
    } while (p > limit && k < 100000);
    return k - 1;
}

void sample_partial_shuffle(size_t *idx, size_t n, size_t k, xf_rng *rng) {
    for (size_t j = 0; j < k && j < n; j++) {
        size_t r = j + (size_t)xf_rng_below(rng, (uint64_t)(n - j));
        size_t t = idx[j];
        idx[j] = idx[r];
        idx[r] = t;
    }
}

static int is_sentence_end(const xf_objective_opts *o, int32_t id) {
    for (size_t i = 0; i < o->n_sentence_ends; i++)
        if (o->sentence_ends[i] == id) return 1;
    return 0;
}

size_t xf_bart_work_size(size_t L) { return 5 * (L + 1); }

xf_status xf_bart_noise(const xf_objective_opts *o, const int32_t *raw, size_t L, xf_rng *rng, size_t *work,
                        int32_t *out, size_t cap, size_t *n_out) {
    if (!o || !raw || !rng || !work || !out || !n_out || L == 0)
        return xf_fail(XF_ERR_ARG, "bart noise: NULL argument or empty window");
    if (!(o->bart_mask >= 0 && o->bart_mask <= 1) || !(o->bart_lambda > 0 && o->bart_lambda <= 64) ||
        !(o->bart_permute >= 0 && o->bart_permute <= 1))
        return xf_fail(XF_ERR_ARG, "objective bart: mask %g must be in [0, 1], lambda %g in (0, 64], "
                       "permute %g in [0, 1]", (double)o->bart_mask, (double)o->bart_lambda,
                       (double)o->bart_permute);
    if (o->mask < 0) return xf_fail(XF_ERR_ARG, "objective bart needs a mask token");
    /* work (xf_bart_work_size): five arrays of L + 1; x holds int32 ids in the last */
    size_t *a = work, *b = work + (L + 1), *c = work + 2 * (L + 1), *keep = work + 3 * (L + 1);
    int32_t *x = (int32_t *)(work + 4 * (L + 1));

    /* 1. sentence permutation: a[s] = start of sentence s; slots b[0..np) get
     *    the sentences c[0..np) (c a random permutation of the slots) */
    size_t ns = 0;
    a[ns++] = 0;
    for (size_t i = 0; i + 1 < L; i++)
        if (is_sentence_end(o, raw[i]) && !is_sentence_end(o, raw[i + 1])) a[ns++] = i + 1;
    a[ns] = L;
    size_t np = (size_t)ceil((double)ns * (double)o->bart_permute);
    if (np > ns) np = ns;
    for (size_t s = 0; s < ns; s++) b[s] = s;
    sample_partial_shuffle(b, ns, np, rng);
    for (size_t j = 0; j < np; j++) c[j] = b[j];
    sample_partial_shuffle(c, np, np, rng);
    for (size_t s = 0; s < ns; s++) keep[s] = s; /* keep[slot] = sentence placed there */
    for (size_t j = 0; j < np; j++) keep[b[j]] = c[j];
    size_t n = 0;
    for (size_t s = 0; s < ns; s++) {
        size_t from = a[keep[s]], to = a[keep[s] + 1];
        memcpy(x + n, raw + from, (to - from) * sizeof *x);
        n += to - from;
    }

    /* 2. infilling: Poisson span lengths summing to M into b[], starts into a[] */
    size_t M = (size_t)ceil((double)L * (double)o->bart_mask - 1e-9);
    if (M > L) M = L;
    size_t nspan = 0, inserts = 0, sum = 0;
    while (sum < M && inserts <= L) {
        size_t len = sample_poisson((double)o->bart_lambda, rng);
        if (len > M - sum) len = M - sum;
        if (len == 0) {
            inserts++;
            continue;
        }
        b[nspan++] = len;
        sum += len;
    }
    for (size_t i = 0; i < L; i++) {
        a[i] = i;
        keep[i] = 1;
    }
    sample_partial_shuffle(a, L, nspan, rng);
    for (size_t s = 0; s < nspan; s++) x[a[s]] = o->mask;
    for (size_t s = 0; s < nspan; s++)
        for (size_t j = 1; j < b[s] && a[s] + j < L; j++) keep[a[s] + j] = 0;
    size_t m = 0;
    for (size_t i = 0; i < L; i++)
        if (keep[i]) x[m++] = x[i];

    /* 3. insertion: one mask per zero-length span at distinct slots of m + inserts
     *    (a result longer than cap loses its tail) */
    if (inserts > L + 1 - m) inserts = L + 1 - m; /* the arrays hold L + 1 (never binds for lambda 3) */
    size_t total = m + inserts;
    for (size_t i = 0; i < total; i++) {
        c[i] = i;
        keep[i] = 0;
    }
    sample_partial_shuffle(c, total, inserts, rng);
    for (size_t j = 0; j < inserts; j++) keep[c[j]] = 1;
    size_t k = 0, w = 0;
    for (size_t i = 0; i < total && w < cap; i++) out[w++] = keep[i] ? o->mask : x[k++];
    *n_out = w;
    return XF_OK;
}
