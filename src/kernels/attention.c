/* Multi-head scaled dot-product attention, flash style: blocked online softmax
 * forward, recomputing backward (FlashAttention-2), with GQA, masks, key
 * padding, a relative-position bias and a KV cache (docs/algorithms.md §1).
 * No [Tq, Tk] matrix is ever stored: memory is linear in the sequence length.
 *
 * Shapes (HD = H*D, KD = Hkv*D, G = H/Hkv query heads per KV head)
 *   q    [B, Tq, H, D]       row stride HD
 *   k, v [B, Tkcap, Hkv, D]  row stride KD; rows 0..Tk-1 of each batch are used
 *   bias [H, Tq+Tk-1] or NULL: a bias that depends on the offset o = j - i only
 *        (T5's relative bias), entry bias[h, o + Tq - 1], shared across the batch
 *   lse  [B, H, Tq]          per-row logsumexp of the visible logits (-inf: none)
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
 * key-block loop stops there and skips the blocked upper part of a causal mask.
 *
 * Forward, per (b, h) and block of ATT_QB query rows, keys in blocks of ATT_KB,
 * with running row max m and sum l (m = -inf, l = 0, O = 0 at the start):
 *   S     = scale * q k^T + bias               (one key block; blocked -> no term)
 *   m'    = max(m, rowmax S)
 *   P     = exp(S - m')                         (fp32; blocked keys exactly 0)
 *   l     = exp(m - m') l + rowsum P
 *   O     = exp(m - m') O + P v
 *   m     = m'
 * then out = O / l and lse = m + log l. This is softmax(S) v without the
 * [Tq, Tk] probabilities: a block's P lives in a per-thread stack buffer. A
 * row with no visible key gets out = 0 and lse = -inf (no NaN).
 *
 * Backward, per (b, kv head, query head of the group, query block), with
 * Di = rowsum(dout_i * out_i) (= rowsum(P dP), the softmax Jacobian's term):
 *   per key block: P = exp(S - lse) recomputed (0 where blocked)
 *   dP  = dout v^T
 *   dv += P^T dout
 *   dS  = P * (dP - Di)
 *   dbias[h, j-i+Tq-1] += dS[i, j]      (summed over the batch, in double)
 *   dq += scale * dS k
 *   dk += scale * dS^T q
 * Backward accumulates (+=) into dq, dk, dv and dbias.
 *
 * Threads: forward splits (b, h, query block) tasks; each writes its own out
 * and lse rows. Backward splits (b, kv-head) groups and loops the G query
 * heads of a group inside, so the dk/dv rows shared by those heads have one
 * writer; with dbias (shared across the batch) it splits kv-heads only and
 * loops b inside. Every result is summed in an order fixed by the shapes, so 1
 * and N threads give identical results. The block products are sgemm_fp32
 * (gemm.h: our packed GEMM, chosen by cpuid, fp32 also under --dtype bf16),
 * which runs on the calling thread inside the parallel region; the elementwise
 * loops are `omp simd` (xf_exp_inplace is compiled per SIMD width). */
#include <math.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/kernels.h"

/* query rows per block (smaller skips more of a causal mask) and keys per block;
 * a thread holds ATT_QB x ATT_KB floats of S (and dP) on its stack */
#define ATT_QB 64
#define ATT_KB 128

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

/* Visible keys of query row i within the key block [j0, j0+nk): s[0..n) with
 * n = min(hi(i), j0+nk) - j0 (0 if none); beyond n every key is blocked. */
static size_t block_visible(size_t hi, size_t j0, size_t nk) {
    if (hi <= j0) return 0;
    return hi - j0 < nk ? hi - j0 : nk;
}

/* s[0..n) += bias at offsets (j0 + j) - i, i.e. brow[j0 + j - i + Tq - 1] */
static void add_bias(float *s, const float *bias_h, size_t i, size_t j0, size_t n, size_t Tq) {
    const float *brow = bias_h + (j0 + Tq - 1 - i);
#pragma omp simd
    for (size_t j = 0; j < n; j++) s[j] += brow[j];
}

