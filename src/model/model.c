/* The decoder-only model: embeddings, a stack of blocks (block.c), the final
 * norm and the LM head, with the loss; forward, backward and KV-cache decode.
 *
 *   x0 = wte[ids] (+ wpe[pos])                       [N,C]
 *   x_{l+1} = Block_l(x_l)                           [N,C]
 *   h = Nf(x_L) (pre placement) or x_L (post)        [N,C]
 *   logits = h·headᵀ                                 [N,V]
 *   loss = mean_{valid t} CE(logits_t, target_t)
 *
 * Memory: one parameter arena, one gradient arena (same layout), one
 * activation arena carved by plan_arena() once per reserved (B, T). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "core/rng.h"
#include "model/model_internal.h"
#include "xfmr/status.h"

static void *alloc_floats(size_t n) {
    if (n > SIZE_MAX / sizeof(float) - 64) return NULL;
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64)) return NULL;
    return p;
}

xf_status xf_model_create(xf_model **out, const xf_config *cfg) {
    *out = NULL;
    xf_status s = xf_config_validate(cfg, "config");
    if (s) return s;
    xf_model *m = calloc(1, sizeof *m);
    if (!m) return xf_fail(XF_ERR_OOM, "out of memory creating the model");
    m->cfg = *cfg;
    m->C = cfg->hidden_size;
    m->D = cfg->hidden_size / cfg->num_attention_heads;
    m->Q = cfg->num_attention_heads * m->D;
    m->KV = cfg->num_key_value_heads * m->D;
    m->I = cfg->intermediate_size;
    m->V = cfg->vocab_size;
    m->L = cfg->num_hidden_layers;
    if ((s = xf_params_build(cfg, &m->table, &m->ntensors, &m->nparams))) goto fail;
    m->params = alloc_floats(m->nparams);
    m->lw = calloc(m->L, sizeof *m->lw);
    m->lg = calloc(m->L, sizeof *m->lg);
    if (!m->params || !m->lw || !m->lg) {
        s = xf_fail(XF_ERR_OOM, "out of memory allocating %zu parameters", m->nparams);
        goto fail;
    }
    memset(m->params, 0, m->nparams * sizeof(float));
    xf_params_views(m, m->params, &m->w, m->lw);
    *out = m;
    return XF_OK;
fail:
    xf_model_free(m);
    return s;
}

void xf_model_free(xf_model *m) {
    if (!m) return;
    free(m->table);
    free(m->params);
    free(m->grads);
    free(m->lw);
    free(m->lg);
    free(m->arena);
    free(m->res);
    free(m->acts);
    free(m->cache);
    free(m->kcache);
    free(m->vcache);
    free(m);
}

const xf_config *xf_model_config(const xf_model *m) { return &m->cfg; }
size_t xf_model_num_tensors(const xf_model *m) { return m->ntensors; }
const xf_param_info *xf_model_tensor(const xf_model *m, size_t i) {
    return i < m->ntensors ? &m->table[i] : NULL;
}
size_t xf_model_find_tensor(const xf_model *m, const char *name) {
    for (size_t i = 0; i < m->ntensors; i++)
        if (!strcmp(m->table[i].name, name)) return i;
    return (size_t)-1;
}
size_t xf_model_num_params(const xf_model *m) {
    size_t n = 0;
    for (size_t i = 0; i < m->ntensors; i++) n += m->table[i].numel;
    return n;
}
float *xf_model_params(xf_model *m) { return m->params; }
float *xf_model_grads(xf_model *m) { return m->grads; }

void xf_model_init_weights(xf_model *m, uint64_t seed) {
    xf_rng rng;
    xf_rng_seed(&rng, seed);
    for (size_t i = 0; i < m->ntensors; i++) {
        const xf_param_info *p = &m->table[i];
        float *w = m->params + p->offset;
        for (size_t j = 0; j < p->numel; j++)
            w[j] = p->init_std > 0 ? (float)(p->init_std * xf_rng_normal(&rng)) : p->init_value;
    }
}

/* ---- activation arena -------------------------------------------------- */

typedef struct {
    float *base; /* NULL: count only */
    size_t used; /* floats */
    int overflow;
} carver;

/* Next n floats (64-byte aligned), or NULL while counting. */
static float *carve(carver *c, size_t n) {
    size_t at = c->used;
    size_t add = (n + 15) & ~(size_t)15;
    if (add < n || c->used > SIZE_MAX - add) {
        c->overflow = 1;
        return NULL;
    }
    c->used += add;
    return c->base ? c->base + at : NULL;
}

static size_t mul3(size_t a, size_t b, size_t c, int *ovf) {
    if (a && b > SIZE_MAX / a) *ovf = 1;
    size_t ab = a * b;
    if (ab && c > SIZE_MAX / ab) *ovf = 1;
    return ab * c;
}

