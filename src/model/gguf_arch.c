/* Models in GGUF: llama.cpp's "llama" (read and write) and "gpt2" (write)
 * architectures, as tables of metadata keys and tensor names
 * (docs/formats.md §GGUF).
 *
 * Names: llama.cpp's tensor names on the right of NAMES_*, xfmr's on the left
 * (src/model/namemap.h). A GGUF matrix [out, in] has ne = {in, out}: the same
 * bytes as xfmr's row-major [out, in]. q and k rows are permuted between
 * rotate_half and llama.cpp's interleaved RoPE (interop.h). Mixtral-style
 * experts are one 3-D tensor per weight kind, ne = {in, out, E}. gpt2's q, k,
 * v are one fused attn_qkv [Q + 2 KV, C]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tok_gguf.h"
#include "io/file.h"
#include "io/gguf.h"
#include "model/gguf_arch.h"
#include "model/interop.h"
#include "model/model_internal.h"
#include "model/namemap.h"
#include "xfmr/model.h"

enum { OP_NONE = 0, OP_ROPE_Q, OP_ROPE_K, OP_EXPERTS, OP_QKV };

static const namemap_row NAMES_LLAMA[] = {
    {"model.embed_tokens.weight", "token_embd.weight", OP_NONE},
    {"model.norm.weight", "output_norm.weight", OP_NONE},
    {"lm_head.weight", "output.weight", OP_NONE},
    {"model.layers.{L}.input_layernorm.weight", "blk.{L}.attn_norm.weight", OP_NONE},
    {"model.layers.{L}.self_attn.q_proj.weight", "blk.{L}.attn_q.weight", OP_ROPE_Q},
    {"model.layers.{L}.self_attn.k_proj.weight", "blk.{L}.attn_k.weight", OP_ROPE_K},
    {"model.layers.{L}.self_attn.v_proj.weight", "blk.{L}.attn_v.weight", OP_NONE},
    {"model.layers.{L}.self_attn.o_proj.weight", "blk.{L}.attn_output.weight", OP_NONE},
    {"model.layers.{L}.post_attention_layernorm.weight", "blk.{L}.ffn_norm.weight", OP_NONE},
    {"model.layers.{L}.mlp.gate_proj.weight", "blk.{L}.ffn_gate.weight", OP_NONE},
    {"model.layers.{L}.mlp.up_proj.weight", "blk.{L}.ffn_up.weight", OP_NONE},
    {"model.layers.{L}.mlp.down_proj.weight", "blk.{L}.ffn_down.weight", OP_NONE},
    {"model.layers.{L}.block_sparse_moe.gate.weight", "blk.{L}.ffn_gate_inp.weight", OP_NONE},
    {"model.layers.{L}.block_sparse_moe.experts.{E}.w1.weight", "blk.{L}.ffn_gate_exps.weight", OP_EXPERTS},
    {"model.layers.{L}.block_sparse_moe.experts.{E}.w2.weight", "blk.{L}.ffn_down_exps.weight", OP_EXPERTS},
    {"model.layers.{L}.block_sparse_moe.experts.{E}.w3.weight", "blk.{L}.ffn_up_exps.weight", OP_EXPERTS},
};

static const namemap_row NAMES_GPT2[] = {
    {"model.embed_tokens.weight", "token_embd.weight", OP_NONE},
    {"model.embed_positions.weight", "position_embd.weight", OP_NONE},
    {"model.norm.weight", "output_norm.weight", OP_NONE},
    {"model.norm.bias", "output_norm.bias", OP_NONE},
    {"lm_head.weight", "output.weight", OP_NONE},
    {"model.layers.{L}.input_layernorm.weight", "blk.{L}.attn_norm.weight", OP_NONE},
    {"model.layers.{L}.input_layernorm.bias", "blk.{L}.attn_norm.bias", OP_NONE},
    {"model.layers.{L}.self_attn.q_proj.weight", "blk.{L}.attn_qkv.weight", OP_QKV},
    {"model.layers.{L}.self_attn.q_proj.bias", "blk.{L}.attn_qkv.bias", OP_QKV},
    {"model.layers.{L}.self_attn.k_proj.weight", NULL, OP_QKV}, /* written with q */
    {"model.layers.{L}.self_attn.k_proj.bias", NULL, OP_QKV},
    {"model.layers.{L}.self_attn.v_proj.weight", NULL, OP_QKV},
    {"model.layers.{L}.self_attn.v_proj.bias", NULL, OP_QKV},
    {"model.layers.{L}.self_attn.o_proj.weight", "blk.{L}.attn_output.weight", OP_NONE},
    {"model.layers.{L}.self_attn.o_proj.bias", "blk.{L}.attn_output.bias", OP_NONE},
    {"model.layers.{L}.post_attention_layernorm.weight", "blk.{L}.ffn_norm.weight", OP_NONE},
    {"model.layers.{L}.post_attention_layernorm.bias", "blk.{L}.ffn_norm.bias", OP_NONE},
    {"model.layers.{L}.mlp.up_proj.weight", "blk.{L}.ffn_up.weight", OP_NONE},
    {"model.layers.{L}.mlp.up_proj.bias", "blk.{L}.ffn_up.bias", OP_NONE},
    {"model.layers.{L}.mlp.down_proj.weight", "blk.{L}.ffn_down.weight", OP_NONE},
    {"model.layers.{L}.mlp.down_proj.bias", "blk.{L}.ffn_down.bias", OP_NONE},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_CONTEXT ((uint64_t)1 << 22) /* positions accepted from a file (RoPE tables are [P, D/2]) */
