/* T5 relative position bias (docs/algorithms.md §2.3).
 *
 * Shapes
 *   table [NB, H]      bias Embedding, row = bucket (HF layout)
 *   bias  [H, Tq, Tk]  query i at absolute position past + i, key j at j
 * Nothing is cached: the bucket of (i, j) depends on rel = j - (past + i) only.
 *
 * Maths
 *   bias[h,i,j] = table[bucket(j - past - i), h]       (a gather)
 *   dtable[b,h] = sum_{(i,j): bucket(j - past - i) = b} dbias[h,i,j]   (its scatter-add)
 * Backward accumulates (+=).
 *
 * Threads: forward splits query rows i (row i writes bias[:, i, :] only) and
 * computes each bucket once per (i, j), not per head. Backward splits heads h
 * (head h writes column dtable[:, h] only) and walks the diagonals
 * o = j - i = -(Tq-1) .. Tk-1 in order: one diagonal has one rel and so one
 * bucket, its entries are summed in double for i ascending, and the sum is
 * added to dtable. The order is fixed by the shapes, so any thread count gives
 * the same bits. */
#include <math.h>

#include "kernels/relpos.h"

int32_t xf_relpos_bucket(long rel, int bidirectional, size_t num_buckets, size_t max_distance) {
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

void xf_relpos_forward(float *bias, const float *table, size_t H, size_t Tq, size_t Tk, size_t past,
                       int bidirectional, size_t num_buckets, size_t max_distance) {
#pragma omp parallel for if (H * Tq * Tk >= 16384)
    for (size_t i = 0; i < Tq; i++) {
        long qpos = (long)(past + i);
        for (size_t j = 0; j < Tk; j++) {
            size_t b = (size_t)xf_relpos_bucket((long)j - qpos, bidirectional, num_buckets,
                                                max_distance);
            const float *row = table + b * H;
            for (size_t h = 0; h < H; h++) bias[(h * Tq + i) * Tk + j] = row[h];
        }
    }
}

void xf_relpos_backward(float *dtable, const float *dbias, size_t H, size_t Tq, size_t Tk,
                        size_t past, int bidirectional, size_t num_buckets, size_t max_distance) {
    if (Tq == 0 || Tk == 0) return;
#pragma omp parallel for if (H * Tq * Tk >= 16384)
    for (size_t h = 0; h < H; h++) {
        const float *dh = dbias + h * Tq * Tk;
        /* diagonal o = j - i: rows i0 <= i < i1 with 0 <= i + o < Tk */
        for (long o = 1 - (long)Tq; o < (long)Tk; o++) {
            size_t i0 = o < 0 ? (size_t)(-o) : 0;
            size_t i1 = (size_t)((long)Tk - o) < Tq ? (size_t)((long)Tk - o) : Tq;
            double s = 0.0;
            for (size_t i = i0; i < i1; i++) s += (double)dh[i * Tk + (size_t)((long)i + o)];
            size_t b = (size_t)xf_relpos_bucket(o - (long)past, bidirectional, num_buckets,
                                                max_distance);
            dtable[b * H + h] += (float)s;
        }
    }
}
