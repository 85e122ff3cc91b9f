/* llama2.c checkpoints in and out (docs/formats.md §llama2.c).
 *
 * v0 (legacy, headerless): int32 dim, hidden_dim, n_layers, n_heads,
 *   n_kv_heads, vocab_size (negative: untied classifier), seq_len; then f32
 *   weights in run.c's order (ORDER_V0 below), with the RoPE tables (2 x
 *   seq_len x head_size/2) before the classifier.
 * v1/v2 (export.py): u32 magic 0x616b3432 "ak42", int32 version, the same 7
 *   int32 (vocab_size positive), u8 shared_classifier, v2 an int32 group size;
 *   zeros to 256 bytes. v1: f32 weights in ORDER_V1. v2: the norms in f32, then
 *   each other weight as int8 values followed by its f32 group scales.
 * Matrices are [out, in] row-major, as xfmr's. q and k rows are in llama2.c's
 * interleaved RoPE layout and are permuted to rotate_half on the way in (and
 * back on the way out; interop.h). llama2.c fixes RMSNorm eps at 1e-5 and the
 * RoPE base at 10000. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "model/interop.h"
#include "model/llama2c.h"
#include "model/namemap.h"
#include "xfmr/model.h"

#define L2C_MAGIC 0x616b3432u
#define L2C_HEADER 256
#define L2C_MAX_DIM (1 << 20)

typedef struct {
    int version; /* 0, 1, 2 */
    int32_t dim, hidden, layers, heads, kv_heads, vocab, seq;
    int shared;
    int32_t gs;    /* v2 group size */
    size_t header; /* bytes before the weights */
} l2c_header;

/* The tensors, in one table; the orders below index it. */
enum { K_EMB, K_ATT_NORM, K_Q, K_K, K_V, K_O, K_FFN_NORM, K_W1, K_W2, K_W3, K_NORM, K_FREQS, K_CLS, K_END };
static const struct {
    const char *native; /* NULL: the RoPE tables (skipped on read) */
    int per_layer, norm;
} KINDS[] = {
    [K_EMB] = {"model.embed_tokens.weight", 0, 0},
    [K_ATT_NORM] = {"model.layers.{L}.input_layernorm.weight", 1, 1},
    [K_Q] = {"model.layers.{L}.self_attn.q_proj.weight", 1, 0},
    [K_K] = {"model.layers.{L}.self_attn.k_proj.weight", 1, 0},
    [K_V] = {"model.layers.{L}.self_attn.v_proj.weight", 1, 0},
    [K_O] = {"model.layers.{L}.self_attn.o_proj.weight", 1, 0},
    [K_FFN_NORM] = {"model.layers.{L}.post_attention_layernorm.weight", 1, 1},
    [K_W1] = {"model.layers.{L}.mlp.gate_proj.weight", 1, 0},
    [K_W2] = {"model.layers.{L}.mlp.down_proj.weight", 1, 0},
    [K_W3] = {"model.layers.{L}.mlp.up_proj.weight", 1, 0},
    [K_NORM] = {"model.norm.weight", 0, 1},
    [K_FREQS] = {NULL, 0, 0},
    [K_CLS] = {"lm_head.weight", 0, 0},
};
static const int ORDER_V0[] = {K_EMB, K_ATT_NORM, K_Q,  K_K,  K_V,    K_O,   K_FFN_NORM,
                               K_W1,  K_W2,       K_W3, K_NORM, K_FREQS, K_CLS, K_END};
static const int ORDER_V1[] = {K_ATT_NORM, K_FFN_NORM, K_NORM, K_EMB, K_Q,  K_K,  K_V,
                               K_O,        K_W1,       K_W2,   K_W3,  K_CLS, K_END};

static void header_config(const l2c_header *h, xf_config *c) {
    xf_config_defaults(c);
    c->vocab_size = (size_t)h->vocab;
    c->hidden_size = (size_t)h->dim;
    c->intermediate_size = (size_t)h->hidden;
    c->num_hidden_layers = (size_t)h->layers;
    c->num_attention_heads = (size_t)h->heads;
    c->num_key_value_heads = (size_t)h->kv_heads;
    c->max_position_embeddings = (size_t)h->seq;
    c->hidden_act = XF_ACT_SILU;
    c->gated_ffn = 1;
    c->norm_type = XF_NORM_RMSNORM;
    c->norm_eps = 1e-5f;
    c->position_type = XF_POS_ROPE;
    c->rope_theta = 10000.0f;
    c->use_bias = 0;
    c->tie_word_embeddings = h->shared;
}

