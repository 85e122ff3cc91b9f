/* xfmr: the model handle (weights + optional gradients + activation arena).
 *
 * Ownership: xf_model owns its config copy, the parameter table, and three
 * arenas: parameters (P floats), gradients (P floats, allocated by
 * xf_model_reserve(training=1)) and activations (sized once by
 * xf_model_reserve for a batch shape). Kernels never allocate. */
#ifndef XFMR_MODEL_H
#define XFMR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/config.h"
#include "xfmr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xf_model xf_model;

/* A target with this value contributes no loss (padding, prompts, unmasked
 * positions). */
#define XF_IGNORE_INDEX (-1)
/* The part of the model a tensor belongs to (xfmr info's counts, the benchmark's FLOPs). */
typedef enum {
    XF_ROLE_EMBED = 0, /* token, position and token-type embeddings */
    XF_ROLE_RELPOS,    /* T5's relative position bias table */
    XF_ROLE_ATTN,      /* attention projections (self, and cross q and o) */
    XF_ROLE_CROSS_KV,  /* cross-attention k and v (they read the encoder's tokens) */
    XF_ROLE_FFN,       /* dense FFN and shared experts */
    XF_ROLE_EXPERT,    /* routed experts */
    XF_ROLE_ROUTER,    /* MoE router and its balancing bias */
    XF_ROLE_NORM,      /* every norm's gain and bias */
    XF_ROLE_HEAD,      /* LM head, its bias, the MLM transform */
    XF_ROLE_COUNT
} xf_param_role;

/* One row of the parameter table: drives allocation, checkpoint names, init,
 * weight decay and tests. */
typedef struct {
    char name[96];      /* safetensors name, e.g. "model.layers.0.self_attn.q_proj.weight" */
    size_t ndim;        /* 1 or 2 */
    size_t shape[2];    /* [out, in] for linear weights */
    size_t numel;
    size_t offset;      /* in floats from the start of the parameter arena */
    int decay;          /* AdamW weight decay applies (ndim >= 2) */
    float init_std;     /* > 0: N(0, init_std); else constant init_value */
    float init_value;
    int trainable;      /* 0: a buffer the optimizer leaves alone (the MoE balancing bias) */
    int role;           /* xf_param_role: the part of the model the tensor belongs to */
} xf_param_info;

/* One batch for any family. The main stack is the decoder of an encoder-decoder
 * (or the only stack); the source feeds the encoder of an encoder-decoder. */
typedef struct {
    size_t B, T;                /* main stack: B rows of T tokens */
    const int32_t *ids;         /* [B,T] inputs (the decoder inputs, shifted right, for enc-dec) */
    const int32_t *targets;     /* [B,T] or NULL; XF_IGNORE_INDEX (-1) means no loss there */
    const int32_t *lengths;     /* [B] non-padding tokens per row (keys past it are blocked) or NULL */
    const int32_t *prefix_len;  /* [B] prefix_lm: bidirectional prefix length (0 = causal) or NULL */
    const int32_t *token_types; /* [B,T] token types (type_vocab_size > 0) or NULL (all 0) */
    size_t S;                   /* encoder_decoder: source length */
    const int32_t *src;         /* [B,S] encoder inputs */
    const int32_t *src_lengths; /* [B] non-padding source tokens per row, or NULL */
    /* GLM's 2D positions (docs/objectives.md §GLM); NULL: position t, block position 0 */
    const int32_t *position_ids;       /* [B,T] rows of the learned position table (position_type learned) */
    const int32_t *block_position_ids; /* [B,T] rows of the block position table (block_position_embeddings) */
} xf_batch;

/* MoE statistics of one MoE layer, accumulated over forwards since the last reset. */
typedef struct {
    size_t stack, layer;        /* 0 encoder / 1 decoder stack, layer within it */
    size_t E;
    const double *tokens;       /* [E] assignments kept per expert */
    double assigned, dropped;   /* top-k assignments made, and dropped by capacity */
    double entropy;             /* sum over tokens of the router distribution's entropy (nats) */
    double aux, z;              /* sums of the unweighted aux and z losses, one per forward */
    size_t tokens_seen, forwards;
} xf_moe_stats;

/* Build a model for `cfg` (validated here) with zeroed parameters. */
xf_status xf_model_create(xf_model **out, const xf_config *cfg);
void xf_model_free(xf_model *m); /* NULL-safe */

