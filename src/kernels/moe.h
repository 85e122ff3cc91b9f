/* Sparse Mixture-of-Experts FFN: router, top-k, capacity, dispatch, experts,
 * combine, and the router losses, forward and backward (docs/algorithms.md §4).
 *
 * Dimensions: N tokens, C channels, E experts, K experts per token, I expert
 * hidden width, A = N*K assignment slots.
 *
 * Forward, per token t with router input x_t [C]:
 *   xr_t   = x_t * u_t, u_t ~ U(1-jitter, 1+jitter) per channel (jitter > 0), else x_t
 *   l_t    = Wr xr_t                                   [E] router logits
 *   softmax routers:  s_t = softmax(l_t);  p_t = s_t    (p: the "probabilities")
 *   sigmoid router:   s_t = sigmoid(l_t);  p_t = s_t / sum_j s_tj
 *   selection key v_t = s_t (+ bias for sigmoid)
 *   group-limited routing (n_group G > 1, topk_group TG < G; DeepSeek-V2/V3):
 *     the E experts form G groups of E/G consecutive experts; a group's score
 *     is the sum of its two largest keys (sigmoid router, V3) or its largest
 *     key (softmax routers, V2's group-limited greedy); the TG best groups
 *     (ties: lower group first) are the only candidates below
 *   selection S_t: the K largest keys among the candidates, in rank order
 *     (ties: lower expert index first)
 *   weights over the selected, times route_scale:
 *     softmax_topk_renorm  w_i = s_i / sum_{j in S} s_j
 *     softmax_topk         w_i = s_i
 *     sigmoid_topk_norm    w_i = s_i / sum_{j in S} s_j
 *   capacity (capacity_factor > 0): cap = ceil(K*N*cf/E) slots per expert per call
 *     (moe_capacity; computed in double from the float cf as stored);
 *     assignments claim slots in GShard order: all rank-0 choices in token
 *     order, then all rank-1 choices, ...; an assignment over capacity is
 *     dropped (its weight is not redistributed; a token with every assignment
 *     dropped gets y_t = 0, so the residual carries it unchanged)
 *   y_t = sum_{i in S_t, kept} w_i * Expert_i(x_t)      (experts see x_t, never xr_t)
 *   Expert(x) = W2 (act(W1 x) ⊙ W3 x)  gated;  W2 act(W1 x)  plain;  no biases
 * Losses (reported unweighted; the backward takes their weights):
 *   aux = (E/K) * sum_i F_i P_i, F_i = (#tokens selecting i, before capacity)/N,
 *         P_i = mean_t p_ti. Equals 1 at perfect balance; K=1 is Switch's,
 *         E*sum F P (HF Mixtral) = K*aux.
 *   per-sequence aux (seq_aux, DeepSeek-V3's sequence-wise balance loss): the
 *         same sum within each sequence of seq_len tokens (tokens b-major),
 *         averaged over the sequences: aux = mean_b (E/K) sum_i F_bi P_bi.
 *   z   = mean_t logsumexp(l_t)^2
 * Backward: the selection (groups included) is a constant mask; only kept
 * assignments carry the LM gradient g_ti = <dy_t, Expert_i(x_t)> into their
 * weights; aux and z add theirs: d aux/d p_ti = (E/K) F_i / N (per sequence:
 * (E/K) F_bi / (n_seq T_b)), d z/d l_tj = (2/N) lse_t softmax(l_t)_j.
 *
 * Dispatch is sparse: the kept assignments are grouped by expert (in token
 * order within an expert), gathered into xs, and each expert runs one GEMM per
 * weight over its own rows; outputs are scattered back weighted. Memory and
 * compute are O(N*K), not O(N*E), except the [N,E] router tensors. */
#ifndef XF_KERNELS_MOE_H
#define XF_KERNELS_MOE_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/config.h"

typedef struct {
    size_t E, K, C, I;
    xf_router_type router;
    int gated;            /* 1: W1 gate, W3 up, W2 down; 0: W1 in, W2 out (W3 unused) */
    xf_act act;
    float route_scale;    /* multiplies the weights (1 = none) */
    float capacity_factor;/* 0 = dropless */
    float jitter;         /* 0 = none (use it only while training) */
    size_t w_stride;      /* floats from expert e's W1 to expert e+1's (same for W2, W3 and
                           * for dW1, dW2, dW3); I*C when the experts are contiguous */
    size_t n_group;       /* G expert groups (0 or 1: no group limit); G divides E */
    size_t topk_group;    /* TG groups a token may use (TG >= G: no limit) */
    int seq_aux;          /* 1: the aux loss per sequence of seq_len tokens */
    size_t seq_len;       /* tokens per sequence of this call (seq_aux; 0 = the whole call) */
    struct xf_moe_world *world; /* NULL: this call is the whole batch; else its share (below) */
} xf_moe_dims;

/* Data parallelism (docs/scale-out.md §MoE): the call holds rank `rank`'s N
 * tokens of a global batch of size*N (ranks in order), and routing decisions
 * that depend on the whole batch are taken on it: the loads of the aux loss,
 * the capacity (GShard order over the global batch), the 1/N of the aux and z
 * losses, the jitter stream of a token (its global index). `allgather` gives
 * every rank's n counts in rank order (all: [size*n]); it returns nonzero on
 * failure, which sets `failed` (the call then routes as if alone). */
