/* Model config: defaults, presets, JSON parsing, validation and serialisation.
 * docs/config.md is the contract this file implements. */
#include "xfmr/config.h"

#include "core/strbuf.h"
#include "io/file.h"
#include "model/model_internal.h" /* params_count */

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
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
    cfg->n_group = 1;
    cfg->topk_group = 1;
}

/* ------------------------------------------------------------------ presets
 *
 * A preset is the defaults plus JSON fragments applied in order, each field
 * through the same parser (and so the same checks) as config.json; a later
 * fragment may override an earlier one. */

/* The tiny shape of every *-tiny preset (gpt2-tiny's). */
#define TINY "{\"vocab_size\": 384, \"hidden_size\": 128, \"intermediate_size\": 512, " \
             "\"num_hidden_layers\": 4, \"num_attention_heads\": 4, \"num_key_value_heads\": 4, " \
             "\"max_position_embeddings\": 256}"
/* LLaMA style: RoPE, RMSNorm, SwiGLU, no biases, untied, GQA. */
#define LLAMA "{\"intermediate_size\": 352, \"num_key_value_heads\": 2, \"hidden_act\": \"silu\", " \
              "\"gated_ffn\": true, \"norm_type\": \"rmsnorm\", \"position_type\": \"rope\", " \
              "\"use_bias\": false, \"tie_word_embeddings\": false}"
/* T5 (v1.0) style: RMSNorm 1e-6, pre-norm, no biases, relative bias, unscaled
 * logits, ReLU FFN, tied head with the d^-1/2 rescale, HF T5's init. */
#define T5 "{\"arch\": \"encoder_decoder\", \"hidden_act\": \"relu\", \"norm_type\": \"rmsnorm\", " \
           "\"norm_eps\": 1e-6, \"position_type\": \"relative\", \"use_bias\": false, " \
           "\"scale_attn_logits\": false, \"rescale_tied_head\": true, \"initializer_factor\": 1.0}"
/* The benchmark shape (GPT-2 small's proportions at 6 layers of 384). */
#define BENCH "{\"vocab_size\": 8192, \"hidden_size\": 384, \"intermediate_size\": 1536, " \
              "\"num_hidden_layers\": 6, \"num_attention_heads\": 6, \"num_key_value_heads\": 6, " \
              "\"max_position_embeddings\": 256}"

/* PRESET(name, fragments...) for each preset, in the order they are listed.
 *   gpt2-tiny      the defaults do the rest: gelu_tanh, layernorm, pre, learned, bias, tied
 *   bert-tiny      BERT's layout with rotary positions: with learned absolute
 *                  positions a model this small stays a bag of bytes (loss at
 *                  the unigram entropy) for the first thousand steps of MLM;
 *                  docs/families.md has the numbers
 *   mixtral-tiny   8 experts, top-2, width 176: llama-tiny's active FFN
 *   switch-tiny    top-1, capacity 1.25, ReLU experts every other layer, z-loss, jitter
 *   deepseek-tiny  fine-grained: 16 experts of width 88, top-3, one shared; first layer dense
 *   bench-moe      8 experts, top-2 of width 768: bench-gpt's active FFN */
#define PRESETS(PRESET)                                                                                   \
    PRESET("gpt2-tiny", TINY)                                                                             \
    PRESET("llama-tiny", TINY, LLAMA)                                                                     \
    PRESET("bench-gpt", BENCH)                                                                            \
    PRESET("bert-tiny", TINY,                                                                             \
           "{\"arch\": \"encoder\", \"position_type\": \"rope\", \"hidden_act\": \"gelu\", "               \
           "\"norm_eps\": 1e-12, \"norm_placement\": \"post\", \"embed_layernorm\": true, "                \
           "\"type_vocab_size\": 2, \"mlm_transform\": true, \"lm_head_bias\": true}")                      \
    PRESET("prefix-tiny", TINY, LLAMA, "{\"arch\": \"prefix_lm\"}")                                       \
    PRESET("t5-tiny", TINY, T5, "{\"num_hidden_layers\": 3, \"num_decoder_layers\": 3}")                  \
    PRESET("bart-tiny", TINY,                                                                             \
           "{\"arch\": \"encoder_decoder\", \"num_hidden_layers\": 3, \"num_decoder_layers\": 3, "         \
           "\"hidden_act\": \"gelu\", \"norm_placement\": \"post\", \"position_offset\": 2, "              \
           "\"embed_layernorm\": true, \"lm_head_bias\": true}")                                           \
    PRESET("bench-t5", BENCH, T5, "{\"num_hidden_layers\": 3, \"num_decoder_layers\": 3}")                \
    PRESET("mixtral-tiny", TINY, LLAMA,                                                                   \
           "{\"num_experts\": 8, \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 176}")            \
    PRESET("switch-tiny", TINY,                                                                           \
           "{\"hidden_act\": \"relu\", \"num_experts\": 8, \"num_experts_per_tok\": 1, "                   \
           "\"moe_intermediate_size\": 512, \"moe_layer_freq\": 2, \"router_type\": \"softmax_topk\", "   \
           "\"capacity_factor\": 1.25, \"router_z_loss_coef\": 0.001, \"router_jitter\": 0.01}")           \
    PRESET("deepseek-tiny", TINY, LLAMA,                                                                  \
           "{\"num_experts\": 16, \"num_experts_per_tok\": 3, \"moe_intermediate_size\": 88, "             \
           "\"num_shared_experts\": 1, \"first_k_dense_layers\": 1, "                                      \
           "\"router_type\": \"sigmoid_topk_norm\", \"router_aux_loss_coef\": 0.0001}")                    \
    PRESET("bench-moe", BENCH, "{\"num_experts\": 8, \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 768}")

