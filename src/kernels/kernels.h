/* xfmr kernels: forward/backward pairs, one layer per file.
 *
 * Dimension legend
 *   B batch, T sequence length (Tq queries, Tk keys), N = B*T rows,
 *   C channels (hidden size), OC output channels, V vocab, H query heads,
 *   Hkv key/value heads, D head dim (C = H*D for self-attention).
 * Layout: row-major, last index fastest. Activations are [N, C] with the
 * token index n = b*T + t. Linear weights are [OC, C] like torch.nn.Linear.
 *
 * The += rule: every backward ACCUMULATES (+=) into every gradient it writes,
 * parameter gradients and input gradients alike. The trainer zeroes parameter
 * gradients once per step and the model zeroes activation gradients before a
 * backward pass. The one exception is xent_backward, documented there.
 *
 * Kernels never allocate and never fail: shapes are checked by the caller.
 * Index arithmetic is size_t. OpenMP parallelises over rows inside kernels;
 * sgemm (gemm.h: runtime-dispatched, packed) does the linear layers' matrix
 * multiplies and attention's block products; OpenBLAS (OpenMP build) only the
 * one-row products of decoding (sgemv). */
#ifndef XF_KERNELS_H
#define XF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/config.h" /* xf_act */
#include "xfmr/mask.h"   /* xf_mask_kind */

/* XF_SIMD_CLONES on an elementwise loop function: GCC compiles it three times
 * (AVX-512, AVX2, the build's baseline) and an ifunc picks the widest the CPU
 * runs, so `omp simd` loops use 16 lanes on AVX-512 CPUs in a generic x86-64
 * build (docs/benchmarks.md §Elementwise kernels). ISO C mode keeps FMA
 * contraction off (-ffp-contract=off), so an elementwise loop gives the same
 * bits on every clone; `omp simd` reductions differ only in summation order.
 * Empty elsewhere (clang's fuzz build, other architectures, NATIVE builds). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX512F__)
#define XF_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define XF_SIMD_CLONES
#endif

/* Target value meaning "no loss at this position". */
#define XF_IGNORE_INDEX (-1)

/* Large finite negative added to blocked attention logits (docs/algorithms.md §1). */
#define XF_MASK_NEG (-1e9f)

/* ---- embed.c ------------------------------------------------------------ */
/* out[n,:] = wte[tokens[n],:]   tokens [N] (each in [0,V)), wte [V,C], out [N,C] */
void embedding_forward(float *out, const int32_t *tokens, const float *wte, size_t N, size_t C);
/* dwte[tokens[n],:] += dout[n,:] */
void embedding_backward(float *dwte, const float *dout, const int32_t *tokens, size_t N, size_t C);
/* Learned positions: out[b,t,:] += wpe[pos0+t,:]   out [B,T,C], wpe [P,C] with pos0+T <= P */
void posemb_forward(float *out, const float *wpe, size_t B, size_t T, size_t C, size_t pos0);
/* dwpe[pos0+t,:] += sum_b dout[b,t,:] */
void posemb_backward(float *dwpe, const float *dout, size_t B, size_t T, size_t C, size_t pos0);
/* Positions given per token (GLM's 2D positions): out[n,:] += table[ids[n],:],
 * ids [N] each in [0,P), table [P,C]. Its backward is embedding_backward(dtable, dout, ids, N, C). */
void embed_add_forward(float *out, const int32_t *ids, const float *table, size_t N, size_t C);

/* ---- linear.c ----------------------------------------------------------- */
/* out[N,OC] = inp[N,C] @ w[OC,C]^T + b[OC]   (b may be NULL) */
void matmul_forward(float *out, const float *inp, const float *w, const float *b, size_t N,
                       size_t C, size_t OC);
/* dinp += dout @ w; dw += dout^T @ inp; db += sum_n dout. dinp, db may be NULL. */
void matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, size_t N, size_t C, size_t OC);
/* The same with dinp = dout @ w WRITTEN (not accumulated; dinp not NULL): spares
 * zeroing dinp first. dw and db accumulate as above. */
void matmul_backward_write(float *dinp, float *dw, float *db, const float *dout,
                              const float *inp, const float *w, size_t N, size_t C, size_t OC);

/* ---- layernorm.c -------------------------------------------------------- */
/* out = (x-mean)*rstd*w + b per row; caches mean[N], rstd[N]. b may be NULL. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, size_t N, size_t C, float eps);
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, size_t N,
                           size_t C);

/* ---- rmsnorm.c ---------------------------------------------------------- */
/* out = x * rstd * w, rstd = 1/sqrt(mean(x^2)+eps); caches rstd[N]. */
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, size_t N,
                        size_t C, float eps);
void rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, const float *rstd, size_t N, size_t C);

/* ---- act.c -------------------------------------------------------------- */
/* out[i] = act(inp[i]) over n elements */
void act_forward(float *out, const float *inp, size_t n, xf_act act);
void act_backward(float *dinp, const float *dout, const float *inp, size_t n, xf_act act);
/* Gated unit: out[i] = act(g[i]) * u[i]  (SwiGLU with silu, GEGLU with gelu) */
void glu_forward(float *out, const float *g, const float *u, size_t n, xf_act act);
void glu_backward(float *dg, float *du, const float *dout, const float *g, const float *u,
                     size_t n, xf_act act);
