/* Multi-head scaled dot-product attention with GQA, masks, key padding, an
 * optional additive bias and a KV cache (docs/algorithms.md §1).
 *
 * Shapes (HD = H*D, KD = Hkv*D, G = H/Hkv query heads per KV head)
 *   q    [B, Tq, H, D]       row stride HD
 *   k, v [B, Tkcap, Hkv, D]  row stride KD; rows 0..Tk-1 of each batch are used
 *   bias [H, Tq, Tk] or NULL, shared across the batch
 *   att  [B, H, Tq, Tk]      cached softmax probabilities (blocked entries = 0)
 *   out  [B, Tq, H, D]
 * Query head h reads KV head h/G. No copies: BLAS reads q, k, v, out and their
 * gradients in place through the row strides HD and KD.
 *
 * Mask: key j is visible from query i iff j < hi(i) and key_pad[b,j] == 0, where
 *   causal  hi = min(Tk, past+i+1)
 *   prefix  hi = min(Tk, max(P[b], past+i+1))
 *   bidir   hi = Tk
 * (mask == NULL means bidir, no padding, past = 0). hi(i) never decreases
 * with i, so a block of query rows i0..i1-1 needs keys 0..hi(i1-1)-1 only: the
 * GEMMs skip the fully blocked upper part of a causal mask.
 *
 * Forward, per (b, h) and block of ATT_QBLOCK query rows (keys 0..kend-1)
 *   S   = scale * q k^T + bias           (visible keys only)
 *   att = softmax(S) over visible keys, computed as exp(S - max)/sum in fp32
 *         (exp: xf_exp_inplace, vectorised, from act.c);
 *         blocked keys get exactly 0. This equals adding XF_MASK_NEG to blocked
 *         logits (exp underflows to 0) and avoids touching them at all. A row
 *         with no visible key gets att = 0, hence out = 0 (no NaN).
 *   out = att v
 * Backward, per (b, h), with P = att:
 *   dP  = dout v^T
 *   dv += P^T dout
 *   dS  = P * (dP - rowsum(dP * P))      (softmax Jacobian; 0 where P = 0)
 *   dbias[h] += dS                       (summed over the batch)
 *   dq += scale * dS k
 *   dk += scale * dS^T q
 * Backward accumulates (+=) into dq, dk, dv and dbias.
 *
 * Threads: forward splits (b, h, block of query rows) tasks; each writes its
 * own att rows and out rows. Backward splits (b, kv-head) groups and loops the
 * G query heads of a group inside, so the dk/dv rows shared by those heads have
 * one writer; with dbias (shared across the batch) it splits kv-heads only and
 * loops b inside. Every gradient element is summed in an order fixed by the shapes, so
 * 1 and N threads give identical results. cblas_sgemm runs single-threaded
 * inside the parallel region (OpenMP OpenBLAS). Thread t of the backward uses
 * scratch[t*Tq*Tk ...] for dP/dS: the scratch must be sized for at least
 * omp_get_max_threads() threads at the time of the call. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/kernels.h"

/* query rows per GEMM block; smaller skips more of a causal mask */
#define ATT_QBLOCK 64

/* hi(i): keys j >= hi are blocked for query i by the mask kind */
static size_t visible_end(const xf_mask *mask, size_t b, size_t i, size_t Tk) {
    if (!mask) return Tk;
    size_t lim;
    switch (mask->kind) {
    case XF_MASK_CAUSAL:
        lim = mask->past + i + 1;
        break;
    case XF_MASK_PREFIX: {
        lim = mask->past + i + 1;
        int32_t p = mask->prefix_len ? mask->prefix_len[b] : 0;
        if (p > 0 && (size_t)p > lim) lim = (size_t)p;
        break;
    }
    case XF_MASK_BIDIR:
    default:
        lim = Tk;
        break;
    }
    return lim < Tk ? lim : Tk;
}

/* row[0..hi) holds scale*q.k on entry; on return softmax over the visible keys
 * (bias added, padded keys 0) and row[hi..Tk) = 0. */
