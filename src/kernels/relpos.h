/* T5 relative position bias (docs/algorithms.md §2.3, HF
 * T5Attention._relative_position_bucket / compute_bias).
 *
 * Dimensions: H heads, Tq queries, Tk keys, NB = num_buckets.
 *   table [NB, H]         the bias Embedding, HF layout (row = bucket)
 *   bias  [H, Tq+Tk-1]    the additive logit bias attention_forward takes,
 *                         per offset o = j - i at entry o + Tq - 1
 * Query row i has absolute position past + i (KV cache), key column j has
 * position j, and rel = j - (past + i) = key_pos - query_pos = o - past, so
 * HF's [H, Tq, Tk] bias is bias[h, j - i + Tq - 1].
 *
 * Contract as in kernels.h: no allocation, no failure, size_t indices,
 * backward accumulates (+=). Requirements (checked by the caller):
 * num_buckets >= 2 (>= 4 when bidirectional) and max_distance > max_exact
 * (max_exact = num_buckets/2, or num_buckets/4 when bidirectional). */
#ifndef XF_KERNELS_RELPOS_H
#define XF_KERNELS_RELPOS_H

#include <stddef.h>
#include <stdint.h>

/* Bucket of rel = key_pos - query_pos. With nb = num_buckets:
 *   bidirectional: nb /= 2; base = (rel > 0) ? nb : 0; n = |rel|
 *   otherwise:     base = 0; n = max(-rel, 0)   (future keys fall in bucket 0)
 *   max_exact = nb / 2
 *   n < max_exact: bucket = base + n
 *   else:          bucket = base + min(nb - 1, max_exact +
 *                    trunc(ln(n / max_exact) / ln(max_distance / max_exact) * (nb - max_exact)))
 * with the logs in double. For 32 buckets and max_distance 128 the boundaries
 * are the tables in docs/algorithms.md §2.3 (bidirectional n >= 8 -> 8, >= 12 -> 9,
 * ..., >= 91 -> 15, plus 16 for rel > 0; decoder n >= 16 -> 16, ..., >= 113 -> 31). */
int32_t relpos_bucket(long rel, int bidirectional, size_t num_buckets, size_t max_distance);

/* bias[h, o + Tq - 1] = table[bucket(o - past), h] for o = -(Tq-1) .. Tk-1
 *   bias [H, Tq+Tk-1], table [num_buckets, H]. past > 0 gives the last Tq rows of
 *   the bias for past + Tq queries (HF slices [:, :, -q_len:, :]). */
void relpos_forward(float *bias, const float *table, size_t H, size_t Tq, size_t Tk, size_t past,
                       int bidirectional, size_t num_buckets, size_t max_distance);

/* dtable[b, h] += sum over the offsets o with bucket(o - past) == b of
 * dbias[h, o + Tq - 1]; dbias [H, Tq+Tk-1] in double holds each diagonal's sum
 * (attention_backward). Deterministic: the order of the sums is fixed by the
 * shapes, whatever the thread count. */
void relpos_backward(float *dtable, const double *dbias, size_t H, size_t Tq, size_t Tk,
                        size_t past, int bidirectional, size_t num_buckets, size_t max_distance);

#endif