/* Values of one tensor kind (one layer's for per-layer kinds). */
static size_t kind_numel(const l2c_header *h, int k) {
    size_t C = (size_t)h->dim, I = (size_t)h->hidden, V = (size_t)h->vocab, D = C / (size_t)h->heads;
    size_t KV = (size_t)h->kv_heads * D;
    switch (k) {
    case K_EMB: case K_CLS: return V * C;
    case K_ATT_NORM: case K_FFN_NORM: case K_NORM: return C;
    case K_Q: case K_O: return C * C;
    case K_K: case K_V: return KV * C;
    case K_W1: case K_W2: case K_W3: return I * C;
    default: return (size_t)h->seq * D; /* K_FREQS: cos and sin, seq x D/2 each */
    }
}

static const int *order_of(int version) { return version == 0 ? ORDER_V0 : ORDER_V1; }

/* Bytes one tensor takes in the file. */
static size_t kind_bytes(const l2c_header *h, int k) {
    size_t n = kind_numel(h, k);
    if (h->version == 2 && !KINDS[k].norm) return n + n / (size_t)h->gs * 4;
    return n * 4;
}

static int used(const l2c_header *h, int k) { return k != K_CLS || !h->shared; }

/* Parse and check the header of a file of `len` bytes, including that the
 * weights fill the rest exactly. */
static xf_status parse_header(const uint8_t *p, size_t len, const char *path, l2c_header *h) {
    memset(h, 0, sizeof *h);
    int32_t v[7];
    uint32_t magic = 0;
    if (len >= 4) memcpy(&magic, p, 4);
    if (magic == L2C_MAGIC) {
        if (len < L2C_HEADER)
            return xf_fail(XF_ERR_FORMAT, "%s: truncated llama2.c header (%zu of %d bytes)", path, len, L2C_HEADER);
        int32_t ver;
        memcpy(&ver, p + 4, 4);
        if (ver != 1 && ver != 2)
            return xf_fail(XF_ERR_UNSUPPORTED, "%s: llama2.c version %d (supported: 0 (no header), 1, 2)", path,
                           (int)ver);
        h->version = ver;
        memcpy(v, p + 8, sizeof v);
        uint8_t sh = p[36];
        if (sh > 1) return xf_fail(XF_ERR_FORMAT, "%s: shared_classifier flag is %u (0 or 1)", path, sh);
        h->shared = sh;
        if (ver == 2) memcpy(&h->gs, p + 37, 4);
        h->header = L2C_HEADER;
        if (v[5] <= 0) return xf_fail(XF_ERR_FORMAT, "%s: vocab_size %d must be > 0", path, (int)v[5]);
    } else {
        if (len < sizeof v)
            return xf_fail(XF_ERR_FORMAT, "%s: truncated llama2.c header (%zu of %zu bytes)", path, len, sizeof v);
        memcpy(v, p, sizeof v);
        h->header = sizeof v;
        h->shared = v[5] > 0;
        if (v[5] == INT32_MIN) return xf_fail(XF_ERR_FORMAT, "%s: vocab_size %d is out of range", path, (int)v[5]);
        if (v[5] < 0) v[5] = -v[5];
    }
    static const char *const names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size",
                                         "seq_len"};
    for (int i = 0; i < 7; i++)
        if (v[i] <= 0 || v[i] > L2C_MAX_DIM)
            return xf_fail(XF_ERR_FORMAT, "%s: %s %d is out of range [1, %d] (not a llama2.c checkpoint?)", path,
                           names[i], (int)v[i], L2C_MAX_DIM);
    h->dim = v[0], h->hidden = v[1], h->layers = v[2], h->heads = v[3], h->kv_heads = v[4];
    h->vocab = v[5], h->seq = v[6];
    if (h->dim % h->heads || (h->dim / h->heads) % 2 || h->heads % h->kv_heads || h->layers > 4096)
        return xf_fail(XF_ERR_FORMAT,
                       "%s: inconsistent shape: dim %d, n_heads %d, n_kv_heads %d, n_layers %d (need dim %% n_heads "
                       "== 0, an even head size, n_heads %% n_kv_heads == 0, n_layers <= 4096)",
                       path, h->dim, h->heads, h->kv_heads, h->layers);
    if (h->version == 2 && (h->gs <= 0 || h->dim % h->gs))
        return xf_fail(XF_ERR_FORMAT, "%s: group size %d must be > 0 and divide dim %d", path, (int)h->gs, h->dim);
    /* every size is below 2^20, so products of two fit; sum with overflow checks */
    size_t total = h->header;
    for (const int *k = order_of(h->version); *k != K_END; k++) {
        if (!used(h, *k)) continue;
        size_t b = kind_bytes(h, *k), reps = KINDS[*k].per_layer ? (size_t)h->layers : 1;
        if (h->version == 2 && !KINDS[*k].norm && kind_numel(h, *k) % (size_t)h->gs)
            return xf_fail(XF_ERR_FORMAT, "%s: group size %d does not divide a weight of %zu values", path, (int)h->gs,
                           kind_numel(h, *k));
        if (b > SIZE_MAX / reps || total > SIZE_MAX - b * reps)
            return xf_fail(XF_ERR_FORMAT, "%s: the weights' size overflows", path);
        total += b * reps;
    }
    if (len != total)
        return xf_fail(XF_ERR_FORMAT, "%s: %zu bytes, but a llama2.c v%d model with this header has %zu (%s)", path,
                       len, h->version, total, len < total ? "truncated" : "trailing bytes");
    return XF_OK;
}