/* Padded keys of the block get -inf logits (pad may be NULL); returns the
 * max over s[0..n) (-inf when every key is padded). */
static float mask_pad_max(float *s, const uint8_t *pad, size_t n) {
    float mx = -INFINITY;
    if (pad) {
        for (size_t j = 0; j < n; j++) {
            if (pad[j]) s[j] = -INFINITY;
            mx = s[j] > mx ? s[j] : mx;
        }
    } else {
#pragma omp simd reduction(max : mx)
        for (size_t j = 0; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    }
    return mx;
}

/* s[0..n) = exp(s - shift) with padded keys exactly 0, s[n..nk) = 0 */
static void exp_shift(float *s, const uint8_t *pad, float shift, size_t n, size_t nk) {
#pragma omp simd
    for (size_t j = 0; j < n; j++) s[j] -= shift;
    xf_exp_inplace(s, n);
    if (pad) {
#pragma omp simd
        for (size_t j = 0; j < n; j++) s[j] = pad[j] ? 0.0f : s[j];
    }
    if (n < nk) memset(s + n, 0, (nk - n) * sizeof(float));
}

/* The logits of query rows i0..i0+rows-1 against keys j0..j0+nk-1 into
 * S[rows, ATT_KB]: scale*q k^T + bias, padded keys -inf. vis[r] = visible keys
 * of row r in the block. */
static void block_logits(float *S, size_t *vis, const float *qb, const float *kb,
                         const float *bias_h, const uint8_t *pad, const xf_mask *mask, size_t b,
                         size_t i0, size_t rows, size_t j0, size_t nk, size_t Tq, size_t Tk,
                         size_t HD, size_t KD, size_t D, float scale) {
    sgemm_fp32(0, 1, rows, nk, D, scale,
                qb + i0 * HD, HD, kb + j0 * KD, KD, 0.0f, S, ATT_KB);
    for (size_t r = 0; r < rows; r++) {
        size_t i = i0 + r, n = block_visible(visible_end(mask, b, i, Tk), j0, nk);
        vis[r] = n;
        float *s = S + r * ATT_KB;
        if (bias_h) add_bias(s, bias_h, i, j0, n, Tq);
        if (pad) mask_pad_max(s, pad + j0, n);
    }
}

void attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                          const float *bias, const xf_mask *mask, size_t B, size_t Tq, size_t Tk,
                          size_t Tkcap, size_t H, size_t Hkv, size_t D, float scale) {
    const size_t HD = H * D, KD = Hkv * D, G = H / Hkv, NO = Tq + Tk - 1;
    const uint8_t *key_pad = mask ? mask->key_pad : NULL;
    const size_t nblk = (Tq + ATT_QB - 1) / ATT_QB;
    /* one task per (b, h, block of query rows): every task writes its own out
     * and lse rows; dynamic because causal blocks differ in cost */
#pragma omp parallel for schedule(dynamic)
    for (size_t task = 0; task < B * H * nblk; task++) {
        float S[ATT_QB * ATT_KB], m[ATT_QB], l[ATT_QB];
        size_t vis[ATT_QB];
        size_t bh = task / nblk, i0 = (task % nblk) * ATT_QB;
        size_t b = bh / H, h = bh % H, kvh = h / G;
        size_t rows = i0 + ATT_QB < Tq ? ATT_QB : Tq - i0;
        const float *qb = q + b * Tq * HD + h * D;
        const float *kb = k + b * Tkcap * KD + kvh * D;
        const float *vb = v + b * Tkcap * KD + kvh * D;
        float *ob = out + b * Tq * HD + h * D;
        const float *bias_h = bias ? bias + h * NO : NULL;
        const uint8_t *pad = key_pad ? key_pad + b * Tk : NULL;
        size_t kend = visible_end(mask, b, i0 + rows - 1, Tk);
        for (size_t r = 0; r < rows; r++) {
            m[r] = -INFINITY;
            l[r] = 0.0f;
            memset(ob + (i0 + r) * HD, 0, D * sizeof(float));
        }
        for (size_t j0 = 0; j0 < kend; j0 += ATT_KB) {
            size_t nk = kend - j0 < ATT_KB ? kend - j0 : ATT_KB;
            block_logits(S, vis, qb, kb, bias_h, pad, mask, b, i0, rows, j0, nk, Tq, Tk, HD, KD, D,
                         scale);
            /* online softmax: rescale the running sums to the new row max */
            for (size_t r = 0; r < rows; r++) {
                float *s = S + r * ATT_KB;
                float mx = mask_pad_max(s, NULL, vis[r]); /* padded keys are -inf already */
                if (mx == -INFINITY) { /* nothing visible in this block */
                    memset(s, 0, nk * sizeof(float));
                    continue;
                }
                float mnew = mx > m[r] ? mx : m[r];
                exp_shift(s, pad ? pad + j0 : NULL, mnew, vis[r], nk);
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (size_t j = 0; j < vis[r]; j++) sum += s[j];
                if (m[r] != mnew) {
                    float alpha = expf(m[r] - mnew); /* m = -inf: 0 */
                    float *o = ob + (i0 + r) * HD;
                    l[r] *= alpha;
#pragma omp simd
                    for (size_t d = 0; d < D; d++) o[d] *= alpha;
                    m[r] = mnew;
                }
                l[r] += sum;
            }
            /* O += P v */
            sgemm_fp32(0, 0, rows, D, nk, 1.0f,
                        S, ATT_KB, vb + j0 * KD, KD, 1.0f, ob + i0 * HD, HD);
        }
        /* out = O / l, lse = m + log l */
        for (size_t r = 0; r < rows; r++) {
            float *o = ob + (i0 + r) * HD;
            float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
#pragma omp simd
            for (size_t d = 0; d < D; d++) o[d] *= inv;
            if (lse) lse[bh * Tq + i0 + r] = l[r] > 0.0f ? m[r] + logf(l[r]) : -INFINITY;
        }
    }
}

