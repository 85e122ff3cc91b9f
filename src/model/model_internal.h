/* Private layout of xf_model: the parameter table, per-layer views and the
 * activation arena plan. See docs/architecture.md. */
#ifndef XF_MODEL_INTERNAL_H
#define XF_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "xfmr/model.h"

/* Pointers to one decoder block's tensors (into the parameter arena, or, with
 * the same offsets, into the gradient arena). NULL when absent from the config.
 * Shapes: Q = H*D, KV = Hkv*D, I = intermediate size. */
typedef struct {
    float *ln1_w, *ln1_b;             /* [C]             input_layernorm */
    float *wq, *bq;                   /* [Q,C], [Q]      self_attn.q_proj */
    float *wk, *bk;                   /* [KV,C], [KV]    self_attn.k_proj */
    float *wv, *bv;                   /* [KV,C], [KV]    self_attn.v_proj */
    float *wo, *bo;                   /* [C,Q], [C]      self_attn.o_proj */
    float *ln2_w, *ln2_b;             /* [C]             post_attention_layernorm */
    float *wg, *bg;                   /* [I,C], [I]      mlp.gate_proj (gated only) */
    float *wu, *bu;                   /* [I,C], [I]      mlp.up_proj */
    float *wd, *bd;                   /* [C,I], [C]      mlp.down_proj */
} xf_layer_w;

/* Model-level tensors. */
typedef struct {
    float *wte;                       /* [V,C] model.embed_tokens */
    float *wpe;                       /* [P,C] model.embed_positions (learned only) */
    float *lnf_w, *lnf_b;             /* [C]   model.norm (pre placement only) */
    float *head;                      /* [V,C] lm_head, or wte when tied */
} xf_top_w;

/* One block's saved activations; N = B*T rows. */
typedef struct {
    float *n1, *n1_mean, *n1_rstd;    /* [N,C], [N], [N] first norm output and stats */
    float *q, *k, *v;                 /* [N,Q], [N,KV], [N,KV] after RoPE */
    float *att;                       /* [B,H,T,T] attention probabilities */
    float *atty;                      /* [N,Q] attention output, heads concatenated */
    float *r1;                        /* [N,C] res_in + o_proj(atty) */
    float *n2, *n2_mean, *n2_rstd;    /* [N,C], [N], [N] second norm output and stats */
    float *fg, *fu, *fh;              /* [N,I] gate pre-act, up, hidden after act/GLU */
    float *r2;                        /* [N,C] FFN residual sum (post placement only) */
} xf_layer_act;

struct xf_model {
    xf_config cfg;
    size_t C, Q, KV, I, V, D, L;

    xf_param_info *table;             /* [ntensors] */
    size_t ntensors;
    size_t nparams;
    float *params;                    /* [nparams] */
    float *grads;                     /* [nparams] or NULL */
    xf_top_w w, g;                    /* views into params / grads */
    xf_layer_w *lw, *lg;              /* [L] views into params / grads */

    /* activation arena, sized by xf_model_reserve */
    float *arena;
    size_t arena_floats;
    size_t B, T;                      /* reserved shape */
    int training;
    float **res;                      /* [L+1] residual stream, each [N,C] (training) */
    xf_layer_act *acts;               /* [L] (training) or [1] reused (inference) */
    float *hf, *hf_mean, *hf_rstd;    /* [N,C], [N], [N] final norm */
    float *logits;                    /* [N,V] (reused in place as dlogits) */
    float *loss_rows, *lse;           /* [N] */
    int32_t *inputs, *targets;        /* [N] copies of the last batch */
    float *rope_cos, *rope_sin;       /* [P, D/2] (rope only) */
    /* backward scratch */
    float *d_res, *d_x, *d_n;         /* [N,C] */
    float *d_atty, *d_q, *d_k, *d_v;  /* [N,Q], [N,Q], [N,KV], [N,KV] */
    float *d_fh, *d_fg, *d_fu;        /* [N,I] */
    float *att_scratch;
    size_t att_scratch_floats;
    size_t last_valid;                /* valid targets of the last forward */
    size_t B_last, T_last;            /* shape of the last forward */
    int have_targets;

    /* KV cache (inference, batch 1) */
    float *cache;                     /* owns kcache/vcache/ inference buffers */
    size_t cache_T;
    float **kcache, **vcache;         /* [L] each [Tmax, KV] */
    float *dec_logits;                /* [V] */
};

/* params.c: build the table for cfg; on success *table is malloc'd. */
xf_status xf_params_build(const xf_config *cfg, xf_param_info **table, size_t *n, size_t *nparams);
/* Point the views of `base` (params or grads arena) using the table. */
void xf_params_views(const xf_model *m, float *base, xf_top_w *top, xf_layer_w *layers);

/* block.c: the configured norm (LayerNorm or RMSNorm) over N rows of C;
 * mean may be NULL for RMSNorm. Used by the blocks and the final norm. */
void xf_model_norm_forward(const xf_model *m, float *out, float *mean, float *rstd,
                           const float *inp, const float *w, const float *b, size_t N);
void xf_model_norm_backward(const xf_model *m, float *dinp, float *dw, float *db,
                            const float *dout, const float *inp, const float *w,
                            const float *mean, const float *rstd, size_t N);

/* block.c: one decoder block, forward and backward.
 * res_in [N,C] -> res_out [N,C]. k/v are written at kv + pos0*KV (batch stride kvcap*KV). */
void xf_block_forward(xf_model *m, size_t l, xf_layer_act *a, const float *res_in, float *res_out,
                      float *kbuf, float *vbuf, size_t kvcap, size_t B, size_t T, size_t pos0);
/* d_res holds d(res_out) on entry and d(res_in) on return. */
void xf_block_backward(xf_model *m, size_t l, const xf_layer_act *a, const float *res_in,
                       float *d_res, size_t B, size_t T);

#endif
