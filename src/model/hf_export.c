/* Writing a Hugging Face directory (docs/formats.md §Hugging Face directories).
 *
 * The architecture is chosen by trying every row of hf_arch.c: the model's
 * config is written in that row's fields and read back through the same
 * reader; the first row that gives back the same model (up to fields that
 * only steer training) and whose absent tensors (HF_ZERO) are zero in this
 * model is the one. A model no row expresses is refused, naming the nearest
 * row and the setting it lacks. Then config.json, model.safetensors (HF
 * names, layouts undone: Conv1D transposed, q/k/v fused), the tokenizer and
 * tokenizer_config.json are written, each file atomically. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "model/hf_arch.h"
#include "model/interop.h"
#include "model/hf_io.h"
#include "model/model_internal.h"
#include "xfmr/safetensors.h"

/* ---------------------------------------------------------------- config */

/* The HF config of cfg in arch a (a new cJSON object), or an error saying why a cannot hold it. */
static xf_status config_to_json(const hf_arch *a, const xf_config *cfg, cJSON **out) {
    cJSON *o = cJSON_CreateObject();
    cJSON *ar = cJSON_CreateStringArray(&a->architecture, 1);
    if (!o || !ar) {
        cJSON_Delete(o);
        cJSON_Delete(ar);
        return xf_fail(XF_ERR_OOM, "out of memory");
    }
    cJSON_AddItemToObject(o, "architectures", ar);
    cJSON_AddStringToObject(o, "model_type", a->model_type);
    for (size_t i = 0; i < a->nfields; i++) {
        const hf_field *f = &a->fields[i];
        if (cJSON_GetObjectItemCaseSensitive(o, f->key)) continue; /* a key filling two fields: written once */
        const void *slot = (const char *)cfg + f->off;
        switch (f->kind) {
        case HF_SIZE: cJSON_AddNumberToObject(o, f->key, (double)*(const size_t *)slot); break;
        case HF_INT: cJSON_AddNumberToObject(o, f->key, (double)*(const int *)slot); break;
        case HF_FLOAT: cJSON_AddNumberToObject(o, f->key, (double)*(const float *)slot); break;
        case HF_BOOL: cJSON_AddBoolToObject(o, f->key, *(const int *)slot); break;
        case HF_ACT: cJSON_AddStringToObject(o, f->key, hf_act_name(*(const xf_act *)slot)); break;
        }
    }
    xf_status s = a->pre_export ? a->pre_export(cfg, o) : XF_OK;
    for (const cJSON *it = o->child; it && !s; it = it->next) /* a row's hook must not repeat a field */
        for (const cJSON *q = o->child; q != it && !s; q = q->next)
            if (!strcmp(it->string, q->string))
                s = xf_fail(XF_ERR_ARG, "export hf: %s writes \"%s\" twice", a->model_type, it->string);
    if (s) {
        cJSON_Delete(o);
        return s;
    }
    *out = o;
    return XF_OK;
}

/* Fields that steer training only, and spellings of the same model (an
 * implicit or explicit decoder depth): a model is the same whatever they hold. */
static void training_fields(xf_config *dst, const xf_config *src) {
    if (xf_config_decoder_layers(dst) == xf_config_decoder_layers(src))
        dst->num_decoder_layers = src->num_decoder_layers;
    dst->initializer_range = src->initializer_range;
    dst->initializer_factor = src->initializer_factor;
    dst->router_aux_loss_coef = src->router_aux_loss_coef;
    dst->router_z_loss_coef = src->router_z_loss_coef;
    dst->router_jitter = src->router_jitter;
    dst->router_bias_update_speed = src->router_bias_update_speed;
    if (!src->num_experts) { /* a dense model: the MoE fields say nothing */
        dst->num_experts_per_tok = src->num_experts_per_tok;
        dst->moe_intermediate_size = src->moe_intermediate_size;
        dst->num_shared_experts = src->num_shared_experts;
        dst->moe_layer_freq = src->moe_layer_freq;
        dst->first_k_dense_layers = src->first_k_dense_layers;
        dst->router_type = src->router_type;
        dst->routed_scaling_factor = src->routed_scaling_factor;
        dst->capacity_factor = src->capacity_factor;
    }
    int dense = 0; /* the dense FFN width matters only where a layer has one */
    for (size_t l = 0; l < src->num_hidden_layers; l++) dense |= !xf_config_layer_is_moe(src, l);
    if (!dense && !src->num_shared_experts) dst->intermediate_size = src->intermediate_size;
}