typedef struct xf_moe_world {
    int rank, size;
    int (*allgather)(const int32_t *mine, int32_t *all, size_t n);
    int32_t *scratch;     /* [(size + 1) * K * E] */
    int failed;
} xf_moe_world;

/* Carve, forward and backward take the same dims, except that a forward may
 * turn jitter off (jitter = 0, evaluation) on an act carved with jitter > 0.
 * The caller checks 1 <= K <= E, N*K < 2^31 (int32 slot and token ids) and the
 * BLAS dimensions < INT_MAX. */

/* Saved forward state for one MoE layer and N tokens, carved from one float
 * block of moe_act_floats(N, d) floats by moe_carve (int32 arrays share
 * the float block; every array starts 64-byte aligned when base is). A forward
 * may use fewer tokens than were carved. Valid until the next forward with the
 * same act. Sizes use A = N*K; arrays indexed by slot hold start[E] <= A used
 * rows. */
typedef struct {
    size_t N;             /* tokens of the last forward (0 after carving) */
    int jittered;         /* the last forward applied jitter (xr, u hold its noise) */
    float *xr;            /* [N,C] router input x*u (jitter > 0 only, else NULL: the router reads x) */
    float *u;             /* [N,C] jitter multipliers (jitter > 0 only, else NULL) */
    float *logits;        /* [N,E] */
    float *s;             /* [N,E] softmax or sigmoid scores */
    float *p;             /* [N,E] probabilities for aux (sigmoid: normalised s; else the same
                           * array as s) */
    float *lse;           /* [N] logsumexp of the logits */
    int32_t *sel;         /* [N,K] selected experts in rank order; -1 where dropped */
    int32_t *choice;      /* [N,K] selected experts before capacity (never -1) */
    float *w;             /* [N,K] combine weights (route_scale included; kept or not) */
    int32_t *load;        /* [E] tokens selecting each expert, before capacity */
    int32_t *seq_load;    /* [N,E] per sequence b, row b: its tokens' choices (seq_aux only) */
    float *gscore;        /* [N,G] group scores (group-limited routing only) */
    int32_t *gsel;        /* [N,G] 1 where the group is a candidate (group-limited only) */
    int32_t *count;       /* [E] kept assignments per expert */
    int32_t *start;       /* [E+1] first slot of each expert; start[E] = kept total */
    int32_t *slot_tok;    /* [A] token of each slot, grouped by expert, token order inside */
    int32_t *slot_k;      /* [A] rank of each slot's assignment */
    int32_t *slot_of;     /* [N,K] slot of each assignment (the inverse of slot_tok, slot_k);
                           * -1 where dropped */
    float *xs;            /* [A,C] gathered expert inputs */
    float *h1, *h3, *hh;  /* [A,I] W1 out, W3 out (gated only, else unused), activation out */
    float *ys;            /* [A,C] expert outputs before weighting */
} xf_moe_act;

/* Results of one forward. */
typedef struct {
    double aux, z;        /* unweighted losses */
    double entropy;       /* sum over tokens of -sum_j p_tj log p_tj */
    size_t assigned, dropped;
} xf_moe_out;

size_t moe_act_floats(size_t N, const xf_moe_dims *d);
void moe_carve(xf_moe_act *a, float *base, size_t N, const xf_moe_dims *d);
/* Scratch floats the backward needs (per call, not saved). */
size_t moe_scratch_floats(size_t N, const xf_moe_dims *d);
/* Slots per expert for a call with N tokens: ceil(K*N*cf/E) clamped to N, or N
 * (no limit: a token selects an expert at most once) when capacity_factor <= 0. */
size_t moe_capacity(size_t N, const xf_moe_dims *d);

/* out [N,C] = y (WRITES, does not add the residual). x [N,C]; wr [E,C];
 * bias [E] (sigmoid router's selection bias; the softmax routers ignore it) or
 * NULL; w1, w2, w3 point at expert 0's [I,C], [C,I], [I,C] weights (w3 NULL
 * when plain). res may be NULL (the statistics are then not computed).
 * jitter_seed seeds the jitter noise: u depends on (jitter_seed, token) only,
 * not on the thread count. */
void moe_forward(float *out, xf_moe_act *a, xf_moe_out *res, const float *x, const float *wr,
                    const float *bias, const float *w1, const float *w2, const float *w3, size_t N,
                    const xf_moe_dims *d, uint64_t jitter_seed);

/* Backward of the last forward with this act (its N, choice, drops and, if it
 * jittered, its noise; dims as in that forward). dout [N,C] = dL/dy. aux_w, z_w
 * are the weights of aux and z in L (coefficient * loss scale).
 * dx [N,C] += (experts' and router's input gradients); dwr, dw1, dw2, dw3 +=.
 * dw3 NULL when plain. scratch: moe_scratch_floats(N, d) floats. */
void moe_backward(float *dx, float *dwr, float *dw1, float *dw2, float *dw3, const float *dout,
                     const xf_moe_act *a, const float *x, const float *wr, const float *w1,
                     const float *w2, const float *w3, const xf_moe_dims *d, float aux_w, float z_w,
                     float *scratch);

#endif
