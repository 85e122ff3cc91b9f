/* The model of every family (docs/architecture.md §The model): embeddings,
 * one or two stacks of blocks (block.c: decoder and prefix_lm one decoder
 * stack, encoder one encoder stack, encoder_decoder both, the decoder
 * cross-attending to the encoder's output), the final norm, the LM or MLM head
 * and the loss; forward, backward, and KV-cache decoding with beam rows.
 *
 *   x0 = N_emb(wte[ids] + wpe[pos + offset] + wtt[types])   [N,C]   (parts per config)
 *   x_{l+1} = Block_l(x_l [, enc])                         [N,C]
 *   out = Nf(x_L) (pre placement) or x_L (post)            [N,C]
 *   h = N_t(act(W_t·out + b_t)) (BERT's MLM transform) or out
 *   logits = s·(h·headᵀ) + b                               [N,V]   (s = C^-1/2 for T5's tied head)
 *   loss = mean_{valid t} CE(logits_t, target_t)           (targets != XF_IGNORE_INDEX)
 *
 * Memory: one parameter arena, one gradient arena (same layout), one
 * activation arena carved by plan_arena() once per reserved (B, T, S). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/parallel.h"
#include "core/rng.h"
#include "model/model_internal.h"
#include "kernels/relpos.h"
#include "xfmr/status.h"

/* A float array, 64-byte aligned. Arrays of 2 MiB or more are aligned to
 * 2 MiB and asked for transparent huge pages: a 500 MB arena then takes ~250
 * first-touch faults instead of ~125000 (the kernel zeroes each page either way). */
