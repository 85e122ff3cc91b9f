/* The parameter table: one row per tensor, built from the config.
 *
 * The table is the single source of truth for allocation (offsets), the
 * safetensors names (Hugging Face LLaMA names, extended), initialisation
 * (std or constant), weight decay (ndim >= 2, as nanoGPT) and the per-layer
 * pointer views used by the kernels. Rows are emitted in a fixed order:
 * embeddings, then each layer, then the final norm and the head. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "xfmr/status.h"

enum { D_C, D_Q, D_KV, D_I, D_V, D_P, D_NONE };
enum { W_ALWAYS, W_BIAS, W_LN_BIAS, W_GATED, W_GATED_BIAS, W_LEARNED, W_PRE_NORM, W_PRE_LN_BIAS, W_UNTIED };
enum { I_NORMAL, I_RESIDUAL, I_ZERO, I_ONE };

/* Per-layer tensors: name suffix, where the view pointer lives, shape symbols,
 * when the tensor exists and how it is initialised. */
static const struct {
    const char *suffix;
    size_t field; /* offsetof in xf_layer_w */
    int d0, d1;   /* shape symbols (d1 = D_NONE for vectors) */
    int when, init;
} LAYER_ROWS[] = {
    {"input_layernorm.weight", offsetof(xf_layer_w, ln1_w), D_C, D_NONE, W_ALWAYS, I_ONE},
    {"input_layernorm.bias", offsetof(xf_layer_w, ln1_b), D_C, D_NONE, W_LN_BIAS, I_ZERO},
    {"self_attn.q_proj.weight", offsetof(xf_layer_w, wq), D_Q, D_C, W_ALWAYS, I_NORMAL},
    {"self_attn.q_proj.bias", offsetof(xf_layer_w, bq), D_Q, D_NONE, W_BIAS, I_ZERO},
    {"self_attn.k_proj.weight", offsetof(xf_layer_w, wk), D_KV, D_C, W_ALWAYS, I_NORMAL},
    {"self_attn.k_proj.bias", offsetof(xf_layer_w, bk), D_KV, D_NONE, W_BIAS, I_ZERO},
    {"self_attn.v_proj.weight", offsetof(xf_layer_w, wv), D_KV, D_C, W_ALWAYS, I_NORMAL},
    {"self_attn.v_proj.bias", offsetof(xf_layer_w, bv), D_KV, D_NONE, W_BIAS, I_ZERO},
    {"self_attn.o_proj.weight", offsetof(xf_layer_w, wo), D_C, D_Q, W_ALWAYS, I_RESIDUAL},
    {"self_attn.o_proj.bias", offsetof(xf_layer_w, bo), D_C, D_NONE, W_BIAS, I_ZERO},
    {"post_attention_layernorm.weight", offsetof(xf_layer_w, ln2_w), D_C, D_NONE, W_ALWAYS, I_ONE},
    {"post_attention_layernorm.bias", offsetof(xf_layer_w, ln2_b), D_C, D_NONE, W_LN_BIAS, I_ZERO},
    {"mlp.gate_proj.weight", offsetof(xf_layer_w, wg), D_I, D_C, W_GATED, I_NORMAL},
    {"mlp.gate_proj.bias", offsetof(xf_layer_w, bg), D_I, D_NONE, W_GATED_BIAS, I_ZERO},
    {"mlp.up_proj.weight", offsetof(xf_layer_w, wu), D_I, D_C, W_ALWAYS, I_NORMAL},
    {"mlp.up_proj.bias", offsetof(xf_layer_w, bu), D_I, D_NONE, W_BIAS, I_ZERO},
    {"mlp.down_proj.weight", offsetof(xf_layer_w, wd), D_C, D_I, W_ALWAYS, I_RESIDUAL},
    {"mlp.down_proj.bias", offsetof(xf_layer_w, bd), D_C, D_NONE, W_BIAS, I_ZERO},
};

/* Model-level tensors; field is an offsetof in xf_top_w. `head` is special:
 * it points at lm_head when untied, else at wte (see xf_params_views). */
static const struct {
    const char *name;
    size_t field;
    int d0, d1, when, init;
} TOP_ROWS_PRE[] = {
    {"model.embed_tokens.weight", offsetof(xf_top_w, wte), D_V, D_C, W_ALWAYS, I_NORMAL},
    {"model.embed_positions.weight", offsetof(xf_top_w, wpe), D_P, D_C, W_LEARNED, I_NORMAL},
}, TOP_ROWS_POST[] = {
    {"model.norm.weight", offsetof(xf_top_w, lnf_w), D_C, D_NONE, W_PRE_NORM, I_ONE},
    {"model.norm.bias", offsetof(xf_top_w, lnf_b), D_C, D_NONE, W_PRE_LN_BIAS, I_ZERO},
    {"lm_head.weight", offsetof(xf_top_w, head), D_V, D_C, W_UNTIED, I_NORMAL},
};

static size_t dim_of(const xf_config *c, int sym) {
    size_t D = c->hidden_size / c->num_attention_heads;
    switch (sym) {
    case D_C: return c->hidden_size;
    case D_Q: return c->num_attention_heads * D;
    case D_KV: return c->num_key_value_heads * D;
    case D_I: return c->intermediate_size;
    case D_V: return c->vocab_size;
    case D_P: return c->max_position_embeddings;
    default: return 1;
    }
}