#define MAX_DIM ((uint64_t)1 << 20)

/* ---- which architecture a model maps to ---- */

static xf_status check_gpt2(const xf_config *c) {
    const char *why = NULL;
    if (c->arch != XF_ARCH_DECODER) why = "only decoder models (arch decoder) map to GGUF";
    else if (c->norm_type != XF_NORM_LAYERNORM || c->position_type != XF_POS_LEARNED)
        why = "gpt2 needs LayerNorm and learned positions, llama RMSNorm and RoPE";
    else if (c->hidden_act != XF_ACT_GELU_TANH || c->gated_ffn) why = "gpt2 needs hidden_act gelu_tanh, not gated";
    else if (!c->use_bias || c->lm_head_bias) why = "gpt2 needs use_bias and no lm_head_bias";
    else if (c->norm_placement != XF_NORM_PRE || !c->scale_attn_logits) why = "gpt2 needs pre-norm, scaled attention";
    else if (c->position_offset || c->embed_layernorm || c->type_vocab_size || c->mlm_transform)
        why = "gpt2 has no position offset, embedding norm, token types or MLM transform";
    else if (c->block_position_embeddings) why = "gpt2 has no block position embeddings (GLM's 2D positions)";
    else if (c->num_experts) why = "gpt2 has no MoE layers";
    if (why) return xf_fail(XF_ERR_UNSUPPORTED, "export gguf: this model has no GGUF equivalent: %s", why);
    return XF_OK;
}

static xf_status check_llama_moe(const xf_config *c) {
    if (!c->num_experts) return XF_OK;
    const char *why = NULL;
    if (c->moe_layer_freq != 1 || c->first_k_dense_layers) why = "every layer must be MoE";
    else if (c->num_shared_experts) why = "llama has no shared experts";
    else if (c->router_type != XF_ROUTER_SOFTMAX_TOPK_RENORM) why = "llama routes with softmax, top-k, renormalised";
    else if (c->capacity_factor != 0 || c->routed_scaling_factor != 1.0f) why = "llama's experts are dropless and unscaled";
    if (why) return xf_fail(XF_ERR_UNSUPPORTED, "export gguf: this MoE has no GGUF llama equivalent: %s", why);
    return XF_OK;
}

/* ---- writer ---- */

static xf_status parse_dtype(const char *dtype, uint32_t *type, uint32_t *ftype) {
    static const struct { const char *name; uint32_t type, ftype; } T[] = {
        {"f32", GGML_F32, 0}, {"f16", GGML_F16, 1}, {"bf16", GGML_BF16, 32}, {"q8_0", GGML_Q8_0, 7}};
    for (size_t i = 0; i < N_OF(T); i++)
        if (!strcmp(dtype ? dtype : "f32", T[i].name)) {
            *type = T[i].type;
            *ftype = T[i].ftype;
            return XF_OK;
        }
    return xf_fail(XF_ERR_ARG, "export gguf: --dtype %s is not supported (f32, f16, bf16, q8_0)", dtype);
}

static const float *param(const xf_model *m, const char *name) {
    size_t i = xf_model_find_tensor(m, name);
    return i == (size_t)-1 ? NULL : xf_model_params((xf_model *)m) + xf_model_tensor(m, i)->offset;
}