/* 1 when xfmr's tensors that a lacks (HF_ZERO) are all zero in m; *which names one that is not. */
static int zero_rows_ok(const xf_model *m, const hf_arch *a, const char **which) {
    char buf[256];
    for (size_t i = 0; i < m->ntensors; i++) {
        const namemap_row *row;
        if (hf_name(a, m->table[i].name, &row, buf, sizeof buf)) continue;
        if (!row || row->op != HF_ZERO) continue;
        const float *p = m->params + m->table[i].offset;
        for (size_t k = 0; k < m->table[i].numel; k++)
            if (p[k] != 0.0f) {
                *which = m->table[i].name;
                return 0;
            }
    }
    return 1;
}

/* The first row that expresses m, with its config; or a refusal naming the nearest row. */
static xf_status pick_arch(const xf_model *m, const hf_arch **out, cJSON **json) {
    const xf_config *cfg = &m->cfg;
    const hf_arch *near = NULL;
    size_t best = (size_t)-1;
    char why[256] = "", line[200];
    for (size_t i = 0; i < hf_arch_count(); i++) {
        const hf_arch *a = hf_arch_at(i);
        xf_config probe;
        a->fixed(&probe);
        if (probe.arch != cfg->arch) continue; /* another family */
        cJSON *o = NULL;
        const hf_arch *back;
        xf_config c2;
        xf_status s = config_to_json(a, cfg, &o);
        if (s == XF_OK) s = hf_config_from_json(o, a->model_type, &back, &c2);
        size_t d;
        if (s == XF_OK) {
            training_fields(&c2, cfg);
            d = xf_config_diff(cfg, &c2, 3, line, NULL, sizeof line);
        } else {
            d = (size_t)-2;
            snprintf(line, sizeof line, "%s", xf_last_error());
        }
        const char *nz = NULL;
        if (d == 0 && zero_rows_ok(m, a, &nz)) {
            xf_clear_error();
            *out = a;
            *json = o;
            return XF_OK;
        }
        cJSON_Delete(o);
        if (d == 0) {
            d = 1;
            snprintf(line, sizeof line, "tensor %s is not zero (%s has none)", nz, a->model_type);
        }
        if (!near || d < best) {
            near = a;
            best = d;
            snprintf(why, sizeof why, "%s", line);
        }
    }
    if (!near)
        return xf_fail(XF_ERR_UNSUPPORTED,
                       "export hf: no Hugging Face architecture is a %s (transformers has decoder, encoder and "
                       "encoder-decoder models, none with this attention pattern)",
                       xf_arch_name(cfg->arch));
    return xf_fail(XF_ERR_UNSUPPORTED,
                   "export hf: no Hugging Face architecture expresses this model; the nearest, %s, cannot hold "
                   "xfmr's %s",
                   near->model_type, why);
}

/* ---------------------------------------------------------------- tensors */

/* One HF tensor being written: its data (borrowed from the model or owned). */
typedef struct {
    char name[256];
    size_t ndim, shape[2];
    float *own;
    const float *data;
} out_tensor;

typedef struct {
    out_tensor *t;
    size_t n, cap;
} out_list;

/* The entry for HF tensor `name`, new or (for a fused tensor) one of the last
 * two: xfmr's rows come weight, bias, weight, bias, ... so the rows that fill
 * one fused tensor are at most one entry apart; no search over the list. */
static out_tensor *out_get(out_list *l, const char *name) {
    for (size_t i = l->n, k = 0; i-- > 0 && k < 2; k++)
        if (!strcmp(l->t[i].name, name)) return &l->t[i];
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        out_tensor *t = realloc(l->t, cap * sizeof *t);
        if (!t) return NULL;
        l->t = t;
        l->cap = cap;
    }
    out_tensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

static void out_free(out_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->t[i].own);
    free(l->t);
}

