/* T5 relative position bias (docs/algorithms.md §2.3).
 *
 * Shapes
 *   table [NB, H]          bias Embedding, row = bucket (HF layout)
 *   bias  [H, Tq+Tk-1]     per offset o = j - i, entry o + Tq - 1: query i at
 *                          absolute position past + i, key j at j
 * The bucket of (i, j) depends on rel = j - (past + i) = o - past only, so the
 * [H, Tq, Tk] bias HF materialises is a Toeplitz matrix and one row per head
 * of its diagonals holds all of it: memory linear in the sequence length.
 *
 * Maths
 *   bias[h, o+Tq-1] = table[bucket(o - past), h]          (a gather)
 *   dtable[b, h]   += sum_{o: bucket(o - past) = b} dbias[h, o+Tq-1]  (its scatter-add)
 * dbias arrives from the attention backward already summed over each
 * diagonal, in double. Backward accumulates (+=).
 *
 * Threads: forward splits offsets (each writes its own column of bias) and
 * computes each bucket once per offset, not per head. Backward splits heads h
 * (head h writes column dtable[:, h] only) and walks the offsets in order, so
 * any thread count gives the same bits. */
#include <math.h>

#include "core/parallel.h"
#include "kernels/relpos.h"

int32_t relpos_bucket(long rel, int bidirectional, size_t num_buckets, size_t max_distance) {
    size_t nb = num_buckets, base = 0;
    /* |rel| or max(-rel, 0) as unsigned long, so rel = LONG_MIN does not overflow */
    unsigned long n;
    if (bidirectional) {
        nb /= 2;
        if (rel > 0) base = nb;
        n = rel < 0 ? 0UL - (unsigned long)rel : (unsigned long)rel;
    } else {
        n = rel < 0 ? 0UL - (unsigned long)rel : 0UL;
    }
    size_t max_exact = nb / 2;
    if (n < max_exact) return (int32_t)(base + n);
    /* max_exact + trunc(ln(n/max_exact) / ln(max_distance/max_exact) * (nb - max_exact)),
     * capped at nb - 1; the guards keep the cast defined for parameters outside
     * the documented range */
    double me = (double)max_exact, span = (double)(nb - max_exact);
    double f = log((double)n / me) / log((double)max_distance / me) * span;
    size_t add = !(f < span) ? nb - max_exact : !(f >= 0.0) ? 0 : (size_t)f;
    size_t b = max_exact + add;
    return (int32_t)(base + (b < nb - 1 ? b : nb - 1));
}

void relpos_forward(float *bias, const float *table, size_t H, size_t Tq, size_t Tk, size_t past,
                       int bidirectional, size_t num_buckets, size_t max_distance) {
    if (Tq == 0 || Tk == 0) return;
    size_t NO = Tq + Tk - 1;
#pragma omp parallel for if (H * NO >= XF_PAR_MIN)
    for (size_t x = 0; x < NO; x++) {
        long rel = (long)x - (long)(Tq - 1) - (long)past; /* o - past */
        size_t b = (size_t)relpos_bucket(rel, bidirectional, num_buckets, max_distance);
        for (size_t h = 0; h < H; h++) bias[h * NO + x] = table[b * H + h];
    }
}

void relpos_backward(float *dtable, const double *dbias, size_t H, size_t Tq, size_t Tk,
                        size_t past, int bidirectional, size_t num_buckets, size_t max_distance) {
    if (Tq == 0 || Tk == 0) return;
    size_t NO = Tq + Tk - 1;
#pragma omp parallel for if (H * NO >= XF_PAR_MIN)
    for (size_t h = 0; h < H; h++)
        for (size_t x = 0; x < NO; x++) {
            long rel = (long)x - (long)(Tq - 1) - (long)past;
            size_t b = (size_t)relpos_bucket(rel, bidirectional, num_buckets, max_distance);
            dtable[b * H + h] += (float)dbias[h * NO + x];
        }
}
