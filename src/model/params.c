/* The parameter table: one row per tensor, built from the config.
 *
 * The table is the single source of truth for allocation (offsets), the
 * safetensors names, initialisation (std or constant), weight decay (ndim >= 2,
 * as nanoGPT), which tensors train, and the pointer views used by the kernels
 * (each row records the struct field its view fills). docs/config.md lists
 * every name.
 *
 * Names: single-stack models (decoder, prefix_lm, encoder) use Hugging Face
 * LLaMA names ("model.layers.N.self_attn.q_proj.weight"), extended; the
 * encoder-decoder uses Hugging Face T5 names ("encoder.block.N.layer.0.
 * SelfAttention.q.weight"), extended with biases, positions and embedding
 * norms for BART-style configs. MoE layers use Mixtral's names
 * ("block_sparse_moe.gate", "block_sparse_moe.experts.E.w1") and DeepSeek's
 * for shared experts ("mlp.shared_experts.gate_proj").
 *
 * Row order: embeddings, then each stack's layers (encoder first) with its
 * final norm, then the heads. Experts of a layer are emitted w1 for every
 * expert, then w2, then w3, so each weight kind is a strided array. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "xfmr/status.h"

/* Initialisation. With initializer_range (the default): normal N(0, range),
 * residual N(0, range/sqrt(2 * layers)). With initializer_factor f > 0, Hugging
 * Face T5's _init_weights: a weight [out, in] gets N(0, f/sqrt(in)), the query
 * N(0, f/sqrt(C*D)), embeddings and the head N(0, f), the relative bias table
 * N(0, f/sqrt(C)). Norm gains are 1 and biases 0 either way. */
enum { I_NORMAL, I_RESIDUAL, I_QUERY, I_EMBED, I_RELB, I_ZERO, I_ONE };

typedef struct {
    xf_param_info *rows; /* NULL while only counting */
    xf_param_slot *slots;
    size_t n, cap, total, sum;
    const xf_config *cfg;
    int fail, overflow;
    char long_name[128];  /* first name too long for xf_param_info.name (cut), or "" */
    size_t part[4]; /* parameters in embeddings, positions, attention, FFN */
} table_builder;

static int mul_ov(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 1;
    *out = a * b;
    return 0;
}

/* Add a row named `name` of shape [d0] (d1 == 0) or [d0,d1]; its view goes to
 * the top struct (layer == SIZE_MAX) or layer `layer`, at byte offset `field`. */
