/* Model config: defaults, presets, JSON parsing, validation and serialisation.
 * docs/config.md is the contract this file implements. */
#include "xfmr/config.h"

#include "model/model_internal.h" /* xf_params_count */

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XF_CONFIG_MAX_BYTES ((size_t)1 << 20) /* config files are tiny; refuse anything over 1 MiB */

/* ------------------------------------------------------------------ enum names */

static const char *const k_arch_names[XF_ARCH_COUNT] = {"decoder", "encoder", "prefix_lm",
                                                        "encoder_decoder"};
static const char *const k_act_names[XF_ACT_COUNT] = {"gelu", "gelu_tanh", "relu", "silu"};
static const char *const k_norm_names[XF_NORM_COUNT] = {"layernorm", "rmsnorm"};
static const char *const k_place_names[XF_PLACEMENT_COUNT] = {"pre", "post"};
static const char *const k_pos_names[XF_POS_COUNT] = {"learned", "rope", "none", "relative"};
static const char *const k_router_names[XF_ROUTER_COUNT] = {"softmax_topk_renorm", "softmax_topk",
                                                            "sigmoid_topk_norm"};

const char *xf_arch_name(xf_arch a) {
    return ((int)a >= 0 && a < XF_ARCH_COUNT) ? k_arch_names[a] : "unknown";
}
const char *xf_act_name(xf_act a) {
    return ((int)a >= 0 && a < XF_ACT_COUNT) ? k_act_names[a] : "unknown";
}
const char *xf_norm_type_name(xf_norm_type n) {
    return ((int)n >= 0 && n < XF_NORM_COUNT) ? k_norm_names[n] : "unknown";
}
const char *xf_norm_placement_name(xf_norm_placement p) {
    return ((int)p >= 0 && p < XF_PLACEMENT_COUNT) ? k_place_names[p] : "unknown";
}
const char *xf_pos_type_name(xf_pos_type p) {
    return ((int)p >= 0 && p < XF_POS_COUNT) ? k_pos_names[p] : "unknown";
}
const char *xf_router_type_name(xf_router_type r) {
    return ((int)r >= 0 && r < XF_ROUTER_COUNT) ? k_router_names[r] : "unknown";
}

size_t xf_config_encoder_layers(const xf_config *cfg) {
    return (cfg->arch == XF_ARCH_ENCODER || cfg->arch == XF_ARCH_ENCODER_DECODER) ? cfg->num_hidden_layers : 0;
}
size_t xf_config_decoder_layers(const xf_config *cfg) {
    if (cfg->arch == XF_ARCH_ENCODER) return 0;
    if (cfg->arch == XF_ARCH_ENCODER_DECODER)
        return cfg->num_decoder_layers ? cfg->num_decoder_layers : cfg->num_hidden_layers;
    return cfg->num_hidden_layers;
}
int xf_config_layer_is_moe(const xf_config *cfg, size_t l) {
    if (cfg->num_experts == 0 || l < cfg->first_k_dense_layers) return 0;
    return cfg->moe_layer_freq <= 1 || l % cfg->moe_layer_freq == 0;
}

/* ------------------------------------------------------------------ defaults, presets */

void xf_config_defaults(xf_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->arch = XF_ARCH_DECODER;
    cfg->hidden_act = XF_ACT_GELU_TANH;
    cfg->gated_ffn = 0;
    cfg->norm_type = XF_NORM_LAYERNORM;
    cfg->norm_eps = 1e-5f;
    cfg->norm_placement = XF_NORM_PRE;
    cfg->position_type = XF_POS_LEARNED;
    cfg->rope_theta = 10000.0f;
    cfg->use_bias = 1;
    cfg->tie_word_embeddings = 1;
    cfg->initializer_range = 0.02f;
    cfg->relative_attention_num_buckets = 32;
    cfg->relative_attention_max_distance = 128;
    cfg->scale_attn_logits = 1;
    cfg->decoder_start_token_id = -1;
    cfg->moe_layer_freq = 1;
    cfg->router_type = XF_ROUTER_SOFTMAX_TOPK_RENORM;
    cfg->routed_scaling_factor = 1.0f;
    cfg->router_bias_update_speed = 0.001f;
    cfg->router_aux_loss_coef = 0.01f;
}

static const char *const k_preset_names[] = {"gpt2-tiny",    "llama-tiny",    "bench-gpt",  "bert-tiny",
                                             "prefix-tiny",  "t5-tiny",       "bart-tiny",  "bench-t5",
                                             "mixtral-tiny", "switch-tiny",   "deepseek-tiny", "bench-moe",
                                             NULL};
#define PRESET_LIST                                                                            \
    "gpt2-tiny, llama-tiny, bench-gpt, bert-tiny, prefix-tiny, t5-tiny, bart-tiny, bench-t5, " \
    "mixtral-tiny, switch-tiny, deepseek-tiny, bench-moe"

/* The tiny shape every *-tiny preset starts from (gpt2-tiny's). */
static void tiny_shape(xf_config *c) {
    c->vocab_size = 384;
    c->hidden_size = 128;
    c->intermediate_size = 512;
    c->num_hidden_layers = 4;
    c->num_attention_heads = 4;
    c->num_key_value_heads = 4;
    c->max_position_embeddings = 256;
}

/* LLaMA style: RoPE, RMSNorm, SwiGLU, no biases, untied, GQA. */
static void llama_style(xf_config *c) {
    tiny_shape(c);
    c->intermediate_size = 352;
    c->num_key_value_heads = 2;
    c->hidden_act = XF_ACT_SILU;
    c->gated_ffn = 1;
    c->norm_type = XF_NORM_RMSNORM;
    c->position_type = XF_POS_ROPE;
    c->use_bias = 0;
    c->tie_word_embeddings = 0;
}