static void softmax_row(float *row, const float *brow, const uint8_t *pad, size_t hi, size_t Tk) {
    /* S = scale*q k^T + bias */
    if (brow) {
#pragma omp simd
        for (size_t j = 0; j < hi; j++) row[j] += brow[j];
    }
    /* max over visible keys */
    float mx = -INFINITY;
    size_t nvis = hi;
    if (pad) {
        nvis = 0;
        for (size_t j = 0; j < hi; j++) {
            if (pad[j]) continue;
            mx = row[j] > mx ? row[j] : mx;
            nvis++;
        }
    } else {
#pragma omp simd reduction(max : mx)
        for (size_t j = 0; j < hi; j++) mx = row[j] > mx ? row[j] : mx;
    }
    if (nvis == 0) {
        /* no visible key: att = 0 */
        memset(row, 0, Tk * sizeof(float));
        return;
    }
    /* att = exp(S - max) / sum over visible keys, 0 for blocked */
#pragma omp simd
    for (size_t j = 0; j < hi; j++) row[j] -= mx;
    xf_exp_inplace(row, hi);
    if (pad) {
#pragma omp simd
        for (size_t j = 0; j < hi; j++) row[j] = pad[j] ? 0.0f : row[j];
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (size_t j = 0; j < hi; j++) sum += row[j];
    float inv = 1.0f / sum;
#pragma omp simd
    for (size_t j = 0; j < hi; j++) row[j] *= inv;
    if (hi < Tk) memset(row + hi, 0, (Tk - hi) * sizeof(float));
}

void xf_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                          const float *bias, const xf_mask *mask, size_t B, size_t Tq, size_t Tk,
                          size_t Tkcap, size_t H, size_t Hkv, size_t D, float scale) {
    const size_t HD = H * D, KD = Hkv * D, G = H / Hkv;
    const uint8_t *key_pad = mask ? mask->key_pad : NULL;
    const size_t nblk = (Tq + ATT_QBLOCK - 1) / ATT_QBLOCK;
    /* one task per (b, h, block of query rows): every task writes its own att
     * rows and out rows; dynamic because causal blocks differ in cost */
#pragma omp parallel for schedule(dynamic)
    for (size_t task = 0; task < B * H * nblk; task++) {
        size_t bh = task / nblk, i0 = (task % nblk) * ATT_QBLOCK;
        size_t b = bh / H, h = bh % H, kvh = h / G;
        size_t i1 = i0 + ATT_QBLOCK < Tq ? i0 + ATT_QBLOCK : Tq;
        const float *qb = q + b * Tq * HD + h * D;
        const float *kb = k + b * Tkcap * KD + kvh * D;
        const float *vb = v + b * Tkcap * KD + kvh * D;
        float *ob = out + b * Tq * HD + h * D;
        float *A = att + bh * Tq * Tk;
        const float *bh_bias = bias ? bias + h * Tq * Tk : NULL;
        const uint8_t *pad = key_pad ? key_pad + b * Tk : NULL;
        size_t kend = visible_end(mask, b, i1 - 1, Tk);
        if (kend == 0) {
            /* every key blocked for the whole block: att = 0, out = 0 */
            memset(A + i0 * Tk, 0, (i1 - i0) * Tk * sizeof(float));
            for (size_t i = i0; i < i1; i++) memset(ob + i * HD, 0, D * sizeof(float));
            continue;
        }
        /* S = scale * q k^T over keys 0..kend-1 */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(i1 - i0), (int)kend, (int)D,
                    scale, qb + i0 * HD, (int)HD, kb, (int)KD, 0.0f, A + i0 * Tk, (int)Tk);
        /* att = softmax(S + bias + mask) */
        for (size_t i = i0; i < i1; i++) {
            softmax_row(A + i * Tk, bh_bias ? bh_bias + i * Tk : NULL, pad,
                        visible_end(mask, b, i, Tk), Tk);
        }
        /* out = att v */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(i1 - i0), (int)D, (int)kend,
                    1.0f, A + i0 * Tk, (int)Tk, vb, (int)KD, 0.0f, ob + i0 * HD, (int)HD);
    }
}

/* Backward of the G query heads sharing KV head kvh of batch b; dS is this
 * thread's Tq*Tk scratch. */
