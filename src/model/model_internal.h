/* Private layout of xf_model: the parameter table, per-layer views, the stacks
 * and the activation arena plan. See docs/architecture.md. */
#ifndef XF_MODEL_INTERNAL_H
#define XF_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/moe.h"
#include "kernels/qmat.h"
#include "xfmr/model.h"

/* Stacks: an encoder (bidirectional self-attention) and a decoder (causal or
 * prefix self-attention, plus cross-attention in an encoder-decoder). */
enum { XF_ENC = 0, XF_DEC = 1 };

/* Pointers to one block's tensors (into the parameter arena, or, with the same
 * offsets, into the gradient arena). NULL when absent from the config.
 * Shapes: Q = H*D, KV = Hkv*D, I = this layer's dense FFN width (the shared
 * experts' width in an MoE layer), Ie = expert width, E experts. */
typedef struct {
    float *ln1_w, *ln1_b;             /* [C]             N1 (input_layernorm) */
    float *wq, *bq;                   /* [Q,C], [Q]      self_attn.q_proj */
    float *wk, *bk;                   /* [KV,C], [KV]    self_attn.k_proj */
    float *wv, *bv;                   /* [KV,C], [KV]    self_attn.v_proj */
    float *wo, *bo;                   /* [C,Q], [C]      self_attn.o_proj */
    float *relb;                      /* [NB,H]          relative bias table (layer 0 of a stack) */
    float *lnx_w, *lnx_b;             /* [C]             Nx, cross-attention norm */
    float *cq, *cbq, *ck, *cbk;       /* [Q,C], [KV,C]   cross-attention (k, v read the encoder) */
    float *cv, *cbv, *co, *cbo;       /* [KV,C], [C,Q] */
    float *ln2_w, *ln2_b;             /* [C]             N2 (post_attention_layernorm) */
    float *wg, *bg;                   /* [I,C], [I]      mlp.gate_proj (gated only) */
    float *wu, *bu;                   /* [I,C], [I]      mlp.up_proj */
    float *wd, *bd;                   /* [C,I], [C]      mlp.down_proj */
    float *wr;                        /* [E,C]           router (block_sparse_moe.gate) */
    float *ebias;                     /* [E]             sigmoid router's balancing bias */
    float *ew1, *ew2, *ew3;           /* expert 0's w1 [Ie,C], w2 [C,Ie], w3 [Ie,C]; stride moe.w_stride */
} xf_layer_w;

/* A block's linear weights in the decode format (model_qdecode.c); data
 * NULL: that weight is absent or stays on the f32 BLAS path. */
typedef struct {
    xf_qmat wq, wk, wv, wo, cq, ck, cv, co, wg, wu, wd;
} xf_layer_q;

/* What a layer is: which stack, its index there, and its sublayers. */
typedef struct {
    int stack;                        /* XF_ENC or XF_DEC */
    size_t idx;                       /* index within the stack */
    int cross;                        /* has cross-attention (encoder-decoder decoder) */
    int moe;                          /* the FFN is a Mixture of Experts */
    size_t I;                         /* dense FFN width (0: none, an MoE layer without shared experts) */
    size_t moe_i;                     /* index among MoE layers (moe only) */
} xf_layer_info;

/* Model-level tensors; [2] arrays are indexed by stack. */
typedef struct {
    float *wte;                       /* [V,C] token embeddings (shared by both stacks) */
    float *wpe[2];                    /* [P+offset,C] learned positions */
    float *wtt;                       /* [TV,C] token types */
    float *embn_w[2], *embn_b[2];     /* [C] embedding norm */
    float *lnf_w[2], *lnf_b[2];       /* [C] final norm (pre placement) */
    float *mlm_w, *mlm_b;             /* [C,C], [C] MLM transform */
    float *mlmn_w, *mlmn_b;           /* [C] MLM transform norm */
    float *head;                      /* [V,C] lm_head, or wte when tied */
    float *head_b;                    /* [V] lm_head bias */
    float *wbpe;                      /* [P,C] GLM block positions */
} xf_top_w;

/* Where a table row's pointer goes: the top struct or layer `layer`'s struct,
 * at byte offset `field` (SIZE_MAX: no view, e.g. experts after the first). */
typedef struct {
    int top;
    size_t layer, field;
} xf_param_slot;

/* One block's saved activations for N = B*T rows (the stack's T). */
typedef struct {
    float *n1, *n1_mean, *n1_rstd;    /* [N,C], [N], [N] N1 output and stats */
    float *q, *k, *v;                 /* [N,Q], [N,KV], [N,KV] after RoPE */
    float *lse;                       /* [B,H,T] attention row logsumexp (flash backward) */
    float *atty;                      /* [N,Q] attention output, heads concatenated */
    float *r1;                        /* [N,C] res_in + o_proj(atty) */
    float *nx, *nx_mean, *nx_rstd;    /* cross: Nx output and stats */
    float *cq, *ck, *cv;              /* [N,Q], [B*S,KV], [B*S,KV] cross q and encoder k, v */
    float *clse;                      /* [B,H,T] cross-attention row logsumexp */
    float *catty;                     /* [N,Q] */
    float *rx;                        /* [N,C] stream + cross o_proj(catty) */
    float *n2, *n2_mean, *n2_rstd;    /* [N,C], [N], [N] N2 output and stats */
    float *fg, *fu, *fh;              /* [N,I] gate pre-act, up, hidden after act/GLU */
    float *r2;                        /* [N,C] FFN residual sum (post placement only) */
} xf_layer_act;

