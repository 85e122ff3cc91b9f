/* xfmr: model configuration (the blueprint). Field names follow Hugging Face's
 * config.json where one exists; docs/config.md is the contract. */
#ifndef XFMR_CONFIG_H
#define XFMR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/status.h"

typedef enum { XF_ARCH_DECODER = 0, XF_ARCH_ENCODER, XF_ARCH_PREFIX_LM, XF_ARCH_ENCODER_DECODER, XF_ARCH_COUNT } xf_arch;
typedef enum { XF_ACT_GELU = 0, XF_ACT_GELU_TANH, XF_ACT_RELU, XF_ACT_SILU, XF_ACT_COUNT } xf_act;
typedef enum { XF_NORM_LAYERNORM = 0, XF_NORM_RMSNORM, XF_NORM_COUNT } xf_norm_type;
typedef enum { XF_NORM_PRE = 0, XF_NORM_POST, XF_PLACEMENT_COUNT } xf_norm_placement;
typedef enum { XF_POS_LEARNED = 0, XF_POS_ROPE, XF_POS_NONE, XF_POS_COUNT } xf_pos_type;

typedef struct {
    xf_arch arch;                  /* "arch": decoder (only one implemented so far) */
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

/* Number of trainable parameters (docs/config.md lists the terms); 0 on size_t overflow. */
size_t xf_config_num_params(const xf_config *cfg);

#endif
