/* One transformer block: self-attention then FFN, each wrapped in a norm and a
 * residual, in pre- or post-norm placement (algorithms.md §3).
 *
 *   pre:  n1 = N1(x);  r1 = x + Wo·Attn(q,k,v of n1);  n2 = N2(r1);  out = r1 + FFN(n2)
 *   post: r1 = x + Wo·Attn(q,k,v of x);  n1 = N1(r1);  r2 = n1 + FFN(n1);  out = N2(r2)
 *   FFN(h) = Wd·act(Wu·h)            (plain)
 *          = Wd·(act(Wg·h) ⊙ Wu·h)   (gated: SwiGLU / GEGLU)
 *
 * In post placement the block output is n2 itself, so a.n2 points at res_out.
 * block_backward mirrors block_forward line by line in reverse. */
#include <math.h>
#include <string.h>

#include "model/model_internal.h"

/* Norm of the configured type; mean is unused (may be NULL) for RMSNorm. */
void xf_model_norm_forward(const xf_model *m, float *out, float *mean, float *rstd,
                           const float *inp, const float *w, const float *b, size_t N) {
    if (m->cfg.norm_type == XF_NORM_RMSNORM)
        xf_rmsnorm_forward(out, rstd, inp, w, N, m->C, m->cfg.norm_eps);
    else
        xf_layernorm_forward(out, mean, rstd, inp, w, b, N, m->C, m->cfg.norm_eps);
}

void xf_model_norm_backward(const xf_model *m, float *dinp, float *dw, float *db,
                            const float *dout, const float *inp, const float *w,
                            const float *mean, const float *rstd, size_t N) {
    if (m->cfg.norm_type == XF_NORM_RMSNORM)
        xf_rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, m->C);
    else
        xf_layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, m->C);
}

static xf_mask causal_mask(size_t pos0) {
    xf_mask mk = {.kind = XF_MASK_CAUSAL, .past = pos0};
    return mk;
}

/* Attention sublayer: h [N,C] -> a->r1 = res + Wo·Attn(h).
 * K/V rows go to kbuf/vbuf at token pos0 (batch stride kvcap rows). */
static void attn_forward(xf_model *m, const xf_layer_w *w, xf_layer_act *a, const float *h,
                         const float *res, float *kbuf, float *vbuf, size_t kvcap, size_t B,
                         size_t T, size_t pos0) {
    size_t N = B * T, C = m->C, Q = m->Q, KV = m->KV, D = m->D;
    size_t H = m->cfg.num_attention_heads, Hkv = m->cfg.num_key_value_heads;
    xf_linear_forward(a->q, h, w->wq, w->bq, N, C, Q);
    if (kvcap == T && pos0 == 0) {
        /* training layout: k, v are plain [N,KV] buffers */
        xf_linear_forward(kbuf, h, w->wk, w->bk, N, C, KV);
        xf_linear_forward(vbuf, h, w->wv, w->bv, N, C, KV);
    } else {
        /* cache layout [B, kvcap, KV]: write the new rows at pos0 */
        for (size_t b = 0; b < B; b++) {
            float *kd = kbuf + (b * kvcap + pos0) * KV, *vd = vbuf + (b * kvcap + pos0) * KV;
            xf_linear_forward(kd, h + b * T * C, w->wk, w->bk, T, C, KV);
            xf_linear_forward(vd, h + b * T * C, w->wv, w->bv, T, C, KV);
        }
    }
    if (m->cfg.position_type == XF_POS_ROPE) {
        xf_rope_forward(a->q, m->rope_cos, m->rope_sin, N, T, H, D, pos0);
        for (size_t b = 0; b < B; b++)
            xf_rope_forward(kbuf + (b * kvcap + pos0) * KV, m->rope_cos, m->rope_sin, T, T, Hkv, D,
                            pos0);
    }
    xf_mask mk = causal_mask(pos0);
    xf_attention_forward(a->atty, a->att, a->q, kbuf, vbuf, NULL, &mk, B, T, pos0 + T, kvcap, H,
                         Hkv, D, 1.0f / sqrtf((float)D));
    xf_linear_forward(a->r1, a->atty, w->wo, w->bo, N, Q, C);
    xf_residual_forward(a->r1, a->r1, res, N * C);
}