static void add_row(table_builder *tb, int counting, const char *name, size_t d0, size_t d1,
                    int init, size_t layer, size_t field, int trainable, int role) {
    if (tb->fail || tb->overflow || tb->long_name[0]) return;
    size_t numel, padded;
    if (mul_ov(d0, d1 ? d1 : 1, &numel) || numel > SIZE_MAX - 16) {
        tb->overflow = 1;
        return;
    }
    padded = (numel + 15) & ~(size_t)15; /* keep every tensor 64-byte aligned in the arena */
    if (tb->total > SIZE_MAX - padded || tb->sum > SIZE_MAX - numel) {
        tb->overflow = 1;
        return;
    }
    int part = layer != SIZE_MAX ? (field != SIZE_MAX && field < offsetof(xf_layer_w, wg) ? 2 : 3)
               : (field == offsetof(xf_top_w, wpe[0]) || field == offsetof(xf_top_w, wpe[1])) ? 1 : 0;
    tb->part[part] += numel; /* cannot overflow: the sum of all parts did not */
    if (!counting) {
        if (tb->n == tb->cap) {
            size_t cap = tb->cap ? 2 * tb->cap : 64;
            xf_param_info *r = realloc(tb->rows, cap * sizeof *r);
            if (r) tb->rows = r;
            xf_param_slot *s = realloc(tb->slots, cap * sizeof *s);
            if (s) tb->slots = s;
            if (!r || !s) {
                tb->fail = 1;
                return;
            }
            tb->cap = cap;
        }
        xf_param_info *p = &tb->rows[tb->n];
        memset(p, 0, sizeof *p);
        if (strlen(name) >= sizeof p->name) {
            snprintf(tb->long_name, sizeof tb->long_name, "%s", name);
            return;
        }
        memcpy(p->name, name, strlen(name) + 1);
        p->ndim = d1 ? 2 : 1;
        p->shape[0] = d0;
        p->shape[1] = d1 ? d1 : 1;
        p->numel = numel;
        p->offset = tb->total;
        p->decay = p->ndim >= 2;
        p->trainable = trainable;
        p->role = role;
        const xf_config *c = tb->cfg;
        float std = c->initializer_range;
        size_t depth = xf_config_encoder_layers(c) + xf_config_decoder_layers(c);
        float f = c->initializer_factor, C = (float)c->hidden_size;
        float D = C / (float)c->num_attention_heads;
        if (f > 0 && init <= I_RELB) {
            switch (init) {
            case I_QUERY: p->init_std = f / sqrtf(C * D); break;
            case I_EMBED: p->init_std = f; break;
            case I_RELB: p->init_std = f / sqrtf(C); break;
            default: p->init_std = f / sqrtf((float)p->shape[1]); break;
            }
        } else
        switch (init) {
        case I_NORMAL: case I_QUERY: case I_EMBED: case I_RELB: p->init_std = std; break;
        case I_RESIDUAL: p->init_std = std / sqrtf(2.0f * (float)depth); break;
        case I_ONE: p->init_value = 1.0f; break;
        default: p->init_value = 0.0f; break;
        }
        xf_param_slot *sl = &tb->slots[tb->n];
        sl->top = layer == SIZE_MAX;
        sl->layer = layer == SIZE_MAX ? 0 : layer;
        sl->field = field;
    }
    tb->n++;
    tb->total += padded;
    tb->sum += numel;
}

#define LW(f) offsetof(xf_layer_w, f)
#define TW(f) offsetof(xf_top_w, f)
#define NOVIEW SIZE_MAX

/* xfmr's tensor names, one row per naming family: single-stack models use
 * Hugging Face LLaMA's names, the encoder-decoder Hugging Face T5's (its
 * sublayers numbered: "{F}" is the sublayer index of the FFN and of the
 * norm before it, 1 in an encoder block and 2 in a decoder block). The names
 * are those of every checkpoint written so far: change nothing here without
 * a conversion. */
typedef struct {
    int per_stack;          /* names start with the stack's "encoder." / "decoder." */
    const char *root;       /* the model-level prefix otherwise */
    const char *embed;      /* token embedding (from the root of the name) */
    const char *layers;     /* before the layer index */
    const char *ln1, *self, *lnx, *cross, *ln2;
    const char *q, *k, *v, *o;
    const char *ffn, *gate, *up, *up_gated, *down;
    const char *moe, *shared;
    const char *final_norm;
    const char *token_types; /* NULL: the family has none */
} name_family;

enum { NAMES_LLAMA, NAMES_T5 };
static const name_family NAMES[] = {
    [NAMES_LLAMA] = {0, "model.", "model.embed_tokens", "layers.", "input_layernorm", "self_attn.",
                     "cross_attn_layernorm", "cross_attn.", "post_attention_layernorm", "q_proj", "k_proj", "v_proj",
                     "o_proj", "mlp.", "gate_proj", "up_proj", "up_proj", "down_proj", "block_sparse_moe.",
                     "mlp.shared_experts.", "norm", "token_type_embeddings"},
    [NAMES_T5] = {1, "", "shared", "block.", "layer.0.layer_norm", "layer.0.SelfAttention.", "layer.1.layer_norm",
                  "layer.1.EncDecAttention.", "layer.{F}.layer_norm", "q", "k", "v", "o",
                  "layer.{F}.DenseReluDense.", "wi_0", "wi", "wi_1", "wo", "layer.{F}.block_sparse_moe.",
                  "layer.{F}.mlp.shared_experts.", "final_layer_norm", NULL},
};