static void attention_backward_group(float *dq, float *dk, float *dv, float *dbias,
                                     const float *dout, const float *att, const float *q,
                                     const float *k, const float *v, const xf_mask *mask,
                                     float *dS, size_t b, size_t kvh, size_t Tq, size_t Tk,
                                     size_t Tkcap, size_t H, size_t Hkv, size_t D, float scale) {
    const size_t HD = H * D, KD = Hkv * D, G = H / Hkv;
    const float *kb = k + b * Tkcap * KD + kvh * D;
    const float *vb = v + b * Tkcap * KD + kvh * D;
    float *dkb = dk + b * Tkcap * KD + kvh * D;
    float *dvb = dv + b * Tkcap * KD + kvh * D;
    for (size_t h = kvh * G; h < (kvh + 1) * G; h++) {
        const float *qb = q + b * Tq * HD + h * D;
        const float *dob = dout + b * Tq * HD + h * D;
        float *dqb = dq + b * Tq * HD + h * D;
        const float *A = att + (b * H + h) * Tq * Tk;
        float *db_h = dbias ? dbias + h * Tq * Tk : NULL;
        for (size_t i0 = 0; i0 < Tq; i0 += ATT_QBLOCK) {
            size_t i1 = i0 + ATT_QBLOCK < Tq ? i0 + ATT_QBLOCK : Tq;
            size_t rows = i1 - i0;
            size_t kend = visible_end(mask, b, i1 - 1, Tk);
            if (kend == 0) continue; /* att = 0 for the whole block: no gradient */
            const float *P = A + i0 * Tk;
            float *dSb = dS + i0 * Tk;
            /* forward: out = att v  =>  dP = dout v^T, dv += att^T dout */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)kend, (int)D,
                        1.0f, dob + i0 * HD, (int)HD, vb, (int)KD, 0.0f, dSb, (int)Tk);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kend, (int)D, (int)rows,
                        1.0f, P, (int)Tk, dob + i0 * HD, (int)HD, 1.0f, dvb, (int)KD);
            /* forward: att = softmax(S)  =>  dS = P*(dP - rowsum(dP*P));
             * forward: S = ... + bias   =>  dbias += dS */
            for (size_t r = 0; r < rows; r++) {
                const float *p = P + r * Tk;
                float *ds = dSb + r * Tk;
                float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                for (size_t j = 0; j < kend; j++) dot += p[j] * ds[j];
#pragma omp simd
                for (size_t j = 0; j < kend; j++) ds[j] = p[j] * (ds[j] - dot);
                if (db_h) {
                    float *dbr = db_h + (i0 + r) * Tk;
#pragma omp simd
                    for (size_t j = 0; j < kend; j++) dbr[j] += ds[j];
                }
            }
            /* forward: S = scale * q k^T  =>  dq += scale*dS k, dk += scale*dS^T q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)D, (int)kend,
                        scale, dSb, (int)Tk, kb, (int)KD, 1.0f, dqb + i0 * HD, (int)HD);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kend, (int)D, (int)rows,
                        scale, dSb, (int)Tk, qb + i0 * HD, (int)HD, 1.0f, dkb, (int)KD);
        }
    }
}

void xf_attention_backward(float *dq, float *dk, float *dv, float *dbias, const float *dout,
                           const float *att, const float *q, const float *k, const float *v,
                           const xf_mask *mask, float *scratch, size_t B, size_t Tq, size_t Tk,
                           size_t Tkcap, size_t H, size_t Hkv, size_t D, float scale) {
    if (dbias) {
        /* dbias[h] sums over the batch: one thread per kv-head, b in order */
#pragma omp parallel for schedule(static)
        for (size_t kvh = 0; kvh < Hkv; kvh++) {
            float *dS = scratch + (size_t)omp_get_thread_num() * Tq * Tk;
            for (size_t b = 0; b < B; b++) {
                attention_backward_group(dq, dk, dv, dbias, dout, att, q, k, v, mask, dS, b, kvh,
                                         Tq, Tk, Tkcap, H, Hkv, D, scale);
            }
        }
    } else {
#pragma omp parallel for schedule(static)
        for (size_t g = 0; g < B * Hkv; g++) {
            float *dS = scratch + (size_t)omp_get_thread_num() * Tq * Tk;
            attention_backward_group(dq, dk, dv, NULL, dout, att, q, k, v, mask, dS, g / Hkv,
                                     g % Hkv, Tq, Tk, Tkcap, H, Hkv, D, scale);
        }
    }
}

size_t xf_attention_scratch_floats(size_t Tq, size_t Tk, int nthreads) {
    if (nthreads <= 0) nthreads = omp_get_max_threads();
    return Tq * Tk * (size_t)nthreads;
}