/* Backward of query head h of batch b (KV head kvh); dbias_h (double, may be
 * NULL) is head h's row of dbias. */
static void attention_backward_head(float *dq, float *dk, float *dv, double *dbias_h,
                                    const float *dout, const float *out, const float *lse,
                                    const float *q, const float *k, const float *v,
                                    const float *bias, const xf_mask *mask, size_t b, size_t h,
                                    size_t Tq, size_t Tk, size_t Tkcap, size_t H, size_t Hkv,
                                    size_t D, float scale) {
    const size_t HD = H * D, KD = Hkv * D, G = H / Hkv, kvh = h / G, NO = Tq + Tk - 1;
    float P[ATT_QB * ATT_KB], dP[ATT_QB * ATT_KB], Di[ATT_QB];
    size_t vis[ATT_QB];
    const float *kb = k + b * Tkcap * KD + kvh * D;
    const float *vb = v + b * Tkcap * KD + kvh * D;
    float *dkb = dk + b * Tkcap * KD + kvh * D;
    float *dvb = dv + b * Tkcap * KD + kvh * D;
    const float *qb = q + b * Tq * HD + h * D;
    const float *dob = dout + b * Tq * HD + h * D;
    const float *ob = out + b * Tq * HD + h * D;
    float *dqb = dq + b * Tq * HD + h * D;
    const float *L = lse + (b * H + h) * Tq;
    const float *bias_h = bias ? bias + h * NO : NULL;
    const uint8_t *pad = mask && mask->key_pad ? mask->key_pad + b * Tk : NULL;
    for (size_t i0 = 0; i0 < Tq; i0 += ATT_QB) {
        size_t rows = i0 + ATT_QB < Tq ? ATT_QB : Tq - i0;
        size_t kend = visible_end(mask, b, i0 + rows - 1, Tk);
        /* forward: out = P v / ... =>  Di = rowsum(dout * out) */
        for (size_t r = 0; r < rows; r++) {
            const float *o = ob + (i0 + r) * HD, *g = dob + (i0 + r) * HD;
            float s = 0.0f;
#pragma omp simd reduction(+ : s)
            for (size_t d = 0; d < D; d++) s += o[d] * g[d];
            Di[r] = s;
        }
        for (size_t j0 = 0; j0 < kend; j0 += ATT_KB) {
            size_t nk = kend - j0 < ATT_KB ? kend - j0 : ATT_KB;
            /* P = exp(scale q k^T + bias - lse), 0 where blocked */
            block_logits(P, vis, qb, kb, bias_h, pad, mask, b, i0, rows, j0, nk, Tq, Tk, HD, KD, D,
                         scale);
            for (size_t r = 0; r < rows; r++) {
                float Lr = L[i0 + r];
                size_t n = Lr == -INFINITY ? 0 : vis[r]; /* a row with no visible key: P = 0 */
                exp_shift(P + r * ATT_KB, pad ? pad + j0 : NULL, Lr, n, nk);
            }
            /* forward: O = P v  =>  dP = dout v^T, dv += P^T dout */
            sgemm_fp32(0, 1, rows, nk, D, 1.0f,
                        dob + i0 * HD, HD, vb + j0 * KD, KD, 0.0f, dP, ATT_KB);
            sgemm_fp32(1, 0, nk, D, rows, 1.0f, P,
                        ATT_KB, dob + i0 * HD, HD, 1.0f, dvb + j0 * KD, KD);
            /* forward: P = softmax(S)  =>  dS = P * (dP - Di) (kept in dP);
             * forward: S = ... + bias  =>  dbias += dS per offset */
            for (size_t r = 0; r < rows; r++) {
                const float *p = P + r * ATT_KB;
                float *ds = dP + r * ATT_KB, di = Di[r];
#pragma omp simd
                for (size_t j = 0; j < nk; j++) ds[j] = p[j] * (ds[j] - di);
                if (dbias_h) {
                    double *dbr = dbias_h + (j0 + Tq - 1 - (i0 + r));
#pragma omp simd
                    for (size_t j = 0; j < vis[r]; j++) dbr[j] += (double)ds[j];
                }
            }
            /* forward: S = scale q k^T  =>  dq += scale dS k, dk += scale dS^T q */
            sgemm_fp32(0, 0, rows, D, nk, scale,
                        dP, ATT_KB, kb + j0 * KD, KD, 1.0f, dqb + i0 * HD, HD);
            sgemm_fp32(1, 0, nk, D, rows, scale,
                        dP, ATT_KB, qb + i0 * HD, HD, 1.0f, dkb + j0 * KD, KD);
        }
    }
}