/* T5 (v1.0) style: RMSNorm 1e-6, pre-norm, no biases, relative bias, unscaled
 * logits, ReLU FFN, tied head with the d^-1/2 rescale. */
static void t5_style(xf_config *c) {
    c->arch = XF_ARCH_ENCODER_DECODER;
    c->hidden_act = XF_ACT_RELU;
    c->norm_type = XF_NORM_RMSNORM;
    c->norm_eps = 1e-6f;
    c->position_type = XF_POS_RELATIVE;
    c->use_bias = 0;
    c->scale_attn_logits = 0;
    c->rescale_tied_head = 1;
    c->initializer_factor = 1.0f;
}

const char *const *xf_config_preset_names(void) { return k_preset_names; }

xf_status xf_config_preset(xf_config *cfg, const char *name) {
    xf_config c;
    xf_config_defaults(&c);
    if (name && strcmp(name, "gpt2-tiny") == 0) {
        c.vocab_size = 384;
        c.hidden_size = 128;
        c.intermediate_size = 512;
        c.num_hidden_layers = 4;
        c.num_attention_heads = 4;
        c.num_key_value_heads = 4;
        c.max_position_embeddings = 256;
        /* the rest are the defaults: gelu_tanh, layernorm, pre, learned, bias, tied */
    } else if (name && strcmp(name, "llama-tiny") == 0) {
        c.vocab_size = 384;
        c.hidden_size = 128;
        c.intermediate_size = 352;
        c.num_hidden_layers = 4;
        c.num_attention_heads = 4;
        c.num_key_value_heads = 2;
        c.max_position_embeddings = 256;
        c.hidden_act = XF_ACT_SILU;
        c.gated_ffn = 1;
        c.norm_type = XF_NORM_RMSNORM;
        c.position_type = XF_POS_ROPE;
        c.rope_theta = 10000.0f;
        c.use_bias = 0;
        c.tie_word_embeddings = 0;
    } else if (name && (strcmp(name, "bench-gpt") == 0 || strcmp(name, "bench-moe") == 0)) {
        c.vocab_size = 8192;
        c.hidden_size = 384;
        c.intermediate_size = 1536;
        c.num_hidden_layers = 6;
        c.num_attention_heads = 6;
        c.num_key_value_heads = 6;
        c.max_position_embeddings = 256;
        if (strcmp(name, "bench-moe") == 0) { /* 8 experts, top-2 of width 768: bench-gpt's active FFN */
            c.num_experts = 8;
            c.num_experts_per_tok = 2;
            c.moe_intermediate_size = 768;
        }
    } else if (name && strcmp(name, "bert-tiny") == 0) {
        /* BERT's layout with rotary positions: with learned absolute positions a
         * model this small stays a bag of bytes (loss at the unigram entropy) for
         * the first thousand steps of MLM; docs/families.md has the numbers */
        tiny_shape(&c);
        c.arch = XF_ARCH_ENCODER;
        c.position_type = XF_POS_ROPE;
        c.hidden_act = XF_ACT_GELU;
        c.norm_eps = 1e-12f;
        c.norm_placement = XF_NORM_POST;
        c.embed_layernorm = 1;
        c.type_vocab_size = 2;
        c.mlm_transform = 1;
        c.lm_head_bias = 1;
    } else if (name && strcmp(name, "prefix-tiny") == 0) {
        llama_style(&c);
        c.arch = XF_ARCH_PREFIX_LM;
    } else if (name && strcmp(name, "t5-tiny") == 0) {
        tiny_shape(&c);
        t5_style(&c);
        c.num_hidden_layers = 3;
        c.num_decoder_layers = 3;
    } else if (name && strcmp(name, "bench-t5") == 0) {
        t5_style(&c);
        c.vocab_size = 8192;
        c.hidden_size = 384;
        c.intermediate_size = 1536;
        c.num_hidden_layers = 3;
        c.num_decoder_layers = 3;
        c.num_attention_heads = 6;
        c.num_key_value_heads = 6;
        c.max_position_embeddings = 256;
    } else if (name && strcmp(name, "bart-tiny") == 0) {
        tiny_shape(&c);
        c.arch = XF_ARCH_ENCODER_DECODER;
        c.num_hidden_layers = 3;
        c.num_decoder_layers = 3;
        c.hidden_act = XF_ACT_GELU;
        c.norm_placement = XF_NORM_POST;
        c.position_offset = 2;
        c.embed_layernorm = 1;
        c.lm_head_bias = 1;
    } else if (name && strcmp(name, "mixtral-tiny") == 0) {
        llama_style(&c); /* 8 experts, top-2, width 176: llama-tiny's active FFN */
        c.num_experts = 8;
        c.num_experts_per_tok = 2;
        c.moe_intermediate_size = 176;
    } else if (name && strcmp(name, "switch-tiny") == 0) {
        tiny_shape(&c); /* Switch: top-1, capacity 1.25, ReLU experts every other layer, z-loss, jitter */
        c.hidden_act = XF_ACT_RELU;
        c.num_experts = 8;
        c.num_experts_per_tok = 1;
        c.moe_intermediate_size = 512;
        c.moe_layer_freq = 2;
        c.router_type = XF_ROUTER_SOFTMAX_TOPK;
        c.capacity_factor = 1.25f;
        c.router_z_loss_coef = 0.001f;
        c.router_jitter = 0.01f;
    } else if (name && strcmp(name, "deepseek-tiny") == 0) {
        llama_style(&c); /* fine-grained: 16 experts of width 88, top-3, one shared; first layer dense */
        c.num_experts = 16;
        c.num_experts_per_tok = 3;
        c.moe_intermediate_size = 88;
        c.num_shared_experts = 1;
        c.first_k_dense_layers = 1;
        c.router_type = XF_ROUTER_SIGMOID_TOPK_NORM;
        c.router_aux_loss_coef = 0.0001f;
    } else {
        return xf_fail(XF_ERR_ARG, "unknown config preset \"%s\" (presets: " PRESET_LIST ")",
                       name ? name : "(null)");
    }
    *cfg = c;
    return XF_OK;
}