/* HF tensors of m in arch a, layouts undone. */
static xf_status collect(const xf_model *m, const hf_arch *a, size_t vocab, out_list *l) {
    char name[256];
    size_t fused = m->Q + 2 * m->KV;
    for (size_t i = 0; i < m->ntensors; i++) {
        const xf_param_info *p = &m->table[i];
        const float *src = m->params + p->offset;
        const namemap_row *row;
        xf_status s = hf_name(a, p->name, &row, name, sizeof name);
        if (s) return s;
        int op = row ? row->op : HF_COPY;
        if (op == HF_ZERO) continue;
        out_tensor *t = out_get(l, name);
        if (!t) return xf_fail(XF_ERR_OOM, "export hf: out of memory");
        size_t rows = p->shape[0], cols = p->ndim == 2 ? p->shape[1] : 1;
        if (op == HF_COPY || op == HF_ROW) {
            t->ndim = op == HF_ROW ? 2 : p->ndim;
            t->shape[0] = op == HF_ROW ? 1 : p->shape[0];
            t->shape[1] = op == HF_ROW ? p->numel : p->shape[1];
            t->data = src;
            if (interop_vocab_rows(p->name) && vocab < p->shape[0]) t->shape[0] = vocab; /* the live ids' rows */
            continue;
        }
        int qkv = op != HF_T;
        size_t width = qkv ? fused : rows; /* the [in, out] row length */
        if (!t->own) {
            t->ndim = p->ndim;
            t->shape[0] = p->ndim == 2 ? cols : width;
            t->shape[1] = width;
            t->own = calloc(cols * width, sizeof *t->own);
            if (!t->own) return xf_fail(XF_ERR_OOM, "export hf: out of memory");
            t->data = t->own;
        }
        size_t off = op == HF_QKV1 ? m->Q : op == HF_QKV2 ? m->Q + m->KV : 0;
        if (p->ndim == 1) memcpy(t->own + off, src, rows * sizeof *src);
        else
            for (size_t o = 0; o < rows; o++)
                for (size_t k = 0; k < cols; k++) t->own[k * width + off + o] = src[o * cols + k];
    }
    return XF_OK;
}

/* f32 -> bf16 and f16 bits, rounding to nearest even (NaN stays NaN; f16
 * overflows to infinity and keeps subnormals). */
static uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static uint16_t to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;   /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00u;  /* rounds past 65504: infinity */
    if (a < 0x38800000u) {                        /* below 2^-14: subnormal or zero */
        if (a < 0x33000000u) return sign;         /* below half the smallest subnormal */
        uint32_t m = (a & 0x7fffffu) | 0x800000u;
        unsigned shift = 126u - (a >> 23);        /* 14..24 */
        uint32_t half = 1u << (shift - 1), rem = m & ((1u << shift) - 1), q = m >> shift;
        if (rem > half || (rem == half && (q & 1u))) q++;
        return sign | (uint16_t)q;
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - 0x38000000u; /* rebias 127 -> 15, round */
    return sign | (uint16_t)(r >> 13);
}

static xf_status write_weights(const xf_model *m, const hf_arch *a, size_t vocab, const char *path, xf_dtype dt) {
    out_list l = {0};
    xf_st_writer *w = NULL;
    uint16_t **half = NULL;
    xf_status s = collect(m, a, vocab, &l);
    if (!s && dt != XF_DT_F32 && !(half = calloc(l.n ? l.n : 1, sizeof *half)))
        s = xf_fail(XF_ERR_OOM, "export hf: out of memory");
    if (!s) s = xf_st_writer_create(&w);
    for (size_t i = 0; i < l.n && !s; i++) {
        const void *data = l.t[i].data;
        if (half) {
            size_t n = l.t[i].shape[0] * (l.t[i].ndim == 2 ? l.t[i].shape[1] : 1);
            if (!(half[i] = malloc((n ? n : 1) * sizeof **half))) {
                s = xf_fail(XF_ERR_OOM, "export hf: out of memory");
                break;
            }
            for (size_t k = 0; k < n; k++) half[i][k] = dt == XF_DT_BF16 ? to_bf16(l.t[i].data[k]) : to_f16(l.t[i].data[k]);
            data = half[i];
        }
        s = xf_st_writer_add(w, l.t[i].name, dt, l.t[i].ndim, l.t[i].shape, data);
    }
    if (!s) s = xf_st_writer_write(w, path);
    xf_st_writer_free(w);
    for (size_t i = 0; half && i < l.n; i++) free(half[i]);
    free(half);
    out_free(&l);
    return s;
}