int llama2c_detect(const char *spec) {
    size_t n = strlen(spec);
    return !xf_path_is_dir(spec) && n > 4 && !strcmp(spec + n - 4, ".bin");
}

static xf_status map_header(xf_mmap *mp, const char *path, l2c_header *h) {
    xf_status s = xf_mmap_open(mp, path);
    if (s) return s;
    if ((s = parse_header(mp->ptr, mp->len, path, h))) xf_mmap_close(mp);
    return s;
}

xf_status llama2c_config(xf_config *cfg, const char *spec) {
    xf_mmap mp;
    l2c_header h;
    xf_status s = map_header(&mp, spec, &h);
    if (s) return s;
    xf_mmap_close(&mp);
    header_config(&h, cfg);
    return xf_config_validate(cfg, spec);
}

/* Copy n values of one tensor from the file at p into dst (q8 groups for v2). */
static void read_values(const l2c_header *h, int k, const uint8_t *p, size_t n, float *dst) {
    if (h->version == 2 && !KINDS[k].norm) {
        const int8_t *q = (const int8_t *)p;
        const uint8_t *sc = p + n;
        size_t gs = (size_t)h->gs;
        for (size_t g = 0; g < n / gs; g++) {
            float scale;
            memcpy(&scale, sc + 4 * g, 4);
            for (size_t i = 0; i < gs; i++) dst[g * gs + i] = (float)q[g * gs + i] * scale;
        }
    } else {
        memcpy(dst, p, n * sizeof *dst);
    }
}

