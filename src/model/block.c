/* One transformer block: self-attention, cross-attention (encoder-decoder
 * decoders only), then the FFN (dense or Mixture of Experts), each wrapped in a
 * norm and a residual, in pre- or post-norm placement (docs/algorithms.md §3).
 *
 *   pre:  n1 = N1(x);  r1 = x + SelfAttn(n1)
 *         [nx = Nx(r1); rx = r1 + Cross(nx, enc)]          s = rx or r1
 *         n2 = N2(s);  out = s + FFN(n2)
 *   post: r1 = x + SelfAttn(x);  n1 = N1(r1)
 *         [rx = n1 + Cross(n1, enc); nx = Nx(rx)]          s = nx or n1
 *         r2 = s + FFN(s);  out = N2(r2)
 *   FFN(h) = Wd·act(Wu·h)            (plain)
 *          = Wd·(act(Wg·h) ⊙ Wu·h)   (gated: SwiGLU / GEGLU)
 *          = MoE(h) [+ shared(h)]    (MoE layer; shared = a dense FFN, no biases)
 *   SelfAttn: q, k, v of the stream (RoPE on q, k), the stack's mask and relative bias.
 *   Cross:    q of the stream, k and v of the final encoder output, source padding only.
 *
 * In post placement the block output is N2's output itself (n2 is unused).
 * block_backward mirrors block_forward line by line in reverse. */
#include <math.h>
#include <string.h>

#include "model/model_internal.h"

/* the decode copy of weight f in inference, else NULL (f32 through BLAS) */
#define LQ(f) (lq ? &lq->f : NULL)

/* Norm of the configured type; mean is unused (may be NULL) for RMSNorm. */
void model_norm_forward(const xf_model *m, float *out, float *mean, float *rstd,
                           const float *inp, const float *w, const float *b, size_t N) {
    if (m->cfg.norm_type == XF_NORM_RMSNORM)
        rmsnorm_forward(out, rstd, inp, w, N, m->C, m->cfg.norm_eps);
    else
        layernorm_forward(out, mean, rstd, inp, w, b, N, m->C, m->cfg.norm_eps);
}

void model_norm_backward(const xf_model *m, float *dinp, float *dw, float *db,
                            const float *dout, const float *inp, const float *w,
                            const float *mean, const float *rstd, size_t N) {
    if (m->cfg.norm_type == XF_NORM_RMSNORM)
        rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, m->C);
    else
        layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, m->C);
}

/* Self-attention sublayer: h [N,C] -> a->r1 = res + Wo·Attn(h).
 * K/V rows go to kbuf/vbuf at token pos0 (row stride kvcap per sequence). */
static void attn_forward(xf_model *m, const xf_layer_w *w, xf_layer_act *a, const float *h,
                         const float *res, float *kbuf, float *vbuf, const xf_pass *p) {
    size_t B = p->B, T = p->T, N = B * T, C = m->C, Q = m->Q, KV = m->KV, D = m->D;
    size_t H = m->cfg.num_attention_heads, Hkv = m->cfg.num_key_value_heads;
    size_t pos0 = p->pos0, kvcap = p->kvcap;
    const xf_layer_q *lq = model_layer_q(m, w);
    model_linear(m, LQ(wq), a->q, h, w->wq, w->bq, N, C, Q);
    if (kvcap == T && pos0 == 0) {
        /* training layout: k, v are plain [N,KV] buffers */
        model_linear(m, LQ(wk), kbuf, h, w->wk, w->bk, N, C, KV);
        model_linear(m, LQ(wv), vbuf, h, w->wv, w->bv, N, C, KV);
    } else {
        /* cache layout [B, kvcap, KV]: write the new rows at pos0 */
        for (size_t b = 0; b < B; b++) {
            float *kd = kbuf + (b * kvcap + pos0) * KV, *vd = vbuf + (b * kvcap + pos0) * KV;
            model_linear(m, LQ(wk), kd, h + b * T * C, w->wk, w->bk, T, C, KV);
            model_linear(m, LQ(wv), vd, h + b * T * C, w->wv, w->bv, T, C, KV);
        }
    }
    if (m->cfg.position_type == XF_POS_ROPE) {
        rope_forward(a->q, m->rope_cos, m->rope_sin, N, T, H, D, pos0);
        for (size_t b = 0; b < B; b++)
            rope_forward(kbuf + (b * kvcap + pos0) * KV, m->rope_cos, m->rope_sin, T, T, Hkv, D,
                            pos0);
    }
    attention_forward(a->atty, a->lse, a->q, kbuf, vbuf, p->bias, &p->mask, B, T, pos0 + T, kvcap,
                         H, Hkv, D, m->scale);
    model_linear(m, LQ(wo), a->r1, a->atty, w->wo, w->bo, N, Q, C);
    residual_forward(a->r1, a->r1, res, N * C);
}