/* ---------------------------------------------------------------- tokenizer */

static void add_special(cJSON *o, const char *key, const xf_tokenizer *tok, xf_tok_special which) {
    int32_t id = xf_tokenizer_special(tok, which);
    size_t len = 0;
    const char *s = id >= 0 ? xf_tokenizer_id_to_str(tok, id, &len) : NULL;
    if (!s) return;
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < 255 ? len : 255), s);
    cJSON_AddStringToObject(o, key, buf);
}

static xf_status write_tokenizer(const xf_model *m, const xf_tokenizer *tok, const char *dir, const char *path) {
    xf_status s = xf_tokenizer_save(tok, dir);
    if (s) return s;
    cJSON *o = cJSON_CreateObject();
    if (!o) return xf_fail(XF_ERR_OOM, "out of memory");
    cJSON_AddStringToObject(o, "tokenizer_class", "PreTrainedTokenizerFast");
    cJSON_AddNumberToObject(o, "model_max_length", (double)m->cfg.max_position_embeddings);
    add_special(o, "bos_token", tok, XF_TOK_BOS);
    add_special(o, "eos_token", tok, XF_TOK_EOS);
    add_special(o, "pad_token", tok, XF_TOK_PAD);
    add_special(o, "unk_token", tok, XF_TOK_UNK);
    add_special(o, "mask_token", tok, XF_TOK_MASK);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return xf_fail(XF_ERR_OOM, "out of memory");
    s = xf_file_write_atomic(path, text, strlen(text));
    free(text);
    return s;
}

/* ---------------------------------------------------------------- the writer */

xf_status hf_export(const xf_model *m, const xf_tokenizer *tok, const char *out, const char *dtype) {
    xf_dtype dt = XF_DT_F32;
    if (dtype && !strcmp(dtype, "f16")) dt = XF_DT_F16;
    else if (dtype && !strcmp(dtype, "bf16")) dt = XF_DT_BF16;
    else if (dtype && strcmp(dtype, "f32") != 0)
        return xf_fail(XF_ERR_UNSUPPORTED, "export hf: --dtype %s is not supported (supported: f32, f16, bf16)", dtype);
    if (tok && xf_tokenizer_vocab_size(tok) > m->cfg.vocab_size)
        return xf_fail(XF_ERR_ARG, "export hf: the tokenizer has %zu ids, more than the model's vocab_size %zu",
                       xf_tokenizer_vocab_size(tok), m->cfg.vocab_size);
    const hf_arch *a = NULL;
    cJSON *cj = NULL;
    xf_status s = pick_arch(m, &a, &cj);
    if (s) return s;
    size_t vocab = interop_live_vocab(m, tok); /* no padding rows: transformers would sample them */
    if (vocab < m->cfg.vocab_size) cJSON_ReplaceItemInObject(cj, "vocab_size", cJSON_CreateNumber((double)vocab));
    cJSON_AddStringToObject(cj, "torch_dtype", dt == XF_DT_F16 ? "float16" : dt == XF_DT_BF16 ? "bfloat16" : "float32");
    char *text = cJSON_Print(cj);
    cJSON_Delete(cj);
    if (!text) return xf_fail(XF_ERR_OOM, "out of memory");
    char path[4096];
    s = mkdir_p(out);
    if (!s && snprintf(path, sizeof path, "%s/model.safetensors", out) >= (int)sizeof path)
        s = xf_fail(XF_ERR_ARG, "%s: path too long", out);
    if (!s) s = write_weights(m, a, vocab, path, dt);
    if (!s) {
        snprintf(path, sizeof path, "%s/config.json", out);
        s = xf_file_write_atomic(path, text, strlen(text));
    }
    free(text);
    if (!s && tok) {
        snprintf(path, sizeof path, "%s/tokenizer_config.json", out);
        s = write_tokenizer(m, tok, out, path);
    }
    return s;
}