xf_status llama2c_open(xf_model **out, const char *spec) {
    xf_mmap mp;
    l2c_header h;
    xf_config cfg;
    xf_status s = map_header(&mp, spec, &h);
    if (s) return s;
    header_config(&h, &cfg);
    xf_model *m = NULL;
    float *tmp = NULL;
    if ((s = xf_config_validate(&cfg, spec)) || (s = xf_model_create(&m, &cfg))) goto out;
    size_t C = (size_t)h.dim, D = C / (size_t)h.heads;
    tmp = malloc(kind_numel(&h, K_Q) * sizeof *tmp);
    if (!tmp) {
        s = xf_fail(XF_ERR_OOM, "%s: out of memory", spec);
        goto out;
    }
    const uint8_t *p = (const uint8_t *)mp.ptr + h.header;
    for (const int *k = order_of(h.version); *k != K_END; k++) {
        if (!used(&h, *k)) continue;
        size_t n = kind_numel(&h, *k), b = kind_bytes(&h, *k);
        for (size_t l = 0; l < (KINDS[*k].per_layer ? (size_t)h.layers : 1); l++, p += b) {
            if (!KINDS[*k].native) continue; /* RoPE tables: xfmr computes its own */
            char name[128];
            namemap_render(KINDS[*k].native, (long)l, -1, name, sizeof name);
            float *dst = interop_tensor(m, name, n, spec);
            if (!dst) {
                s = XF_ERR_FORMAT;
                goto out;
            }
            if (*k == K_Q || *k == K_K) {
                read_values(&h, *k, p, n, tmp);
                interop_rope_from_pairs(dst, tmp, n / (D * C), D, C);
            } else {
                read_values(&h, *k, p, n, dst);
            }
        }
    }
    for (size_t i = 0; i < xf_model_num_params(m); i++)
        if (!isfinite(xf_model_params(m)[i])) {
            s = xf_fail(XF_ERR_FORMAT, "%s: the weights hold a NaN or infinity", spec);
            goto out;
        }
out:
    free(tmp);
    xf_mmap_close(&mp);
    if (s) {
        xf_model_free(m);
        return s;
    }
    *out = m;
    return XF_OK;
}

xf_status llama2c_tokenizer(xf_tokenizer **out, const char *spec) {
    (void)spec;
    *out = NULL; /* llama2.c keeps its tokenizer in a separate tokenizer.bin */
    return XF_OK;
}


/* ---- writer ---- */

