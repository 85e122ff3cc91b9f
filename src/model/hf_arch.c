/* The Hugging Face architecture table (see hf_arch.h).
 *
 * Each row reads one transformers model_type. Sources for every mapping are
 * transformers' configuration_*.py (field names and defaults) and
 * modeling_*.py (tensor names, layouts and the maths); docs/formats.md
 * §"Hugging Face directories" states them in our words. xfmr's own names are
 * those of src/model/params.c: single-stack models use LLaMA's names
 * ("model.layers.N.self_attn.q_proj.weight"), encoder-decoders T5's. */
#include "model/hf_arch.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "xfmr/status.h"

#define F(key, kind, field, req) {key, kind, offsetof(xf_config, field), req}
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- activations */

static const struct {
    const char *name;
    xf_act act;
} ACTS[] = {
    {"gelu_new", XF_ACT_GELU_TANH}, /* tanh approximation (GPT-2's name, written on export) */
    {"gelu_pytorch_tanh", XF_ACT_GELU_TANH},
    {"gelu_fast", XF_ACT_GELU_TANH},
    {"gelu", XF_ACT_GELU}, /* erf GELU */
    {"relu", XF_ACT_RELU},
    {"silu", XF_ACT_SILU},
    {"swish", XF_ACT_SILU},
};

int hf_act_parse(const char *name, xf_act *out) {
    for (size_t i = 0; i < N_OF(ACTS); i++)
        if (!strcmp(ACTS[i].name, name)) {
            *out = ACTS[i].act;
            return 0;
        }
    return -1;
}

const char *hf_act_name(xf_act a) {
    for (size_t i = 0; i < N_OF(ACTS); i++)
        if (ACTS[i].act == a) return ACTS[i].name;
    return "?";
}

const char *hf_act_list(void) { return "gelu_new, gelu_pytorch_tanh, gelu_fast, gelu, relu, silu, swish"; }

/* Rows without grouped-query attention: as many key/value heads as query heads. */
static xf_status mha_post(xf_config *c, const cJSON *root, const char *path) {
    (void)root;
    (void)path;
    c->num_key_value_heads = c->num_attention_heads;
    return XF_OK;
}

/* ---------------------------------------------------------------- LLaMA family */

/* The fields every LLaMA-style config has (LlamaConfig's names). */
#define LLAMA_FIELDS                                                              \
    F("vocab_size", HF_SIZE, vocab_size, 1), F("hidden_size", HF_SIZE, hidden_size, 1), \
        F("intermediate_size", HF_SIZE, intermediate_size, 1),                   \
        F("num_hidden_layers", HF_SIZE, num_hidden_layers, 1),                   \
        F("num_attention_heads", HF_SIZE, num_attention_heads, 1),               \
        F("num_key_value_heads", HF_SIZE, num_key_value_heads, 0),               \
        F("max_position_embeddings", HF_SIZE, max_position_embeddings, 0),       \
        F("hidden_act", HF_ACT, hidden_act, 0), F("rms_norm_eps", HF_FLOAT, norm_eps, 0), \
        F("rope_theta", HF_FLOAT, rope_theta, 0),                                \
        F("tie_word_embeddings", HF_BOOL, tie_word_embeddings, 0),               \
        F("initializer_range", HF_FLOAT, initializer_range, 0)

/* RoPE scaling, partial rotary and the rest change the maths: only their neutral values load. */
#define LLAMA_MUSTS                                                               \
    {"rope_scaling", "null"}, {"pretraining_tp", "1"}, {"partial_rotary_factor", "1|1.0"}, \
        {"attention_dropout", "0|0.0"}

static void llama_fixed(xf_config *c) {
    xf_config_defaults(c);
    c->arch = XF_ARCH_DECODER;
    c->hidden_act = XF_ACT_SILU;
    c->gated_ffn = 1;
    c->norm_type = XF_NORM_RMSNORM;
    c->norm_eps = 1e-6f;
    c->position_type = XF_POS_ROPE;
    c->use_bias = 0;
    c->tie_word_embeddings = 0;
    c->max_position_embeddings = 2048;
    c->num_key_value_heads = 0; /* 0: num_attention_heads (set after the fields) */
}

/* head_dim, when given, must be hidden_size / num_attention_heads (xfmr's only layout). */
static xf_status check_head_dim(const xf_config *c, const cJSON *root, const char *path) {
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(root, "head_dim");
    if (!hd || cJSON_IsNull(hd)) return XF_OK;
    size_t want = c->num_attention_heads ? c->hidden_size / c->num_attention_heads : 0;
    if (!cJSON_IsNumber(hd) || hd->valuedouble != (double)want)
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: head_dim: supported values: null or hidden_size / "
                                           "num_attention_heads = %zu", path, want);
    return XF_OK;
}

/* Sliding-window attention equals full attention over sequences no longer than
 * the window, so a window shortens the context instead of being refused. */
static void clamp_window(xf_config *c, const cJSON *root) {
    const cJSON *use = cJSON_GetObjectItemCaseSensitive(root, "use_sliding_window");
    if (use && cJSON_IsFalse(use)) return; /* Qwen2: the window is off */
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "sliding_window");
    if (w && cJSON_IsNumber(w) && w->valuedouble >= 1 && w->valuedouble < (double)c->max_position_embeddings)
        c->max_position_embeddings = (size_t)w->valuedouble;
}

/* transformers v5 writes RoPE's settings as rope_parameters {rope_type, rope_theta,
 * partial_rotary_factor}: only the default rotation over whole heads loads. */