size_t xf_config_head_dim(const xf_config *cfg) {
    return cfg->num_attention_heads ? cfg->hidden_size / cfg->num_attention_heads : 0;
}

/* ------------------------------------------------------------------ size fields */

typedef struct {
    const char *name;
    size_t offset;
    double cap; /* largest accepted value */
    int required;
} size_field;

static const size_field k_sizes[] = {
    {"vocab_size", offsetof(xf_config, vocab_size), 16777216.0, 1},            /* 2^24 */
    {"hidden_size", offsetof(xf_config, hidden_size), 65536.0, 1},             /* 2^16 */
    {"intermediate_size", offsetof(xf_config, intermediate_size), 1048576.0, 1}, /* 2^20 */
    {"num_hidden_layers", offsetof(xf_config, num_hidden_layers), 1024.0, 1},
    {"num_attention_heads", offsetof(xf_config, num_attention_heads), 65536.0, 1},
    {"num_key_value_heads", offsetof(xf_config, num_key_value_heads), 65536.0, 0},
    {"max_position_embeddings", offsetof(xf_config, max_position_embeddings), 1048576.0, 1}, /* 2^20 */
};
#define N_SIZES (sizeof k_sizes / sizeof k_sizes[0])
#define KV_INDEX 5 /* k_sizes[KV_INDEX] is num_key_value_heads, the optional one */

static size_t *size_slot(xf_config *cfg, const size_field *f) {
    return (size_t *)(void *)((char *)cfg + f->offset);
}
static size_t size_get(const xf_config *cfg, const size_field *f) {
    return *(const size_t *)(const void *)((const char *)cfg + f->offset);
}

/* ------------------------------------------------------------------ parameter count */

static int mul_ov(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 1;
    *out = a * b;
    return 0;
}

size_t xf_config_num_params(const xf_config *cfg) { return xf_params_count(cfg, NULL, 0); }

/* Physical memory in bytes, or 0 if unknown. */
static size_t phys_mem_bytes(void) {
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || psz <= 0) return 0;
    size_t out;
    if (mul_ov((size_t)pages, (size_t)psz, &out)) return SIZE_MAX;
    return out;
}

/* ------------------------------------------------------------------ validation */