typedef struct {
    table_builder *tb;
    const name_family *nf;
    int counting, ln, bias;
    int role;     /* xf_param_role of the rows being emitted */
    size_t layer; /* global layer index, SIZE_MAX for top rows */
    char prefix[64];
} emitter;

/* buf = pattern with "{F}" replaced by the sublayer index f */
static void with_sublayer(char *buf, size_t n, const char *pattern, size_t f) {
    const char *ph = strstr(pattern, "{F}");
    if (ph) snprintf(buf, n, "%.*s%zu%s", (int)(ph - pattern), pattern, f, ph + 3);
    else snprintf(buf, n, "%s", pattern);
}

/* name = prefix + part + suffix */
static void emit(emitter *e, const char *part, const char *suffix, size_t d0, size_t d1, int init,
                 size_t field) {
    char name[256];
    snprintf(name, sizeof name, "%s%s%s", e->prefix, part, suffix);
    add_row(e->tb, e->counting, name, d0, d1, init, e->layer, field, 1, e->role);
}

/* A linear layer `part` (.weight [out,in], .bias [out] when biases are on). */
static void emit_linear(emitter *e, const char *part, size_t out, size_t in, int init, size_t wf,
                        size_t bf, int with_bias) {
    emit(e, part, ".weight", out, in, init, wf);
    if (with_bias) emit(e, part, ".bias", out, 0, I_ZERO, bf);
}

/* A norm `part` (.weight [C], .bias [C] for LayerNorm). */
static void emit_norm(emitter *e, const char *part, size_t C, size_t wf, size_t bf) {
    int role = e->role;
    e->role = XF_ROLE_NORM;
    emit(e, part, ".weight", C, 0, I_ONE, wf);
    if (e->ln) emit(e, part, ".bias", C, 0, I_ZERO, bf);
    e->role = role;
}

/* The stack-level prefix: "encoder." / "decoder." or the family's root. */
static void stack_prefix(emitter *e, int st) {
    snprintf(e->prefix, sizeof e->prefix, "%s", e->nf->per_stack ? (st == XF_ENC ? "encoder." : "decoder.")
                                                                  : e->nf->root);
}

/* Attention `at` (the self or cross prefix): q, k, v, o with their fields. */
static void emit_attention(emitter *e, const char *at, size_t C, size_t Q, size_t KV, const size_t f[8], int cross) {
    const name_family *nf = e->nf;
    char part[128];
    e->role = XF_ROLE_ATTN;
    snprintf(part, sizeof part, "%s%s", at, nf->q);
    emit_linear(e, part, Q, C, I_QUERY, f[0], f[1], e->bias);
    e->role = cross ? XF_ROLE_CROSS_KV : XF_ROLE_ATTN;
    snprintf(part, sizeof part, "%s%s", at, nf->k);
    emit_linear(e, part, KV, C, I_NORMAL, f[2], f[3], e->bias);
    snprintf(part, sizeof part, "%s%s", at, nf->v);
    emit_linear(e, part, KV, C, I_NORMAL, f[4], f[5], e->bias);
    e->role = XF_ROLE_ATTN;
    snprintf(part, sizeof part, "%s%s", at, nf->o);
    emit_linear(e, part, C, Q, I_RESIDUAL, f[6], f[7], e->bias);
}