static int present(const xf_config *c, int when) {
    int ln = c->norm_type == XF_NORM_LAYERNORM, pre = c->norm_placement == XF_NORM_PRE;
    switch (when) {
    case W_ALWAYS: return 1;
    case W_BIAS: return c->use_bias;
    case W_LN_BIAS: return ln;
    case W_GATED: return c->gated_ffn;
    case W_GATED_BIAS: return c->gated_ffn && c->use_bias;
    case W_LEARNED: return c->position_type == XF_POS_LEARNED;
    case W_PRE_NORM: return pre;
    case W_PRE_LN_BIAS: return pre && ln;
    case W_UNTIED: return !c->tie_word_embeddings;
    default: return 0;
    }
}

typedef struct {
    xf_param_info *rows;
    size_t n, cap, total;
    const xf_config *cfg;
    int fail;
} table_builder;

static void add_row(table_builder *tb, const char *name, int d0, int d1, int init) {
    if (tb->fail) return;
    if (tb->n == tb->cap) {
        size_t cap = tb->cap ? 2 * tb->cap : 64;
        xf_param_info *r = realloc(tb->rows, cap * sizeof *r);
        if (!r) {
            tb->fail = 1;
            return;
        }
        tb->rows = r;
        tb->cap = cap;
    }
    xf_param_info *p = &tb->rows[tb->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = d1 == D_NONE ? 1 : 2;
    p->shape[0] = dim_of(tb->cfg, d0);
    p->shape[1] = d1 == D_NONE ? 1 : dim_of(tb->cfg, d1);
    p->numel = p->shape[0] * p->shape[1]; /* sizes were validated against overflow */
    /* keep every tensor 16-float (64-byte) aligned within the arena */
    p->offset = tb->total;
    tb->total += (p->numel + 15) & ~(size_t)15;
    p->decay = p->ndim >= 2;
    float std = tb->cfg->initializer_range;
    switch (init) {
    case I_NORMAL: p->init_std = std; break;
    case I_RESIDUAL: p->init_std = std / sqrtf(2.0f * (float)tb->cfg->num_hidden_layers); break;
    case I_ONE: p->init_value = 1.0f; break;
    default: p->init_value = 0.0f; break;
    }
}

xf_status xf_params_build(const xf_config *cfg, xf_param_info **table, size_t *n, size_t *nparams) {
    table_builder tb = {.cfg = cfg};
    char name[96];
    for (size_t i = 0; i < sizeof TOP_ROWS_PRE / sizeof TOP_ROWS_PRE[0]; i++)
        if (present(cfg, TOP_ROWS_PRE[i].when))
            add_row(&tb, TOP_ROWS_PRE[i].name, TOP_ROWS_PRE[i].d0, TOP_ROWS_PRE[i].d1, TOP_ROWS_PRE[i].init);
    for (size_t l = 0; l < cfg->num_hidden_layers; l++)
        for (size_t i = 0; i < sizeof LAYER_ROWS / sizeof LAYER_ROWS[0]; i++) {
            if (!present(cfg, LAYER_ROWS[i].when)) continue;
            snprintf(name, sizeof name, "model.layers.%zu.%s", l, LAYER_ROWS[i].suffix);
            add_row(&tb, name, LAYER_ROWS[i].d0, LAYER_ROWS[i].d1, LAYER_ROWS[i].init);
        }
    for (size_t i = 0; i < sizeof TOP_ROWS_POST / sizeof TOP_ROWS_POST[0]; i++)
        if (present(cfg, TOP_ROWS_POST[i].when))
            add_row(&tb, TOP_ROWS_POST[i].name, TOP_ROWS_POST[i].d0, TOP_ROWS_POST[i].d1, TOP_ROWS_POST[i].init);
    if (tb.fail) {
        free(tb.rows);
        return xf_fail(XF_ERR_OOM, "out of memory building the parameter table");
    }
    *table = tb.rows;
    *n = tb.n;
    *nparams = tb.total;
    return XF_OK;
}

void xf_params_views(const xf_model *m, float *base, xf_top_w *top, xf_layer_w *layers) {
    const xf_config *cfg = &m->cfg;
    memset(top, 0, sizeof *top);
    memset(layers, 0, cfg->num_hidden_layers * sizeof *layers);
    size_t r = 0;
    for (size_t i = 0; i < sizeof TOP_ROWS_PRE / sizeof TOP_ROWS_PRE[0]; i++)
        if (present(cfg, TOP_ROWS_PRE[i].when))
            *(float **)((char *)top + TOP_ROWS_PRE[i].field) = base + m->table[r++].offset;
    for (size_t l = 0; l < cfg->num_hidden_layers; l++)
        for (size_t i = 0; i < sizeof LAYER_ROWS / sizeof LAYER_ROWS[0]; i++)
            if (present(cfg, LAYER_ROWS[i].when))
                *(float **)((char *)&layers[l] + LAYER_ROWS[i].field) = base + m->table[r++].offset;
    for (size_t i = 0; i < sizeof TOP_ROWS_POST / sizeof TOP_ROWS_POST[0]; i++)
        if (present(cfg, TOP_ROWS_POST[i].when))
            *(float **)((char *)top + TOP_ROWS_POST[i].field) = base + m->table[r++].offset;
    if (!top->head) top->head = top->wte; /* tied: the head is the embedding */
}