static xf_status write_meta(gguf_writer *w, const xf_config *c, size_t vocab, int llama, uint32_t ftype) {
    const char *a = llama ? "llama" : "gpt2";
    char k[96];
    size_t D = xf_config_head_dim(c);
    xf_status s = gguf_w_str(w, "general.architecture", a);
    if (!s) s = gguf_w_str(w, "general.name", "xfmr");
    if (!s) s = gguf_w_u32(w, "general.file_type", ftype);
#define U32(key, v) if (!s) { snprintf(k, sizeof k, "%s." key, a); s = gguf_w_u32(w, k, (uint32_t)(v)); }
#define F32(key, v) if (!s) { snprintf(k, sizeof k, "%s." key, a); s = gguf_w_f32(w, k, (v)); }
    U32("context_length", c->max_position_embeddings);
    U32("embedding_length", c->hidden_size);
    U32("block_count", c->num_hidden_layers);
    U32("feed_forward_length", c->num_experts ? c->moe_intermediate_size : c->intermediate_size);
    U32("attention.head_count", c->num_attention_heads);
    U32("attention.head_count_kv", c->num_key_value_heads);
    U32("vocab_size", vocab);
    if (llama) {
        F32("attention.layer_norm_rms_epsilon", c->norm_eps);
        F32("rope.freq_base", c->rope_theta);
        U32("rope.dimension_count", D);
        if (c->num_experts) {
            U32("expert_count", c->num_experts);
            U32("expert_used_count", c->num_experts_per_tok);
        }
    } else {
        F32("attention.layer_norm_epsilon", c->norm_eps);
    }
#undef U32
#undef F32
    return s;
}

/* One model tensor (table row i) out: its GGUF name, layout change and type. */
static xf_status write_tensor(gguf_writer *w, const xf_model *m, size_t i, const namemap_row *rows, size_t nrows,
                              size_t vocab, uint32_t mtype, float **buf, size_t *cap) {
    const xf_param_info *p = xf_model_tensor(m, i);
    const xf_config *c = xf_model_config(m);
    long L, E;
    const namemap_row *r = namemap_find(rows, nrows, 0, p->name, &L, &E);
    if (!r) return xf_fail(XF_ERR_UNSUPPORTED, "export gguf: tensor '%s' has no GGUF name", p->name);
    if (!r->foreign || (r->op == OP_EXPERTS && E != 0)) return XF_OK; /* written with another tensor */
    char name[128];
    if (namemap_render(r->foreign, L, E, name, sizeof name)) return xf_fail(XF_ERR_ARG, "export gguf: name too long");
    size_t D = xf_config_head_dim(c), C = c->hidden_size, rows_n = p->ndim == 2 ? p->shape[0] : p->numel;
    size_t cols = p->ndim == 2 ? p->shape[1] : 1, n = p->numel, parts = 1;
    if (interop_vocab_rows(p->name) && vocab < rows_n) rows_n = vocab, n = vocab * cols; /* the live ids' rows */
    if (r->op == OP_EXPERTS) parts = c->num_experts;
    if (r->op == OP_QKV) parts = 3; /* q, then k, then v (k and v follow q: Q + 2 KV rows) */
    size_t need = n * parts + 2 * c->num_key_value_heads * D * cols;
    if (need > *cap) {
        float *b = realloc(*buf, need * sizeof *b);
        if (!b) return xf_fail(XF_ERR_OOM, "out of memory");
        *buf = b;
        *cap = need;
    }
    float *b = *buf;
    uint64_t ne[3] = {cols, rows_n, parts};
    uint32_t nd = p->ndim;
    const float *src = xf_model_params((xf_model *)m) + p->offset;
    if (r->op == OP_ROPE_Q || r->op == OP_ROPE_K) {
        interop_rope_to_pairs(b, src, rows_n / D, D, cols);
    } else if (r->op == OP_EXPERTS) {
        for (size_t e = 0; e < parts; e++) {
            char nn[128];
            namemap_render(r->native, L, (long)e, nn, sizeof nn);
            const float *x = param(m, nn);
            if (!x) return xf_fail(XF_ERR_SHAPE, "export gguf: missing expert tensor '%s'", nn);
            memcpy(b + e * n, x, n * sizeof *b);
        }
        nd = 3;
    } else if (r->op == OP_QKV) {
        const char *bias = strstr(p->name, ".bias") ? "bias" : "weight";
        size_t off = 0;
        for (int k = 0; k < 3; k++) {
            char nn[128];
            snprintf(nn, sizeof nn, "model.layers.%ld.self_attn.%c_proj.%s", L, "qkv"[k], bias);
            size_t idx = xf_model_find_tensor(m, nn);
            if (idx == (size_t)-1) return xf_fail(XF_ERR_SHAPE, "export gguf: missing tensor '%s'", nn);
            const xf_param_info *q = xf_model_tensor(m, idx);
            memcpy(b + off, param(m, nn), q->numel * sizeof *b);
            off += q->numel;
        }
        if (p->ndim == 2) ne[1] = off / C;
        else ne[0] = off;
    } else {
        memcpy(b, src, n * sizeof *b);
    }
    if (p->ndim == 1) ne[0] = r->op == OP_QKV ? ne[0] : n;
    uint32_t type = p->ndim == 1 ? GGML_F32 : mtype; /* norms and biases stay f32, as llama.cpp's converter keeps them */
    if (type == GGML_Q8_0 && ne[0] % 32) type = GGML_F16;
    return gguf_w_tensor(w, name, nd, ne, type, b);
}