const xf_config *xf_model_config(const xf_model *m);
/* Ids in use (the tokenizer's size): logits of rows [n, vocab_size), the
 * padding, are -inf in training and inference, so they are never predicted
 * and get no gradient. 0 (the default) or n >= vocab_size: no padding. */
void xf_model_set_live_vocab(xf_model *m, size_t n);
size_t xf_model_num_tensors(const xf_model *m);
const xf_param_info *xf_model_tensor(const xf_model *m, size_t i);
/* Index of the tensor called `name`, or (size_t)-1. */
size_t xf_model_find_tensor(const xf_model *m, const char *name);
size_t xf_model_num_params(const xf_model *m);
/* Floats in the parameter arena (and the gradient arena): the tensors at their
 * xf_param_info offsets plus the alignment padding between them, so at least
 * xf_model_num_params. Arrays laid out like the parameters (AdamW moments)
 * need this many floats. */
size_t xf_model_param_arena_len(const xf_model *m);
float *xf_model_params(xf_model *m);
float *xf_model_grads(xf_model *m); /* NULL until xf_model_reserve(..., training=1) */

/* Initialise weights from the param table (normal with per-tensor std, constants). */
void xf_model_init_weights(xf_model *m, uint64_t seed);

/* Size the activation arena for batches of B sequences of T tokens (T <= max
 * positions). training=1 keeps every layer's activations and allocates gradients.
 * An encoder-decoder gets source length S = T; xf_model_reserve_ex sets S. */
xf_status xf_model_reserve(xf_model *m, size_t B, size_t T, int training);
xf_status xf_model_reserve_ex(xf_model *m, size_t B, size_t T, size_t S, int training);

/* Bytes the activation arena needs for (B, T, training), for `xfmr info`. */
size_t xf_model_activation_bytes(const xf_config *cfg, size_t B, size_t T, int training);
size_t xf_model_activation_bytes_ex(const xf_config *cfg, size_t B, size_t T, size_t S, int training);

/* Forward over inputs [B,T]. With targets [B,T] (XF_IGNORE_INDEX = -1 skips),
 * *loss gets the mean cross-entropy over valid targets (NaN-free; 0 when none)
 * and *valid the count (either pointer may be NULL). Shapes must fit the reservation. */
xf_status xf_model_forward(xf_model *m, const int32_t *inputs, const int32_t *targets, size_t B,
                           size_t T, float *loss, size_t *valid);

/* Forward of any family (see xf_batch). *loss is the mean cross-entropy over the
 * valid targets; MoE losses are separate (xf_model_aux_loss) but their gradients
 * are part of xf_model_backward. */
xf_status xf_model_forward_batch(xf_model *m, const xf_batch *b, float *loss, size_t *valid);

/* Weighted MoE losses of the last forward: sum over MoE layers of
 * router_aux_loss_coef * aux + router_z_loss_coef * z (0 for dense models). */
float xf_model_aux_loss(const xf_model *m);

/* Logits [B,T,V] of the last forward (invalid after backward, which reuses them). */
const float *xf_model_logits(const xf_model *m);

/* Backward of the last forward (which must have had targets): gradients of
 * loss_scale * mean loss are ADDED to the gradient arena. */
xf_status xf_model_backward(xf_model *m, float loss_scale);
void xf_model_zero_grad(xf_model *m);

/* Inference with a KV cache, batch 1: reserve for up to Tmax positions, then
 * feed n tokens at absolute position pos (pos = tokens already cached).
 * *logits points to the [V] logits of the last fed token (valid until the next call). */
xf_status xf_model_cache_reserve(xf_model *m, size_t Tmax);
xf_status xf_model_decode(xf_model *m, const int32_t *tokens, size_t n, size_t pos,
                          const float **logits);

/* Encoder-decoder inference: reserve `beams` parallel decoder rows of up to Tmax
 * positions and a source of up to Smax tokens (decoder-only models ignore Smax). */
xf_status xf_model_cache_reserve_ex(xf_model *m, size_t beams, size_t Tmax, size_t Smax);
/* Run the encoder once over src [S] and compute every layer's cross-attention
 * keys and values for all beam rows (encoder_decoder only). */
xf_status xf_model_encode(xf_model *m, const int32_t *src, size_t S);
/* One token per beam row at position pos: tokens [beams]; *logits -> [beams, V].
 * For prefix_lm, xf_model_decode at pos 0 makes the n fed tokens the prefix. */