/* Cross-attention sublayer: h [N,C] -> a->rx = res + Wo·Attn(q(h), k(enc), v(enc)).
 * With p->enc the encoder's k/v are computed into ckbuf/cvbuf [B*S,KV]; without
 * (decoding) they are already there, [B, Scap, KV]. */
static void cross_forward(xf_model *m, const xf_layer_w *w, xf_layer_act *a, const float *h,
                          const float *res, float *ckbuf, float *cvbuf, const xf_pass *p) {
    size_t B = p->B, T = p->T, N = B * T, C = m->C, Q = m->Q, KV = m->KV, D = m->D;
    size_t H = m->cfg.num_attention_heads, Hkv = m->cfg.num_key_value_heads;
    const xf_layer_q *lq = model_layer_q(m, w);
    model_linear(m, LQ(cq), a->cq, h, w->cq, w->cbq, N, C, Q);
    if (p->enc) {
        model_linear(m, LQ(ck), ckbuf, p->enc, w->ck, w->cbk, B * p->S, C, KV);
        model_linear(m, LQ(cv), cvbuf, p->enc, w->cv, w->cbv, B * p->S, C, KV);
    }
    attention_forward(a->catty, a->clse, a->cq, ckbuf, cvbuf, NULL, &p->xmask, B, T, p->S, p->Scap,
                         H, Hkv, D, m->scale);
    model_linear(m, LQ(co), a->rx, a->catty, w->co, w->cbo, N, Q, C);
    residual_forward(a->rx, a->rx, res, N * C);
}

/* Dense FFN of width I: out = res + Wd·f(h). */
static void dense_forward(xf_model *m, const xf_layer_w *w, xf_layer_act *a, const float *h,
                          const float *res, float *out, size_t N, size_t I) {
    size_t C = m->C;
    const xf_layer_q *lq = model_layer_q(m, w);
    model_linear(m, LQ(wu), a->fu, h, w->wu, w->bu, N, C, I);
    if (m->cfg.gated_ffn) {
        model_linear(m, LQ(wg), a->fg, h, w->wg, w->bg, N, C, I);
        glu_forward(a->fh, a->fg, a->fu, N * I, m->cfg.hidden_act);
    } else {
        act_forward(a->fh, a->fu, N * I, m->cfg.hidden_act);
    }
    model_linear(m, LQ(wd), out, a->fh, w->wd, w->bd, N, I, C);
    residual_forward(out, out, res, N * C);
}

/* The expert dimensions of a forward over sequences of T tokens (jitter only
 * while training; T sets the per-sequence balance loss's sequences). */
static xf_moe_dims moe_dims(const xf_model *m, size_t T) {
    xf_moe_dims d = m->moe;
    if (!m->training) d.jitter = 0.0f;
    d.seq_len = T;
    return d;
}