static xf_status write_model(const xf_model *m, const xf_tokenizer *tok, const char *out, int version, int32_t gs) {
    const xf_config *c = xf_model_config(m);
    xf_status s = interop_check_llama(c, "llama2.c");
    if (s) return s;
    if (c->num_experts)
        return xf_fail(XF_ERR_UNSUPPORTED, "llama2.c: this model has no equivalent there: llama2.c has no MoE layers");
    if (c->norm_eps != 1e-5f || c->rope_theta != 10000.0f)
        return xf_fail(XF_ERR_UNSUPPORTED,
                       "llama2.c: this model has no equivalent there: llama2.c fixes norm_eps 1e-5 and rope_theta "
                       "10000 (this model has %g and %g)", (double)c->norm_eps, (double)c->rope_theta);
    if (c->hidden_size > L2C_MAX_DIM || c->intermediate_size > L2C_MAX_DIM || c->vocab_size > L2C_MAX_DIM ||
        c->max_position_embeddings > L2C_MAX_DIM || c->num_hidden_layers > 4096)
        return xf_fail(XF_ERR_UNSUPPORTED, "llama2.c: a size of this model is over the format's int32 fields' bound");
    l2c_header h = {.version = version, .dim = (int32_t)c->hidden_size, .hidden = (int32_t)c->intermediate_size,
                    .layers = (int32_t)c->num_hidden_layers, .heads = (int32_t)c->num_attention_heads,
                    .kv_heads = (int32_t)c->num_key_value_heads,
                    .vocab = (int32_t)interop_live_vocab(m, tok), /* no padding rows: run.c would sample them */
                    .seq = (int32_t)c->max_position_embeddings, .shared = c->tie_word_embeddings, .gs = gs};
    if (version == 2) {
        while (h.gs > 1 && h.dim % h.gs) h.gs /= 2; /* export.py's back-off */
    }
    size_t C = c->hidden_size, D = C / c->num_attention_heads;
    uint8_t head[L2C_HEADER] = {0};
    size_t hl;
    int32_t v[7] = {h.dim, h.hidden, h.layers, h.heads, h.kv_heads, h.shared ? h.vocab : -h.vocab, h.seq};
    if (version == 0) {
        memcpy(head, v, sizeof v);
        hl = sizeof v;
    } else {
        uint32_t magic = L2C_MAGIC;
        int32_t ver = version;
        v[5] = h.vocab;
        memcpy(head, &magic, 4);
        memcpy(head + 4, &ver, 4);
        memcpy(head + 8, v, sizeof v);
        head[36] = (uint8_t)h.shared;
        if (version == 2) memcpy(head + 37, &h.gs, 4);
        hl = L2C_HEADER;
    }
    size_t maxn = kind_numel(&h, K_EMB);
    for (int k = 0; k < K_END; k++)
        if (kind_numel(&h, k) > maxn) maxn = kind_numel(&h, k);
    float *tmp = malloc(maxn * sizeof *tmp);
    int8_t *q = malloc(maxn);
    xf_afile *af = NULL;
    if (!tmp || !q) s = xf_fail(XF_ERR_OOM, "out of memory");
    if (!s) s = afile_open(&af, out);
    if (!s) s = afile_write(af, head, hl);
    xf_model *mm = (xf_model *)m; /* read only: interop_tensor gives the arena slice */
    for (const int *k = order_of(version); !s && *k != K_END; k++) {
        if (!used(&h, *k)) continue;
        size_t n = kind_numel(&h, *k);
        for (size_t l = 0; !s && l < (KINDS[*k].per_layer ? (size_t)h.layers : 1); l++) {
            if (!KINDS[*k].native) { /* RoPE tables as export.py writes them: cos then sin, [seq, D/2] */
                for (int sn = 0; sn < 2; sn++) {
                    for (size_t t = 0; t < (size_t)h.seq; t++)
                        for (size_t j = 0; j < D / 2; j++) {
                            /* model.py's precompute_freqs_cis, in float32 as torch computes it */
                            float f = 1.0f / powf(10000.0f, (float)(2 * j) / (float)D), a = (float)t * f;
                            tmp[t * (D / 2) + j] = sn ? sinf(a) : cosf(a);
                        }
                    if (!s) s = afile_write(af, tmp, (size_t)h.seq * (D / 2) * sizeof *tmp);
                }
                continue;
            }
            char name[128];
            namemap_render(KINDS[*k].native, (long)l, -1, name, sizeof name);
            int ids = interop_vocab_rows(name); /* [vocab, C]: the first h.vocab rows are written */
            const float *src = interop_tensor(mm, name, ids ? c->vocab_size * C : n, out);
            if (!src) {
                s = XF_ERR_SHAPE;
                break;
            }
            if (*k == K_Q || *k == K_K) {
                interop_rope_to_pairs(tmp, src, n / (D * C), D, C);
                src = tmp;
            }
            if (version == 2 && !KINDS[*k].norm) { /* export.py's quantize_q80: scale = max|w| / 127 */
                size_t G = (size_t)h.gs;
                float *sc = malloc(n / G * sizeof *sc);
                if (!sc) {
                    s = xf_fail(XF_ERR_OOM, "out of memory");
                    break;
                }
                for (size_t g = 0; g < n / G; g++) {
                    float amax = 0;
                    for (size_t i = 0; i < G; i++) amax = fmaxf(amax, fabsf(src[g * G + i]));
                    sc[g] = amax / 127.0f;
                    for (size_t i = 0; i < G; i++)
                        q[g * G + i] = (int8_t)(sc[g] != 0 ? roundf(src[g * G + i] / sc[g]) : 0);
                }
                s = afile_write(af, q, n);
                if (!s) s = afile_write(af, sc, n / G * sizeof *sc);
                free(sc);
            } else {
                s = afile_write(af, src, n * sizeof *src);
            }
        }
    }
    free(tmp);
    free(q);
    if (s) {
        afile_abort(af);
        return s;
    }
    return afile_commit(af);
}

xf_status llama2c_export(const xf_model *m, const xf_tokenizer *tok, const char *out, const char *dtype) {
    /* llama2.c's tokenizer.bin is a separate file; tok only gives the live vocab */
    if (!dtype || !strcmp(dtype, "f32")) return write_model(m, tok, out, 1, 0);
    if (!strcmp(dtype, "q8_0")) return write_model(m, tok, out, 2, 64);
    return xf_fail(XF_ERR_UNSUPPORTED, "export llama2c: --dtype %s is not supported (f32: version 1, q8_0: version 2)",
                   dtype);
}

xf_status llama2c_export_v0(const xf_model *m, const xf_tokenizer *tok, const char *out, const char *dtype) {
    if (dtype && strcmp(dtype, "f32"))
        return xf_fail(XF_ERR_UNSUPPORTED, "export llama2c-v0: --dtype %s is not supported (v0 is f32)", dtype);
    return write_model(m, tok, out, 0, 0);
}
