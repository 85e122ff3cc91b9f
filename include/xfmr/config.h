/* xfmr: model configuration (the blueprint). Field names follow Hugging Face's
 * config.json where one exists; docs/config.md is the contract. */
#ifndef XFMR_CONFIG_H
#define XFMR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { XF_ARCH_DECODER = 0, XF_ARCH_ENCODER, XF_ARCH_PREFIX_LM, XF_ARCH_ENCODER_DECODER, XF_ARCH_COUNT } xf_arch;
typedef enum { XF_ACT_GELU = 0, XF_ACT_GELU_TANH, XF_ACT_RELU, XF_ACT_SILU, XF_ACT_COUNT } xf_act;
typedef enum { XF_NORM_LAYERNORM = 0, XF_NORM_RMSNORM, XF_NORM_COUNT } xf_norm_type;
typedef enum { XF_NORM_PRE = 0, XF_NORM_POST, XF_PLACEMENT_COUNT } xf_norm_placement;
typedef enum { XF_POS_LEARNED = 0, XF_POS_ROPE, XF_POS_NONE, XF_POS_RELATIVE, XF_POS_COUNT } xf_pos_type;
/* MoE router (docs/algorithms.md §4): Mixtral, Switch/DeepSeekMoE, DeepSeek-V3. */
typedef enum {
    XF_ROUTER_SOFTMAX_TOPK_RENORM = 0, /* softmax, top-k, renormalised over the selected */
    XF_ROUTER_SOFTMAX_TOPK,            /* softmax, top-k, raw probabilities as weights */
    XF_ROUTER_SIGMOID_TOPK_NORM,       /* sigmoid, top-k of score + bias, normalised */
    XF_ROUTER_COUNT
} xf_router_type;

typedef struct {
    xf_arch arch;                  /* decoder, encoder, prefix_lm, encoder_decoder */
    size_t vocab_size;             /* V */
    size_t hidden_size;            /* C (d_model) */
    size_t intermediate_size;      /* FFN hidden width */
    size_t num_hidden_layers;      /* L */
    size_t num_attention_heads;    /* H */
    size_t num_key_value_heads;    /* Hkv; H % Hkv == 0 (default H) */
    size_t max_position_embeddings;/* maximum sequence length */
    xf_act hidden_act;             /* default gelu_tanh */
    int gated_ffn;                 /* 1: down(act(gate x) * up x) */
    xf_norm_type norm_type;        /* default layernorm */
    float norm_eps;                /* default 1e-5 */
    xf_norm_placement norm_placement; /* default pre */
    xf_pos_type position_type;     /* default learned */
    float rope_theta;              /* default 10000 */
    int use_bias;                  /* default 1 */
    int tie_word_embeddings;       /* default 1 */
    float initializer_range;       /* default 0.02 */

    /* families (docs/config.md) */
    size_t num_decoder_layers;     /* encoder_decoder: decoder depth (default num_hidden_layers) */
    size_t relative_attention_num_buckets;  /* position_type relative: default 32 */
    size_t relative_attention_max_distance; /* default 128 */
    int scale_attn_logits;         /* 1: q·k/sqrt(D) (default); 0: unscaled (T5) */
    int rescale_tied_head;         /* T5: decoder output * C^-1/2 before a tied head */
    int embed_layernorm;           /* BERT/BART: a norm right after the embeddings */
    size_t type_vocab_size;        /* BERT token-type embeddings; 0 = none */
    int mlm_transform;             /* BERT MLM head: dense + act + norm before the head */
    int lm_head_bias;              /* bias on the LM head (BERT cls bias, BART final_logits_bias) */
    size_t position_offset;        /* learned positions read row pos + offset (BART: 2) */
    int decoder_start_token_id;    /* encoder_decoder: first decoder input; -1 = tokenizer's pad */
    float initializer_factor;      /* > 0: Hugging Face T5's init scaled by this; 0: initializer_range */

    /* Mixture of Experts (docs/config.md); num_experts = 0 is dense */
    size_t num_experts;            /* E routed experts */
    size_t num_experts_per_tok;    /* k */
    size_t moe_intermediate_size;  /* expert FFN width (default intermediate_size) */
    size_t num_shared_experts;     /* always-active experts (one FFN of width n * moe_intermediate_size) */
    size_t moe_layer_freq;         /* layer l of a stack is MoE iff l >= first_k_dense_layers */
    size_t first_k_dense_layers;   /*   and l % moe_layer_freq == 0 (default 1, 0) */
    xf_router_type router_type;    /* default softmax_topk_renorm */
    float routed_scaling_factor;   /* combine weights * this (default 1) */
    float router_bias_update_speed;/* sigmoid_topk_norm bias step gamma (default 0.001) */
    float capacity_factor;         /* 0: dropless; else capacity ceil(k*N*cf/E) per expert */
    float router_aux_loss_coef;    /* load-balancing loss weight (default 0.01) */
    float router_z_loss_coef;      /* router z-loss weight (default 0) */
    float router_jitter;           /* training: router input * U(1-j, 1+j) (default 0) */
    size_t n_group;                /* expert groups for group-limited routing (default 1: none) */
    size_t topk_group;             /* groups a token may route to (default 1; n_group = 1: all) */
    int seq_aux;                   /* 1: the balance loss per sequence (DeepSeek-V3), else per batch */
    /* GLM's 2D positions (docs/objectives.md §GLM): a second learned table [P,C]
     * indexed by the block position id, summed into the embeddings (needs
     * position_type learned and one stack) */
    int block_position_embeddings;
} xf_config;