static xf_status rope_parameters(xf_config *c, const cJSON *root, const char *path) {
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(root, "rope_parameters");
    if (!rp || cJSON_IsNull(rp)) return XF_OK;
    if (!cJSON_IsObject(rp)) return xf_fail(XF_ERR_FORMAT, "%s: rope_parameters must be an object", path);
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rp, "rope_type");
    if (ty && !(cJSON_IsString(ty) && !strcmp(ty->valuestring, "default")))
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: rope_parameters.rope_type: supported value: \"default\"", path);
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(rp, "partial_rotary_factor");
    if (pr && !(cJSON_IsNumber(pr) && pr->valuedouble == 1.0))
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: rope_parameters.partial_rotary_factor: supported value: 1", path);
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(rp, "rope_theta");
    if (th) {
        if (!cJSON_IsNumber(th) || !(th->valuedouble > 0) || th->valuedouble > 1e30)
            return xf_fail(XF_ERR_FORMAT, "%s: rope_parameters.rope_theta must be a positive number", path);
        c->rope_theta = (float)th->valuedouble;
    }
    return XF_OK;
}

static xf_status llama_post(xf_config *c, const cJSON *root, const char *path) {
    if (!c->num_key_value_heads) c->num_key_value_heads = c->num_attention_heads;
    xf_status s = rope_parameters(c, root, path);
    if (s) return s;
    clamp_window(c, root);
    return check_head_dim(c, root, path);
}

static xf_status llama_export(const xf_config *c, cJSON *out) {
    (void)c; /* attention_bias and mlp_bias are both use_bias (the field rows) */
    cJSON_AddNullToObject(out, "rope_scaling");
    return XF_OK;
}

static const hf_field LLAMA_F[] = {
    LLAMA_FIELDS,
    /* xfmr has one switch for every linear bias: the two HF switches must agree */
    F("attention_bias", HF_BOOL, use_bias, 0),
    F("mlp_bias", HF_BOOL, use_bias, 0),
};
static const hf_must LLAMA_M[] = {LLAMA_MUSTS};

/* Old LLaMA checkpoints store RoPE's inverse frequencies; a tied head may still be saved. */
static const char *const LLAMA_IGNORE[] = {"model.layers.{L}.self_attn.rotary_emb.inv_freq", "lm_head.weight",
                                           NULL};

static const hf_field MISTRAL_F[] = {LLAMA_FIELDS};
static const hf_must MISTRAL_M[] = {LLAMA_MUSTS};

static void mistral_fixed(xf_config *c) {
    llama_fixed(c);
    c->max_position_embeddings = 4096 * 32;
}

static xf_status mistral_export(const xf_config *c, cJSON *out) {
    (void)c;
    cJSON_AddNullToObject(out, "sliding_window");
    cJSON_AddNullToObject(out, "rope_scaling");
    return XF_OK;
}

/* Qwen2: biases on q, k and v only. xfmr's use_bias gives every linear a
 * bias; the ones Qwen2 lacks load as zeros (HF_ZERO) and must stay zero to
 * be written back. */
static const hf_field QWEN2_F[] = {LLAMA_FIELDS};
static const hf_must QWEN2_M[] = {LLAMA_MUSTS};

static void qwen2_fixed(xf_config *c) {
    llama_fixed(c);
    c->use_bias = 1;
    c->max_position_embeddings = 32768;
}

static xf_status qwen2_export(const xf_config *c, cJSON *out) {
    (void)c;
    cJSON_AddBoolToObject(out, "use_sliding_window", 0);
    cJSON_AddNullToObject(out, "rope_scaling");
    return XF_OK;
}

/* Biases on q, k and v only: xfmr's other biases stay zero (also glm4_moe's). */
#define QKV_BIAS_ONLY                                                                                          \
    {"model.layers.{L}.self_attn.o_proj.bias", "", HF_ZERO},                                                   \
        {"model.layers.{L}.mlp.gate_proj.bias", "", HF_ZERO}, {"model.layers.{L}.mlp.up_proj.bias", "", HF_ZERO}, \
        {"model.layers.{L}.mlp.down_proj.bias", "", HF_ZERO}
static const namemap_row QWEN2_N[] = {QKV_BIAS_ONLY};

/* Mixtral: every FFN is a top-k softmax MoE of SwiGLU experts, renormalised
 * over the selected; names are xfmr's own (params.c uses Mixtral's). */
static const hf_field MIXTRAL_F[] = {
    F("intermediate_size", HF_SIZE, moe_intermediate_size, 1), /* first: the width written on export */
    LLAMA_FIELDS,
    F("num_local_experts", HF_SIZE, num_experts, 1),
    F("num_experts_per_tok", HF_SIZE, num_experts_per_tok, 0),
    F("router_aux_loss_coef", HF_FLOAT, router_aux_loss_coef, 0),
    F("router_jitter_noise", HF_FLOAT, router_jitter, 0),
};
static const hf_must MIXTRAL_M[] = {LLAMA_MUSTS};

static void mixtral_fixed(xf_config *c) {
    llama_fixed(c);
    c->max_position_embeddings = 4096 * 32;
    c->rope_theta = 1e6f;
    c->norm_eps = 1e-5f;
    c->num_experts_per_tok = 2;
    c->router_type = XF_ROUTER_SOFTMAX_TOPK_RENORM;
    c->router_aux_loss_coef = 0.001f;
}