xf_status gguf_model_export(const xf_model *m, const xf_tokenizer *tok, const char *out, const char *dtype) {
    const xf_config *c = xf_model_config(m);
    uint32_t mtype = GGML_F32, ftype = 0;
    xf_status s = parse_dtype(dtype, &mtype, &ftype);
    if (s) return s;
    int llama = interop_check_llama(c, "export gguf") == XF_OK;
    if (llama) s = check_llama_moe(c);
    else if ((s = check_gpt2(c))) {
        char why[400];
        snprintf(why, sizeof why, "%s", xf_last_error());
        interop_check_llama(c, "");
        return xf_fail(XF_ERR_UNSUPPORTED, "%s; as llama%s", why, xf_last_error());
    }
    if (s) return s;
    gguf_writer *w;
    if ((s = gguf_writer_create(&w))) return s;
    size_t vocab = interop_live_vocab(m, tok); /* no padding rows: llama.cpp would sample them */
    s = write_meta(w, c, vocab, llama, ftype);
    if (!s) s = tok_gguf_write(tok, vocab, w);
    float *buf = NULL;
    size_t cap = 0;
    for (size_t i = 0; !s && i < xf_model_num_tensors(m); i++)
        s = write_tensor(w, m, i, llama ? NAMES_LLAMA : NAMES_GPT2, llama ? N_OF(NAMES_LLAMA) : N_OF(NAMES_GPT2),
                         vocab, mtype, &buf, &cap);
    free(buf);
    if (!s) s = gguf_writer_write(w, out);
    gguf_writer_free(w);
    return s;
}

/* ---- reader (llama) ---- */

int gguf_model_detect(const char *spec) {
    size_t n = strlen(spec);
    if (xf_path_is_dir(spec)) return 0;
    if (n > 5 && !strcmp(spec + n - 5, ".gguf")) return 1;
    FILE *f = fopen(spec, "rb");
    char magic[4] = {0};
    int yes = f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "GGUF", 4);
    if (f) fclose(f);
    return yes;
}