static void carve_layer(carver *c, xf_layer_act *a, const xf_config *cfg, size_t B, size_t T) {
    size_t N = B * T, C = cfg->hidden_size, D = C / cfg->num_attention_heads;
    size_t Q = cfg->num_attention_heads * D, KV = cfg->num_key_value_heads * D;
    size_t I = cfg->intermediate_size, H = cfg->num_attention_heads;
    int pre = cfg->norm_placement == XF_NORM_PRE;
    a->n1 = carve(c, N * C);
    a->n1_mean = carve(c, N);
    a->n1_rstd = carve(c, N);
    a->q = carve(c, N * Q);
    a->k = carve(c, N * KV);
    a->v = carve(c, N * KV);
    a->att = carve(c, mul3(B * H, T, T, &c->overflow));
    a->atty = carve(c, N * Q);
    a->r1 = carve(c, N * C);
    a->n2 = pre ? carve(c, N * C) : NULL;
    a->n2_mean = carve(c, N);
    a->n2_rstd = carve(c, N);
    a->fg = cfg->gated_ffn ? carve(c, N * I) : NULL;
    a->fu = carve(c, N * I);
    a->fh = carve(c, N * I);
    a->r2 = pre ? NULL : carve(c, N * C);
}

/* Lay out every activation buffer of `m` for (B, T, training) in carver c. */
static void plan_arena(carver *c, xf_model *m, size_t B, size_t T, int training) {
    const xf_config *cfg = &m->cfg;
    size_t N = B * T, C = m->C, L = m->L, nres = training ? L + 1 : 2;
    for (size_t i = 0; i < nres; i++) m->res[i] = carve(c, N * C);
    for (size_t l = 0; l < (training ? L : 1); l++) carve_layer(c, &m->acts[l], cfg, B, T);
    m->hf = carve(c, N * C);
    m->hf_mean = carve(c, N);
    m->hf_rstd = carve(c, N);
    m->logits = carve(c, mul3(N, m->V, 1, &c->overflow));
    m->loss_rows = carve(c, N);
    m->lse = carve(c, N);
    m->inputs = (int32_t *)carve(c, N);
    m->targets = (int32_t *)carve(c, N);
    m->rope_cos = m->rope_sin = NULL;
    if (cfg->position_type == XF_POS_ROPE) {
        m->rope_cos = carve(c, cfg->max_position_embeddings * (m->D / 2));
        m->rope_sin = carve(c, cfg->max_position_embeddings * (m->D / 2));
    }
    if (training) {
        m->d_res = carve(c, N * C);
        m->d_x = carve(c, N * C);
        m->d_n = carve(c, N * C);
        m->d_atty = carve(c, N * m->Q);
        m->d_q = carve(c, N * m->Q);
        m->d_k = carve(c, N * m->KV);
        m->d_v = carve(c, N * m->KV);
        m->d_fh = carve(c, N * m->I);
        m->d_fu = carve(c, N * m->I);
        m->d_fg = cfg->gated_ffn ? carve(c, N * m->I) : NULL;
        m->att_scratch_floats = xf_attention_scratch_floats(T, T, xf_threads());
        m->att_scratch = carve(c, m->att_scratch_floats);
    }
}

size_t xf_model_activation_bytes(const xf_config *cfg, size_t B, size_t T, int training) {
    xf_model tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.cfg = *cfg;
    tmp.C = cfg->hidden_size;
    tmp.D = cfg->hidden_size / cfg->num_attention_heads;
    tmp.Q = cfg->num_attention_heads * tmp.D;
    tmp.KV = cfg->num_key_value_heads * tmp.D;
    tmp.I = cfg->intermediate_size;
    tmp.V = cfg->vocab_size;
    tmp.L = cfg->num_hidden_layers;
    float *res[1024 + 1];
    xf_layer_act acts[1024];
    if (tmp.L > 1024) return SIZE_MAX;
    tmp.res = res;
    tmp.acts = acts;
    carver c = {0};
    plan_arena(&c, &tmp, B, T, training);
    if (c.overflow || c.used > SIZE_MAX / sizeof(float)) return SIZE_MAX;
    return c.used * sizeof(float);
}

