/* Token and learned position embeddings.
 *
 * Shapes
 *   tokens [N] (each in [0,V)), wte [V,C], out [N,C] with n = b*T + t
 *   wpe [P,C], positions pos0..pos0+T-1 (pos0+T <= P; pos0 > 0 with a KV cache)
 * Nothing is cached: backward needs only the token ids.
 *
 * Maths
 *   embed:  out[n,:]   = wte[tokens[n],:]
 *   posemb: out[b,t,:] += wpe[pos0+t,:]
 *   embed_add: out[n,:] += table[ids[n],:]   (positions given per token: GLM's
 *           position and block position ids, docs/objectives.md §GLM)
 * so d wte[v,:] = sum over the n with tokens[n] == v of dout[n,:], and
 * d wpe[pos0+t,:] = sum_b dout[b,t,:]. Backward accumulates (+=).
 *
 * Threads: forward splits rows. embed backward splits CHANNEL blocks (several
 * rows may share one token, so splitting rows would race on dwte) and each
 * thread walks every row in order, so the sum order is fixed whatever the thread
 * count. posemb backward splits positions t, each summing b = 0..B-1 in order. */
#include <string.h>

#include "core/parallel.h"
#include "kernels/kernels.h"

/* channels per task in embedding_backward */
#define EMBED_CBLOCK 64

void embedding_forward(float *out, const int32_t *tokens, const float *wte, size_t N, size_t C) {
#pragma omp parallel for if (N * C >= XF_PAR_MIN)
    for (size_t n = 0; n < N; n++) {
        memcpy(out + n * C, wte + (size_t)tokens[n] * C, C * sizeof(float));
    }
}

void embedding_backward(float *dwte, const float *dout, const int32_t *tokens, size_t N, size_t C) {
    size_t nblocks = (C + EMBED_CBLOCK - 1) / EMBED_CBLOCK;
#pragma omp parallel for if (N * C >= XF_PAR_MIN)
    for (size_t blk = 0; blk < nblocks; blk++) {
        size_t c0 = blk * EMBED_CBLOCK;
        size_t c1 = c0 + EMBED_CBLOCK < C ? c0 + EMBED_CBLOCK : C;
        for (size_t n = 0; n < N; n++) {
            /* forward: out[n,:] = wte[tokens[n],:] */
            float *dw = dwte + (size_t)tokens[n] * C;
            const float *dn = dout + n * C;
#pragma omp simd
            for (size_t c = c0; c < c1; c++) dw[c] += dn[c];
        }
    }
}

void embed_add_forward(float *out, const int32_t *ids, const float *table, size_t N, size_t C) {
#pragma omp parallel for if (N * C >= 16384)
    for (size_t n = 0; n < N; n++) {
        float *o = out + n * C;
        const float *p = table + (size_t)ids[n] * C;
#pragma omp simd
        for (size_t c = 0; c < C; c++) o[c] += p[c];
    }
}

/* embed_add's backward: d table[ids[n],:] += dout[n,:], which is embedding_backward. */

void posemb_forward(float *out, const float *wpe, size_t B, size_t T, size_t C, size_t pos0) {
    size_t N = B * T;
#pragma omp parallel for if (N * C >= XF_PAR_MIN)
    for (size_t n = 0; n < N; n++) {
        float *o = out + n * C;
        const float *p = wpe + (pos0 + n % T) * C;
#pragma omp simd
        for (size_t c = 0; c < C; c++) o[c] += p[c];
    }
}

void posemb_backward(float *dwpe, const float *dout, size_t B, size_t T, size_t C, size_t pos0) {
#pragma omp parallel for if (B * T * C >= XF_PAR_MIN)
    for (size_t t = 0; t < T; t++) {
        float *dp = dwpe + (pos0 + t) * C;
        for (size_t b = 0; b < B; b++) {
            /* forward: out[b,t,:] += wpe[pos0+t,:] */
            const float *dn = dout + (b * T + t) * C;
#pragma omp simd
            for (size_t c = 0; c < C; c++) dp[c] += dn[c];
        }
    }
}