#define CHECK_BOOL(field)                                                                          \
    if (cfg->field != 0 && cfg->field != 1)                                                        \
        return xf_fail(XF_ERR_ARG, "%s: " #field ": must be 0 or 1, got %d", name, cfg->field);
#define CHECK_MAX(field, cap)                                                                      \
    if (cfg->field > (cap))                                                                        \
        return xf_fail(XF_ERR_ARG, "%s: " #field " = %zu exceeds the limit %zu", name, cfg->field, \
                       (size_t)(cap));
#define CHECK_RANGE(field, lo, hi)                                                                 \
    if (!isfinite(cfg->field) || !(cfg->field >= (lo)) || !(cfg->field <= (hi)))                   \
        return xf_fail(XF_ERR_ARG, "%s: " #field " must be in [%g, %g], got %.9g", name, (double)(lo), \
                       (double)(hi), (double)cfg->field);

/* The fields of the other families (encoder, prefix LM, encoder-decoder). */
static xf_status validate_families(const xf_config *cfg, const char *name) {
    int encdec = cfg->arch == XF_ARCH_ENCODER_DECODER;
    CHECK_BOOL(scale_attn_logits);
    CHECK_BOOL(rescale_tied_head);
    CHECK_BOOL(embed_layernorm);
    CHECK_BOOL(mlm_transform);
    CHECK_BOOL(lm_head_bias);
    CHECK_MAX(num_decoder_layers, 1024);
    CHECK_MAX(type_vocab_size, 1024);
    CHECK_MAX(position_offset, 1024);
    CHECK_RANGE(initializer_factor, 0.0, 100.0);
    if (cfg->num_decoder_layers && !encdec)
        return xf_fail(XF_ERR_ARG, "%s: num_decoder_layers: only an encoder_decoder has a second stack (arch is %s)",
                       name, xf_arch_name(cfg->arch));
    if (cfg->type_vocab_size && encdec)
        return xf_fail(XF_ERR_ARG, "%s: type_vocab_size: token types are for single-stack models, not encoder_decoder",
                       name);
    if (cfg->mlm_transform && encdec)
        return xf_fail(XF_ERR_ARG, "%s: mlm_transform: the MLM head is for encoders, not encoder_decoder", name);
    if (cfg->position_offset && cfg->position_type != XF_POS_LEARNED)
        return xf_fail(XF_ERR_ARG, "%s: position_offset needs position_type \"learned\"", name);
    if (cfg->position_type == XF_POS_RELATIVE) {
        size_t nb = cfg->relative_attention_num_buckets, md = cfg->relative_attention_max_distance;
        if (nb < 4 || nb > 1024 || nb % 2)
            return xf_fail(XF_ERR_ARG, "%s: relative_attention_num_buckets must be even and in [4, 1024], got %zu",
                           name, nb);
        if (md <= nb / 2 || md > 1048576)
            return xf_fail(XF_ERR_ARG,
                           "%s: relative_attention_max_distance must be in (num_buckets/2, 2^20], got %zu", name,
                           md);
    }
    if (cfg->decoder_start_token_id < -1 || (cfg->decoder_start_token_id >= 0 &&
                                             (size_t)cfg->decoder_start_token_id >= cfg->vocab_size))
        return xf_fail(XF_ERR_ARG, "%s: decoder_start_token_id must be -1 or an id below vocab_size %zu, got %d",
                       name, cfg->vocab_size, cfg->decoder_start_token_id);
    return XF_OK;
}

static xf_status validate_moe(const xf_config *cfg, const char *name) {
    CHECK_MAX(num_experts, 1024);
    if (cfg->num_experts == 0) return XF_OK;
    size_t E = cfg->num_experts, K = cfg->num_experts_per_tok;
    if (K < 1 || K > E)
        return xf_fail(XF_ERR_ARG, "%s: num_experts_per_tok must be in [1, num_experts = %zu], got %zu", name, E, K);
    if (cfg->moe_intermediate_size < 1 || cfg->moe_intermediate_size > 1048576)
        return xf_fail(XF_ERR_ARG, "%s: moe_intermediate_size must be in [1, 2^20], got %zu", name,
                       cfg->moe_intermediate_size);
    CHECK_MAX(num_shared_experts, 64);
    if (cfg->moe_layer_freq < 1 || cfg->moe_layer_freq > 1024)
        return xf_fail(XF_ERR_ARG, "%s: moe_layer_freq must be in [1, 1024], got %zu", name, cfg->moe_layer_freq);
    CHECK_MAX(first_k_dense_layers, 1024);
    if ((int)cfg->router_type < 0 || cfg->router_type >= XF_ROUTER_COUNT)
        return xf_fail(XF_ERR_ARG, "%s: router_type: invalid value %d", name, (int)cfg->router_type);
    CHECK_RANGE(routed_scaling_factor, 1e-6, 1e6);
    CHECK_RANGE(router_bias_update_speed, 0.0, 1.0);
    CHECK_RANGE(capacity_factor, 0.0, 1e4);
    CHECK_RANGE(router_aux_loss_coef, 0.0, 1e3);
    CHECK_RANGE(router_z_loss_coef, 0.0, 1e3);
    CHECK_RANGE(router_jitter, 0.0, 0.99);
    return XF_OK;
}

xf_status xf_config_validate(const xf_config *cfg, const char *name) {
    if (!name) name = "config";
    if (!cfg) return xf_fail(XF_ERR_ARG, "%s: no config", name);

    if ((int)cfg->arch < 0 || cfg->arch >= XF_ARCH_COUNT)
        return xf_fail(XF_ERR_ARG, "%s: arch: invalid value %d", name, (int)cfg->arch);

    for (size_t i = 0; i < N_SIZES; i++) {
        size_t v = size_get(cfg, &k_sizes[i]);
        if (v == 0) return xf_fail(XF_ERR_ARG, "%s: %s must be a positive integer, got 0", name, k_sizes[i].name);
        if ((double)v > k_sizes[i].cap)
            return xf_fail(XF_ERR_ARG, "%s: %s = %zu exceeds the limit %.0f", name, k_sizes[i].name, v,
                           k_sizes[i].cap);
    }
    size_t C = cfg->hidden_size, H = cfg->num_attention_heads, Hkv = cfg->num_key_value_heads;
    if (H > C || C % H != 0)
        return xf_fail(XF_ERR_ARG, "%s: num_attention_heads = %zu does not divide hidden_size = %zu", name, H, C);
    if (Hkv > H || H % Hkv != 0)
        return xf_fail(XF_ERR_ARG, "%s: num_key_value_heads = %zu does not divide num_attention_heads = %zu",
                       name, Hkv, H);

    if ((int)cfg->hidden_act < 0 || cfg->hidden_act >= XF_ACT_COUNT)
        return xf_fail(XF_ERR_ARG, "%s: hidden_act: invalid value %d", name, (int)cfg->hidden_act);
    if ((int)cfg->norm_type < 0 || cfg->norm_type >= XF_NORM_COUNT)
        return xf_fail(XF_ERR_ARG, "%s: norm_type: invalid value %d", name, (int)cfg->norm_type);
    if ((int)cfg->norm_placement < 0 || cfg->norm_placement >= XF_PLACEMENT_COUNT)
        return xf_fail(XF_ERR_ARG, "%s: norm_placement: invalid value %d", name, (int)cfg->norm_placement);
    if ((int)cfg->position_type < 0 || cfg->position_type >= XF_POS_COUNT)
        return xf_fail(XF_ERR_ARG, "%s: position_type: invalid value %d", name, (int)cfg->position_type);
    if (cfg->gated_ffn != 0 && cfg->gated_ffn != 1)
        return xf_fail(XF_ERR_ARG, "%s: gated_ffn: must be 0 or 1, got %d", name, cfg->gated_ffn);
    if (cfg->use_bias != 0 && cfg->use_bias != 1)
        return xf_fail(XF_ERR_ARG, "%s: use_bias: must be 0 or 1, got %d", name, cfg->use_bias);
    if (cfg->tie_word_embeddings != 0 && cfg->tie_word_embeddings != 1)
        return xf_fail(XF_ERR_ARG, "%s: tie_word_embeddings: must be 0 or 1, got %d", name,
                       cfg->tie_word_embeddings);

    if (cfg->position_type == XF_POS_ROPE && (C / H) % 2 != 0)
        return xf_fail(XF_ERR_ARG,
                       "%s: head dim hidden_size / num_attention_heads = %zu / %zu = %zu must be even with "
                       "position_type \"rope\"",
                       name, C, H, C / H);

    if (!isfinite(cfg->norm_eps) || !(cfg->norm_eps > 0.0f) || !(cfg->norm_eps < 1.0f))
        return xf_fail(XF_ERR_ARG, "%s: norm_eps must be in (0, 1), got %.9g", name, (double)cfg->norm_eps);
    if (!isfinite(cfg->rope_theta) || !(cfg->rope_theta > 0.0f))
        return xf_fail(XF_ERR_ARG, "%s: rope_theta must be a finite number > 0, got %.9g", name,
                       (double)cfg->rope_theta);
    if (!isfinite(cfg->initializer_range) || !(cfg->initializer_range > 0.0f) ||
        !(cfg->initializer_range <= 10.0f))
        return xf_fail(XF_ERR_ARG, "%s: initializer_range must be in (0, 10], got %.9g", name,
                       (double)cfg->initializer_range);

    xf_status s = validate_families(cfg, name);
    if (s) return s;
    if ((s = validate_moe(cfg, name))) return s;

    /* training holds params, grads and two Adam moments, all fp32: 16 bytes a parameter */
    char largest[128];
    size_t total = xf_params_count(cfg, largest, sizeof largest), bytes = 0;
    if (total == 0 || mul_ov(total, 16, &bytes))
        return xf_fail(XF_ERR_ARG, "%s: sizes: the parameter count overflows size_t; largest part: %s", name,
                       largest);
    size_t mem = phys_mem_bytes();
    if (mem && bytes > mem)
        return xf_fail(XF_ERR_ARG,
                       "%s: sizes: %zu parameters need %.3g GiB to train (fp32 params, grads, 2 Adam moments), "
                       "more than the machine's %.3g GiB; largest part: %s",
                       name, total, (double)bytes / 1073741824.0, (double)mem / 1073741824.0, largest);
    return XF_OK;
}

/* ------------------------------------------------------------------ JSON parsing */

static const char *json_kind(const cJSON *it) {
    if (cJSON_IsString(it)) return "a string";
    if (cJSON_IsBool(it)) return "a boolean";
    if (cJSON_IsNull(it)) return "null";
    if (cJSON_IsArray(it)) return "an array";
    if (cJSON_IsObject(it)) return "an object";
    if (cJSON_IsNumber(it)) return "a number";
    return "an invalid value";
}

static xf_status parse_size(const cJSON *it, const size_field *f, xf_config *cfg, const char *name) {
    if (!cJSON_IsNumber(it))
        return xf_fail(XF_ERR_FORMAT, "%s: %s must be an integer, got %s", name, f->name, json_kind(it));
    double v = it->valuedouble;
    if (!isfinite(v) || v != floor(v))
        return xf_fail(XF_ERR_FORMAT, "%s: %s must be an integer, got %.17g", name, f->name, v);
    if (v < 1.0)
        return xf_fail(XF_ERR_FORMAT, "%s: %s must be a positive integer, got %.17g", name, f->name, v);
    if (v > f->cap)
        return xf_fail(XF_ERR_FORMAT, "%s: %s = %.17g exceeds the limit %.0f", name, f->name, v, f->cap);
    *size_slot(cfg, f) = (size_t)v;
    return XF_OK;
}

static xf_status parse_bool(const cJSON *it, const char *field, int *out, const char *name) {
    if (!cJSON_IsBool(it))
        return xf_fail(XF_ERR_FORMAT, "%s: %s must be true or false, got %s", name, field, json_kind(it));
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return XF_OK;
}

static xf_status parse_float(const cJSON *it, const char *field, float *out, const char *name) {
    if (!cJSON_IsNumber(it))
        return xf_fail(XF_ERR_FORMAT, "%s: %s must be a number, got %s", name, field, json_kind(it));
    if (!isfinite(it->valuedouble))
        return xf_fail(XF_ERR_FORMAT, "%s: %s must be a finite number", name, field);
    *out = (float)it->valuedouble; /* range checks (after rounding to float) are in validate */
    return XF_OK;
}

static xf_status parse_enum(const cJSON *it, const char *field, const char *const *names, int n, int *out,
                            const char *name) {
    char allowed[160];
    size_t pos = 0;
    allowed[0] = '\0';
    for (int i = 0; i < n && pos < sizeof allowed; i++)
        pos += (size_t)snprintf(allowed + pos, sizeof allowed - pos, "%s%s", i ? ", " : "", names[i]);
    if (!cJSON_IsString(it) || !it->valuestring)
        return xf_fail(XF_ERR_FORMAT, "%s: %s must be a string, one of: %s; got %s", name, field, allowed,
                       json_kind(it));
    for (int i = 0; i < n; i++)
        if (strcmp(it->valuestring, names[i]) == 0) {
            *out = i;
            return XF_OK;
        }
    return xf_fail(XF_ERR_FORMAT, "%s: %s: \"%.64s\" is not one of: %s", name, field, it->valuestring, allowed);
}

/* Line and column (1-based) of byte offset `off` in `s`. */
static void line_col(const char *s, size_t off, int *line, int *col) {
    int l = 1, c = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* The fields added for the other families and MoE, parsed and written from one table. */
typedef enum { F_SIZE, F_BOOL, F_FLOAT, F_INT, F_ROUTER } field_kind;
typedef struct {
    const char *name;
    field_kind kind;
    size_t offset;
    double cap; /* F_SIZE / F_INT: largest accepted value */
} extra_field;

#define XF(n, k, cap) {#n, k, offsetof(xf_config, n), cap}
static const extra_field k_extra[] = {
    XF(num_decoder_layers, F_SIZE, 1024),
    XF(relative_attention_num_buckets, F_SIZE, 1024),
    XF(relative_attention_max_distance, F_SIZE, 1048576),
    XF(scale_attn_logits, F_BOOL, 0),
    XF(rescale_tied_head, F_BOOL, 0),
    XF(embed_layernorm, F_BOOL, 0),
    XF(type_vocab_size, F_SIZE, 1024),
    XF(mlm_transform, F_BOOL, 0),
    XF(lm_head_bias, F_BOOL, 0),
    XF(position_offset, F_SIZE, 1024),
    XF(decoder_start_token_id, F_INT, 16777216),
    XF(initializer_factor, F_FLOAT, 0),
    XF(num_experts, F_SIZE, 1024),
    XF(num_experts_per_tok, F_SIZE, 1024),
    XF(moe_intermediate_size, F_SIZE, 1048576),
    XF(num_shared_experts, F_SIZE, 64),
    XF(moe_layer_freq, F_SIZE, 1024),
    XF(first_k_dense_layers, F_SIZE, 1024),
    XF(router_type, F_ROUTER, 0),
    XF(routed_scaling_factor, F_FLOAT, 0),
    XF(router_bias_update_speed, F_FLOAT, 0),
    XF(capacity_factor, F_FLOAT, 0),
    XF(router_aux_loss_coef, F_FLOAT, 0),
    XF(router_z_loss_coef, F_FLOAT, 0),
    XF(router_jitter, F_FLOAT, 0),
};
#define N_EXTRA (sizeof k_extra / sizeof k_extra[0])

static xf_status parse_extra(const cJSON *it, const extra_field *f, xf_config *c, const char *name) {
    void *slot = (char *)c + f->offset;
    int e;
    xf_status s;
    switch (f->kind) {
    case F_BOOL: return parse_bool(it, f->name, (int *)slot, name);
    case F_FLOAT: return parse_float(it, f->name, (float *)slot, name);
    case F_ROUTER:
        s = parse_enum(it, f->name, k_router_names, XF_ROUTER_COUNT, &e, name);
        if (s == XF_OK) *(xf_router_type *)slot = (xf_router_type)e;
        return s;
    default: break;
    }
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble != floor(it->valuedouble))
        return xf_fail(XF_ERR_FORMAT, "%s: %s must be an integer, got %s", name, f->name, json_kind(it));
    double v = it->valuedouble, lo = f->kind == F_INT ? -1.0 : 0.0;
    if (v < lo || v > f->cap)
        return xf_fail(XF_ERR_FORMAT, "%s: %s must be in [%.0f, %.0f], got %.17g", name, f->name, lo, f->cap, v);
    if (f->kind == F_INT) *(int *)slot = (int)v;
    else *(size_t *)slot = (size_t)v;
    return XF_OK;
}

static xf_status parse_field(const cJSON *it, xf_config *c, unsigned *seen_sizes, const char *name) {
    const char *k = it->string;
    for (size_t i = 0; i < N_EXTRA; i++)
        if (strcmp(k, k_extra[i].name) == 0) {
            if (strcmp(k, "moe_intermediate_size") == 0) *seen_sizes |= 1u << 30;
            return parse_extra(it, &k_extra[i], c, name);
        }
    for (size_t i = 0; i < N_SIZES; i++)
        if (strcmp(k, k_sizes[i].name) == 0) {
            *seen_sizes |= 1u << i;
            return parse_size(it, &k_sizes[i], c, name);
        }
    int e;
    xf_status s;
    if (strcmp(k, "arch") == 0) {
        s = parse_enum(it, k, k_arch_names, XF_ARCH_COUNT, &e, name);
        if (s == XF_OK) c->arch = (xf_arch)e;
        return s;
    }
    if (strcmp(k, "hidden_act") == 0) {
        s = parse_enum(it, k, k_act_names, XF_ACT_COUNT, &e, name);
        if (s == XF_OK) c->hidden_act = (xf_act)e;
        return s;
    }
    if (strcmp(k, "norm_type") == 0) {
        s = parse_enum(it, k, k_norm_names, XF_NORM_COUNT, &e, name);
        if (s == XF_OK) c->norm_type = (xf_norm_type)e;
        return s;
    }
    if (strcmp(k, "norm_placement") == 0) {
        s = parse_enum(it, k, k_place_names, XF_PLACEMENT_COUNT, &e, name);
        if (s == XF_OK) c->norm_placement = (xf_norm_placement)e;
        return s;
    }
    if (strcmp(k, "position_type") == 0) {
        s = parse_enum(it, k, k_pos_names, XF_POS_COUNT, &e, name);
        if (s == XF_OK) c->position_type = (xf_pos_type)e;
        return s;
    }
    if (strcmp(k, "gated_ffn") == 0) return parse_bool(it, k, &c->gated_ffn, name);
    if (strcmp(k, "use_bias") == 0) return parse_bool(it, k, &c->use_bias, name);
    if (strcmp(k, "tie_word_embeddings") == 0) return parse_bool(it, k, &c->tie_word_embeddings, name);
    if (strcmp(k, "norm_eps") == 0) return parse_float(it, k, &c->norm_eps, name);
    if (strcmp(k, "rope_theta") == 0) return parse_float(it, k, &c->rope_theta, name);
    if (strcmp(k, "initializer_range") == 0) return parse_float(it, k, &c->initializer_range, name);
    /* informational Hugging Face keys: accepted and ignored */
    if (strcmp(k, "model_type") == 0) {
        if (!cJSON_IsString(it))
            return xf_fail(XF_ERR_FORMAT, "%s: model_type must be a string, got %s", name, json_kind(it));
        return XF_OK;
    }
    if (strcmp(k, "architectures") == 0) {
        if (!cJSON_IsArray(it))
            return xf_fail(XF_ERR_FORMAT, "%s: architectures must be an array, got %s", name, json_kind(it));
        return XF_OK;
    }
    /* other spellings of our fields (GPT-2 / Llama Hugging Face configs): point at ours */
    static const char *const aliases[][2] = {
        {"n_embd", "hidden_size"},         {"n_layer", "num_hidden_layers"},
        {"n_head", "num_attention_heads"}, {"n_positions", "max_position_embeddings"},
        {"n_ctx", "max_position_embeddings"}, {"n_inner", "intermediate_size"},
        {"activation_function", "hidden_act"}, {"layer_norm_epsilon", "norm_eps"},
        {"layer_norm_eps", "norm_eps"},    {"rms_norm_eps", "norm_eps"},
        {"num_layers", "num_hidden_layers"}, {"d_model", "hidden_size"},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(k, aliases[i][0]) == 0)
            return xf_fail(XF_ERR_FORMAT, "%s: unknown field \"%s\" (xfmr calls it \"%s\")", name, k,
                           aliases[i][1]);
    return xf_fail(XF_ERR_FORMAT, "%s: unknown field \"%.64s\" (docs/config.md lists the fields)", name, k);
}

xf_status xf_config_parse(xf_config *cfg, const char *json, size_t len, const char *name) {
    if (!name) name = "config";
    if (!cfg) return xf_fail(XF_ERR_ARG, "%s: no config to fill", name);
    if (!json || len == 0) return xf_fail(XF_ERR_FORMAT, "%s: empty config", name);

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t off = (end && end >= json && end <= json + len) ? (size_t)(end - json) : 0;
        int line, col;
        line_col(json, off, &line, &col);
        return xf_fail(XF_ERR_FORMAT, "%s: invalid JSON at line %d, column %d", name, line, col);
    }
    /* nothing but whitespace may follow the value */
    if (end && end >= json && end <= json + len) {
        for (const char *p = end; p < json + len; p++)
            if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
                int line, col;
                line_col(json, (size_t)(p - json), &line, &col);
                cJSON_Delete(root);
                return xf_fail(XF_ERR_FORMAT, "%s: invalid JSON: unexpected data after the object at line %d, column %d",
                               name, line, col);
            }
    }
    if (!cJSON_IsObject(root)) {
        xf_status s = xf_fail(XF_ERR_FORMAT, "%s: the top level must be a JSON object, got %s", name, json_kind(root));
        cJSON_Delete(root);
        return s;
    }

    xf_config c;
    xf_config_defaults(&c);
    unsigned seen = 0;
    xf_status s = XF_OK;
    for (const cJSON *it = root->child; it && s == XF_OK; it = it->next) {
        if (!it->string) {
            s = xf_fail(XF_ERR_FORMAT, "%s: member without a name", name);
            break;
        }
        for (const cJSON *prev = root->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0) {
                s = xf_fail(XF_ERR_FORMAT, "%s: duplicate field \"%.64s\"", name, it->string);
                break;
            }
        if (s == XF_OK) s = parse_field(it, &c, &seen, name);
    }
    cJSON_Delete(root);
    if (s != XF_OK) return s;

    for (size_t i = 0; i < N_SIZES; i++)
        if (k_sizes[i].required && !(seen & (1u << i)))
            return xf_fail(XF_ERR_FORMAT, "%s: missing required field %s", name, k_sizes[i].name);
    if (!(seen & (1u << KV_INDEX))) c.num_key_value_heads = c.num_attention_heads; /* default: MHA */
    if (!(seen & (1u << 30))) c.moe_intermediate_size = c.intermediate_size;          /* default: dense width */

    s = xf_config_validate(&c, name);
    if (s != XF_OK) return s;
    *cfg = c;
    return XF_OK;
}