/* GLM-4 MoE, the DeepSeek-V3 style MoE in transformers with plain attention:
 * the first first_k_dense_replace layers dense, the rest sigmoid-routed
 * experts (top-k of score + e_score_correction_bias, weights normalised and
 * scaled) plus always-on shared experts. DeepSeek-V2/V3 themselves use
 * multi-head latent attention (a normalised low-rank k/v path with a separate
 * rotary part), which xfmr's attention cannot hold, so this is the row for
 * DeepSeek-style models. xfmr rotates whole heads and has no q/k norm, so
 * partial_rotary_factor must be 1 and use_qk_norm false. */
static const hf_field GLM4_MOE_F[] = {
    LLAMA_FIELDS,
    F("attention_bias", HF_BOOL, use_bias, 0),
    F("moe_intermediate_size", HF_SIZE, moe_intermediate_size, 1),
    F("n_routed_experts", HF_SIZE, num_experts, 1),
    F("num_experts_per_tok", HF_SIZE, num_experts_per_tok, 0),
    F("n_shared_experts", HF_SIZE, num_shared_experts, 0),
    F("first_k_dense_replace", HF_SIZE, first_k_dense_layers, 0),
    F("routed_scaling_factor", HF_FLOAT, routed_scaling_factor, 0),
    /* group-limited routing (DeepSeek-V3): the best topk_group of n_group groups of experts */
    F("n_group", HF_SIZE, n_group, 0),
    F("topk_group", HF_SIZE, topk_group, 0),
};
static const hf_must GLM4_MOE_M[] = {LLAMA_MUSTS, {"use_qk_norm", "false"}, {"norm_topk_prob", "true"}};

static void glm4_moe_fixed(xf_config *c) {
    llama_fixed(c);
    c->max_position_embeddings = 131072;
    c->norm_eps = 1e-5f;
    c->num_experts_per_tok = 8;
    c->num_shared_experts = 1;
    c->first_k_dense_layers = 1;
    c->router_type = XF_ROUTER_SIGMOID_TOPK_NORM;
}

/* n_group / topk_group are range-checked by xf_config_validate (n_group divides
 * the experts, topk_group groups hold at least num_experts_per_tok). */
static xf_status glm4_moe_post(xf_config *c, const cJSON *root, const char *path) {
    if (c->first_k_dense_layers >= c->num_hidden_layers)
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: first_k_dense_replace = %zu leaves no MoE layer (num_hidden_layers "
                                           "%zu)", path, c->first_k_dense_layers, c->num_hidden_layers);
    return llama_post(c, root, path);
}

static xf_status glm4_moe_export(const xf_config *c, cJSON *out) {
    (void)c; /* n_group and topk_group are field rows */
    cJSON_AddBoolToObject(out, "norm_topk_prob", 1);
    cJSON_AddBoolToObject(out, "use_qk_norm", 0);
    cJSON_AddNumberToObject(out, "partial_rotary_factor", 1.0);
    cJSON_AddNullToObject(out, "rope_scaling");
    return XF_OK;
}

/* Biases on q, k and v only (as Qwen2); the MoE block is "mlp", experts SwiGLU. */
static const namemap_row GLM4_MOE_N[] = {
    QKV_BIAS_ONLY,
    {"model.layers.{L}.block_sparse_moe.gate.weight", "model.layers.{L}.mlp.gate.weight", HF_COPY},
    {"model.layers.{L}.block_sparse_moe.gate.e_score_correction_bias", "model.layers.{L}.mlp.gate.e_score_correction_bias",
     HF_COPY},
    {"model.layers.{L}.block_sparse_moe.experts.{E}.w1.weight", "model.layers.{L}.mlp.experts.{E}.gate_proj.weight",
     HF_COPY},
    {"model.layers.{L}.block_sparse_moe.experts.{E}.w2.weight", "model.layers.{L}.mlp.experts.{E}.down_proj.weight",
     HF_COPY},
    {"model.layers.{L}.block_sparse_moe.experts.{E}.w3.weight", "model.layers.{L}.mlp.experts.{E}.up_proj.weight",
     HF_COPY},
};

/* ---------------------------------------------------------------- GPT-2 */

static const hf_field GPT2_F[] = {
    F("vocab_size", HF_SIZE, vocab_size, 1),
    F("n_embd", HF_SIZE, hidden_size, 1),
    F("n_layer", HF_SIZE, num_hidden_layers, 1),
    F("n_head", HF_SIZE, num_attention_heads, 1),
    F("n_positions", HF_SIZE, max_position_embeddings, 0),
    F("n_inner", HF_SIZE, intermediate_size, 0),
    F("activation_function", HF_ACT, hidden_act, 0),
    F("layer_norm_epsilon", HF_FLOAT, norm_eps, 0),
    F("tie_word_embeddings", HF_BOOL, tie_word_embeddings, 0),
    F("initializer_range", HF_FLOAT, initializer_range, 0),
};
static const hf_must GPT2_M[] = {
    {"scale_attn_weights", "true"},
    {"scale_attn_by_inverse_layer_idx", "false"},
    {"add_cross_attention", "false"},
};

static void gpt2_fixed(xf_config *c) {
    xf_config_defaults(c); /* xfmr's defaults are GPT-2's block: pre-LayerNorm, learned positions, biases */
    c->max_position_embeddings = 1024;
    c->hidden_act = XF_ACT_GELU_TANH;
    c->norm_eps = 1e-5f;
}

static xf_status gpt2_post(xf_config *c, const cJSON *root, const char *path) {
    if (!c->intermediate_size) c->intermediate_size = 4 * c->hidden_size; /* n_inner null */
    return mha_post(c, root, path);
}