/* FFN sublayer: h [N,C] -> out = res + FFN(h). */
static void ffn_forward(xf_model *m, const xf_layer_w *w, xf_layer_act *a, const float *h,
                        const float *res, float *out, size_t N) {
    size_t C = m->C, I = m->I;
    xf_linear_forward(a->fu, h, w->wu, w->bu, N, C, I);
    if (m->cfg.gated_ffn) {
        xf_linear_forward(a->fg, h, w->wg, w->bg, N, C, I);
        xf_glu_forward(a->fh, a->fg, a->fu, N * I, m->cfg.hidden_act);
    } else {
        xf_act_forward(a->fh, a->fu, N * I, m->cfg.hidden_act);
    }
    xf_linear_forward(out, a->fh, w->wd, w->bd, N, I, C);
    xf_residual_forward(out, out, res, N * C);
}

void xf_block_forward(xf_model *m, size_t l, xf_layer_act *a, const float *res_in, float *res_out,
                      float *kbuf, float *vbuf, size_t kvcap, size_t B, size_t T, size_t pos0) {
    const xf_layer_w *w = &m->lw[l];
    size_t N = B * T;
    if (m->cfg.norm_placement == XF_NORM_PRE) {
        xf_model_norm_forward(m, a->n1, a->n1_mean, a->n1_rstd, res_in, w->ln1_w, w->ln1_b, N);
        attn_forward(m, w, a, a->n1, res_in, kbuf, vbuf, kvcap, B, T, pos0);
        xf_model_norm_forward(m, a->n2, a->n2_mean, a->n2_rstd, a->r1, w->ln2_w, w->ln2_b, N);
        ffn_forward(m, w, a, a->n2, a->r1, res_out, N);
    } else {
        attn_forward(m, w, a, res_in, res_in, kbuf, vbuf, kvcap, B, T, pos0);
        xf_model_norm_forward(m, a->n1, a->n1_mean, a->n1_rstd, a->r1, w->ln1_w, w->ln1_b, N);
        ffn_forward(m, w, a, a->n1, a->n1, a->r2, N);
        xf_model_norm_forward(m, res_out, a->n2_mean, a->n2_rstd, a->r2, w->ln2_w, w->ln2_b, N);
    }
}

/* Backward of ffn_forward. d_out [N,C] = d(out); adds d(h) into d_h. */
static void ffn_backward(xf_model *m, const xf_layer_w *w, xf_layer_w *g, const xf_layer_act *a,
                         const float *h, const float *d_out, float *d_h, size_t N) {
    size_t C = m->C, I = m->I;
    /* out = res + Wd·fh: d(res) is the caller's; d(fh) = d_out·Wd */
    memset(m->d_fh, 0, N * I * sizeof(float));
    xf_linear_backward(m->d_fh, g->wd, g->bd, d_out, a->fh, w->wd, N, I, C);
    memset(m->d_fu, 0, N * I * sizeof(float));
    if (m->cfg.gated_ffn) {
        /* fh = act(fg) ⊙ fu */
        memset(m->d_fg, 0, N * I * sizeof(float));
        xf_glu_backward(m->d_fg, m->d_fu, m->d_fh, a->fg, a->fu, N * I, m->cfg.hidden_act);
        xf_linear_backward(d_h, g->wg, g->bg, m->d_fg, h, w->wg, N, C, I);
    } else {
        /* fh = act(fu) */
        xf_act_backward(m->d_fu, m->d_fh, a->fu, N * I, m->cfg.hidden_act);
    }
    /* fu = Wu·h */
    xf_linear_backward(d_h, g->wu, g->bu, m->d_fu, h, w->wu, N, C, I);
}