/* ------------------------------------------------------------------ loading */

/* Read a whole small file into a malloc'd, NUL-terminated buffer. */
static xf_status read_small_file(const char *path, char **out, size_t *out_len) {
    FILE *f = fopen(path, "rb");
    if (!f) return xf_fail(XF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(XF_CONFIG_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return xf_fail(XF_ERR_OOM, "%s: out of memory reading the config", path);
    }
    size_t n = fread(buf, 1, XF_CONFIG_MAX_BYTES + 1, f);
    int err = ferror(f);
    int saved = errno;
    fclose(f);
    if (err) {
        free(buf);
        return xf_fail(XF_ERR_IO, "%s: read failed: %s", path, strerror(saved));
    }
    if (n == 0) {
        free(buf);
        return xf_fail(XF_ERR_FORMAT, "%s: the config file is empty", path);
    }
    if (n > XF_CONFIG_MAX_BYTES) {
        free(buf);
        return xf_fail(XF_ERR_FORMAT, "%s: the config file is larger than %zu bytes", path, XF_CONFIG_MAX_BYTES);
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return XF_OK;
}

xf_status xf_config_load(xf_config *cfg, const char *spec) {
    if (!cfg) return xf_fail(XF_ERR_ARG, "config: nothing to fill");
    if (!spec || !*spec) return xf_fail(XF_ERR_ARG, "config: empty config name (a preset, a JSON file or a directory)");
    for (const char *const *p = k_preset_names; *p; p++)
        if (strcmp(spec, *p) == 0) return xf_config_preset(cfg, spec);

    struct stat st;
    if (stat(spec, &st) != 0) {
        int e = errno;
        if (e == ENOENT)
            return xf_fail(XF_ERR_IO, "%s: no such config file or directory, and not a preset "
                           "(" PRESET_LIST ")", spec);
        return xf_fail(XF_ERR_IO, "%s: cannot open: %s", spec, strerror(e));
    }
    char *path = NULL;
    const char *file = spec;
    if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(spec);
        path = malloc(n + sizeof "/config.json");
        if (!path) return xf_fail(XF_ERR_OOM, "%s: out of memory", spec);
        memcpy(path, spec, n);
        if (n > 0 && spec[n - 1] == '/') n--;
        memcpy(path + n, "/config.json", sizeof "/config.json");
        file = path;
    }
    char *text = NULL;
    size_t len = 0;
    xf_status s = read_small_file(file, &text, &len);
    if (s == XF_OK) {
        s = xf_config_parse(cfg, text, len, file);
        free(text);
    }
    free(path);
    return s;
}

/* ------------------------------------------------------------------ serialisation */

/* Shortest %.Ng (N = 6..9) that reads back, through double, as exactly `f`. */
static void fmt_float(char *buf, size_t cap, float f) {
    if (!isfinite(f)) { /* only an invalid config gets here; keep the JSON well-formed */
        snprintf(buf, cap, "null");
        return;
    }
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, cap, "%.*g", prec, (double)f);
        if ((float)strtod(buf, NULL) == f) return;
    }
    snprintf(buf, cap, "%.17g", (double)f); /* the double is exact, so this always round-trips */
}