/* FFN sublayer: out = res + FFN(h) (dense, or MoE plus shared experts). */
static void ffn_forward(xf_model *m, size_t l, xf_layer_act *a, const float *h, const float *res,
                        float *out, size_t N, size_t T) {
    const xf_layer_w *w = &m->lw[l];
    const xf_layer_info *in = &m->li[l];
    if (!in->moe) {
        dense_forward(m, w, a, h, res, out, N, in->I);
        return;
    }
    size_t C = m->C;
    if (in->I) dense_forward(m, w, a, h, res, out, N, in->I);
    else if (out != res) memcpy(out, res, N * C * sizeof(float));
    xf_moe_dims d = moe_dims(m, T);
    xf_moe_out r;
    xf_moe_act *ma = &m->moe_acts[in->moe_i];
    moe_forward(m->moe_y, ma, &r, h, w->wr, w->ebias, w->ew1, w->ew2, w->ew3, N, &d,
                   m->noise_seed * 1315423911u + l);
    residual_forward(out, out, m->moe_y, N * C);
    /* statistics for the logs and for the balancing bias */
    xf_moe_acc *acc = &m->macc[in->moe_i];
    for (size_t e = 0; e < d.E; e++) {
        acc->tokens[e] += ma->count[e];
        acc->load[e] += ma->load[e];
    }
    acc->assigned += (double)r.assigned;
    acc->dropped += (double)r.dropped;
    acc->entropy += r.entropy;
    acc->aux += r.aux;
    acc->z += r.z;
    acc->tokens_seen += N;
    acc->forwards++;
    acc->last_aux = r.aux;
    acc->last_z = r.z;
}

void layer_forward(xf_model *m, size_t l, xf_layer_act *a, const float *res_in, float *res_out,
                      float *kbuf, float *vbuf, float *ckbuf, float *cvbuf, const xf_pass *p) {
    const xf_layer_w *w = &m->lw[l];
    int cross = m->li[l].cross;
    size_t N = p->B * p->T;
    if (m->cfg.norm_placement == XF_NORM_PRE) {
        model_norm_forward(m, a->n1, a->n1_mean, a->n1_rstd, res_in, w->ln1_w, w->ln1_b, N);
        attn_forward(m, w, a, a->n1, res_in, kbuf, vbuf, p);
        const float *s = a->r1;
        if (cross) {
            model_norm_forward(m, a->nx, a->nx_mean, a->nx_rstd, a->r1, w->lnx_w, w->lnx_b, N);
            cross_forward(m, w, a, a->nx, a->r1, ckbuf, cvbuf, p);
            s = a->rx;
        }
        model_norm_forward(m, a->n2, a->n2_mean, a->n2_rstd, s, w->ln2_w, w->ln2_b, N);
        ffn_forward(m, l, a, a->n2, s, res_out, N, p->T);
    } else {
        attn_forward(m, w, a, res_in, res_in, kbuf, vbuf, p);
        model_norm_forward(m, a->n1, a->n1_mean, a->n1_rstd, a->r1, w->ln1_w, w->ln1_b, N);
        const float *s = a->n1;
        if (cross) {
            cross_forward(m, w, a, a->n1, a->n1, ckbuf, cvbuf, p);
            model_norm_forward(m, a->nx, a->nx_mean, a->nx_rstd, a->rx, w->lnx_w, w->lnx_b, N);
            s = a->nx;
        }
        ffn_forward(m, l, a, s, s, a->r2, N, p->T);
        model_norm_forward(m, res_out, a->n2_mean, a->n2_rstd, a->r2, w->ln2_w, w->ln2_b, N);
    }
}

/* Backward of dense_forward. d_out [N,C] = d(out); adds d(h) into d_h. */
static void dense_backward(xf_model *m, const xf_layer_w *w, xf_layer_w *g, const xf_layer_act *a,
                           const float *h, const float *d_out, float *d_h, size_t N, size_t I) {
    size_t C = m->C;
    /* out = res + Wd·fh: d(res) is the caller's; d(fh) = d_out·Wd */
    matmul_backward_write(m->d_fh, g->wd, g->bd, d_out, a->fh, w->wd, N, I, C);
    if (m->cfg.gated_ffn) {
        /* fh = act(fg) ⊙ fu */
        glu_backward_write(m->d_fg, m->d_fu, m->d_fh, a->fg, a->fu, N * I, m->cfg.hidden_act);
        matmul_backward(d_h, g->wg, g->bg, m->d_fg, h, w->wg, N, C, I);
    } else {
        /* fh = act(fu) */
        act_backward_write(m->d_fu, m->d_fh, a->fu, N * I, m->cfg.hidden_act);
    }
    /* fu = Wu·h */
    matmul_backward(d_h, g->wu, g->bu, m->d_fu, h, w->wu, N, C, I);
}