static xf_status read_config(const gguf_file *f, xf_config *c) {
    const char *path = gguf_path(f), *arch;
    size_t al;
    xf_status s = gguf_get_str(f, "general.architecture", 1, &arch, &al);
    if (s) return s;
    if (al != 5 || memcmp(arch, "llama", 5))
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: general.architecture \"%.*s\" is not supported (reads: llama)", path,
                       (int)(al > 40 ? 40 : al), arch);
    xf_config_defaults(c);
    uint64_t ctx, C, L, I, H, Hkv = 0, E = 0, K = 0, rd = 0;
    if ((s = gguf_get_uint(f, "llama.context_length", 1, MAX_CONTEXT, &ctx)) ||
        (s = gguf_get_uint(f, "llama.embedding_length", 1, MAX_DIM, &C)) ||
        (s = gguf_get_uint(f, "llama.block_count", 1, 4096, &L)) ||
        (s = gguf_get_uint(f, "llama.feed_forward_length", 1, MAX_DIM, &I)) ||
        (s = gguf_get_uint(f, "llama.attention.head_count", 1, MAX_DIM, &H)) ||
        (s = gguf_get_uint(f, "llama.attention.head_count_kv", 0, MAX_DIM, &Hkv)) ||
        (s = gguf_get_uint(f, "llama.expert_count", 0, 4096, &E)) ||
        (s = gguf_get_uint(f, "llama.expert_used_count", 0, 4096, &K)) ||
        (s = gguf_get_uint(f, "llama.rope.dimension_count", 0, MAX_DIM, &rd)))
        return s;
    c->norm_eps = 1e-5f;
    if ((s = gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", 0, &c->norm_eps)) ||
        (s = gguf_get_f32(f, "llama.rope.freq_base", 0, &c->rope_theta)))
        return s;
    const gguf_tensor *emb = gguf_tensor_find(f, "token_embd.weight");
    if (!emb || emb->ndim != 2 || emb->ne[0] != C || emb->ne[1] > MAX_DIM * 4)
        return xf_fail(XF_ERR_FORMAT, "%s: token_embd.weight is missing or not [vocab, %llu]", path,
                       (unsigned long long)C);
    if (H && C % H == 0 && rd && rd != C / H)
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: llama.rope.dimension_count %llu is not the head size %llu (partial "
                       "rotary is not supported)", path, (unsigned long long)rd, (unsigned long long)(C / H));
    if (E && (K == 0 || K > E))
        return xf_fail(XF_ERR_FORMAT, "%s: llama.expert_used_count %llu must be in [1, expert_count %llu]", path,
                       (unsigned long long)K, (unsigned long long)E);
    c->vocab_size = (size_t)emb->ne[1];
    c->hidden_size = (size_t)C;
    c->intermediate_size = (size_t)I;
    c->num_hidden_layers = (size_t)L;
    c->num_attention_heads = (size_t)H;
    c->num_key_value_heads = (size_t)(Hkv ? Hkv : H);
    c->max_position_embeddings = (size_t)ctx;
    c->hidden_act = XF_ACT_SILU;
    c->gated_ffn = 1;
    c->norm_type = XF_NORM_RMSNORM;
    c->position_type = XF_POS_ROPE;
    c->use_bias = 0;
    c->tie_word_embeddings = gguf_tensor_find(f, "output.weight") == NULL;
    if (E) {
        c->num_experts = (size_t)E;
        c->num_experts_per_tok = (size_t)K;
        c->moe_intermediate_size = (size_t)I;
    }
    return xf_config_validate(c, path);
}

xf_status gguf_model_config(xf_config *cfg, const char *spec) {
    gguf_file *f;
    xf_status s = gguf_open(&f, spec);
    if (s) return s;
    s = read_config(f, cfg);
    gguf_close(f);
    return s;
}

/* xfmr's tensor names in sorted order: one binary search per GGUF tensor, so a
 * load is O(n log n) in the tensors, not O(n^2). */
typedef struct {
    const char *name;
    size_t i;
} name_ix;

static int cmp_name_ix(const void *a, const void *b) {
    return strcmp(((const name_ix *)a)->name, ((const name_ix *)b)->name);
}

static size_t find_ix(const name_ix *ix, size_t n, const char *name) {
    name_ix key = {name, 0};
    const name_ix *hit = bsearch(&key, ix, n, sizeof key, cmp_name_ix);
    return hit ? hit->i : (size_t)-1;
}

/* GGUF tensor t into the model: shape check, dequantise, layout change. A
 * tensor that needs no layout change (one part, no RoPE permutation) is
 * converted straight into the parameter arena; the others pass through buf. */