/* Conv1D stores weights [in, out]; c_attn is q, k and v side by side. */
static const namemap_row GPT2_N[] = {
    {"model.embed_tokens.weight", "wte.weight", HF_COPY},
    {"model.embed_positions.weight", "wpe.weight", HF_COPY},
    {"model.layers.{L}.input_layernorm.weight", "h.{L}.ln_1.weight", HF_COPY},
    {"model.layers.{L}.input_layernorm.bias", "h.{L}.ln_1.bias", HF_COPY},
    {"model.layers.{L}.self_attn.q_proj.weight", "h.{L}.attn.c_attn.weight", HF_QKV0},
    {"model.layers.{L}.self_attn.k_proj.weight", "h.{L}.attn.c_attn.weight", HF_QKV1},
    {"model.layers.{L}.self_attn.v_proj.weight", "h.{L}.attn.c_attn.weight", HF_QKV2},
    {"model.layers.{L}.self_attn.q_proj.bias", "h.{L}.attn.c_attn.bias", HF_QKV0},
    {"model.layers.{L}.self_attn.k_proj.bias", "h.{L}.attn.c_attn.bias", HF_QKV1},
    {"model.layers.{L}.self_attn.v_proj.bias", "h.{L}.attn.c_attn.bias", HF_QKV2},
    {"model.layers.{L}.self_attn.o_proj.weight", "h.{L}.attn.c_proj.weight", HF_T},
    {"model.layers.{L}.self_attn.o_proj.bias", "h.{L}.attn.c_proj.bias", HF_COPY},
    {"model.layers.{L}.post_attention_layernorm.weight", "h.{L}.ln_2.weight", HF_COPY},
    {"model.layers.{L}.post_attention_layernorm.bias", "h.{L}.ln_2.bias", HF_COPY},
    {"model.layers.{L}.mlp.up_proj.weight", "h.{L}.mlp.c_fc.weight", HF_T},
    {"model.layers.{L}.mlp.up_proj.bias", "h.{L}.mlp.c_fc.bias", HF_COPY},
    {"model.layers.{L}.mlp.down_proj.weight", "h.{L}.mlp.c_proj.weight", HF_T},
    {"model.layers.{L}.mlp.down_proj.bias", "h.{L}.mlp.c_proj.bias", HF_COPY},
    {"model.norm.weight", "ln_f.weight", HF_COPY},
    {"model.norm.bias", "ln_f.bias", HF_COPY},
    {"lm_head.weight", "lm_head.weight", HF_COPY},
};
/* the causal-mask buffers older transformers saved with every layer */
static const char *const GPT2_IGNORE[] = {"h.{L}.attn.bias", "h.{L}.attn.masked_bias", "lm_head.weight", NULL};

/* ---------------------------------------------------------------- BERT and RoBERTa */

#define BERT_FIELDS                                                               \
    F("vocab_size", HF_SIZE, vocab_size, 1), F("hidden_size", HF_SIZE, hidden_size, 1), \
        F("num_hidden_layers", HF_SIZE, num_hidden_layers, 1),                   \
        F("num_attention_heads", HF_SIZE, num_attention_heads, 1),               \
        F("intermediate_size", HF_SIZE, intermediate_size, 1),                   \
        F("hidden_act", HF_ACT, hidden_act, 0),                                  \
        F("max_position_embeddings", HF_SIZE, max_position_embeddings, 0),       \
        F("type_vocab_size", HF_SIZE, type_vocab_size, 0),                       \
        F("layer_norm_eps", HF_FLOAT, norm_eps, 0),                              \
        F("tie_word_embeddings", HF_BOOL, tie_word_embeddings, 0),               \
        F("initializer_range", HF_FLOAT, initializer_range, 0)

static const hf_field BERT_F[] = {BERT_FIELDS};
static const hf_must BERT_M[] = {{"position_embedding_type", "\"absolute\""}, {"is_decoder", "false"},
                                 {"tie_word_embeddings", "true"}};
/* RoBERTa's head applies exact GELU whatever hidden_act says; xfmr's uses hidden_act. */
static const hf_must ROBERTA_M[] = {{"position_embedding_type", "\"absolute\""}, {"is_decoder", "false"},
                                    {"tie_word_embeddings", "true"}, {"hidden_act", "\"gelu\""}};

/* Post-LayerNorm encoder, learned positions, token types, embedding norm, MLM head with its transform. */
static void bert_fixed(xf_config *c) {
    xf_config_defaults(c);
    c->arch = XF_ARCH_ENCODER;
    c->hidden_act = XF_ACT_GELU;
    c->norm_placement = XF_NORM_POST;
    c->norm_eps = 1e-12f;
    c->max_position_embeddings = 512;
    c->type_vocab_size = 2;
    c->embed_layernorm = 1;
    c->mlm_transform = 1;
    c->lm_head_bias = 1;
}


static void roberta_fixed(xf_config *c) {
    bert_fixed(c);
    c->type_vocab_size = 1;
    c->max_position_embeddings = 514;
}

/* RoBERTa numbers positions from pad_token_id + 1, so the table has that many
 * extra rows in front: xfmr's position_offset, with max_position_embeddings
 * counting usable positions only. */