/* Backward of ffn_forward: adds d(h) into d_h. */
static void ffn_backward(xf_model *m, size_t l, const xf_layer_act *a, const float *h,
                         const float *d_out, float *d_h, size_t N, size_t T, float aux_scale) {
    const xf_layer_w *w = &m->lw[l];
    xf_layer_w *g = &m->lg[l];
    const xf_layer_info *in = &m->li[l];
    if (!in->moe) {
        dense_backward(m, w, g, a, h, d_out, d_h, N, in->I);
        return;
    }
    /* out = res + MoE(h) + shared(h) */
    xf_moe_dims d = moe_dims(m, T);
    moe_backward(d_h, g->wr, g->ew1, g->ew2, g->ew3, d_out, &m->moe_acts[in->moe_i], h, w->wr,
                    w->ew1, w->ew2, w->ew3, &d, m->cfg.router_aux_loss_coef * aux_scale,
                    m->cfg.router_z_loss_coef * aux_scale, m->moe_scratch);
    if (in->I) dense_backward(m, w, g, a, h, d_out, d_h, N, in->I);
}

/* Backward of attn_forward (training layout). d_r1 [N,C] = d(r1); adds d(h) into d_h. */
static void attn_backward(xf_model *m, const xf_layer_w *w, xf_layer_w *g, const xf_layer_act *a,
                          const float *h, const float *d_r1, float *d_h, const xf_pass *p) {
    size_t B = p->B, T = p->T, N = B * T, C = m->C, Q = m->Q, KV = m->KV, D = m->D;
    size_t H = m->cfg.num_attention_heads, Hkv = m->cfg.num_key_value_heads;
    /* r1 = res + Wo·atty */
    matmul_backward_write(m->d_atty, g->wo, g->bo, d_r1, a->atty, w->wo, N, Q, C);
    /* atty = Attn(q, k, v) (+ relative bias) */
    memset(m->d_q, 0, N * Q * sizeof(float));
    memset(m->d_k, 0, N * KV * sizeof(float));
    memset(m->d_v, 0, N * KV * sizeof(float));
    attention_backward(m->d_q, m->d_k, m->d_v, p->dbias, m->d_atty, a->atty, a->lse, a->q, a->k,
                          a->v, p->bias, &p->mask, B, T, T, T, H, Hkv, D, m->scale);
    /* q, k = RoPE(q, k) */
    if (m->cfg.position_type == XF_POS_ROPE) {
        rope_backward(m->d_q, m->rope_cos, m->rope_sin, N, T, H, D, 0);
        rope_backward(m->d_k, m->rope_cos, m->rope_sin, N, T, Hkv, D, 0);
    }
    /* q, k, v = W·h */
    matmul_backward(d_h, g->wv, g->bv, m->d_v, h, w->wv, N, C, KV);
    matmul_backward(d_h, g->wk, g->bk, m->d_k, h, w->wk, N, C, KV);
    matmul_backward(d_h, g->wq, g->bq, m->d_q, h, w->wq, N, C, Q);
}

/* Backward of cross_forward. d_rx [N,C] = d(rx); adds d(h) into d_h and d(enc) into p->d_enc. */
static void cross_backward(xf_model *m, const xf_layer_w *w, xf_layer_w *g, const xf_layer_act *a,
                           const float *h, const float *d_rx, float *d_h, const xf_pass *p) {
    size_t B = p->B, T = p->T, N = B * T, S = p->S, C = m->C, Q = m->Q, KV = m->KV, D = m->D;
    size_t H = m->cfg.num_attention_heads, Hkv = m->cfg.num_key_value_heads;
    /* rx = res + Wo·catty */
    matmul_backward_write(m->d_atty, g->co, g->cbo, d_rx, a->catty, w->co, N, Q, C);
    /* catty = Attn(cq, ck, cv) */
    memset(m->d_q, 0, N * Q * sizeof(float));
    memset(m->d_ck, 0, B * S * KV * sizeof(float));
    memset(m->d_cv, 0, B * S * KV * sizeof(float));
    attention_backward(m->d_q, m->d_ck, m->d_cv, NULL, m->d_atty, a->catty, a->clse, a->cq, a->ck,
                          a->cv, NULL, &p->xmask, B, T, S, S, H, Hkv, D, m->scale);
    /* ck, cv = W·enc */
    matmul_backward(p->d_enc, g->cv, g->cbv, m->d_cv, p->enc, w->cv, B * S, C, KV);
    matmul_backward(p->d_enc, g->ck, g->cbk, m->d_ck, p->enc, w->ck, B * S, C, KV);
    /* cq = W·h */
    matmul_backward(d_h, g->cq, g->cbq, m->d_q, h, w->cq, N, C, Q);
}