typedef struct {
    const char *name;
    const char *parts[4]; /* fragments applied in order, NULL-terminated */
} preset;

#define PRESET_ROW(n, ...) {n, {__VA_ARGS__}},
#define PRESET_NAME(n, ...) n,
static const preset k_presets[] = {PRESETS(PRESET_ROW)};
#define N_PRESETS (sizeof k_presets / sizeof k_presets[0])
static const char *const k_preset_names[] = {PRESETS(PRESET_NAME) NULL};

const char *const *xf_config_preset_names(void) { return k_preset_names; }

/* "a, b, c" of every preset name into buf[512], for messages. */
static const char *preset_list(char *buf) {
    size_t pos = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_PRESETS && pos < 512; i++)
        pos += (size_t)snprintf(buf + pos, 512 - pos, "%s%s", i ? ", " : "", k_presets[i].name);
    return buf;
}

static xf_status parse_field(const cJSON *it, xf_config *c, unsigned *seen_sizes, const char *name);

xf_status xf_config_preset(xf_config *cfg, const char *name) {
    const preset *p = NULL;
    for (size_t i = 0; name && i < N_PRESETS && !p; i++)
        if (strcmp(name, k_presets[i].name) == 0) p = &k_presets[i];
    char list[512];
    if (!p) return xf_fail(XF_ERR_ARG, "unknown config preset \"%s\" (presets: %s)", name ? name : "(null)",
                           preset_list(list));
    xf_config c;
    xf_config_defaults(&c);
    unsigned seen = 0;
    xf_status s = XF_OK;
    for (size_t k = 0; k < 4 && p->parts[k] && !s; k++) {
        cJSON *root = cJSON_Parse(p->parts[k]);
        if (!root) return xf_fail(XF_ERR_OOM, "preset %s: out of memory", name);
        for (const cJSON *it = root->child; it && !s; it = it->next) s = parse_field(it, &c, &seen, name);
        cJSON_Delete(root);
    }
    if (!s) s = xf_config_validate(&c, name);
    if (s) return s;
    *cfg = c;
    return XF_OK;
}