static xf_status roberta_post(xf_config *c, const cJSON *root, const char *path) {
    mha_post(c, root, path);
    const cJSON *pad = cJSON_GetObjectItemCaseSensitive(root, "pad_token_id");
    double p = pad && cJSON_IsNumber(pad) ? pad->valuedouble : 1.0;
    if (p < 0 || p > 1000 || p != (double)(size_t)p)
        return xf_fail(XF_ERR_FORMAT, "%s: pad_token_id: must be an integer in [0, 1000]", path);
    c->position_offset = (size_t)p + 1;
    if (c->max_position_embeddings <= c->position_offset)
        return xf_fail(XF_ERR_FORMAT, "%s: max_position_embeddings = %zu leaves no positions after the offset "
                                      "pad_token_id + 1 = %zu", path, c->max_position_embeddings,
                       c->position_offset);
    c->max_position_embeddings -= c->position_offset;
    return XF_OK;
}

static xf_status roberta_export(const xf_config *c, cJSON *out) {
    if (!c->position_offset) return xf_fail(XF_ERR_UNSUPPORTED, "roberta needs position_offset >= 1");
    cJSON *mp = cJSON_GetObjectItemCaseSensitive(out, "max_position_embeddings");
    if (mp) cJSON_SetNumberValue(mp, (double)(c->max_position_embeddings + c->position_offset));
    cJSON_AddNumberToObject(out, "pad_token_id", (double)(c->position_offset - 1));
    cJSON_AddStringToObject(out, "position_embedding_type", "absolute");
    return XF_OK;
}

static xf_status bert_export(const xf_config *c, cJSON *out) {
    if (c->position_offset) return xf_fail(XF_ERR_UNSUPPORTED, "bert has no position offset");
    cJSON_AddStringToObject(out, "position_embedding_type", "absolute");
    return XF_OK;
}

/* The encoder layers of BERT and RoBERTa (post-norm: N1 follows attention). */
#define BERT_LAYER_ROWS                                                                                      \
    {"model.embed_tokens.weight", "embeddings.word_embeddings.weight", HF_COPY},                             \
        {"model.embed_positions.weight", "embeddings.position_embeddings.weight", HF_COPY},                  \
        {"model.token_type_embeddings.weight", "embeddings.token_type_embeddings.weight", HF_COPY},          \
        {"model.embed_layernorm.weight", "embeddings.LayerNorm.weight", HF_COPY},                            \
        {"model.embed_layernorm.bias", "embeddings.LayerNorm.bias", HF_COPY},                                \
        {"model.layers.{L}.self_attn.q_proj.weight", "encoder.layer.{L}.attention.self.query.weight", HF_COPY}, \
        {"model.layers.{L}.self_attn.q_proj.bias", "encoder.layer.{L}.attention.self.query.bias", HF_COPY},  \
        {"model.layers.{L}.self_attn.k_proj.weight", "encoder.layer.{L}.attention.self.key.weight", HF_COPY}, \
        {"model.layers.{L}.self_attn.k_proj.bias", "encoder.layer.{L}.attention.self.key.bias", HF_COPY},    \
        {"model.layers.{L}.self_attn.v_proj.weight", "encoder.layer.{L}.attention.self.value.weight", HF_COPY}, \
        {"model.layers.{L}.self_attn.v_proj.bias", "encoder.layer.{L}.attention.self.value.bias", HF_COPY},  \
        {"model.layers.{L}.self_attn.o_proj.weight", "encoder.layer.{L}.attention.output.dense.weight", HF_COPY}, \
        {"model.layers.{L}.self_attn.o_proj.bias", "encoder.layer.{L}.attention.output.dense.bias", HF_COPY}, \
        {"model.layers.{L}.input_layernorm.weight", "encoder.layer.{L}.attention.output.LayerNorm.weight", HF_COPY}, \
        {"model.layers.{L}.input_layernorm.bias", "encoder.layer.{L}.attention.output.LayerNorm.bias", HF_COPY}, \
        {"model.layers.{L}.mlp.up_proj.weight", "encoder.layer.{L}.intermediate.dense.weight", HF_COPY},     \
        {"model.layers.{L}.mlp.up_proj.bias", "encoder.layer.{L}.intermediate.dense.bias", HF_COPY},         \
        {"model.layers.{L}.mlp.down_proj.weight", "encoder.layer.{L}.output.dense.weight", HF_COPY},         \
        {"model.layers.{L}.mlp.down_proj.bias", "encoder.layer.{L}.output.dense.bias", HF_COPY},             \
        {"model.layers.{L}.post_attention_layernorm.weight", "encoder.layer.{L}.output.LayerNorm.weight", HF_COPY}, \
        {"model.layers.{L}.post_attention_layernorm.bias", "encoder.layer.{L}.output.LayerNorm.bias", HF_COPY}

static const namemap_row BERT_N[] = {
    BERT_LAYER_ROWS,
    {"mlm_head.dense.weight", "cls.predictions.transform.dense.weight", HF_COPY},
    {"mlm_head.dense.bias", "cls.predictions.transform.dense.bias", HF_COPY},
    {"mlm_head.norm.weight", "cls.predictions.transform.LayerNorm.weight", HF_COPY},
    {"mlm_head.norm.bias", "cls.predictions.transform.LayerNorm.bias", HF_COPY},
    {"lm_head.bias", "cls.predictions.bias", HF_COPY},
};
/* the tied decoder (and its copy of the bias), the position-id buffer, the
 * pooler and next-sentence head of BertForPreTraining */
static const char *const BERT_IGNORE[] = {
    "cls.predictions.decoder.weight", "cls.predictions.decoder.bias", "embeddings.position_ids",
    "pooler.dense.weight", "pooler.dense.bias", "cls.seq_relationship.weight", "cls.seq_relationship.bias", NULL};