void layer_backward(xf_model *m, size_t l, const xf_layer_act *a, const float *res_in,
                       float *d_res, const xf_pass *p) {
    const xf_layer_w *w = &m->lw[l];
    xf_layer_w *g = &m->lg[l];
    int cross = m->li[l].cross;
    size_t N = p->B * p->T, NC = N * m->C;
    if (m->cfg.norm_placement == XF_NORM_PRE) {
        const float *s = cross ? a->rx : a->r1;
        /* out = s + FFN(n2): d(s) = d(out) (kept in d_res), d(n2) from the FFN */
        memset(m->d_n, 0, NC * sizeof(float));
        ffn_backward(m, l, a, a->n2, d_res, m->d_n, N, p->T, p->aux_scale);
        /* n2 = N2(s) */
        model_norm_backward(m, d_res, g->ln2_w, g->ln2_b, m->d_n, s, w->ln2_w, a->n2_mean,
                               a->n2_rstd, N);
        if (cross) {
            /* rx = r1 + Cross(nx): d(r1) = d(rx) (kept), d(nx) from cross-attention */
            memset(m->d_n, 0, NC * sizeof(float));
            cross_backward(m, w, g, a, a->nx, d_res, m->d_n, p);
            /* nx = Nx(r1) */
            model_norm_backward(m, d_res, g->lnx_w, g->lnx_b, m->d_n, a->r1, w->lnx_w, a->nx_mean,
                                   a->nx_rstd, N);
        }
        /* r1 = x + Attn(n1): d(x) = d(r1) (kept in d_res), d(n1) from attention */
        memset(m->d_n, 0, NC * sizeof(float));
        attn_backward(m, w, g, a, a->n1, d_res, m->d_n, p);
        /* n1 = N1(x) */
        model_norm_backward(m, d_res, g->ln1_w, g->ln1_b, m->d_n, res_in, w->ln1_w, a->n1_mean,
                               a->n1_rstd, N);
    } else {
        const float *s = cross ? a->nx : a->n1;
        /* out = N2(r2) */
        memset(m->d_x, 0, NC * sizeof(float));
        model_norm_backward(m, m->d_x, g->ln2_w, g->ln2_b, d_res, a->r2, w->ln2_w, a->n2_mean,
                               a->n2_rstd, N);
        /* r2 = s + FFN(s) */
        memcpy(d_res, m->d_x, NC * sizeof(float));
        ffn_backward(m, l, a, s, m->d_x, d_res, N, p->T, p->aux_scale);
        if (cross) {
            /* nx = Nx(rx) */
            memset(m->d_x, 0, NC * sizeof(float));
            model_norm_backward(m, m->d_x, g->lnx_w, g->lnx_b, d_res, a->rx, w->lnx_w, a->nx_mean,
                                   a->nx_rstd, N);
            /* rx = n1 + Cross(n1) */
            memcpy(d_res, m->d_x, NC * sizeof(float));
            cross_backward(m, w, g, a, a->n1, m->d_x, d_res, p);
        }
        /* n1 = N1(r1) */
        memset(m->d_x, 0, NC * sizeof(float));
        model_norm_backward(m, m->d_x, g->ln1_w, g->ln1_b, d_res, a->r1, w->ln1_w, a->n1_mean,
                               a->n1_rstd, N);
        /* r1 = x + Attn(x) */
        memcpy(d_res, m->d_x, NC * sizeof(float));
        attn_backward(m, w, g, a, res_in, m->d_x, d_res, p);
    }
}