int32_t xf_decoder_start_id(const xf_config *cfg, int32_t pad_id) {
    if (cfg->decoder_start_token_id >= 0) return cfg->decoder_start_token_id;
    return pad_id >= 0 ? pad_id : 0;
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

size_t xf_config_num_params(const xf_config *cfg) { return params_count(cfg, NULL, 0); }

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
    CHECK_BOOL(block_position_embeddings);
    if (cfg->block_position_embeddings &&
        (cfg->position_type != XF_POS_LEARNED || (cfg->arch != XF_ARCH_DECODER && cfg->arch != XF_ARCH_PREFIX_LM)))
        return xf_fail(XF_ERR_ARG, "%s: block_position_embeddings (GLM's 2D positions) needs position_type "
                       "\"learned\" and arch decoder or prefix_lm", name);
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
    /* the router's numbers are checked even in a dense config: they are written back */
    CHECK_RANGE(routed_scaling_factor, 1e-6, 1e6);
    CHECK_RANGE(router_bias_update_speed, 0.0, 1.0);
    CHECK_RANGE(capacity_factor, 0.0, 1e4);
    CHECK_RANGE(router_aux_loss_coef, 0.0, 1e3);
    CHECK_RANGE(router_z_loss_coef, 0.0, 1e3);
    CHECK_RANGE(router_jitter, 0.0, 0.99);
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
    size_t G = cfg->n_group, TG = cfg->topk_group;
    if (G < 1 || E % G)
        return xf_fail(XF_ERR_ARG, "%s: n_group must divide num_experts = %zu, got %zu", name, E, G);
    if (TG < 1 || TG > G)
        return xf_fail(XF_ERR_ARG, "%s: topk_group must be in [1, n_group = %zu], got %zu", name, G, TG);
    if (K > TG * (E / G))
        return xf_fail(XF_ERR_ARG, "%s: topk_group = %zu groups of %zu experts hold fewer than num_experts_per_tok = %zu",
                       name, TG, E / G, K);
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
    size_t total = params_count(cfg, largest, sizeof largest), bytes = 0;
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
    if (!isfinite((float)it->valuedouble))
        return xf_fail(XF_ERR_FORMAT, "%s: %s = %g does not fit a 32-bit float", name, field, it->valuedouble);
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
typedef enum { F_SIZE, F_BOOL, F_FLOAT, F_INT, F_ENUM } field_kind;

/* Every config.json field but the required sizes (k_sizes), in the order
 * xf_config_to_json writes them (after arch and the sizes): its JSON name, kind,
 * place in xf_config, and its limit (F_SIZE / F_INT) or its names (F_ENUM). */
typedef struct {
    const char *name;
    field_kind kind;
    size_t offset;
    double cap;                /* F_SIZE / F_INT: largest accepted value */
    const char *const *names;  /* F_ENUM: the spellings, index = value */
    int n_names;
} extra_field;

#define XF(n, k, cap) {#n, k, offsetof(xf_config, n), cap, NULL, 0}
#define XE(n, names, count) {#n, F_ENUM, offsetof(xf_config, n), 0, names, count}
static const extra_field k_arch_field = XE(arch, k_arch_names, XF_ARCH_COUNT);
static const extra_field k_extra[] = {
    XE(hidden_act, k_act_names, XF_ACT_COUNT),
    XF(gated_ffn, F_BOOL, 0),
    XE(norm_type, k_norm_names, XF_NORM_COUNT),
    XF(norm_eps, F_FLOAT, 0),
    XE(norm_placement, k_place_names, XF_PLACEMENT_COUNT),
    XE(position_type, k_pos_names, XF_POS_COUNT),
    XF(rope_theta, F_FLOAT, 0),
    XF(use_bias, F_BOOL, 0),
    XF(tie_word_embeddings, F_BOOL, 0),
    XF(initializer_range, F_FLOAT, 0),
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
    XE(router_type, k_router_names, XF_ROUTER_COUNT),
    XF(routed_scaling_factor, F_FLOAT, 0),
    XF(router_bias_update_speed, F_FLOAT, 0),
    XF(capacity_factor, F_FLOAT, 0),
    XF(router_aux_loss_coef, F_FLOAT, 0),
    XF(router_z_loss_coef, F_FLOAT, 0),
    XF(router_jitter, F_FLOAT, 0),
    XF(n_group, F_SIZE, 1024),
    XF(topk_group, F_SIZE, 1024),
    XF(seq_aux, F_BOOL, 0),
    XF(block_position_embeddings, F_BOOL, 0),
};
#define N_EXTRA (sizeof k_extra / sizeof k_extra[0])

static xf_status parse_extra(const cJSON *it, const extra_field *f, xf_config *c, const char *name) {
    void *slot = (char *)c + f->offset;
    int e = 0;
    xf_status s;
    switch (f->kind) {
    case F_BOOL: return parse_bool(it, f->name, (int *)slot, name);
    case F_FLOAT: return parse_float(it, f->name, (float *)slot, name);
    case F_ENUM: /* every enum of xf_config is stored as an int-sized enum */
        s = parse_enum(it, f->name, f->names, f->n_names, &e, name);
        if (s == XF_OK) *(int *)slot = e;
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
    if (strcmp(k, k_arch_field.name) == 0) return parse_extra(it, &k_arch_field, c, name);
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

/* A whole config file (at most XF_CONFIG_MAX_BYTES, not empty) into a
 * malloc'd, NUL-terminated buffer. */
static xf_status read_config_file(const char *path, char **out, size_t *out_len) {
    xf_status s = xf_file_read_all(path, out, out_len, XF_CONFIG_MAX_BYTES);
    if (s == XF_OK && *out_len == 0) {
        free(*out);
        *out = NULL;
        return xf_fail(XF_ERR_FORMAT, "%s: the config file is empty", path);
    }
    return s;
}

xf_status xf_config_load(xf_config *cfg, const char *spec) {
    if (!cfg) return xf_fail(XF_ERR_ARG, "config: nothing to fill");
    if (!spec || !*spec) return xf_fail(XF_ERR_ARG, "config: empty config name (a preset, a JSON file or a directory)");
    for (size_t i = 0; i < N_PRESETS; i++)
        if (strcmp(spec, k_presets[i].name) == 0) return xf_config_preset(cfg, spec);

    struct stat st;
    if (stat(spec, &st) != 0) {
        int e = errno;
        char list[512];
        if (e == ENOENT)
            return xf_fail(XF_ERR_IO, "%s: no such config file or directory, and not a preset (%s)", spec,
                           preset_list(list));
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
    xf_status s = read_config_file(file, &text, &len);
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

char *xf_config_to_json(const xf_config *cfg) {
    xf_strbuf b = {0};
    sb_printf(&b, "{\n");
    sb_printf(&b, "  \"model_type\": \"xfmr\",\n");
    sb_printf(&b, "  \"arch\": \"%s\",\n", xf_arch_name(cfg->arch));
    for (size_t i = 0; i < N_SIZES; i++)
        sb_printf(&b, "%s  \"%s\": %zu", i ? ",\n" : "", k_sizes[i].name, size_get(cfg, &k_sizes[i]));
    for (size_t i = 0; i < N_EXTRA; i++) {
        const extra_field *f = &k_extra[i];
        const void *slot = (const char *)cfg + f->offset;
        char num[48];
        sb_printf(&b, ",\n  \"%s\": ", f->name);
        switch (f->kind) {
        case F_SIZE: sb_printf(&b, "%zu", *(const size_t *)slot); break;
        case F_INT: sb_printf(&b, "%d", *(const int *)slot); break;
        case F_BOOL: sb_printf(&b, "%s", *(const int *)slot ? "true" : "false"); break;
        case F_ENUM: {
            int v = *(const int *)slot;
            sb_printf(&b, "\"%s\"", v >= 0 && v < f->n_names ? f->names[v] : "unknown");
            break;
        }
        case F_FLOAT:
            fmt_float(num, sizeof num, *(const float *)slot);
            sb_printf(&b, "%s", num);
            break;
        }
    }
    sb_printf(&b, "\n");
    sb_printf(&b, "}\n");
    if (b.oom) { /* out of memory */
        sb_free(&b);
        return NULL;
    }
    return b.p;
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

/* ------------------------------------------------------------------ differences */

/* Append field line [s, s+len) (`  "field": value,`) to out[cap] at *k, without
 * its indent and comma, after ", " when not the first. */
static void diff_put(char *out, size_t cap, size_t *k, const char *s, size_t len, int first) {
    if (!out || *k >= cap) return;
    while (len && *s == ' ') s++, len--;
    if (len && s[len - 1] == ',') len--;
    *k += (size_t)snprintf(out + *k, cap - *k, "%s%.*s", first ? "" : ", ", (int)len, s);
}

size_t xf_config_diff(const xf_config *a, const xf_config *b, size_t max, char *a_out, char *b_out, size_t cap) {
    if (a_out && cap) a_out[0] = '\0';
    if (b_out && cap) b_out[0] = '\0';
    char *ja = xf_config_to_json(a), *jb = xf_config_to_json(b);
    size_t d = 0, ka = 0, kb = 0;
    if (!ja || !jb) {
        free(ja);
        free(jb);
        return (size_t)-1;
    }
    /* each field is on its own line, in the same order for every config */
    for (const char *sa = ja, *sb = jb; *sa && *sb;) {
        const char *ea = strchr(sa, '\n'), *eb = strchr(sb, '\n');
        size_t la = ea ? (size_t)(ea - sa) : strlen(sa), lb = eb ? (size_t)(eb - sb) : strlen(sb);
        if (la != lb || memcmp(sa, sb, la)) {
            if (d < max) {
                diff_put(a_out, cap, &ka, sa, la, d == 0);
                diff_put(b_out, cap, &kb, sb, lb, d == 0);
            }
            d++;
        }
        if (!ea || !eb) break;
        sa = ea + 1;
        sb = eb + 1;
    }
    free(ja);
    free(jb);
    return d;
}