static const namemap_row ROBERTA_N[] = {
    BERT_LAYER_ROWS,
    {"mlm_head.dense.weight", "lm_head.dense.weight", HF_COPY},
    {"mlm_head.dense.bias", "lm_head.dense.bias", HF_COPY},
    {"mlm_head.norm.weight", "lm_head.layer_norm.weight", HF_COPY},
    {"mlm_head.norm.bias", "lm_head.layer_norm.bias", HF_COPY},
    {"lm_head.bias", "lm_head.bias", HF_COPY},
};
static const char *const ROBERTA_IGNORE[] = {"lm_head.decoder.weight", "lm_head.decoder.bias",
                                             "embeddings.position_ids", "pooler.dense.weight",
                                             "pooler.dense.bias", NULL};

/* ---------------------------------------------------------------- T5 and mT5 */

static const hf_field T5_F[] = {
    F("vocab_size", HF_SIZE, vocab_size, 1),
    F("d_model", HF_SIZE, hidden_size, 1),
    F("d_ff", HF_SIZE, intermediate_size, 1),
    F("num_layers", HF_SIZE, num_hidden_layers, 1),
    F("num_decoder_layers", HF_SIZE, num_decoder_layers, 0),
    F("num_heads", HF_SIZE, num_attention_heads, 1),
    F("relative_attention_num_buckets", HF_SIZE, relative_attention_num_buckets, 0),
    F("relative_attention_max_distance", HF_SIZE, relative_attention_max_distance, 0),
    F("layer_norm_epsilon", HF_FLOAT, norm_eps, 0),
    F("tie_word_embeddings", HF_BOOL, tie_word_embeddings, 0),
    F("decoder_start_token_id", HF_INT, decoder_start_token_id, 0),
    F("initializer_factor", HF_FLOAT, initializer_factor, 0),
    F("n_positions", HF_SIZE, max_position_embeddings, 0),
};
static const hf_must T5_M[] = {{"is_encoder_decoder", "true"}};

/* Pre-RMSNorm (no mean, no bias), relative position buckets, unscaled logits, no biases. */
static void t5_fixed(xf_config *c) {
    xf_config_defaults(c);
    c->arch = XF_ARCH_ENCODER_DECODER;
    c->hidden_act = XF_ACT_RELU;
    c->norm_type = XF_NORM_RMSNORM;
    c->norm_eps = 1e-6f;
    c->position_type = XF_POS_RELATIVE;
    c->use_bias = 0;
    c->scale_attn_logits = 0;
    c->tie_word_embeddings = 1;
    c->initializer_factor = 1.0f;
    c->decoder_start_token_id = 0;
    c->max_position_embeddings = 512; /* T5 has no position table; its inputs were 512 long */
}

static void mt5_fixed(xf_config *c) {
    t5_fixed(c);
    c->tie_word_embeddings = 0;
    c->gated_ffn = 1;
    c->hidden_act = XF_ACT_GELU_TANH;
}

/* feed_forward_proj "ACT" or "gated-ACT"; T5 reads gated-gelu as the tanh GELU. */
static xf_status t5_post(xf_config *c, const cJSON *root, const char *path) {
    mha_post(c, root, path);
    const cJSON *ff = cJSON_GetObjectItemCaseSensitive(root, "feed_forward_proj");
    if (ff && !cJSON_IsNull(ff)) {
        const char *v = cJSON_IsString(ff) ? ff->valuestring : "";
        int gated = !strncmp(v, "gated-", 6);
        const char *act = gated ? v + 6 : v;
        xf_act a;
        if (gated && !strcmp(act, "gelu")) act = "gelu_new";
        if (hf_act_parse(act, &a))
            return xf_fail(XF_ERR_UNSUPPORTED, "%s: feed_forward_proj: \"%.64s\" is not supported (supported: "
                                               "ACT or gated-ACT with ACT one of %s)", path, v, hf_act_list());
        c->gated_ffn = gated;
        c->hidden_act = a;
    }
    const cJSON *dkv = cJSON_GetObjectItemCaseSensitive(root, "d_kv");
    size_t D = c->num_attention_heads ? c->hidden_size / c->num_attention_heads : 0;
    if (dkv && (!cJSON_IsNumber(dkv) || dkv->valuedouble != (double)D))
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: d_kv: supported value: d_model / num_heads = %zu (xfmr's "
                                           "attention width is d_model)", path, D);
    c->rescale_tied_head = c->tie_word_embeddings; /* T5 scales the output by d_model^-1/2 before a tied head */
    return XF_OK;
}

static xf_status t5_export(const xf_config *c, cJSON *out) {
    if (c->rescale_tied_head != c->tie_word_embeddings)
        return xf_fail(XF_ERR_UNSUPPORTED, "t5 rescales exactly when the head is tied");
    char ff[48];
    const char *act = hf_act_name(c->hidden_act);
    if (c->gated_ffn && c->hidden_act == XF_ACT_GELU_TANH) act = "gelu";
    else if (c->gated_ffn && c->hidden_act == XF_ACT_GELU)
        return xf_fail(XF_ERR_UNSUPPORTED, "t5's gated-gelu is the tanh GELU");
    snprintf(ff, sizeof ff, "%s%s", c->gated_ffn ? "gated-" : "", act);
    cJSON_AddStringToObject(out, "feed_forward_proj", ff);
    cJSON_AddNumberToObject(out, "d_kv", (double)(c->hidden_size / c->num_attention_heads));
    cJSON *nd = cJSON_GetObjectItemCaseSensitive(out, "num_decoder_layers");
    if (nd) cJSON_SetNumberValue(nd, (double)(c->num_decoder_layers ? c->num_decoder_layers : c->num_hidden_layers));
    cJSON_AddBoolToObject(out, "is_encoder_decoder", 1);
    return XF_OK;
}