/* Fill `cfg` with the documented defaults and zero sizes. */
void xf_config_defaults(xf_config *cfg);

/* Parse a JSON config text (`name` is used in messages, e.g. the path).
 * Unknown fields, missing or invalid sizes are refused naming the field. */
xf_status xf_config_parse(xf_config *cfg, const char *json, size_t len, const char *name);

/* Read a config: a preset name (gpt2-tiny, llama-tiny, bench-gpt, ...), a path to
 * a JSON file, or a directory holding config.json. */
xf_status xf_config_load(xf_config *cfg, const char *spec);

/* Look up a built-in preset; XF_ERR_ARG if there is none by that name. */
xf_status xf_config_preset(xf_config *cfg, const char *name);

/* NULL-terminated list of preset names. */
const char *const *xf_config_preset_names(void);

/* Check every invariant; message names the offending field. */
xf_status xf_config_validate(const xf_config *cfg, const char *name);

/* Serialise to JSON (Hugging Face-style names). Returns a malloc'd string or NULL (OOM). */
char *xf_config_to_json(const xf_config *cfg);

/* Derived sizes. */
size_t xf_config_head_dim(const xf_config *cfg);

/* String names of the enums as they appear in JSON. */
const char *xf_arch_name(xf_arch a);
const char *xf_act_name(xf_act a);
const char *xf_norm_type_name(xf_norm_type n);
const char *xf_norm_placement_name(xf_norm_placement p);
const char *xf_pos_type_name(xf_pos_type p);
const char *xf_router_type_name(xf_router_type r);

/* Layers in the encoder stack and in the decoder stack: decoder and prefix_lm
 * have one decoder stack, encoder one encoder stack, encoder_decoder both. */
size_t xf_config_encoder_layers(const xf_config *cfg);
size_t xf_config_decoder_layers(const xf_config *cfg);
/* Whether layer l (0-based, within its stack) has an MoE FFN. */
int xf_config_layer_is_moe(const xf_config *cfg, size_t l);

/* The first decoder input of an encoder_decoder, for training, scoring,
 * generation and routing alike: cfg->decoder_start_token_id when >= 0, else
 * pad_id (the tokenizer's pad) when >= 0, else 0. */
int32_t xf_decoder_start_id(const xf_config *cfg, int32_t pad_id);

/* How a and b differ: the number of config.json fields (lines of
 * xf_config_to_json) whose values differ, (size_t)-1 when out of memory. The
 * first `max` differing fields go to a_out and b_out (each cap bytes, may be
 * NULL) as `"field": value` joined by ", ". */
size_t xf_config_diff(const xf_config *a, const xf_config *b, size_t max, char *a_out, char *b_out, size_t cap);

/* Number of trainable parameters (docs/config.md lists the terms); 0 on size_t overflow. */
size_t xf_config_num_params(const xf_config *cfg);

/* ---- command-line overrides and tokenizer-sized presets ------------------ */

/* 1 if spec names a built-in preset. */
int xf_config_is_preset(const char *spec);
/* Vocabulary rows for a tokenizer of n ids: n rounded up to a multiple of 64
 * (as llm.c pads its vocabulary); the rows past n are padding. */
size_t xf_config_padded_vocab(size_t n);
/* Apply n "KEY=VALUE" overrides (VALUE is JSON; a bare word is a string) with
 * the field checks of config.json, then validate. num_key_value_heads and
 * moe_intermediate_size follow num_attention_heads / intermediate_size when
 * they equalled them and are not set themselves. `name` prefixes messages. */
xf_status xf_config_apply_sets(xf_config *cfg, const char *const *sets, size_t n, const char *name);
#ifdef __cplusplus
}
#endif

#endif