/* Per-call context of one stack's pass. */
typedef struct {
    size_t B, T;                      /* rows and tokens per row */
    size_t pos0, kvcap;               /* KV-cache position and capacity (training: 0, T) */
    xf_mask mask;                     /* self-attention mask */
    const float *bias;                /* [H,T+Tk-1] relative bias per offset, or NULL */
    double *dbias;                    /* backward: [H,2T-1] accumulates, or NULL */
    size_t S, Scap;                   /* cross: encoder tokens per row, and the k/v row capacity */
    xf_mask xmask;                    /* cross-attention mask (bidirectional + source padding) */
    const float *enc;                 /* [B*S,C] encoder output (training forward) or NULL */
    float *d_enc;                     /* backward: [B*S,C] accumulates */
    float aux_scale;                  /* backward: loss scale of the MoE losses */
} xf_pass;

/* Accumulated MoE statistics of one MoE layer (see xf_moe_stats). */
typedef struct {
    double *tokens;                   /* [E] */
    double *load;                     /* [E] selections since the last bias update */
    double assigned, dropped, entropy, aux, z;
    size_t tokens_seen, forwards;
    double last_aux, last_z;          /* of the last forward */
} xf_moe_acc;

struct xf_model {
    xf_config cfg;
    size_t C, Q, KV, I, V, D, L;      /* L = all layers, encoder first */
    size_t V_live;                    /* ids in use; logits [V_live, V) are -inf (0: all) */
    size_t Lenc, Ldec;                /* layers per stack */
    size_t nmoe;                      /* MoE layers */
    float scale;                      /* attention logit scale */
    xf_moe_dims moe;                  /* expert dimensions (nmoe > 0) */

    xf_param_info *table;             /* [ntensors] */
    xf_param_slot *slots;             /* [ntensors] */
    size_t ntensors;
    size_t nparams;
    float *params;                    /* [nparams] */
    float *grads;                     /* [nparams] or NULL */
    xf_top_w w, g;                    /* views into params / grads */
    xf_layer_w *lw, *lg;              /* [L] views into params / grads */
    xf_layer_info *li;                /* [L] */
    xf_moe_acc *macc;                 /* [nmoe] */
    size_t *moe_layer;                /* [nmoe] layer index of each MoE layer */
    uint64_t noise_seed;

    /* activation arena, sized by xf_model_reserve_ex */
    float *arena;
    size_t arena_floats;
    size_t B, T, S;                   /* reserved shape (S: encoder-decoder source) */
    int training;
    float **sres[2];                  /* per stack stream buffers [nl+1] (training) or [2] (inference) */
    xf_layer_act *acts;               /* [L] (training) or [2] one per stack, reused (inference) */
    xf_moe_act *moe_acts;             /* [nmoe] saved MoE state of each MoE layer */
    float *moe_y;                     /* [N,C] MoE output before it joins the stream */
    float *hf, *hf_mean, *hf_rstd;    /* [N,C], [N], [N] final norm of the main stack */
    float *henc, *henc_mean, *henc_rstd; /* [B*S,C] encoder final norm (enc-dec) */
    float *emb_pre[2];                /* [N,C] embeddings before the embedding norm */
    float *emb_mean[2], *emb_rstd[2];
    float *mt, *mt_pre, *mt_mean, *mt_rstd; /* MLM transform: [N,C] out, pre-norm act input... */
    float *mt_lin;                    /* [N,C] dense output before the activation */
    float *logits;                    /* [N,V] (reused in place as dlogits) */
    float *loss_rows, *lse;           /* [N] */
    int32_t *inputs, *targets;        /* [N] copies of the last batch */
    int32_t *types;                   /* [N] token types */
    int32_t *src;                     /* [B*S] encoder inputs */
    int32_t *prefix;                  /* [B] prefix lengths */
    int32_t *posids, *blkids;         /* [N] GLM position / block position ids of the last batch */
    int use_pos, use_blk;             /* the last batch gave them (else t + pos0, and block 0) */
    uint8_t *kpad, *spad;             /* [B,T], [B,S] key padding (1 = padding) */
    int use_kpad, use_spad;
    float *rope_cos, *rope_sin;       /* [P, D/2] (rope only) */
    float *bias[2];                   /* relative bias per stack and offset [H,2T-1] / [H,2S-1] */
    double *dbias[2];                 /* its gradient (training) */
    /* backward scratch */
    float *d_res, *d_x, *d_n;         /* [N,C] (N over the larger stack) */
    float *d_atty, *d_q, *d_k, *d_v;  /* [N,Q], [N,Q], [N,KV], [N,KV] */
    float *d_ck, *d_cv, *d_enc;       /* [B*S,KV] x2, [B*S,C] */
    float *d_fh, *d_fg, *d_fu;        /* [N,I] */
    float *moe_scratch;
    size_t last_valid;                /* valid targets of the last forward */
    size_t B_last, T_last, S_last;    /* shape of the last forward */
    int have_targets;