xf_status xf_model_reserve(xf_model *m, size_t B, size_t T, int training) {
    if (B == 0 || T == 0) return xf_fail(XF_ERR_ARG, "batch and sequence length must be positive");
    if (T > m->cfg.max_position_embeddings)
        return xf_fail(XF_ERR_ARG, "sequence length %zu exceeds max_position_embeddings %zu", T,
                       m->cfg.max_position_embeddings);
    if (B > SIZE_MAX / T) return xf_fail(XF_ERR_ARG, "batch %zu x sequence %zu overflows", B, T);
    if (training && !m->grads) {
        m->grads = alloc_floats(m->nparams);
        if (!m->grads) return xf_fail(XF_ERR_OOM, "out of memory allocating gradients");
        memset(m->grads, 0, m->nparams * sizeof(float));
        xf_params_views(m, m->grads, &m->g, m->lg);
    }
    size_t nres = training ? m->L + 1 : 2, nacts = training ? m->L : 1;
    free(m->res);
    free(m->acts);
    free(m->arena);
    m->arena = NULL;
    m->res = calloc(nres, sizeof *m->res);
    m->acts = calloc(nacts, sizeof *m->acts);
    if (!m->res || !m->acts) return xf_fail(XF_ERR_OOM, "out of memory");
    carver c = {0};
    plan_arena(&c, m, B, T, training);
    if (c.overflow) return xf_fail(XF_ERR_OOM, "activation size overflows for batch %zu x %zu", B, T);
    m->arena = alloc_floats(c.used);
    if (!m->arena)
        return xf_fail(XF_ERR_OOM, "out of memory: activations need %.1f MiB for batch %zu x %zu",
                       (double)c.used * 4 / 1048576.0, B, T);
    carver real = {.base = m->arena};
    plan_arena(&real, m, B, T, training);
    m->arena_floats = c.used;
    m->B = B;
    m->T = T;
    m->training = training;
    if (m->rope_cos)
        xf_rope_table(m->rope_cos, m->rope_sin, m->cfg.max_position_embeddings, m->D,
                      m->cfg.rope_theta);
    return XF_OK;
}

/* ---- forward / backward -------------------------------------------------- */

static xf_status check_ids(const xf_model *m, const int32_t *ids, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= m->V)
            return xf_fail(XF_ERR_ARG, "%s id %d at position %zu is outside the vocabulary [0, %zu)",
                           what, (int)ids[i], i, m->V);
    return XF_OK;
}

/* Final norm + LM head over `rows` rows of the residual x [rows,C] into logits. */
static void head_forward(xf_model *m, const float *x, size_t rows, float *logits) {
    const float *h = x;
    if (m->cfg.norm_placement == XF_NORM_PRE) {
        xf_model_norm_forward(m, m->hf, m->hf_mean, m->hf_rstd, x, m->w.lnf_w, m->w.lnf_b, rows);
        h = m->hf;
    }
    xf_linear_forward(logits, h, m->w.head, NULL, rows, m->C, m->V);
}

xf_status xf_model_forward(xf_model *m, const int32_t *inputs, const int32_t *targets, size_t B,
                           size_t T, float *loss, size_t *valid) {
    if (!m->arena || B == 0 || T == 0 || B > m->B || T > m->T)
        return xf_fail(XF_ERR_SHAPE, "forward of %zu x %zu does not fit the reserved %zu x %zu", B,
                       T, m->B, m->T);
    size_t N = B * T, C = m->C;
    xf_status s = check_ids(m, inputs, N, "input");
    if (s) return s;
    if (targets)
        for (size_t i = 0; i < N; i++)
            if (targets[i] != XF_IGNORE_INDEX && (targets[i] < 0 || (size_t)targets[i] >= m->V))
                return xf_fail(XF_ERR_ARG, "target id %d at position %zu is outside [0, %zu)",
                               (int)targets[i], i, m->V);
    /* Training keeps B*T activation rows per layer laid out for (m->B, m->T);
     * a smaller batch uses the leading rows with its own (B, T). */
    memcpy(m->inputs, inputs, N * sizeof(int32_t));
    xf_embed_forward(m->res[0], inputs, m->w.wte, N, C);
    if (m->cfg.position_type == XF_POS_LEARNED) xf_posemb_forward(m->res[0], m->w.wpe, B, T, C, 0);
    for (size_t l = 0; l < m->L; l++) {
        xf_layer_act *a = &m->acts[m->training ? l : 0];
        const float *in = m->training ? m->res[l] : m->res[l & 1];
        float *out = m->training ? m->res[l + 1] : m->res[(l + 1) & 1];
        xf_block_forward(m, l, a, in, out, a->k, a->v, T, B, T, 0);
    }
    const float *x_last = m->training ? m->res[m->L] : m->res[m->L & 1];
    head_forward(m, x_last, N, m->logits);
    m->have_targets = targets != NULL;
    m->last_valid = 0;
    m->B_last = B;
    m->T_last = T;
    if (targets) {
        memcpy(m->targets, targets, N * sizeof(int32_t));
        size_t nv = xf_xent_forward(m->loss_rows, m->lse, m->logits, targets, N, m->V);
        double sum = 0;
        for (size_t i = 0; i < N; i++) sum += m->loss_rows[i];
        m->last_valid = nv;
        if (loss) *loss = nv ? (float)(sum / (double)nv) : 0.0f;
    } else if (loss) {
        *loss = 0;
    }
    if (valid) *valid = m->last_valid;
    return XF_OK;
}