static xf_status read_tensor(const gguf_file *f, const gguf_tensor *t, xf_model *m, const name_ix *ix,
                             size_t *filled, float **buf, size_t *cap) {
    const char *path = gguf_path(f);
    char name[256], nn[128];
    snprintf(name, sizeof name, "%.*s", (int)t->nlen, t->name);
    long L, E;
    const namemap_row *r = namemap_find(NAMES_LLAMA, N_OF(NAMES_LLAMA), 1, name, &L, &E);
    if (!r) return xf_fail(XF_ERR_UNSUPPORTED, "%s: tensor '%s' has no place in a llama model", path, name);
    const xf_config *c = xf_model_config(m);
    size_t parts = r->op == OP_EXPERTS ? c->num_experts : 1, nt = xf_model_num_tensors(m);
    if ((r->op == OP_EXPERTS) != (t->ndim == 3))
        return xf_fail(XF_ERR_SHAPE, "%s: tensor '%s' has %u dimensions", path, name, t->ndim);
    if (r->op == OP_EXPERTS && t->ne[2] != parts)
        return xf_fail(XF_ERR_SHAPE, "%s: tensor '%s' has %llu experts, expected %zu", path, name,
                       (unsigned long long)t->ne[2], parts);
    size_t per = t->numel / parts, first = (size_t)-1;
    for (size_t e = 0; e < parts; e++) { /* every part's place and shape, before any conversion */
        if (namemap_render(r->native, L, r->op == OP_EXPERTS ? (long)e : -1, nn, sizeof nn))
            return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s': bad index", path, name);
        size_t i = find_ix(ix, nt, nn);
        if (i == (size_t)-1) return xf_fail(XF_ERR_SHAPE, "%s: tensor '%s' does not fit the config (no '%s')", path, name, nn);
        const xf_param_info *p = xf_model_tensor(m, i);
        size_t d0 = p->ndim == 2 ? p->shape[0] : p->numel, d1 = p->ndim == 2 ? p->shape[1] : 1;
        int ok = p->numel == per && (p->ndim == 1 ? t->ndim == 1 : (t->ne[0] == d1 && t->ne[1] == d0));
        if (!ok)
            return xf_fail(XF_ERR_SHAPE, "%s: tensor '%s' has shape [%llu, %llu], expected [%zu, %zu] (ne = {in, out})",
                           path, name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], d1, d0);
        if (filled[i]) return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s' is given twice", path, nn);
        if (e == 0) first = i;
    }
    int direct = parts == 1 && r->op != OP_ROPE_Q && r->op != OP_ROPE_K;
    if (!direct && t->numel > *cap) {
        float *b = realloc(*buf, t->numel * sizeof *b);
        if (!b) return xf_fail(XF_ERR_OOM, "%s: out of memory", path);
        *buf = b;
        *cap = t->numel;
    }
    float *whole = direct ? xf_model_params(m) + xf_model_tensor(m, first)->offset : *buf;
    xf_status s = gguf_tensor_f32(f, t, whole);
    if (s) return s;
    for (size_t e = 0; e < parts; e++) {
        size_t i = first;
        if (e) {
            namemap_render(r->native, L, (long)e, nn, sizeof nn); /* rendered once above */
            i = find_ix(ix, nt, nn);
        }
        const xf_param_info *p = xf_model_tensor(m, i);
        float *dst = xf_model_params(m) + p->offset;
        const float *src = whole + e * per;
        if (r->op == OP_ROPE_Q || r->op == OP_ROPE_K) {
            size_t D = xf_config_head_dim(c);
            interop_rope_from_pairs(dst, src, p->shape[0] / D, D, p->shape[1]);
        } else if (!direct) {
            memcpy(dst, src, per * sizeof *dst);
        }
        filled[i] = 1;
        for (size_t k = 0; k < per; k++)
            if (!isfinite(dst[k])) return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s' holds a NaN or infinity", path, name);
    }
    return XF_OK;
}

xf_status gguf_model_open(xf_model **out, const char *spec) {
    *out = NULL;
    gguf_file *f;
    xf_config cfg;
    xf_model *m = NULL;
    size_t *filled = NULL;
    name_ix *ix = NULL;
    float *buf = NULL;
    size_t cap = 0;
    xf_status s = gguf_open(&f, spec);
    if (s) return s;
    /* every tensor is written (filled[] is checked below), so the arena is not zeroed first */
    if ((s = read_config(f, &cfg)) || (s = model_create_unfilled(&m, &cfg))) goto out;
    size_t nt = xf_model_num_tensors(m);
    filled = calloc(nt, sizeof *filled);
    ix = malloc(nt * sizeof *ix);
    if (!filled || !ix) {
        s = xf_fail(XF_ERR_OOM, "%s: out of memory", spec);
        goto out;
    }
    for (size_t i = 0; i < nt; i++) ix[i] = (name_ix){xf_model_tensor(m, i)->name, i};
    qsort(ix, nt, sizeof *ix, cmp_name_ix);
    for (size_t i = 0; !s && i < gguf_tensor_count(f); i++)
        s = read_tensor(f, gguf_tensor_at(f, i), m, ix, filled, &buf, &cap);
    for (size_t i = 0; !s && i < nt; i++)
        if (!filled[i]) s = xf_fail(XF_ERR_FORMAT, "%s: no tensor for '%s'", spec, xf_model_tensor(m, i)->name);
out:
    free(filled);
    free(ix);
    free(buf);
    gguf_close(f);
    if (s) {
        xf_model_free(m);
        return s;
    }
    *out = m;
    return XF_OK;
}

xf_status gguf_model_tokenizer(xf_tokenizer **out, const char *spec) {
    *out = NULL;
    gguf_file *f;
    xf_status s = gguf_open(&f, spec);
    if (s) return s;
    s = tok_gguf_read(out, f);
    gguf_close(f);
    return s;
}