/* T5's names are xfmr's own; the stacks' copies of the shared embedding carry nothing. */
static const char *const T5_IGNORE[] = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
                                        "lm_head.weight", NULL};

/* ---------------------------------------------------------------- BART */

static const hf_field BART_F[] = {
    F("vocab_size", HF_SIZE, vocab_size, 1),
    F("d_model", HF_SIZE, hidden_size, 1),
    F("encoder_layers", HF_SIZE, num_hidden_layers, 1),
    F("decoder_layers", HF_SIZE, num_decoder_layers, 0),
    F("encoder_attention_heads", HF_SIZE, num_attention_heads, 1),
    F("decoder_attention_heads", HF_SIZE, num_attention_heads, 0),
    F("encoder_ffn_dim", HF_SIZE, intermediate_size, 1),
    F("decoder_ffn_dim", HF_SIZE, intermediate_size, 0),
    F("activation_function", HF_ACT, hidden_act, 0),
    F("max_position_embeddings", HF_SIZE, max_position_embeddings, 0),
    F("tie_word_embeddings", HF_BOOL, tie_word_embeddings, 0),
    F("decoder_start_token_id", HF_INT, decoder_start_token_id, 0),
    F("init_std", HF_FLOAT, initializer_range, 0),
};
static const hf_must BART_M[] = {{"scale_embedding", "false"},
                                 {"normalize_before", "false"},
                                 {"add_final_layer_norm", "false"},
                                 {"is_encoder_decoder", "true"}};

/* Post-LayerNorm (eps 1e-5) encoder-decoder with biases, learned positions
 * read at position + 2, a LayerNorm on the embeddings, and final_logits_bias. */
static void bart_fixed(xf_config *c) {
    xf_config_defaults(c);
    c->arch = XF_ARCH_ENCODER_DECODER;
    c->hidden_act = XF_ACT_GELU;
    c->norm_placement = XF_NORM_POST;
    c->max_position_embeddings = 1024;
    c->position_offset = 2;
    c->embed_layernorm = 1;
    c->lm_head_bias = 1;
    c->decoder_start_token_id = 2;
}

static xf_status bart_export(const xf_config *c, cJSON *out) {
    if (c->position_offset != 2) return xf_fail(XF_ERR_UNSUPPORTED, "bart reads positions at offset 2");
    cJSON *nd = cJSON_GetObjectItemCaseSensitive(out, "decoder_layers");
    if (nd) cJSON_SetNumberValue(nd, (double)(c->num_decoder_layers ? c->num_decoder_layers : c->num_hidden_layers));
    cJSON_AddBoolToObject(out, "scale_embedding", 0);
    cJSON_AddBoolToObject(out, "is_encoder_decoder", 1);
    return XF_OK;
}

/* BART's linear layers and norms: weight and bias under xfmr's T5-style name and BART's. */
#define BART_LIN(nat, hf)                                                                                      \
    {nat ".weight", hf ".weight", HF_COPY}, { nat ".bias", hf ".bias", HF_COPY }
static const namemap_row BART_N[] = {
    {"shared.weight", "model.shared.weight", HF_COPY},
    BART_LIN("encoder.embed_positions", "model.encoder.embed_positions"),
    BART_LIN("encoder.embed_layernorm", "model.encoder.layernorm_embedding"),
    BART_LIN("decoder.embed_positions", "model.decoder.embed_positions"),
    BART_LIN("decoder.embed_layernorm", "model.decoder.layernorm_embedding"),
    BART_LIN("encoder.block.{L}.layer.0.SelfAttention.q", "model.encoder.layers.{L}.self_attn.q_proj"),
    BART_LIN("encoder.block.{L}.layer.0.SelfAttention.k", "model.encoder.layers.{L}.self_attn.k_proj"),
    BART_LIN("encoder.block.{L}.layer.0.SelfAttention.v", "model.encoder.layers.{L}.self_attn.v_proj"),
    BART_LIN("encoder.block.{L}.layer.0.SelfAttention.o", "model.encoder.layers.{L}.self_attn.out_proj"),
    BART_LIN("encoder.block.{L}.layer.0.layer_norm", "model.encoder.layers.{L}.self_attn_layer_norm"),
    BART_LIN("encoder.block.{L}.layer.1.DenseReluDense.wi", "model.encoder.layers.{L}.fc1"),
    BART_LIN("encoder.block.{L}.layer.1.DenseReluDense.wo", "model.encoder.layers.{L}.fc2"),
    BART_LIN("encoder.block.{L}.layer.1.layer_norm", "model.encoder.layers.{L}.final_layer_norm"),
    BART_LIN("decoder.block.{L}.layer.0.SelfAttention.q", "model.decoder.layers.{L}.self_attn.q_proj"),
    BART_LIN("decoder.block.{L}.layer.0.SelfAttention.k", "model.decoder.layers.{L}.self_attn.k_proj"),
    BART_LIN("decoder.block.{L}.layer.0.SelfAttention.v", "model.decoder.layers.{L}.self_attn.v_proj"),
    BART_LIN("decoder.block.{L}.layer.0.SelfAttention.o", "model.decoder.layers.{L}.self_attn.out_proj"),
    BART_LIN("decoder.block.{L}.layer.0.layer_norm", "model.decoder.layers.{L}.self_attn_layer_norm"),
    BART_LIN("decoder.block.{L}.layer.1.EncDecAttention.q", "model.decoder.layers.{L}.encoder_attn.q_proj"),
    BART_LIN("decoder.block.{L}.layer.1.EncDecAttention.k", "model.decoder.layers.{L}.encoder_attn.k_proj"),
    BART_LIN("decoder.block.{L}.layer.1.EncDecAttention.v", "model.decoder.layers.{L}.encoder_attn.v_proj"),
    BART_LIN("decoder.block.{L}.layer.1.EncDecAttention.o", "model.decoder.layers.{L}.encoder_attn.out_proj"),
    BART_LIN("decoder.block.{L}.layer.1.layer_norm", "model.decoder.layers.{L}.encoder_attn_layer_norm"),
    BART_LIN("decoder.block.{L}.layer.2.DenseReluDense.wi", "model.decoder.layers.{L}.fc1"),
    BART_LIN("decoder.block.{L}.layer.2.DenseReluDense.wo", "model.decoder.layers.{L}.fc2"),
    BART_LIN("decoder.block.{L}.layer.2.layer_norm", "model.decoder.layers.{L}.final_layer_norm"),
    {"lm_head.weight", "lm_head.weight", HF_COPY},
    {"lm_head.bias", "final_logits_bias", HF_ROW},
};
static const char *const BART_IGNORE[] = {"model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight",
                                          "lm_head.weight", NULL};