    /* decode weights (xf_model_set_decode_dtype): used by inference forwards */
    xf_wtype qdt;
    uint8_t *qbuf;                    /* owns the non-f32 compact copies */
    xf_layer_q *lq;                   /* [L] or NULL */
    xf_qmat hq;                       /* LM head */
    uint8_t *qscratch;                /* inference arena: q8_0 copy of a linear's input rows */

    /* KV cache (inference) */
    float *cache;                     /* owns kcache/vcache/ckv and decode logits */
    size_t cache_T, cache_S, beams;
    float **kcache, **vcache;         /* [L] each [beams, Tmax, KV] (decoder layers) */
    float **ckc, **cvc;               /* [L] each [beams, Smax, KV] cross k/v (enc-dec) */
    float *cache_tmp;                 /* [beams*max(Tmax,Smax)*KV] for reorder */
    size_t enc_S;                     /* source length of the last encode */
    int32_t *cache_prefix;            /* [beams] prefix_lm prefix length */
    float *dec_logits;                /* [beams, V] */
};

/* params.c: build the table for cfg; on success *table and *slots are malloc'd. */
xf_status params_build(const xf_config *cfg, xf_param_info **table, xf_param_slot **slots,
                          size_t *n, size_t *nparams);
/* Total parameters without building anything; 0 on size_t overflow. *largest
 * (may be NULL) gets the config fields behind the biggest part of the model. */
size_t params_count(const xf_config *cfg, char *largest, size_t cap);
/* Point the views of `base` (params or grads arena) using the table. */
void params_views(const xf_model *m, float *base, xf_top_w *top, xf_layer_w *layers);
/* Layer kinds for cfg: info [L] (encoder layers first). */
void params_layers(const xf_config *cfg, xf_layer_info *info);

/* block.c: the configured norm (LayerNorm or RMSNorm) over N rows of C;
 * mean may be NULL for RMSNorm. Used by the blocks and the final norm. */
void model_norm_forward(const xf_model *m, float *out, float *mean, float *rstd,
                           const float *inp, const float *w, const float *b, size_t N);
void model_norm_backward(const xf_model *m, float *dinp, float *dw, float *db,
                            const float *dout, const float *inp, const float *w,
                            const float *mean, const float *rstd, size_t N);

/* block.c: one block, forward and backward. res_in [N,C] -> res_out [N,C].
 * Self k/v are written at kv + pos0*KV (row stride kvcap*KV per sequence);
 * cross k/v come from ck/cv [B, S, KV] (computed from p->enc when p->enc is set). */
void layer_forward(xf_model *m, size_t l, xf_layer_act *a, const float *res_in, float *res_out,
                      float *kbuf, float *vbuf, float *ckbuf, float *cvbuf, const xf_pass *p);
/* d_res holds d(res_out) on entry and d(res_in) on return. */
void layer_backward(xf_model *m, size_t l, const xf_layer_act *a, const float *res_in,
                       float *d_res, const xf_pass *p);

/* model_qdecode.c: the linear of an inference forward through the decode
 * weights q (NULL or data NULL: the f32 weight w through BLAS), and the decode
 * weights of the block whose f32 views are w (NULL when none or training). */
void model_linear(const xf_model *m, const xf_qmat *q, float *out, const float *in, const float *w,
                     const float *b, size_t N, size_t C, size_t OC);
const xf_layer_q *model_layer_q(const xf_model *m, const xf_layer_w *w);
void model_free_decode(xf_model *m);
/* xf_model_create for a reader that writes every tensor of the table: the
 * arena is not zeroed first (only the padding between tensors is), so each
 * byte is written once. A tensor the reader skips holds garbage. */
xf_status model_create_unfilled(xf_model **out, const xf_config *cfg);
/* model_io.c: the two halves of xf_model_save, for the trainer's checkpoints
 * (src/train/checkpoint.c): DIR/config.json, and the weights alone written
 * atomically to `path` with one extra metadata entry key = value (key may be NULL). */
xf_status model_save_config(const xf_model *m, const char *dir);
xf_status model_save_weights(const xf_model *m, const char *path, const char *key, const char *value);

/* xf_model_backward with the MoE losses' gradient scaled by aux_scale rather
 * than loss_scale (data parallelism: each rank's share of the CE mean differs,
 * its MoE losses are already partials of the global ones, docs/scale-out.md). */
xf_status model_backward_ex(xf_model *m, float loss_scale, float aux_scale);

#endif