typedef struct {
    char *buf;
    size_t cap, len;
    int fail;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->fail) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->fail = 1;
        return;
    }
    b->len += (size_t)n;
}

char *xf_config_to_json(const xf_config *cfg) {
    char tmp[3][48];
    sbuf b = {malloc(8192), 8192, 0, 0};
    if (!b.buf) return NULL;
    fmt_float(tmp[0], sizeof tmp[0], cfg->norm_eps);
    fmt_float(tmp[1], sizeof tmp[1], cfg->rope_theta);
    fmt_float(tmp[2], sizeof tmp[2], cfg->initializer_range);
    sb_printf(&b, "{\n");
    sb_printf(&b, "  \"model_type\": \"xfmr\",\n");
    sb_printf(&b, "  \"arch\": \"%s\",\n", xf_arch_name(cfg->arch));
    sb_printf(&b, "  \"vocab_size\": %zu,\n", cfg->vocab_size);
    sb_printf(&b, "  \"hidden_size\": %zu,\n", cfg->hidden_size);
    sb_printf(&b, "  \"intermediate_size\": %zu,\n", cfg->intermediate_size);
    sb_printf(&b, "  \"num_hidden_layers\": %zu,\n", cfg->num_hidden_layers);
    sb_printf(&b, "  \"num_attention_heads\": %zu,\n", cfg->num_attention_heads);
    sb_printf(&b, "  \"num_key_value_heads\": %zu,\n", cfg->num_key_value_heads);
    sb_printf(&b, "  \"max_position_embeddings\": %zu,\n", cfg->max_position_embeddings);
    sb_printf(&b, "  \"hidden_act\": \"%s\",\n", xf_act_name(cfg->hidden_act));
    sb_printf(&b, "  \"gated_ffn\": %s,\n", cfg->gated_ffn ? "true" : "false");
    sb_printf(&b, "  \"norm_type\": \"%s\",\n", xf_norm_type_name(cfg->norm_type));
    sb_printf(&b, "  \"norm_eps\": %s,\n", tmp[0]);
    sb_printf(&b, "  \"norm_placement\": \"%s\",\n", xf_norm_placement_name(cfg->norm_placement));
    sb_printf(&b, "  \"position_type\": \"%s\",\n", xf_pos_type_name(cfg->position_type));
    sb_printf(&b, "  \"rope_theta\": %s,\n", tmp[1]);
    sb_printf(&b, "  \"use_bias\": %s,\n", cfg->use_bias ? "true" : "false");
    sb_printf(&b, "  \"tie_word_embeddings\": %s,\n", cfg->tie_word_embeddings ? "true" : "false");
    sb_printf(&b, "  \"initializer_range\": %s", tmp[2]);
    for (size_t i = 0; i < N_EXTRA; i++) {
        const extra_field *f = &k_extra[i];
        const void *slot = (const char *)cfg + f->offset;
        char num[48];
        sb_printf(&b, ",\n  \"%s\": ", f->name);
        switch (f->kind) {
        case F_SIZE: sb_printf(&b, "%zu", *(const size_t *)slot); break;
        case F_INT: sb_printf(&b, "%d", *(const int *)slot); break;
        case F_BOOL: sb_printf(&b, "%s", *(const int *)slot ? "true" : "false"); break;
        case F_ROUTER: sb_printf(&b, "\"%s\"", xf_router_type_name(*(const xf_router_type *)slot)); break;
        case F_FLOAT:
            fmt_float(num, sizeof num, *(const float *)slot);
            sb_printf(&b, "%s", num);
            break;
        }
    }
    sb_printf(&b, "\n");
    sb_printf(&b, "}\n");
    if (b.fail) { /* cannot happen: every field is bounded, well under 8 KiB in all */
        free(b.buf);
        return NULL;
    }
    return b.buf;
}