xf_status xf_model_decode_beams(xf_model *m, const int32_t *tokens, size_t pos,
                                const float **logits);
/* xf_model_decode with GLM's 2D positions: token i is embedded at position
 * position_ids[i] and block position block_position_ids[i] (either may be
 * NULL: pos + i, and block 0) while it takes cache slot pos + i. */
xf_status xf_model_decode_pos(xf_model *m, const int32_t *tokens, const int32_t *position_ids,
                              const int32_t *block_position_ids, size_t n, size_t pos, const float **logits);
/* Beam row r continues the cache of row parent[r] (positions < pos are copied). */
xf_status xf_model_cache_reorder(xf_model *m, const size_t *parent, size_t pos);

/* MoE layers (0 for dense models), their statistics and routing decisions. */
size_t xf_model_num_moe_layers(const xf_model *m);
void xf_model_moe_stats(const xf_model *m, size_t i, xf_moe_stats *out);
void xf_model_moe_reset_stats(xf_model *m);
/* Routing of the last forward in MoE layer i: sel [N,k] expert ids (-1 = dropped)
 * and gate [N,k] combine weights, with N = B*T (or B*S for the encoder). */
xf_status xf_model_moe_routes(const xf_model *m, size_t i, const int32_t **sel, const float **gate,
                              size_t *N, size_t *k);
/* DeepSeek-V3 balancing: after an optimizer step, b_e += speed * sign(mean load - load_e)
 * from the loads since the last call (sigmoid_topk_norm only; others: no-op). */
void xf_model_moe_update_bias(xf_model *m);
/* Seed for router jitter of the next forwards (the trainer passes the step). */
void xf_model_set_noise_seed(xf_model *m, uint64_t seed);

/* Checkpoints: DIR/config.json and DIR/model.safetensors (atomic writes). */
xf_status xf_model_save(const xf_model *m, const char *dir);
/* Load from DIR (config.json + model.safetensors); every tensor is checked
 * against the table (missing, extra, shape, dtype). */
xf_status xf_model_load(xf_model **out, const char *dir);
/* Load weights from a safetensors file into an existing model (same checks). */
xf_status xf_model_load_weights(xf_model *m, const char *path);

/* Any model source (src/model/model_open.c): a preset, a config.json, an xfmr
 * checkpoint directory, or a foreign model (Hugging Face directory, .gguf,
 * llama2.c .bin; docs/formats.md). xf_model_open reads config and weights;
 * xf_model_open_config the config alone; xf_model_open_tokenizer the tokenizer
 * the source carries (*out = NULL when it carries none). */
xf_status xf_model_open(xf_model **out, const char *spec);
xf_status xf_model_open_config(xf_config *cfg, const char *spec);
struct xf_tokenizer;
xf_status xf_model_open_tokenizer(struct xf_tokenizer **out, const char *spec);
/* Write `m` (and `tok` when not NULL) in a foreign or native format: "xfmr",
 * "hf", "gguf", "llama2c" (src/model/model_export.c; dtype NULL = the format's
 * default). The output is written atomically where it is one file. */
xf_status xf_model_export(const xf_model *m, const struct xf_tokenizer *tok, const char *format, const char *out,
                          const char *dtype);
/* A model from any SPEC, ready to run or train: a checkpoint directory or a
 * foreign model is opened with its weights (xf_model_open); a preset name or a
 * config.json gets a new model with weights initialised from `seed`
 * (xf_model_init_weights). */
xf_status xf_model_new(xf_model **out, const char *spec, uint64_t seed);
/* The format that would read `spec`: "xfmr", "hf", "gguf" or "llama2c". */
const char *xf_model_format_name(const char *spec);

/* Keep the block linears and the LM head for inference forwards (decoding,
 * scoring) in dtype "f32", "bf16", "f16" or "q8_0" (32 int8 per f16 scale),
 * read by fused matrix-vector kernels; training forwards are unaffected. f32
 * reads the parameters in place; the others pack a copy now (call again after
 * changing the weights). */
xf_status xf_model_set_decode_dtype(xf_model *m, const char *dtype);
/* Bytes of weights one decode step reads through the decode weights: the
 * decoder stack's linears (without the cross-attention k, v, run once per
 * source) and the head; 0 if unset. */
size_t xf_model_decode_bytes(const xf_model *m);

#ifdef __cplusplus
}
#endif

#endif