/* Backward of attn_forward (training layout). d_r1 [N,C] = d(r1); adds d(h) into d_h. */
static void attn_backward(xf_model *m, const xf_layer_w *w, xf_layer_w *g, const xf_layer_act *a,
                          const float *h, const float *d_r1, float *d_h, size_t B, size_t T) {
    size_t N = B * T, C = m->C, Q = m->Q, KV = m->KV, D = m->D;
    size_t H = m->cfg.num_attention_heads, Hkv = m->cfg.num_key_value_heads;
    /* r1 = res + Wo·atty */
    memset(m->d_atty, 0, N * Q * sizeof(float));
    xf_linear_backward(m->d_atty, g->wo, g->bo, d_r1, a->atty, w->wo, N, Q, C);
    /* atty = Attn(q, k, v) */
    memset(m->d_q, 0, N * Q * sizeof(float));
    memset(m->d_k, 0, N * KV * sizeof(float));
    memset(m->d_v, 0, N * KV * sizeof(float));
    xf_mask mk = causal_mask(0);
    xf_attention_backward(m->d_q, m->d_k, m->d_v, NULL, m->d_atty, a->att, a->q, a->k, a->v, &mk,
                          m->att_scratch, B, T, T, T, H, Hkv, D, 1.0f / sqrtf((float)D));
    /* q, k = RoPE(q, k) */
    if (m->cfg.position_type == XF_POS_ROPE) {
        xf_rope_backward(m->d_q, m->rope_cos, m->rope_sin, N, T, H, D, 0);
        xf_rope_backward(m->d_k, m->rope_cos, m->rope_sin, N, T, Hkv, D, 0);
    }
    /* q, k, v = W·h */
    xf_linear_backward(d_h, g->wv, g->bv, m->d_v, h, w->wv, N, C, KV);
    xf_linear_backward(d_h, g->wk, g->bk, m->d_k, h, w->wk, N, C, KV);
    xf_linear_backward(d_h, g->wq, g->bq, m->d_q, h, w->wq, N, C, Q);
}

void xf_block_backward(xf_model *m, size_t l, const xf_layer_act *a, const float *res_in,
                       float *d_res, size_t B, size_t T) {
    const xf_layer_w *w = &m->lw[l];
    xf_layer_w *g = &m->lg[l];
    size_t N = B * T, NC = N * m->C;
    if (m->cfg.norm_placement == XF_NORM_PRE) {
        /* out = r1 + FFN(n2): d(r1) = d(out) (kept in d_res), d(n2) from the FFN */
        memset(m->d_n, 0, NC * sizeof(float));
        ffn_backward(m, w, g, a, a->n2, d_res, m->d_n, N);
        /* n2 = N2(r1) */
        xf_model_norm_backward(m, d_res, g->ln2_w, g->ln2_b, m->d_n, a->r1, w->ln2_w, a->n2_mean,
                      a->n2_rstd, N);
        /* r1 = x + Attn(n1): d(x) = d(r1) (kept in d_res), d(n1) from attention */
        memset(m->d_n, 0, NC * sizeof(float));
        attn_backward(m, w, g, a, a->n1, d_res, m->d_n, B, T);
        /* n1 = N1(x) */
        xf_model_norm_backward(m, d_res, g->ln1_w, g->ln1_b, m->d_n, res_in, w->ln1_w, a->n1_mean,
                      a->n1_rstd, N);
    } else {
        /* out = N2(r2) */
        memset(m->d_x, 0, NC * sizeof(float));
        xf_model_norm_backward(m, m->d_x, g->ln2_w, g->ln2_b, d_res, a->r2, w->ln2_w, a->n2_mean,
                      a->n2_rstd, N);
        /* r2 = n1 + FFN(n1) */
        memcpy(d_res, m->d_x, NC * sizeof(float));
        ffn_backward(m, w, g, a, a->n1, m->d_x, d_res, N);
        /* n1 = N1(r1) */
        memset(m->d_x, 0, NC * sizeof(float));
        xf_model_norm_backward(m, m->d_x, g->ln1_w, g->ln1_b, d_res, a->r1, w->ln1_w, a->n1_mean,
                      a->n1_rstd, N);
        /* r1 = x + Attn(x) */
        memcpy(d_res, m->d_x, NC * sizeof(float));
        attn_backward(m, w, g, a, res_in, m->d_x, d_res, B, T);
    }
}