/* ------------------------------------------------------------------ --set overrides */

int xf_config_is_preset(const char *spec) {
    if (!spec) return 0;
    for (const char *const *p = k_preset_names; *p; p++)
        if (strcmp(spec, *p) == 0) return 1;
    return 0;
}

size_t xf_config_padded_vocab(size_t n) { return n > SIZE_MAX - 63 ? n : (n + 63) / 64 * 64; }

xf_status xf_config_apply_sets(xf_config *cfg, const char *const *sets, size_t n, const char *name) {
    if (!n) return XF_OK;
    if (!name) name = "--set";
    xf_config c = *cfg;
    size_t h0 = c.num_attention_heads, kv0 = c.num_key_value_heads;
    size_t i0 = c.intermediate_size, mi0 = c.moe_intermediate_size;
    unsigned seen = 0;
    for (size_t k = 0; k < n; k++) {
        const char *eq = strchr(sets[k], '=');
        if (!eq || eq == sets[k])
            return xf_fail(XF_ERR_ARG, "%s \"%.64s\": expected KEY=VALUE", name, sets[k]);
        /* a JSON value as it would appear in config.json; anything else is a string */
        cJSON *val = cJSON_ParseWithOpts(eq + 1, NULL, 1);
        if (!val) val = cJSON_CreateString(eq + 1);
        cJSON *obj = cJSON_CreateObject();
        char *key = strndup(sets[k], (size_t)(eq - sets[k]));
        if (!val || !obj || !key) {
            cJSON_Delete(val);
            cJSON_Delete(obj);
            free(key);
            return xf_fail(XF_ERR_OOM, "%s: out of memory", name);
        }
        cJSON_AddItemToObject(obj, key, val);
        free(key);
        xf_status s = parse_field(obj->child, &c, &seen, name);
        cJSON_Delete(obj);
        if (s) return s;
    }
    if (!(seen & (1u << KV_INDEX)) && kv0 == h0) c.num_key_value_heads = c.num_attention_heads;
    if (!(seen & (1u << 30)) && mi0 == i0) c.moe_intermediate_size = c.intermediate_size;
    xf_status s = xf_config_validate(&c, name);
    if (s) return s;
    *cfg = c;
    return XF_OK;
}