/* The rows of layer l (global index), described by info. */
static void emit_layer(emitter *e, const xf_config *c, size_t l, const xf_layer_info *in) {
    const name_family *nf = e->nf;
    size_t C = c->hidden_size, D = C / c->num_attention_heads;
    size_t Q = c->num_attention_heads * D, KV = c->num_key_value_heads * D;
    int b = e->bias;
    e->layer = l;
    stack_prefix(e, in->stack);
    size_t pl = strlen(e->prefix);
    snprintf(e->prefix + pl, sizeof e->prefix - pl, "%s%zu.", nf->layers, in->idx);
    char ffn[64], part[128];
    size_t f = in->cross ? 2 : 1; /* sublayer index of the FFN */
    static const size_t SELF[8] = {LW(wq), LW(bq), LW(wk), LW(bk), LW(wv), LW(bv), LW(wo), LW(bo)};
    static const size_t CROSS[8] = {LW(cq), LW(cbq), LW(ck), LW(cbk), LW(cv), LW(cbv), LW(co), LW(cbo)};

    emit_norm(e, nf->ln1, C, LW(ln1_w), LW(ln1_b));
    emit_attention(e, nf->self, C, Q, KV, SELF, 0);
    if (c->position_type == XF_POS_RELATIVE && in->idx == 0) {
        snprintf(part, sizeof part, "%srelative_attention_bias", nf->self);
        e->role = XF_ROLE_RELPOS;
        emit(e, part, ".weight", c->relative_attention_num_buckets, c->num_attention_heads, I_RELB,
             LW(relb));
    }
    if (in->cross) {
        emit_norm(e, nf->lnx, C, LW(lnx_w), LW(lnx_b));
        emit_attention(e, nf->cross, C, Q, KV, CROSS, 1);
    }
    with_sublayer(part, sizeof part, nf->ln2, f);
    emit_norm(e, part, C, LW(ln2_w), LW(ln2_b));

    e->role = XF_ROLE_FFN;
    if (!in->moe) {
        size_t I = in->I;
        with_sublayer(ffn, sizeof ffn, nf->ffn, f);
        if (c->gated_ffn) {
            snprintf(part, sizeof part, "%s%s", ffn, nf->gate);
            emit_linear(e, part, I, C, I_NORMAL, LW(wg), LW(bg), b);
        }
        snprintf(part, sizeof part, "%s%s", ffn, c->gated_ffn ? nf->up_gated : nf->up);
        emit_linear(e, part, I, C, I_NORMAL, LW(wu), LW(bu), b);
        snprintf(part, sizeof part, "%s%s", ffn, nf->down);
        emit_linear(e, part, C, I, I_RESIDUAL, LW(wd), LW(bd), b);
        return;
    }
    /* MoE: router, balancing bias, experts (w1 all, w2 all, w3 all), shared experts */
    size_t E = c->num_experts, Ie = c->moe_intermediate_size;
    with_sublayer(ffn, sizeof ffn, nf->moe, f);
    snprintf(part, sizeof part, "%sgate", ffn);
    e->role = XF_ROLE_ROUTER;
    emit(e, part, ".weight", E, C, I_NORMAL, LW(wr));
    if (c->router_type == XF_ROUTER_SIGMOID_TOPK_NORM) {
        char name[256];
        snprintf(name, sizeof name, "%s%sgate.e_score_correction_bias", e->prefix, ffn);
        add_row(e->tb, e->counting, name, E, 0, I_ZERO, l, LW(ebias), 0, XF_ROLE_ROUTER);
    }
    static const char *const wn[3] = {"w1", "w2", "w3"};
    size_t wf[3] = {LW(ew1), LW(ew2), LW(ew3)};
    e->role = XF_ROLE_EXPERT;
    for (int k = 0; k < (c->gated_ffn ? 3 : 2); k++)
        for (size_t x = 0; x < E; x++) {
            snprintf(part, sizeof part, "%sexperts.%zu.%s", ffn, x, wn[k]);
            emit(e, part, ".weight", k == 1 ? C : Ie, k == 1 ? Ie : C, k == 1 ? I_RESIDUAL : I_NORMAL,
                 x == 0 ? wf[k] : NOVIEW);
        }
    if (in->I) {
        size_t I = in->I;
        e->role = XF_ROLE_FFN;
        with_sublayer(ffn, sizeof ffn, nf->shared, f);
        if (c->gated_ffn) {
            snprintf(part, sizeof part, "%sgate_proj", ffn);
            emit(e, part, ".weight", I, C, I_NORMAL, LW(wg));
        }
        snprintf(part, sizeof part, "%sup_proj", ffn);
        emit(e, part, ".weight", I, C, I_NORMAL, LW(wu));
        snprintf(part, sizeof part, "%sdown_proj", ffn);
        emit(e, part, ".weight", C, I, I_RESIDUAL, LW(wd));
    }
}