const float *xf_model_logits(const xf_model *m) { return m->logits; }

void xf_model_zero_grad(xf_model *m) {
    if (m->grads) memset(m->grads, 0, m->nparams * sizeof(float));
}

xf_status xf_model_backward(xf_model *m, float loss_scale) {
    if (!m->training || !m->grads) return xf_fail(XF_ERR_ARG, "model was not reserved for training");
    if (!m->have_targets) return xf_fail(XF_ERR_ARG, "backward needs a forward with targets");
    size_t B = m->B_last, T = m->T_last, N = B * T, C = m->C;
    m->have_targets = 0;
    if (m->last_valid == 0) return XF_OK; /* nothing to learn from */
    /* loss = mean CE: dlogits = scale/valid * (softmax - onehot), in place */
    float *dlogits = m->logits;
    xf_xent_backward(dlogits, m->logits, m->lse, m->targets, N, m->V,
                     loss_scale / (float)m->last_valid);
    /* logits = h·headᵀ */
    const float *x_last = m->res[m->L];
    const float *h = m->cfg.norm_placement == XF_NORM_PRE ? m->hf : x_last;
    float *d_h = m->cfg.norm_placement == XF_NORM_PRE ? m->d_n : m->d_res;
    memset(d_h, 0, N * C * sizeof(float));
    xf_linear_backward(d_h, m->g.head, NULL, dlogits, h, m->w.head, N, C, m->V);
    /* h = Nf(x_L) */
    if (m->cfg.norm_placement == XF_NORM_PRE) {
        memset(m->d_res, 0, N * C * sizeof(float));
        xf_model_norm_backward(m, m->d_res, m->g.lnf_w, m->g.lnf_b, m->d_n, x_last, m->w.lnf_w,
                               m->hf_mean, m->hf_rstd, N);
    }
    /* x_{l+1} = Block_l(x_l) */
    for (size_t l = m->L; l-- > 0;) xf_block_backward(m, l, &m->acts[l], m->res[l], m->d_res, B, T);
    /* x0 = wte[ids] + wpe */
    if (m->cfg.position_type == XF_POS_LEARNED) xf_posemb_backward(m->g.wpe, m->d_res, B, T, C, 0);
    xf_embed_backward(m->g.wte, m->d_res, m->inputs, N, C);
    return XF_OK;
}

/* ---- KV-cache decoding (batch 1) ---------------------------------------- */

xf_status xf_model_cache_reserve(xf_model *m, size_t Tmax) {
    if (Tmax == 0 || Tmax > m->cfg.max_position_embeddings)
        return xf_fail(XF_ERR_ARG, "cache length %zu must be in [1, %zu]", Tmax,
                       m->cfg.max_position_embeddings);
    xf_status s = xf_model_reserve(m, 1, Tmax, 0);
    if (s) return s;
    free(m->cache);
    free(m->kcache);
    free(m->vcache);
    m->kcache = calloc(m->L, sizeof *m->kcache);
    m->vcache = calloc(m->L, sizeof *m->vcache);
    size_t per = Tmax * m->KV;
    m->cache = alloc_floats(2 * m->L * per + m->V);
    if (!m->kcache || !m->vcache || !m->cache) return xf_fail(XF_ERR_OOM, "out of memory for the KV cache");
    for (size_t l = 0; l < m->L; l++) {
        m->kcache[l] = m->cache + 2 * l * per;
        m->vcache[l] = m->cache + (2 * l + 1) * per;
    }
    m->dec_logits = m->cache + 2 * m->L * per;
    m->cache_T = Tmax;
    return XF_OK;
}

xf_status xf_model_decode(xf_model *m, const int32_t *tokens, size_t n, size_t pos,
                          const float **logits) {
    if (!m->cache) return xf_fail(XF_ERR_ARG, "no KV cache reserved");
    if (n == 0 || pos + n > m->cache_T)
        return xf_fail(XF_ERR_ARG, "positions %zu..%zu exceed the cache length %zu", pos, pos + n,
                       m->cache_T);
    xf_status s = check_ids(m, tokens, n, "input");
    if (s) return s;
    size_t C = m->C;
    xf_embed_forward(m->res[0], tokens, m->w.wte, n, C);
    if (m->cfg.position_type == XF_POS_LEARNED) xf_posemb_forward(m->res[0], m->w.wpe, 1, n, C, pos);
    for (size_t l = 0; l < m->L; l++)
        xf_block_forward(m, l, &m->acts[0], m->res[l & 1], m->res[(l + 1) & 1], m->kcache[l],
                         m->vcache[l], m->cache_T, 1, n, pos);
    const float *x_last = m->res[m->L & 1] + (n - 1) * C;
    head_forward(m, x_last, 1, m->dec_logits);
    *logits = m->dec_logits;
    return XF_OK;
}