/* ---------------------------------------------------------------- the table */

static const hf_arch ARCHS[] = {
    /* qwen2 before llama: a model with q/k/v biases only is written as qwen2 */
    {"qwen2", "Qwen2ForCausalLM", qwen2_fixed, QWEN2_F, N_OF(QWEN2_F), QWEN2_M, N_OF(QWEN2_M), llama_post,
     qwen2_export, QWEN2_N, N_OF(QWEN2_N), 1, LLAMA_IGNORE, NULL},
    {"llama", "LlamaForCausalLM", llama_fixed, LLAMA_F, N_OF(LLAMA_F), LLAMA_M, N_OF(LLAMA_M), llama_post,
     llama_export, NULL, 0, 1, LLAMA_IGNORE, NULL},
    {"mistral", "MistralForCausalLM", mistral_fixed, MISTRAL_F, N_OF(MISTRAL_F), MISTRAL_M, N_OF(MISTRAL_M),
     llama_post, mistral_export, NULL, 0, 1, LLAMA_IGNORE, NULL},
    {"mixtral", "MixtralForCausalLM", mixtral_fixed, MIXTRAL_F, N_OF(MIXTRAL_F), MIXTRAL_M, N_OF(MIXTRAL_M),
     llama_post, mistral_export, NULL, 0, 1, LLAMA_IGNORE, NULL},
    {"glm4_moe", "Glm4MoeForCausalLM", glm4_moe_fixed, GLM4_MOE_F, N_OF(GLM4_MOE_F), GLM4_MOE_M, N_OF(GLM4_MOE_M),
     glm4_moe_post, glm4_moe_export, GLM4_MOE_N, N_OF(GLM4_MOE_N), 1, LLAMA_IGNORE, NULL},
    {"gpt2", "GPT2LMHeadModel", gpt2_fixed, GPT2_F, N_OF(GPT2_F), GPT2_M, N_OF(GPT2_M), gpt2_post, NULL, GPT2_N,
     N_OF(GPT2_N), 0, GPT2_IGNORE, "transformer."},
    {"bert", "BertForMaskedLM", bert_fixed, BERT_F, N_OF(BERT_F), BERT_M, N_OF(BERT_M), mha_post, bert_export,
     BERT_N, N_OF(BERT_N), 0, BERT_IGNORE, "bert."},
    {"roberta", "RobertaForMaskedLM", roberta_fixed, BERT_F, N_OF(BERT_F), ROBERTA_M, N_OF(ROBERTA_M),
     roberta_post, roberta_export, ROBERTA_N, N_OF(ROBERTA_N), 0, ROBERTA_IGNORE, "roberta."},
    {"t5", "T5ForConditionalGeneration", t5_fixed, T5_F, N_OF(T5_F), T5_M, N_OF(T5_M), t5_post, t5_export, NULL,
     0, 1, T5_IGNORE, NULL},
    {"mt5", "MT5ForConditionalGeneration", mt5_fixed, T5_F, N_OF(T5_F), T5_M, N_OF(T5_M), t5_post, t5_export,
     NULL, 0, 1, T5_IGNORE, NULL},
    {"bart", "BartForConditionalGeneration", bart_fixed, BART_F, N_OF(BART_F), BART_M, N_OF(BART_M), mha_post,
     bart_export, BART_N, N_OF(BART_N), 0, BART_IGNORE, NULL},
};

const hf_arch *hf_arch_find(const char *model_type) {
    for (size_t i = 0; i < N_OF(ARCHS); i++)
        if (!strcmp(ARCHS[i].model_type, model_type)) return &ARCHS[i];
    return NULL;
}

size_t hf_arch_count(void) { return N_OF(ARCHS); }
const hf_arch *hf_arch_at(size_t i) { return i < N_OF(ARCHS) ? &ARCHS[i] : NULL; }

void hf_arch_list(char *buf, size_t n) {
    if (!n) return;
    buf[0] = '\0';
    for (size_t i = 0; i < N_OF(ARCHS); i++) {
        if (i) strncat(buf, ", ", n - strlen(buf) - 1);
        strncat(buf, ARCHS[i].model_type, n - strlen(buf) - 1);
    }
}