/* The same two backwards WRITING their gradients (=, not +=): they spare the
 * caller zeroing them first. */
void act_backward_write(float *dinp, const float *dout, const float *inp, size_t n,
                           xf_act act);
void glu_backward_write(float *dg, float *du, const float *dout, const float *g,
                           const float *u, size_t n, xf_act act);
/* x[i] = exp(x[i]) in place, vectorised (libm's expf is not). About 2 ulp;
 * x > 88.37 gives +inf, x < -87.33 gives 0, NaN stays NaN. Shared by the
 * softmax in attention.c and loss.c. */
void xf_exp_inplace(float *x, size_t n);

/* ---- residual.c --------------------------------------------------------- */
/* out = a + b over n elements (out may alias a or b) */
void residual_forward(float *out, const float *a, const float *b, size_t n);
/* da += dout; db += dout */
void residual_backward(float *da, float *db, const float *dout, size_t n);

/* ---- rope.c ------------------------------------------------------------- */
/* Rotary tables for HF's rotate_half layout: for position p < P and i < D/2,
 * cos[p*(D/2)+i] = cos(p*theta^(-2i/D)), sin likewise. Angles in double. */
void rope_table(float *cos_t, float *sin_t, size_t P, size_t D, float theta);
/* In place on x [N, nh, D] where row n = b*T + t has position pos0 + t:
 *   out[i]     = x[i]*cos - x[i+D/2]*sin
 *   out[i+D/2] = x[i+D/2]*cos + x[i]*sin          (i < D/2) */
void rope_forward(float *x, const float *cos_t, const float *sin_t, size_t N, size_t T,
                     size_t nh, size_t D, size_t pos0);
/* In place on dx: the transpose (rotation by the negative angle). Unlike the
 * others this transforms rather than accumulates: dx holds d(out) on entry and
 * d(x) on return. */
void rope_backward(float *dx, const float *cos_t, const float *sin_t, size_t N, size_t T,
                      size_t nh, size_t D, size_t pos0);

/* ---- attention.c -------------------------------------------------------- */
typedef struct {
    xf_mask_kind kind;
    const int32_t *prefix_len; /* [B], XF_MASK_PREFIX only */
    const uint8_t *key_pad;    /* [B, Tk], nonzero = padding key (always blocked); NULL = none */
    size_t past;               /* query i has absolute position past + i (KV cache) */
} xf_mask;

/* Multi-head attention with GQA (query head h uses KV head h / (H/Hkv)),
 * flash style: nothing of size Tq*Tk is stored (attention.c).
 *   q   [B, Tq, H, D]      (token rows of H*D floats)
 *   k,v [B, Tkcap, Hkv, D] of which the first Tk rows per batch are used (Tkcap >= Tk,
 *       the KV-cache capacity; pass Tk for plain training buffers)
 *   out [B, Tq, H, D]
 *   lse [B, H, Tq] or NULL: per-row logsumexp of the visible logits, saved for
 *       the backward (-inf for a row with no visible key)
 *   bias: NULL or [H, Tq+Tk-1], an additive logit bias that depends on the
 *       offset j - i only (T5), entry bias[h, j - i + Tq - 1], shared across the batch
 * S = scale * q k^T + bias + mask; out = softmax(S) v. A fully blocked row
 * gives zeros. */
void attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                          const float *bias, const xf_mask *mask, size_t B, size_t Tq, size_t Tk,
                          size_t Tkcap, size_t H, size_t Hkv, size_t D, float scale);
/* dq += ..., dk += ..., dv += ..., dbias += (if non-NULL; [H, Tq+Tk-1] in double,
 * summed over the batch and every (i, j) of the offset) from the forward's out
 * and lse and the same inputs. k, v, dk, dv use the same [B, Tkcap, Hkv, D] layout. */
void attention_backward(float *dq, float *dk, float *dv, double *dbias, const float *dout,
                           const float *out, const float *lse, const float *q, const float *k,
                           const float *v, const float *bias, const xf_mask *mask, size_t B,
                           size_t Tq, size_t Tk, size_t Tkcap, size_t H, size_t Hkv, size_t D,
                           float scale);

/* ---- loss.c ------------------------------------------------------------- */
/* Cross-entropy of logits [N,V] against targets [N] (XF_IGNORE_INDEX skipped).
 * Writes per-row loss[n] (0 for ignored rows) and lse[n] = logsumexp(logits[n]).
 * Returns the number of valid rows. */
size_t xent_forward(float *loss, float *lse, const float *logits, const int32_t *targets,
                       size_t N, size_t V);
/* dlogits[n,:] = scale * (softmax(logits[n]) - onehot(targets[n])) for valid rows, 0 for
 * ignored rows. WRITES (does not accumulate), and dlogits may alias logits so
 * the [N,V] buffer is reused in place. Typically scale = 1/valid_count. */
void xent_backward(float *dlogits, const float *logits, const float *lse,
                      const int32_t *targets, size_t N, size_t V, float scale);

#endif