#define HUGE_BYTES ((size_t)2 << 20)
static void *alloc_floats(size_t n) {
    if (n > (SIZE_MAX - HUGE_BYTES) / sizeof(float)) return NULL;
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    size_t align = bytes >= HUGE_BYTES ? HUGE_BYTES : 64;
    if (align == HUGE_BYTES) bytes = (bytes + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1);
    void *p = NULL;
    if (posix_memalign(&p, align, bytes ? bytes : 64)) return NULL;
#ifdef MADV_HUGEPAGE
    if (align == HUGE_BYTES) (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice only: ignore a refusal */
#endif
    return p;
}

/* Derived sizes shared by create and activation_bytes. */
static void model_dims(xf_model *m, const xf_config *cfg) {
    m->cfg = *cfg;
    m->C = cfg->hidden_size;
    m->D = cfg->hidden_size / cfg->num_attention_heads;
    m->Q = cfg->num_attention_heads * m->D;
    m->KV = cfg->num_key_value_heads * m->D;
    m->V = cfg->vocab_size;
    m->Lenc = xf_config_encoder_layers(cfg);
    m->Ldec = xf_config_decoder_layers(cfg);
    m->L = m->Lenc + m->Ldec;
    m->scale = cfg->scale_attn_logits ? 1.0f / sqrtf((float)m->D) : 1.0f;
    /* I: the widest dense FFN of any layer (the scratch width) */
    m->I = cfg->intermediate_size;
    if (cfg->num_experts) {
        size_t shared = cfg->num_shared_experts * cfg->moe_intermediate_size;
        if (shared > m->I) m->I = shared;
        memset(&m->moe, 0, sizeof m->moe);
        m->moe.E = cfg->num_experts;
        m->moe.K = cfg->num_experts_per_tok;
        m->moe.C = m->C;
        m->moe.I = cfg->moe_intermediate_size;
        m->moe.router = cfg->router_type;
        m->moe.gated = cfg->gated_ffn;
        m->moe.act = cfg->hidden_act;
        m->moe.route_scale = cfg->routed_scaling_factor;
        m->moe.capacity_factor = cfg->capacity_factor;
        m->moe.jitter = cfg->router_jitter;
        m->moe.n_group = cfg->n_group;
        m->moe.topk_group = cfg->topk_group;
        m->moe.seq_aux = cfg->seq_aux;
        m->moe.w_stride = (m->moe.I * m->C + 15) & ~(size_t)15;
    }
}

/* Everything of a model but its parameter arena: sizes, the table, the layer
 * kinds and the MoE bookkeeping (all activation planning needs). */
static xf_status model_shell(xf_model **out, const xf_config *cfg) {
    *out = NULL;
    xf_status s = xf_config_validate(cfg, "config");
    if (s) return s;
    xf_model *m = calloc(1, sizeof *m);
    if (!m) return xf_fail(XF_ERR_OOM, "out of memory creating the model");
    model_dims(m, cfg);
    if ((s = params_build(cfg, &m->table, &m->slots, &m->ntensors, &m->nparams))) goto fail;
    m->lw = calloc(m->L, sizeof *m->lw);
    m->lg = calloc(m->L, sizeof *m->lg);
    m->li = calloc(m->L, sizeof *m->li);
    if (!m->lw || !m->lg || !m->li) {
        s = xf_fail(XF_ERR_OOM, "out of memory creating the model");
        goto fail;
    }
    params_layers(cfg, m->li);
    for (size_t l = 0; l < m->L; l++)
        if (m->li[l].moe) m->nmoe++;
    if (m->nmoe) {
        m->macc = calloc(m->nmoe, sizeof *m->macc);
        m->moe_layer = calloc(m->nmoe, sizeof *m->moe_layer);
        if (!m->macc || !m->moe_layer) {
            s = xf_fail(XF_ERR_OOM, "out of memory");
            goto fail;
        }
        for (size_t l = 0; l < m->L; l++) {
            if (!m->li[l].moe) continue;
            size_t i = m->li[l].moe_i;
            m->moe_layer[i] = l;
            m->macc[i].tokens = calloc(2 * m->moe.E, sizeof(double));
            if (!m->macc[i].tokens) {
                s = xf_fail(XF_ERR_OOM, "out of memory");
                goto fail;
            }
            m->macc[i].load = m->macc[i].tokens + m->moe.E;
        }
    }
    *out = m;
    return XF_OK;
fail:
    xf_model_free(m);
    return s;
}

/* The model with its parameter arena: zeroed, or (zero == 0, for a reader
 * that writes every tensor) only the padding between tensors zeroed. */
static xf_status model_create(xf_model **out, const xf_config *cfg, int zero) {
    xf_model *m = NULL;
    xf_status s = model_shell(&m, cfg);
    if (s) return s;
    m->params = alloc_floats(m->nparams);
    if (!m->params) {
        size_t n = m->nparams;
        xf_model_free(m);
        return xf_fail(XF_ERR_OOM, "out of memory allocating %zu parameters", n);
    }
    if (zero) {
        memset(m->params, 0, m->nparams * sizeof(float));
    } else { /* rows are in offset order, each 16-float aligned */
        size_t at = 0;
        for (size_t i = 0; i < m->ntensors; i++) {
            const xf_param_info *p = &m->table[i];
            if (p->offset > at) memset(m->params + at, 0, (p->offset - at) * sizeof(float));
            at = p->offset + p->numel;
        }
        if (m->nparams > at) memset(m->params + at, 0, (m->nparams - at) * sizeof(float));
    }
    params_views(m, m->params, &m->w, m->lw);
    *out = m;
    return XF_OK;
}

xf_status xf_model_create(xf_model **out, const xf_config *cfg) { return model_create(out, cfg, 1); }

xf_status model_create_unfilled(xf_model **out, const xf_config *cfg) { return model_create(out, cfg, 0); }

void xf_model_free(xf_model *m) {
    if (!m) return;
    free(m->table);
    free(m->slots);
    free(m->params);
    free(m->grads);
    free(m->lw);
    free(m->lg);
    free(m->li);
    if (m->macc)
        for (size_t i = 0; i < m->nmoe; i++) free(m->macc[i].tokens);
    free(m->macc);
    free(m->moe_layer);
    free(m->arena);
    free(m->sres[0]);
    free(m->sres[1]);
    free(m->acts);
    free(m->moe_acts);
    free(m->cache);
    free(m->kcache);
    free(m->vcache);
    free(m->ckc);
    free(m->cvc);
    model_free_decode(m);
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

/* One block's buffers for B rows of T tokens (cross: S source tokens), FFN width I. */
static void carve_layer(carver *c, xf_layer_act *a, const xf_model *m, int cross, size_t I, size_t B,
                        size_t T, size_t S) {
    size_t N = mul3(B, T, 1, &c->overflow), C = m->C, Q = m->Q, KV = m->KV;
    size_t H = m->cfg.num_attention_heads;
    int pre = m->cfg.norm_placement == XF_NORM_PRE, *o = &c->overflow;
    memset(a, 0, sizeof *a);
    a->n1 = carve(c, mul3(N, C, 1, o));
    a->n1_mean = carve(c, N);
    a->n1_rstd = carve(c, N);
    a->q = carve(c, mul3(N, Q, 1, o));
    a->k = carve(c, mul3(N, KV, 1, o));
    a->v = carve(c, mul3(N, KV, 1, o));
    a->lse = carve(c, mul3(B * H, T, 1, o));
    a->atty = carve(c, mul3(N, Q, 1, o));
    a->r1 = carve(c, mul3(N, C, 1, o));
    if (cross) {
        a->nx = carve(c, mul3(N, C, 1, o));
        a->nx_mean = carve(c, N);
        a->nx_rstd = carve(c, N);
        a->cq = carve(c, mul3(N, Q, 1, o));
        a->ck = carve(c, mul3(B, S, KV, o));
        a->cv = carve(c, mul3(B, S, KV, o));
        a->clse = carve(c, mul3(B * H, T, 1, o));
        a->catty = carve(c, mul3(N, Q, 1, o));
        a->rx = carve(c, mul3(N, C, 1, o));
    }
    a->n2 = pre ? carve(c, mul3(N, C, 1, o)) : NULL;
    a->n2_mean = carve(c, N);
    a->n2_rstd = carve(c, N);
    if (I) {
        a->fg = m->cfg.gated_ffn ? carve(c, mul3(N, I, 1, o)) : NULL;
        a->fu = carve(c, mul3(N, I, 1, o));
        a->fh = carve(c, mul3(N, I, 1, o));
    }
    a->r2 = pre ? NULL : carve(c, mul3(N, C, 1, o));
}

/* Tokens per row of each stack for a reservation (B, T, S). The main stack is
 * the decoder (or the only stack); an encoder-only model's encoder is its main stack. */
static size_t stack_T(const xf_model *m, int st, size_t T, size_t S) {
    return (st == XF_ENC && m->cfg.arch == XF_ARCH_ENCODER_DECODER) ? S : T;
}
static int main_stack(const xf_model *m) { return m->Ldec ? XF_DEC : XF_ENC; }
static size_t stack_first(const xf_model *m, int st) { return st == XF_ENC ? 0 : m->Lenc; }
static size_t stack_len(const xf_model *m, int st) { return st == XF_ENC ? m->Lenc : m->Ldec; }

/* Lay out every activation buffer of `m` for (B, T, S, training) in carver c. */
static void plan_arena(carver *c, xf_model *m, size_t B, size_t T, size_t S, int training) {
    const xf_config *cfg = &m->cfg;
    int *o = &c->overflow, ms = main_stack(m);
    size_t C = m->C, Tm = stack_T(m, ms, T, S), Nm = mul3(B, Tm, 1, o);
    size_t Tx = T > S ? T : S, Nx = mul3(B, Tx, 1, o); /* the larger stack, for shared scratch */
    size_t H = cfg->num_attention_heads, Sx = cfg->arch == XF_ARCH_ENCODER_DECODER ? S : 0;
    for (int st = 0; st < 2; st++) {
        size_t nl = stack_len(m, st), Ts = stack_T(m, st, T, S), Ns = mul3(B, Ts, 1, o);
        if (!nl) continue;
        for (size_t i = 0; i < (training ? nl + 1 : 2); i++) m->sres[st][i] = carve(c, mul3(Ns, C, 1, o));
        if (cfg->embed_layernorm) {
            m->emb_pre[st] = carve(c, mul3(Ns, C, 1, o));
            m->emb_mean[st] = carve(c, Ns);
            m->emb_rstd[st] = carve(c, Ns);
        }
        int rel = cfg->position_type == XF_POS_RELATIVE; /* (carve returns NULL while counting) */
        m->bias[st] = rel ? carve(c, mul3(H, 2 * Ts - 1, 1, o)) : NULL;
        /* doubles: two floats each */
        m->dbias[st] = training && rel ? (double *)carve(c, mul3(H, 2 * Ts - 1, 2, o)) : NULL;
        if (!training) { /* one set of buffers per stack, reused by its layers */
            size_t I = 0;
            int cross = 0;
            for (size_t l = stack_first(m, st); l < stack_first(m, st) + nl; l++) {
                if (m->li[l].I > I) I = m->li[l].I;
                cross |= m->li[l].cross;
            }
            carve_layer(c, &m->acts[st], m, cross, I, B, Ts, Sx);
        }
    }
    if (training)
        for (size_t l = 0; l < m->L; l++)
            carve_layer(c, &m->acts[l], m, m->li[l].cross, m->li[l].I, B,
                        stack_T(m, m->li[l].stack, T, S), Sx);
    for (size_t l = 0; l < m->L; l++) {
        if (!m->li[l].moe) continue;
        size_t Ns = mul3(B, stack_T(m, m->li[l].stack, T, S), 1, o);
        float *blk = carve(c, moe_act_floats(Ns, &m->moe));
        if (c->base) moe_carve(&m->moe_acts[m->li[l].moe_i], blk, Ns, &m->moe);
    }
    m->moe_y = m->nmoe ? carve(c, mul3(Nx, C, 1, o)) : NULL;
    m->hf = carve(c, mul3(Nm, C, 1, o));
    m->hf_mean = carve(c, Nm);
    m->hf_rstd = carve(c, Nm);
    m->henc = m->henc_mean = m->henc_rstd = NULL;
    if (cfg->arch == XF_ARCH_ENCODER_DECODER && cfg->norm_placement == XF_NORM_PRE) {
        m->henc = carve(c, mul3(B, S, C, o));
        m->henc_mean = carve(c, mul3(B, S, 1, o));
        m->henc_rstd = carve(c, mul3(B, S, 1, o));
    }
    m->mt = m->mt_pre = m->mt_lin = m->mt_mean = m->mt_rstd = NULL;
    if (cfg->mlm_transform) {
        m->mt_lin = carve(c, mul3(Nm, C, 1, o));
        m->mt_pre = carve(c, mul3(Nm, C, 1, o));
        m->mt = carve(c, mul3(Nm, C, 1, o));
        m->mt_mean = carve(c, Nm);
        m->mt_rstd = carve(c, Nm);
    }
    m->logits = carve(c, mul3(Nm, m->V, 1, o));
    m->loss_rows = carve(c, Nm);
    m->lse = carve(c, Nm);
    m->inputs = (int32_t *)carve(c, Nm);
    m->targets = (int32_t *)carve(c, Nm);
    m->types = (int32_t *)carve(c, Nm);
    m->prefix = (int32_t *)carve(c, B);
    m->posids = (int32_t *)carve(c, Nm);
    m->blkids = (int32_t *)carve(c, Nm);
    m->src = Sx ? (int32_t *)carve(c, mul3(B, S, 1, o)) : NULL;
    m->kpad = (uint8_t *)carve(c, Nx / 4 + 1);
    m->spad = Sx ? (uint8_t *)carve(c, mul3(B, S, 1, o) / 4 + 1) : NULL;
    m->rope_cos = m->rope_sin = NULL;
    if (cfg->position_type == XF_POS_ROPE) {
        m->rope_cos = carve(c, mul3(cfg->max_position_embeddings, m->D / 2, 1, o));
        m->rope_sin = carve(c, mul3(cfg->max_position_embeddings, m->D / 2, 1, o));
    }
    m->qscratch = NULL;
    if (!training) { /* q8_0 decode weights quantise a linear's input rows here */
        size_t cols = C > m->Q ? C : m->Q;
        for (size_t l = 0; l < m->L; l++) cols = m->li[l].I > cols ? m->li[l].I : cols;
        m->qscratch = (uint8_t *)carve(c, mul3(Nx, qmat_row_bytes(XF_WT_Q8_0, cols), 1, o) / 4 + 1);
    }
    if (training) {
        m->d_res = carve(c, mul3(Nx, C, 1, o));
        m->d_x = carve(c, mul3(Nx, C, 1, o));
        m->d_n = carve(c, mul3(Nx, C, 1, o));
        m->d_atty = carve(c, mul3(Nx, m->Q, 1, o));
        m->d_q = carve(c, mul3(Nx, m->Q, 1, o));
        m->d_k = carve(c, mul3(Nx, m->KV, 1, o));
        m->d_v = carve(c, mul3(Nx, m->KV, 1, o));
        m->d_ck = Sx ? carve(c, mul3(B, S, m->KV, o)) : NULL;
        m->d_cv = Sx ? carve(c, mul3(B, S, m->KV, o)) : NULL;
        m->d_enc = Sx ? carve(c, mul3(B, S, C, o)) : NULL;
        m->d_fh = carve(c, mul3(Nx, m->I, 1, o));
        m->d_fu = carve(c, mul3(Nx, m->I, 1, o));
        m->d_fg = cfg->gated_ffn ? carve(c, mul3(Nx, m->I, 1, o)) : NULL;
        m->moe_scratch = m->nmoe ? carve(c, moe_scratch_floats(Nx, &m->moe)) : NULL;
    }
}

/* Allocate the pointer arrays plan_arena fills. */
static xf_status alloc_plan(xf_model *m, int training) {
    free(m->sres[0]);
    free(m->sres[1]);
    free(m->acts);
    free(m->moe_acts);
    m->sres[0] = calloc(training ? m->Lenc + 1 : 2, sizeof(float *));
    m->sres[1] = calloc(training ? m->Ldec + 1 : 2, sizeof(float *));
    m->acts = calloc(training ? m->L : 2, sizeof *m->acts);
    m->moe_acts = calloc(m->nmoe ? m->nmoe : 1, sizeof *m->moe_acts);
    if (!m->sres[0] || !m->sres[1] || !m->acts || !m->moe_acts) return xf_fail(XF_ERR_OOM, "out of memory");
    return XF_OK;
}

size_t xf_model_activation_bytes_ex(const xf_config *cfg, size_t B, size_t T, size_t S, int training) {
    xf_model *m = NULL;
    if (model_shell(&m, cfg)) return SIZE_MAX; /* only the plan is needed, not the weights */
    size_t out = SIZE_MAX;
    if (alloc_plan(m, training) == XF_OK) {
        carver c = {0};
        plan_arena(&c, m, B, T, S ? S : T, training);
        if (!c.overflow && c.used <= SIZE_MAX / sizeof(float)) out = c.used * sizeof(float);
    }
    xf_model_free(m);
    return out;
}

size_t xf_model_activation_bytes(const xf_config *cfg, size_t B, size_t T, int training) {
    return xf_model_activation_bytes_ex(cfg, B, T, T, training);
}

xf_status xf_model_reserve_ex(xf_model *m, size_t B, size_t T, size_t S, int training) {
    int encdec = m->cfg.arch == XF_ARCH_ENCODER_DECODER;
    if (!encdec || S == 0) S = T;
    if (B == 0 || T == 0) return xf_fail(XF_ERR_ARG, "batch and sequence length must be positive");
    size_t P = m->cfg.max_position_embeddings;
    if (T > P || S > P)
        return xf_fail(XF_ERR_ARG, "sequence length %zu exceeds max_position_embeddings %zu", T > P ? T : S, P);
    if (B > SIZE_MAX / T || B > SIZE_MAX / S)
        return xf_fail(XF_ERR_ARG, "batch %zu x sequence %zu overflows", B, T);
    if (training && !m->grads) {
        m->grads = alloc_floats(m->nparams);
        if (!m->grads) return xf_fail(XF_ERR_OOM, "out of memory allocating gradients");
        memset(m->grads, 0, m->nparams * sizeof(float));
        params_views(m, m->grads, &m->g, m->lg);
    }
    free(m->arena);
    m->arena = NULL;
    xf_status s = alloc_plan(m, training);
    if (s) return s;
    carver c = {0};
    plan_arena(&c, m, B, T, S, training);
    if (c.overflow) return xf_fail(XF_ERR_OOM, "activation size overflows for batch %zu x %zu", B, T);
    m->arena = alloc_floats(c.used);
    if (!m->arena)
        return xf_fail(XF_ERR_OOM, "out of memory: activations need %.1f MiB for batch %zu x %zu",
                       (double)c.used * 4 / 1048576.0, B, T);
    carver real = {.base = m->arena};
    plan_arena(&real, m, B, T, S, training);
    if (real.used != c.used) /* the two passes must carve the same buffers */
        return xf_fail(XF_ERR_SHAPE, "internal: activation plan mismatch (%zu vs %zu floats)", real.used, c.used);
    m->arena_floats = c.used;
    m->B = B;
    m->T = T;
    m->S = S;
    m->training = training;
    if (m->rope_cos) rope_table(m->rope_cos, m->rope_sin, P, m->D, m->cfg.rope_theta);
    return XF_OK;
}

xf_status xf_model_reserve(xf_model *m, size_t B, size_t T, int training) {
    return xf_model_reserve_ex(m, B, T, T, training);
}

/* ---- forward / backward -------------------------------------------------- */

static xf_status check_ids(const xf_model *m, const int32_t *ids, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= m->V)
            return xf_fail(XF_ERR_ARG, "%s id %d at position %zu is outside the vocabulary [0, %zu)",
                           what, (int)ids[i], i, m->V);
    return XF_OK;
}

/* Position ids (GLM's 2D positions) must index a row of the [P,C] tables. */
static xf_status check_positions(const xf_model *m, const int32_t *ids, size_t n, const char *what) {
    size_t P = m->cfg.max_position_embeddings;
    for (size_t i = 0; ids && i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= P)
            return xf_fail(XF_ERR_ARG, "%s id %d at position %zu is outside [0, %zu)", what, (int)ids[i], i, P);
    return XF_OK;
}

static xf_status check_lengths(const int32_t *len, size_t B, size_t T, const char *what) {
    if (!len) return XF_OK;
    for (size_t b = 0; b < B; b++)
        if (len[b] < 0 || (size_t)len[b] > T)
            return xf_fail(XF_ERR_ARG, "%s[%zu] = %d is outside [0, %zu]", what, b, (int)len[b], T);
    return XF_OK;
}

/* Embeddings of stack st: out [B*T,C] = N_emb(wte[ids] + wpe[pos + offset] + wbpe[blk] + wtt[types])
 * with pos = pos0 + t, or posids[n] when given, and blk = blkids[n] when given, else 0
 * (GLM's 2D positions, docs/objectives.md §GLM). */
static void embed_forward(xf_model *m, int st, const int32_t *ids, const int32_t *types, const int32_t *posids,
                          const int32_t *blkids, size_t B, size_t T, size_t pos0, float *out) {
    size_t C = m->C, N = B * T;
    float *x = m->cfg.embed_layernorm ? m->emb_pre[st] : out;
    embedding_forward(x, ids, m->w.wte, N, C);
    if (m->cfg.position_type == XF_POS_LEARNED) {
        if (posids) embed_add_forward(x, posids, m->w.wpe[st] + m->cfg.position_offset * C, N, C);
        else posemb_forward(x, m->w.wpe[st] + m->cfg.position_offset * C, B, T, C, pos0);
    }
    if (m->w.wbpe && st == XF_DEC) {
        if (blkids) embed_add_forward(x, blkids, m->w.wbpe, N, C);
        else posemb_forward(x, m->w.wbpe, N, 1, C, 0); /* every token at block position 0 */
    }
    if (m->w.wtt)
        for (size_t n = 0; n < N; n++) {
            const float *t = m->w.wtt + (size_t)(types ? types[n] : 0) * C;
            for (size_t c = 0; c < C; c++) x[n * C + c] += t[c];
        }
    if (m->cfg.embed_layernorm)
        model_norm_forward(m, out, m->emb_mean[st], m->emb_rstd[st], x, m->w.embn_w[st], m->w.embn_b[st], N);
}

/* Backward of embed_forward; d_out [B*T,C] (may be overwritten). */
static void embed_backward(xf_model *m, int st, const int32_t *ids, const int32_t *types, const int32_t *posids,
                           const int32_t *blkids, size_t B, size_t T, float *d_out) {
    size_t C = m->C, N = B * T;
    float *d = d_out;
    if (m->cfg.embed_layernorm) {
        memset(m->d_x, 0, N * C * sizeof(float));
        model_norm_backward(m, m->d_x, m->g.embn_w[st], m->g.embn_b[st], d_out, m->emb_pre[st],
                               m->w.embn_w[st], m->emb_mean[st], m->emb_rstd[st], N);
        d = m->d_x;
    }
    if (m->w.wtt) {
        if (types) embedding_backward(m->g.wtt, d, types, N, C);
        else
            for (size_t n = 0; n < N; n++)
                for (size_t c = 0; c < C; c++) m->g.wtt[c] += d[n * C + c];
    }
    if (m->w.wbpe && st == XF_DEC) { /* forward: x[n,:] += wbpe[blk[n],:] (blk 0 when not given) */
        if (blkids) embedding_backward(m->g.wbpe, d, blkids, N, C);
        else posemb_backward(m->g.wbpe, d, N, 1, C, 0);
    }
    if (m->cfg.position_type == XF_POS_LEARNED) { /* forward: x[n,:] += wpe[pos[n] + offset,:] */
        if (posids) embedding_backward(m->g.wpe[st] + m->cfg.position_offset * C, d, posids, N, C);
        else posemb_backward(m->g.wpe[st] + m->cfg.position_offset * C, d, B, T, C, 0);
    }
    embedding_backward(m->g.wte, d, ids, N, C);
}

/* Head over `rows` rows of the final stream x [rows,C] into logits [rows,V]:
 *   h = Nf(x) (pre) or x;  [h = N_t(act(Wt h + bt))];  logits = s·(h headᵀ) + head_b
 * with s = C^-1/2 for a tied head with rescale_tied_head (T5), else 1. */
static void head_forward(xf_model *m, const float *x, size_t rows, float *logits) {
    const float *h = x;
    size_t C = m->C, V = m->V;
    int st = main_stack(m);
    if (m->cfg.norm_placement == XF_NORM_PRE) {
        model_norm_forward(m, m->hf, m->hf_mean, m->hf_rstd, x, m->w.lnf_w[st], m->w.lnf_b[st], rows);
        h = m->hf;
    }
    if (m->cfg.mlm_transform) {
        matmul_forward(m->mt_lin, h, m->w.mlm_w, m->w.mlm_b, rows, C, C);
        act_forward(m->mt_pre, m->mt_lin, rows * C, m->cfg.hidden_act);
        model_norm_forward(m, m->mt, m->mt_mean, m->mt_rstd, m->mt_pre, m->w.mlmn_w, m->w.mlmn_b, rows);
        h = m->mt;
    }
    model_linear(m, m->lq ? &m->hq : NULL, logits, h, m->w.head, m->w.head_b, rows, C, V);
    if (m->V_live && m->V_live < V) /* padding rows: never predicted (xf_model_set_live_vocab) */
        for (size_t r = 0; r < rows; r++)
            for (size_t j = m->V_live; j < V; j++) logits[r * V + j] = -INFINITY;
    if (m->cfg.tie_word_embeddings && m->cfg.rescale_tied_head) {
        float s = 1.0f / sqrtf((float)C);
        size_t n = rows * V;
        for (size_t i = 0; i < n; i++) logits[i] *= s;
        if (m->w.head_b) /* the bias is not rescaled */
            for (size_t r = 0; r < rows; r++)
                for (size_t v = 0; v < V; v++) logits[r * V + v] += m->w.head_b[v] * (1.0f - s);
    }
}

/* Backward of head_forward: dlogits [N,V] (consumed) -> d_res [N,C] (written). */
static void head_backward(xf_model *m, const float *x, float *dlogits, size_t N) {
    size_t C = m->C, V = m->V;
    int st = main_stack(m), pre = m->cfg.norm_placement == XF_NORM_PRE;
    if (m->cfg.tie_word_embeddings && m->cfg.rescale_tied_head) {
        /* logits = s·(h headᵀ) + b: the bias sees dlogits, the product s·dlogits */
        float s = 1.0f / sqrtf((float)C);
        if (m->g.head_b)
            for (size_t r = 0; r < N; r++)
                for (size_t v = 0; v < V; v++) m->g.head_b[v] += dlogits[r * V + v] * (1.0f - s);
        for (size_t i = 0; i < N * V; i++) dlogits[i] *= s;
    }
    const float *h = m->cfg.mlm_transform ? m->mt : pre ? m->hf : x;
    /* logits = h·headᵀ + b */
    float *d_h = (m->cfg.mlm_transform || pre) ? m->d_n : m->d_res;
    memset(d_h, 0, N * C * sizeof(float));
    matmul_backward(d_h, m->g.head, m->g.head_b, dlogits, h, m->w.head, N, C, V);
    if (m->cfg.mlm_transform) {
        /* mt = N_t(mt_pre); mt_pre = act(mt_lin); mt_lin = Wt h' + bt */
        memset(m->d_x, 0, N * C * sizeof(float));
        model_norm_backward(m, m->d_x, m->g.mlmn_w, m->g.mlmn_b, m->d_n, m->mt_pre, m->w.mlmn_w,
                               m->mt_mean, m->mt_rstd, N);
        memset(m->d_n, 0, N * C * sizeof(float));
        act_backward(m->d_n, m->d_x, m->mt_lin, N * C, m->cfg.hidden_act);
        const float *hin = pre ? m->hf : x;
        float *d_hin = pre ? m->d_x : m->d_res;
        memset(d_hin, 0, N * C * sizeof(float));
        matmul_backward(d_hin, m->g.mlm_w, m->g.mlm_b, m->d_n, hin, m->w.mlm_w, N, C, C);
        if (pre) memcpy(m->d_n, m->d_x, N * C * sizeof(float));
    }
    /* h = Nf(x) */
    if (pre) {
        memset(m->d_res, 0, N * C * sizeof(float));
        model_norm_backward(m, m->d_res, m->g.lnf_w[st], m->g.lnf_b[st], m->d_n, x, m->w.lnf_w[st],
                               m->hf_mean, m->hf_rstd, N);
    }
}

/* A pass of stack st over B rows of T tokens from position pos0: its
 * self-attention mask (bidirectional, causal or prefix, with the batch's key
 * padding) and, for an encoder-decoder's decoder, the cross-attention to S
 * source tokens of `enc` (k/v capacity Scap). Forward and backward share it. */
static void pass_init(const xf_model *m, xf_pass *p, int st, size_t B, size_t T, size_t pos0, size_t kvcap) {
    memset(p, 0, sizeof *p);
    p->B = B;
    p->T = T;
    p->pos0 = pos0;
    p->kvcap = kvcap;
    p->mask.past = pos0;
    int encdec = m->cfg.arch == XF_ARCH_ENCODER_DECODER;
    if (st == XF_ENC) {
        p->mask.kind = XF_MASK_BIDIR;
        p->mask.key_pad = encdec ? (m->use_spad ? m->spad : NULL) : (m->use_kpad ? m->kpad : NULL);
    } else {
        p->mask.kind = XF_MASK_CAUSAL;
        p->mask.key_pad = m->use_kpad ? m->kpad : NULL;
        if (m->cfg.arch == XF_ARCH_PREFIX_LM) {
            p->mask.kind = XF_MASK_PREFIX;
            p->mask.prefix_len = m->prefix;
        }
    }
}

static void pass_cross(const xf_model *m, xf_pass *p, size_t S, size_t Scap, const float *enc) {
    p->S = S;
    p->Scap = Scap;
    p->xmask.kind = XF_MASK_BIDIR;
    p->xmask.key_pad = m->use_spad ? m->spad : NULL;
    p->enc = enc;
}

/* pass_init plus the stack's relative position bias for the pass's queries. */
static void pass_setup(xf_model *m, xf_pass *p, int st, size_t B, size_t T, size_t pos0, size_t kvcap) {
    pass_init(m, p, st, B, T, pos0, kvcap);
    if (m->cfg.position_type == XF_POS_RELATIVE) {
        const float *table = m->lw[stack_first(m, st)].relb;
        relpos_forward(m->bias[st], table, m->cfg.num_attention_heads, T, pos0 + T, pos0, st == XF_ENC,
                          m->cfg.relative_attention_num_buckets, m->cfg.relative_attention_max_distance);
        p->bias = m->bias[st];
    }
}

/* Run the layers of stack st (training keeps every stream buffer); returns the output stream. */
static float *stack_forward(xf_model *m, int st, const xf_pass *p) {
    size_t l0 = stack_first(m, st), nl = stack_len(m, st);
    for (size_t i = 0; i < nl; i++) {
        xf_layer_act *a = &m->acts[m->training ? l0 + i : (size_t)st];
        const float *in = m->training ? m->sres[st][i] : m->sres[st][i & 1];
        float *out = m->training ? m->sres[st][i + 1] : m->sres[st][(i + 1) & 1];
        layer_forward(m, l0 + i, a, in, out, a->k, a->v, a->ck, a->cv, p);
    }
    return m->training ? m->sres[st][nl] : m->sres[st][nl & 1];
}

/* The encoder of an encoder-decoder over src [B,S]: returns its final output [B*S,C]. */
static const float *encode_forward(xf_model *m, const int32_t *src, size_t B, size_t S) {
    xf_pass p;
    embed_forward(m, XF_ENC, src, NULL, NULL, NULL, B, S, 0, m->sres[XF_ENC][0]);
    pass_setup(m, &p, XF_ENC, B, S, 0, S);
    const float *x = stack_forward(m, XF_ENC, &p);
    if (m->cfg.norm_placement == XF_NORM_PRE) {
        model_norm_forward(m, m->henc, m->henc_mean, m->henc_rstd, x, m->w.lnf_w[XF_ENC],
                              m->w.lnf_b[XF_ENC], B * S);
        return m->henc;
    }
    return x;
}

xf_status xf_model_forward_batch(xf_model *m, const xf_batch *b, float *loss, size_t *valid) {
    int encdec = m->cfg.arch == XF_ARCH_ENCODER_DECODER, ms = main_stack(m);
    size_t B = b->B, T = b->T, S = encdec ? b->S : 0;
    if (!m->arena || B == 0 || T == 0 || B > m->B || T > m->T || (encdec && (S == 0 || S > m->S)))
        return xf_fail(XF_ERR_SHAPE, "forward of %zu x %zu (source %zu) does not fit the reserved %zu x %zu (source %zu)",
                       B, T, S, m->B, m->T, encdec ? m->S : 0);
    if (!b->ids || (encdec && !b->src)) return xf_fail(XF_ERR_ARG, "the batch has no %s", b->ids ? "source" : "ids");
    size_t N = B * T, C = m->C;
    xf_status s = check_ids(m, b->ids, N, "input");
    if (!s && encdec) s = check_ids(m, b->src, B * S, "source");
    if (!s) s = check_lengths(b->lengths, B, T, "lengths");
    if (!s) s = check_lengths(b->prefix_len, B, T, "prefix_len");
    if (!s && encdec) s = check_lengths(b->src_lengths, B, S, "src_lengths");
    if (s) return s;
    if (b->targets)
        for (size_t i = 0; i < N; i++)
            if (b->targets[i] != XF_IGNORE_INDEX && (b->targets[i] < 0 || (size_t)b->targets[i] >= m->V))
                return xf_fail(XF_ERR_ARG, "target id %d at position %zu is outside [0, %zu)",
                               (int)b->targets[i], i, m->V);
    if (!s && b->position_ids && m->cfg.position_type != XF_POS_LEARNED)
        s = xf_fail(XF_ERR_ARG, "position ids need learned positions (position_type is %s)",
                    xf_pos_type_name(m->cfg.position_type));
    if (!s && b->block_position_ids && !m->w.wbpe)
        s = xf_fail(XF_ERR_ARG, "block position ids need a model with block_position_embeddings");
    if (!s) s = check_positions(m, b->position_ids, N, "position");
    if (!s) s = check_positions(m, b->block_position_ids, N, "block position");
    if (s) return s;
    if (b->token_types)
        for (size_t i = 0; i < N; i++)
            if (b->token_types[i] < 0 || (size_t)b->token_types[i] >= (m->cfg.type_vocab_size ? m->cfg.type_vocab_size : 1))
                return xf_fail(XF_ERR_ARG, "token type %d at position %zu is outside [0, %zu)",
                               (int)b->token_types[i], i, m->cfg.type_vocab_size);
    /* Training keeps B*T activation rows per layer laid out for the reservation;
     * a smaller batch uses the leading rows with its own (B, T). */
    memcpy(m->inputs, b->ids, N * sizeof(int32_t));
    if (b->token_types) memcpy(m->types, b->token_types, N * sizeof(int32_t));
    else memset(m->types, 0, N * sizeof(int32_t));
    m->use_pos = b->position_ids != NULL;
    m->use_blk = b->block_position_ids != NULL;
    if (m->use_pos) memcpy(m->posids, b->position_ids, N * sizeof(int32_t));
    if (m->use_blk) memcpy(m->blkids, b->block_position_ids, N * sizeof(int32_t));
    if (b->prefix_len) memcpy(m->prefix, b->prefix_len, B * sizeof(int32_t));
    else memset(m->prefix, 0, B * sizeof(int32_t));
    m->use_kpad = b->lengths != NULL;
    if (b->lengths)
        for (size_t r = 0; r < B; r++)
            for (size_t j = 0; j < T; j++) m->kpad[r * T + j] = j >= (size_t)b->lengths[r];
    m->use_spad = encdec && b->src_lengths != NULL;
    if (m->use_spad)
        for (size_t r = 0; r < B; r++)
            for (size_t j = 0; j < S; j++) m->spad[r * S + j] = j >= (size_t)b->src_lengths[r];

    xf_pass p;
    const float *enc = NULL;
    if (encdec) {
        memcpy(m->src, b->src, B * S * sizeof(int32_t));
        enc = encode_forward(m, m->src, B, S);
    }
    embed_forward(m, ms, m->inputs, m->types, m->use_pos ? m->posids : NULL, m->use_blk ? m->blkids : NULL, B, T, 0,
                  m->sres[ms][0]);
    pass_setup(m, &p, ms, B, T, 0, T);
    if (encdec) pass_cross(m, &p, S, S, enc);
    const float *x_last = stack_forward(m, ms, &p);
    head_forward(m, x_last, N, m->logits);
    m->have_targets = b->targets != NULL;
    m->last_valid = 0;
    m->B_last = B;
    m->T_last = T;
    m->S_last = S;
    (void)C;
    if (b->targets) {
        memcpy(m->targets, b->targets, N * sizeof(int32_t));
        size_t nv = xent_forward(m->loss_rows, m->lse, m->logits, b->targets, N, m->V);
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

xf_status xf_model_forward(xf_model *m, const int32_t *inputs, const int32_t *targets, size_t B,
                           size_t T, float *loss, size_t *valid) {
    xf_batch b = {.B = B, .T = T, .ids = inputs, .targets = targets};
    if (m->cfg.arch == XF_ARCH_ENCODER_DECODER) { /* the same tokens feed both stacks */
        b.S = T;
        b.src = inputs;
    }
    return xf_model_forward_batch(m, &b, loss, valid);
}

const float *xf_model_logits(const xf_model *m) { return m->logits; }

void xf_model_set_live_vocab(xf_model *m, size_t n) { m->V_live = n < m->V ? n : 0; }

float xf_model_aux_loss(const xf_model *m) {
    double s = 0;
    for (size_t i = 0; i < m->nmoe; i++)
        s += m->cfg.router_aux_loss_coef * m->macc[i].last_aux + m->cfg.router_z_loss_coef * m->macc[i].last_z;
    return (float)s;
}

void xf_model_zero_grad(xf_model *m) {
    if (m->grads) memset(m->grads, 0, m->nparams * sizeof(float));
}

/* Backward through the layers of stack st; d_res holds d(output) on entry and
 * d(embeddings) on return. */
static void stack_backward(xf_model *m, int st, xf_pass *p) {
    size_t l0 = stack_first(m, st), nl = stack_len(m, st);
    size_t H = m->cfg.num_attention_heads, T = p->T;
    if (m->dbias[st]) { /* the forward's bias, for the recomputed logits */
        memset(m->dbias[st], 0, H * (2 * T - 1) * sizeof(double));
        p->bias = m->bias[st];
        p->dbias = m->dbias[st];
    }
    for (size_t i = nl; i-- > 0;)
        layer_backward(m, l0 + i, &m->acts[l0 + i], m->sres[st][i], m->d_res, p);
    if (m->dbias[st])
        relpos_backward(m->lg[l0].relb, m->dbias[st], H, T, T, 0, st == XF_ENC,
                           m->cfg.relative_attention_num_buckets, m->cfg.relative_attention_max_distance);
}

xf_status xf_model_backward(xf_model *m, float loss_scale) { return model_backward_ex(m, loss_scale, loss_scale); }

xf_status model_backward_ex(xf_model *m, float loss_scale, float aux_scale) {
    if (!m->training || !m->grads) return xf_fail(XF_ERR_ARG, "model was not reserved for training");
    if (!m->have_targets) return xf_fail(XF_ERR_ARG, "backward needs a forward with targets");
    size_t B = m->B_last, T = m->T_last, S = m->S_last, N = B * T, C = m->C;
    int encdec = m->cfg.arch == XF_ARCH_ENCODER_DECODER, ms = main_stack(m);
    m->have_targets = 0;
    /* loss = mean CE: dlogits = scale/valid * (softmax - onehot), in place (zero when nothing is valid) */
    float *dlogits = m->logits;
    xent_backward(dlogits, m->logits, m->lse, m->targets, N, m->V,
                     m->last_valid ? loss_scale / (float)m->last_valid : 0.0f);
    const float *x_last = m->sres[ms][stack_len(m, ms)];
    head_backward(m, x_last, dlogits, N);
    xf_pass p;
    pass_init(m, &p, ms, B, T, 0, T);
    p.aux_scale = aux_scale;
    if (encdec) {
        pass_cross(m, &p, S, S, m->cfg.norm_placement == XF_NORM_PRE ? m->henc : m->sres[XF_ENC][m->Lenc]);
        p.d_enc = m->d_enc;
        memset(m->d_enc, 0, B * S * C * sizeof(float));
    }
    /* main stack, then its embeddings */
    stack_backward(m, ms, &p);
    embed_backward(m, ms, m->inputs, m->w.wtt ? m->types : NULL, m->use_pos ? m->posids : NULL,
                   m->use_blk ? m->blkids : NULL, B, T, m->d_res);
    if (!encdec) return XF_OK;
    /* enc = Nf_enc(x_enc) (pre) or x_enc; then the encoder stack and its embeddings */
    xf_pass pe;
    pass_init(m, &pe, XF_ENC, B, S, 0, S);
    pe.aux_scale = aux_scale;
    if (m->cfg.norm_placement == XF_NORM_PRE) {
        memset(m->d_res, 0, B * S * C * sizeof(float));
        model_norm_backward(m, m->d_res, m->g.lnf_w[XF_ENC], m->g.lnf_b[XF_ENC], m->d_enc,
                               m->sres[XF_ENC][m->Lenc], m->w.lnf_w[XF_ENC], m->henc_mean, m->henc_rstd,
                               B * S);
    } else {
        memcpy(m->d_res, m->d_enc, B * S * C * sizeof(float));
    }
    stack_backward(m, XF_ENC, &pe);
    embed_backward(m, XF_ENC, m->src, NULL, NULL, NULL, B, S, m->d_res);
    return XF_OK;
}

/* ---- KV-cache decoding --------------------------------------------------- */

xf_status xf_model_cache_reserve_ex(xf_model *m, size_t beams, size_t Tmax, size_t Smax) {
    size_t P = m->cfg.max_position_embeddings;
    int encdec = m->cfg.arch == XF_ARCH_ENCODER_DECODER;
    if (!m->Ldec) return xf_fail(XF_ERR_ARG, "an encoder-only model has no decoder to generate with");
    if (Tmax == 0 || Tmax > P) return xf_fail(XF_ERR_ARG, "cache length %zu must be in [1, %zu]", Tmax, P);
    if (beams == 0 || beams > 64) return xf_fail(XF_ERR_ARG, "beams must be in [1, 64], got %zu", beams);
    if (!encdec) Smax = 0;
    else if (Smax == 0 || Smax > P) return xf_fail(XF_ERR_ARG, "source length %zu must be in [1, %zu]", Smax, P);
    size_t M = Tmax > Smax ? Tmax : Smax;
    xf_status s = xf_model_reserve_ex(m, beams, M, encdec ? M : 0, 0);
    if (s) return s;
    free(m->cache);
    free(m->kcache);
    free(m->vcache);
    free(m->ckc);
    free(m->cvc);
    m->cache = NULL;
    m->kcache = calloc(m->L, sizeof *m->kcache);
    m->vcache = calloc(m->L, sizeof *m->vcache);
    m->ckc = calloc(m->L, sizeof *m->ckc);
    m->cvc = calloc(m->L, sizeof *m->cvc);
    size_t per = beams * Tmax * m->KV, xper = beams * Smax * m->KV, tmp = beams * M * m->KV;
    size_t total = m->Ldec * (2 * per + 2 * xper) + tmp + beams * m->V + beams;
    m->cache = alloc_floats(total);
    if (!m->kcache || !m->vcache || !m->ckc || !m->cvc || !m->cache)
        return xf_fail(XF_ERR_OOM, "out of memory for the KV cache");
    float *q = m->cache;
    for (size_t l = m->Lenc; l < m->L; l++) {
        m->kcache[l] = q, q += per;
        m->vcache[l] = q, q += per;
        if (encdec) {
            m->ckc[l] = q, q += xper;
            m->cvc[l] = q, q += xper;
        }
    }
    m->cache_tmp = q, q += tmp;
    m->dec_logits = q, q += beams * m->V;
    m->cache_prefix = (int32_t *)q;
    memset(m->cache_prefix, 0, beams * sizeof(int32_t));
    m->cache_T = Tmax;
    m->cache_S = Smax;
    m->beams = beams;
    m->enc_S = 0;
    m->use_kpad = m->use_spad = 0;
    return XF_OK;
}

xf_status xf_model_cache_reserve(xf_model *m, size_t Tmax) { return xf_model_cache_reserve_ex(m, 1, Tmax, Tmax); }

xf_status xf_model_encode(xf_model *m, const int32_t *src, size_t S) {
    if (m->cfg.arch != XF_ARCH_ENCODER_DECODER) return xf_fail(XF_ERR_ARG, "only an encoder-decoder has an encoder to run");
    if (!m->cache) return xf_fail(XF_ERR_ARG, "no KV cache reserved");
    if (S == 0 || S > m->cache_S)
        return xf_fail(XF_ERR_ARG, "source length %zu must be in [1, %zu]", S, m->cache_S);
    xf_status s = check_ids(m, src, S, "source");
    if (s) return s;
    m->use_spad = 0;
    const float *enc = encode_forward(m, src, 1, S);
    size_t KV = m->KV, C = m->C;
    for (size_t l = m->Lenc; l < m->L; l++) {
        const xf_layer_w *w = &m->lw[l];
        const xf_layer_q *lq = model_layer_q(m, w);
        model_linear(m, lq ? &lq->ck : NULL, m->ckc[l], enc, w->ck, w->cbk, S, C, KV);
        model_linear(m, lq ? &lq->cv : NULL, m->cvc[l], enc, w->cv, w->cbv, S, C, KV);
        for (size_t r = 1; r < m->beams; r++) {
            memcpy(m->ckc[l] + r * m->cache_S * KV, m->ckc[l], S * KV * sizeof(float));
            memcpy(m->cvc[l] + r * m->cache_S * KV, m->cvc[l], S * KV * sizeof(float));
        }
    }
    m->enc_S = S;
    return XF_OK;
}

/* Feed B rows of n tokens each (tokens [B,n]) at position pos; logits of each
 * row's last token go to dec_logits [B,V]. */
static xf_status decode_rows(xf_model *m, const int32_t *tokens, const int32_t *posids, const int32_t *blkids,
                             size_t B, size_t n, size_t pos) {
    if (!m->cache) return xf_fail(XF_ERR_ARG, "no KV cache reserved");
    if (n == 0 || pos + n > m->cache_T)
        return xf_fail(XF_ERR_ARG, "positions %zu..%zu exceed the cache length %zu", pos, pos + n, m->cache_T);
    int encdec = m->cfg.arch == XF_ARCH_ENCODER_DECODER;
    if (encdec && !m->enc_S) return xf_fail(XF_ERR_ARG, "xf_model_encode must run before decoding");
    xf_status s = check_ids(m, tokens, B * n, "input");
    if (s) return s;
    size_t C = m->C;
    memset(m->types, 0, B * n * sizeof(int32_t));
    embed_forward(m, XF_DEC, tokens, m->types, posids, blkids, B, n, pos, m->sres[XF_DEC][0]);
    if (m->cfg.arch == XF_ARCH_PREFIX_LM && pos == 0)
        for (size_t b = 0; b < B; b++) m->cache_prefix[b] = (int32_t)n; /* the prompt is the prefix */
    m->use_kpad = 0;
    xf_pass p;
    pass_setup(m, &p, XF_DEC, B, n, pos, m->cache_T);
    if (m->cfg.arch == XF_ARCH_PREFIX_LM) p.mask.prefix_len = m->cache_prefix;
    if (encdec) pass_cross(m, &p, m->enc_S, m->cache_S, NULL);
    for (size_t l = m->Lenc; l < m->L; l++) {
        size_t i = l - m->Lenc;
        xf_layer_act *a = &m->acts[XF_DEC];
        layer_forward(m, l, a, m->sres[XF_DEC][i & 1], m->sres[XF_DEC][(i + 1) & 1], m->kcache[l],
                         m->vcache[l], encdec ? m->ckc[l] : NULL, encdec ? m->cvc[l] : NULL, &p);
    }
    const float *x = m->sres[XF_DEC][m->Ldec & 1];
    /* the last token of each row, gathered into consecutive rows */
    float *last = m->sres[XF_DEC][(m->Ldec + 1) & 1];
    for (size_t b = 0; b < B; b++) memmove(last + b * C, x + (b * n + n - 1) * C, C * sizeof(float));
    head_forward(m, last, B, m->dec_logits);
    return XF_OK;
}

xf_status xf_model_decode(xf_model *m, const int32_t *tokens, size_t n, size_t pos, const float **logits) {
    xf_status s = decode_rows(m, tokens, NULL, NULL, 1, n, pos);
    if (s == XF_OK) *logits = m->dec_logits;
    return s;
}

xf_status xf_model_decode_pos(xf_model *m, const int32_t *tokens, const int32_t *position_ids,
                              const int32_t *block_position_ids, size_t n, size_t pos, const float **logits) {
    xf_status s = XF_OK;
    if (position_ids && m->cfg.position_type != XF_POS_LEARNED)
        s = xf_fail(XF_ERR_ARG, "position ids need learned positions (position_type is %s)",
                    xf_pos_type_name(m->cfg.position_type));
    if (!s && block_position_ids && !m->w.wbpe)
        s = xf_fail(XF_ERR_ARG, "block position ids need a model with block_position_embeddings");
    if (!s) s = check_positions(m, position_ids, n, "position");
    if (!s) s = check_positions(m, block_position_ids, n, "block position");
    if (!s) s = decode_rows(m, tokens, position_ids, block_position_ids, 1, n, pos);
    if (s == XF_OK) *logits = m->dec_logits;
    return s;
}

xf_status xf_model_decode_beams(xf_model *m, const int32_t *tokens, size_t pos, const float **logits) {
    xf_status s = decode_rows(m, tokens, NULL, NULL, m->beams, 1, pos);
    if (s == XF_OK) *logits = m->dec_logits;
    return s;
}

xf_status xf_model_cache_reorder(xf_model *m, const size_t *parent, size_t pos) {
    if (!m->cache) return xf_fail(XF_ERR_ARG, "no KV cache reserved");
    if (pos > m->cache_T) return xf_fail(XF_ERR_ARG, "position %zu exceeds the cache length %zu", pos, m->cache_T);
    size_t nb = m->beams, KV = m->KV, Tc = m->cache_T;
    for (size_t r = 0; r < nb; r++)
        if (parent[r] >= nb) return xf_fail(XF_ERR_ARG, "beam parent %zu is not below %zu", parent[r], nb);
    for (size_t l = m->Lenc; l < m->L; l++)
        for (int kv = 0; kv < 2; kv++) {
            float *c = kv ? m->vcache[l] : m->kcache[l];
            for (size_t r = 0; r < nb; r++)
                memcpy(m->cache_tmp + r * pos * KV, c + parent[r] * Tc * KV, pos * KV * sizeof(float));
            for (size_t r = 0; r < nb; r++)
                memcpy(c + r * Tc * KV, m->cache_tmp + r * pos * KV, pos * KV * sizeof(float));
        }
    return XF_OK;
}

/* ---- MoE ----------------------------------------------------------------- */

size_t xf_model_num_moe_layers(const xf_model *m) { return m->nmoe; }

void xf_model_moe_stats(const xf_model *m, size_t i, xf_moe_stats *out) {
    memset(out, 0, sizeof *out);
    if (i >= m->nmoe) return;
    const xf_moe_acc *a = &m->macc[i];
    const xf_layer_info *in = &m->li[m->moe_layer[i]];
    out->stack = in->stack == XF_ENC ? 0 : 1;
    out->layer = in->idx;
    out->E = m->moe.E;
    out->tokens = a->tokens;
    out->assigned = a->assigned;
    out->dropped = a->dropped;
    out->entropy = a->entropy;
    out->aux = a->aux;
    out->z = a->z;
    out->tokens_seen = a->tokens_seen;
    out->forwards = a->forwards;
}

void xf_model_moe_reset_stats(xf_model *m) {
    for (size_t i = 0; i < m->nmoe; i++) {
        xf_moe_acc *a = &m->macc[i];
        memset(a->tokens, 0, m->moe.E * sizeof(double));
        a->assigned = a->dropped = a->entropy = a->aux = a->z = 0;
        a->tokens_seen = a->forwards = 0;
    }
}

xf_status xf_model_moe_routes(const xf_model *m, size_t i, const int32_t **sel, const float **gate, size_t *N,
                              size_t *k) {
    if (i >= m->nmoe) return xf_fail(XF_ERR_ARG, "MoE layer %zu does not exist (the model has %zu)", i, m->nmoe);
    const xf_moe_act *a = &m->moe_acts[i];
    *sel = a->sel;
    *gate = a->w;
    *N = a->N;
    *k = m->moe.K;
    return XF_OK;
}

void xf_model_moe_update_bias(xf_model *m) {
    if (m->cfg.router_type != XF_ROUTER_SIGMOID_TOPK_NORM) return;
    size_t E = m->moe.E;
    float speed = m->cfg.router_bias_update_speed;
    for (size_t i = 0; i < m->nmoe; i++) {
        xf_moe_acc *a = &m->macc[i];
        float *bias = m->lw[m->moe_layer[i]].ebias;
        double mean = 0;
        for (size_t e = 0; e < E; e++) mean += a->load[e];
        mean /= (double)E;
        for (size_t e = 0; e < E; e++) {
            double d = mean - a->load[e];
            bias[e] += d > 0 ? speed : d < 0 ? -speed : 0.0f;
            a->load[e] = 0;
        }
    }
}

void xf_model_set_noise_seed(xf_model *m, uint64_t seed) { m->noise_seed = seed; }