/* Layer l's facts; *moe_seen counts the MoE layers before it (updated). */
static void layer_info(const xf_config *c, size_t l, size_t *moe_seen, xf_layer_info *in) {
    size_t Le = xf_config_encoder_layers(c);
    memset(in, 0, sizeof *in);
    in->stack = l < Le ? XF_ENC : XF_DEC;
    in->idx = l < Le ? l : l - Le;
    in->cross = in->stack == XF_DEC && c->arch == XF_ARCH_ENCODER_DECODER;
    in->moe = xf_config_layer_is_moe(c, in->idx);
    in->I = in->moe ? c->num_shared_experts * c->moe_intermediate_size : c->intermediate_size;
    if (in->moe) in->moe_i = (*moe_seen)++;
}

void params_layers(const xf_config *c, xf_layer_info *info) {
    size_t L = xf_config_encoder_layers(c) + xf_config_decoder_layers(c), m = 0;
    for (size_t l = 0; l < L; l++) layer_info(c, l, &m, &info[l]);
}

/* Emit the stack `st` (embedding rows, layers, final norm). */
static void emit_stack(emitter *e, const xf_config *c, int st, size_t l0, size_t nl, size_t *moe_seen) {
    size_t C = c->hidden_size;
    e->layer = SIZE_MAX;
    e->role = XF_ROLE_EMBED;
    stack_prefix(e, st);
    if (c->position_type == XF_POS_LEARNED)
        emit(e, "embed_positions", ".weight", c->max_position_embeddings + c->position_offset, C, I_NORMAL,
             TW(wpe[st]));
    if (c->block_position_embeddings && st == XF_DEC)
        emit(e, "embed_block_positions", ".weight", c->max_position_embeddings, C, I_NORMAL, TW(wbpe));
    if (e->nf->token_types && c->type_vocab_size)
        emit(e, e->nf->token_types, ".weight", c->type_vocab_size, C, I_NORMAL, TW(wtt));
    if (c->embed_layernorm) emit_norm(e, "embed_layernorm", C, TW(embn_w[st]), TW(embn_b[st]));
    for (size_t l = l0; l < l0 + nl; l++) {
        xf_layer_info in; /* one layer at a time: no per-model array on the stack */
        layer_info(c, l, moe_seen, &in);
        emit_layer(e, c, l, &in);
    }
    e->layer = SIZE_MAX;
    stack_prefix(e, st);
    if (c->norm_placement == XF_NORM_PRE) emit_norm(e, e->nf->final_norm, C, TW(lnf_w[st]), TW(lnf_b[st]));
}