void attention_backward(float *dq, float *dk, float *dv, double *dbias, const float *dout,
                           const float *out, const float *lse, const float *q, const float *k,
                           const float *v, const float *bias, const xf_mask *mask, size_t B,
                           size_t Tq, size_t Tk, size_t Tkcap, size_t H, size_t Hkv, size_t D,
                           float scale) {
    const size_t G = H / Hkv, NO = Tq + Tk - 1;
    if (dbias) {
        /* dbias[h] sums over the batch: one task per kv-head, b in order */
#pragma omp parallel for schedule(static)
        for (size_t kvh = 0; kvh < Hkv; kvh++)
            for (size_t b = 0; b < B; b++)
                for (size_t h = kvh * G; h < (kvh + 1) * G; h++)
                    attention_backward_head(dq, dk, dv, dbias + h * NO, dout, out, lse, q, k, v,
                                            bias, mask, b, h, Tq, Tk, Tkcap, H, Hkv, D, scale);
    } else {
#pragma omp parallel for schedule(static)
        for (size_t g = 0; g < B * Hkv; g++)
            for (size_t h = (g % Hkv) * G; h < (g % Hkv + 1) * G; h++)
                attention_backward_head(dq, dk, dv, NULL, dout, out, lse, q, k, v, bias, mask,
                                        g / Hkv, h, Tq, Tk, Tkcap, H, Hkv, D, scale);
    }
}