static void build(table_builder *tb, const xf_config *c, int counting) {
    size_t Le = xf_config_encoder_layers(c), Ld = xf_config_decoder_layers(c);
    size_t C = c->hidden_size, V = c->vocab_size;
    if (Le + Ld > 4096) {
        tb->overflow = 1;
        return;
    }
    size_t moe_seen = 0;
    emitter e = {.tb = tb, .counting = counting, .ln = c->norm_type == XF_NORM_LAYERNORM, .bias = c->use_bias,
                 .layer = SIZE_MAX, .nf = &NAMES[c->arch == XF_ARCH_ENCODER_DECODER ? NAMES_T5 : NAMES_LLAMA],
                 .role = XF_ROLE_EMBED};
    emit(&e, e.nf->embed, ".weight", V, C, I_EMBED, TW(wte));
    if (Le) emit_stack(&e, c, XF_ENC, 0, Le, &moe_seen);
    if (Ld) emit_stack(&e, c, XF_DEC, Le, Ld, &moe_seen);
    e.layer = SIZE_MAX;
    e.prefix[0] = '\0';
    e.role = XF_ROLE_HEAD;
    if (c->mlm_transform) {
        emit(&e, "mlm_head.dense", ".weight", C, C, I_NORMAL, TW(mlm_w));
        emit(&e, "mlm_head.dense", ".bias", C, 0, I_ZERO, TW(mlm_b));
        emit_norm(&e, "mlm_head.norm", C, TW(mlmn_w), TW(mlmn_b));
    }
    if (!c->tie_word_embeddings) emit(&e, "lm_head", ".weight", V, C, I_EMBED, TW(head));
    if (c->lm_head_bias) emit(&e, "lm_head", ".bias", V, 0, I_ZERO, TW(head_b));
}

size_t params_count(const xf_config *cfg, char *largest, size_t cap) {
    static const char *const what[4] = {
        "vocab_size x hidden_size (token embeddings and any untied lm_head)",
        "max_position_embeddings x hidden_size (learned position embeddings)",
        "num_hidden_layers x hidden_size^2 (attention weights)",
        "num_hidden_layers x hidden_size x intermediate_size (FFN and expert weights)"};
    table_builder tb = {.cfg = cfg};
    build(&tb, cfg, 1);
    int best = 0;
    for (int i = 1; i < 4; i++)
        if (tb.part[i] > tb.part[best]) best = i;
    if (tb.overflow) { /* name the size that broke it: the first part whose product overflows */
        size_t t;
        size_t V = cfg->vocab_size, C = cfg->hidden_size, L = cfg->num_hidden_layers;
        if (mul_ov(V, C, &t)) best = 0;
        else if (mul_ov(cfg->max_position_embeddings, C, &t)) best = 1;
        else if (mul_ov(C, C, &t) || mul_ov(t, L, &t)) best = 2;
        else best = 3;
    }
    if (largest && cap) snprintf(largest, cap, "%s", what[best]);
    return tb.overflow ? 0 : tb.sum;
}

/* What went wrong while building, each cause with its own status and message. */
static xf_status builder_status(const table_builder *tb) {
    if (tb->overflow) return xf_fail(XF_ERR_ARG, "the parameter count overflows");
    if (tb->long_name[0])
        return xf_fail(XF_ERR_ARG, "tensor name '%.60s...' is longer than %zu bytes", tb->long_name,
                       sizeof tb->rows[0].name - 1);
    if (tb->fail) return xf_fail(XF_ERR_OOM, "out of memory building the parameter table");
    return XF_OK;
}

xf_status params_build(const xf_config *cfg, xf_param_info **table, xf_param_slot **slots,
                          size_t *n, size_t *nparams) {
    table_builder tb = {.cfg = cfg};
    build(&tb, cfg, 0);
    xf_status s = builder_status(&tb);
    if (s) {
        free(tb.rows);
        free(tb.slots);
        return s;
    }
    *table = tb.rows;
    *slots = tb.slots;
    *n = tb.n;
    *nparams = tb.total;
    return XF_OK;
}

void params_views(const xf_model *m, float *base, xf_top_w *top, xf_layer_w *layers) {
    memset(top, 0, sizeof *top);
    memset(layers, 0, m->L * sizeof *layers);
    for (size_t i = 0; i < m->ntensors; i++) {
        const xf_param_slot *s = &m->slots[i];
        if (s->field == NOVIEW) continue;
        char *dst = s->top ? (char *)top : (char *)&layers[s->layer];
        *(float **)(void *)(dst + s->field) = base + m->table[i].offset;
    }
    if (!top->head) top->head = top->wte; /* tied: the head is the embedding */
}
