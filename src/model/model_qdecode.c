/* Decode weights: the block linears and the LM head kept in f32, bf16, f16 or
 * q8_0 (kernels/qmat.h) for inference forwards, read by fused matrix-vector
 * kernels instead of BLAS. Decoding a token streams every weight once, so the
 * bytes per weight set its speed (docs/benchmarks.md §Decoding).
 *
 * f32 points the matrices at the parameters themselves (no copy); the other
 * formats pack one buffer once. MoE experts, routers and the MLM transform stay
 * on the f32 path. Training forwards never use these (m->training). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

/* which weight of a block, its decode slot, and its shape in model symbols */
typedef struct {
    size_t w, q; /* offsetof in xf_layer_w / xf_layer_q */
    char rows, cols; /* 'C', 'Q', 'K' (KV), 'I' */
} qrow;

#define QR(f, r, c) {offsetof(xf_layer_w, f), offsetof(xf_layer_q, f), r, c}
static const qrow QROWS[] = {
    QR(wq, 'Q', 'C'), QR(wk, 'K', 'C'), QR(wv, 'K', 'C'), QR(wo, 'C', 'Q'),
    QR(cq, 'Q', 'C'), QR(ck, 'K', 'C'), QR(cv, 'K', 'C'), QR(co, 'C', 'Q'),
    QR(wg, 'I', 'C'), QR(wu, 'I', 'C'), QR(wd, 'C', 'I'),
};
#define NQROWS (sizeof QROWS / sizeof QROWS[0])

static size_t dim(const xf_model *m, size_t l, char s) {
    switch (s) {
    case 'C': return m->C;
    case 'Q': return m->Q;
    case 'K': return m->KV;
    default: return m->li[l].I;
    }
}

/* Lay out (base NULL: count) every matrix in dt; returns the bytes of the copies. */
static size_t plan(xf_model *m, xf_wtype dt, uint8_t *base) {
    size_t used = 0;
    for (size_t l = 0; l < m->L; l++)
        for (size_t i = 0; i < NQROWS; i++) {
            const float *w = *(float *const *)((const char *)&m->lw[l] + QROWS[i].w);
            xf_qmat *q = (xf_qmat *)((char *)&m->lq[l] + QROWS[i].q);
            size_t rows = dim(m, l, QROWS[i].rows), cols = dim(m, l, QROWS[i].cols);
            *q = (xf_qmat){dt, rows, cols, NULL};
            if (!w || !rows) continue;
            if (dt == XF_WT_F32) {
                q->data = (const uint8_t *)w;
                continue;
            }
            if (base) {
                qmat_pack(base + used, w, dt, rows, cols);
                q->data = base + used;
            }
            used += (qmat_bytes(dt, rows, cols) + 63) & ~(size_t)63;
        }
    m->hq = (xf_qmat){dt, m->V, m->C, NULL};
    if (dt == XF_WT_F32) {
        m->hq.data = (const uint8_t *)m->w.head;
    } else {
        if (base) {
            qmat_pack(base + used, m->w.head, dt, m->V, m->C);
            m->hq.data = base + used;
        }
        used += qmat_bytes(dt, m->V, m->C);
    }
    return used;
}

xf_status xf_model_set_decode_dtype(xf_model *m, const char *dtype) {
    int dt = dtype ? wtype_parse(dtype) : -1;
    if (dt < 0)
        return xf_fail(XF_ERR_ARG, "decode dtype '%s' is not one of f32, bf16, f16, q8_0", dtype ? dtype : "(null)");
    free(m->qbuf);
    free(m->lq);
    m->qbuf = NULL;
    m->lq = calloc(m->L ? m->L : 1, sizeof *m->lq);
    if (!m->lq) return xf_fail(XF_ERR_OOM, "out of memory");
    size_t bytes = plan(m, (xf_wtype)dt, NULL);
    if (bytes) {
        m->qbuf = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!m->qbuf) {
            free(m->lq);
            m->lq = NULL;
            return xf_fail(XF_ERR_OOM, "out of memory: %s decode weights need %.1f MiB", dtype,
                           (double)bytes / 1048576.0);
        }
        plan(m, (xf_wtype)dt, m->qbuf);
    }
    m->qdt = (xf_wtype)dt;
    return XF_OK;
}

/* A decode step runs the decoder stack (encoder layers and the cross-attention
 * k, v of the encoder output run once per source, not per token) and the head. */
size_t xf_model_decode_bytes(const xf_model *m) {
    if (!m->lq) return 0;
    size_t n = 0;
    for (size_t l = m->Lenc; l < m->L; l++)
        for (size_t i = 0; i < NQROWS; i++) {
            const xf_qmat *q = (const xf_qmat *)((const char *)&m->lq[l] + QROWS[i].q);
            if (QROWS[i].q == offsetof(xf_layer_q, ck) || QROWS[i].q == offsetof(xf_layer_q, cv)) continue;
            if (q->data) n += qmat_bytes(q->dt, q->rows, q->cols);
        }
    return n + qmat_bytes(m->hq.dt, m->hq.rows, m->hq.cols);
}

void model_free_decode(xf_model *m) {
    free(m->qbuf);
    free(m->lq);
    m->qbuf = NULL;
    m->lq = NULL;
}

/* out [N,OC] = in [N,C] w^T + b through the decode copy q when there is one
 * (inference), else the f32 weight w through BLAS. */
void model_linear(const xf_model *m, const xf_qmat *q, float *out, const float *in, const float *w,
                     const float *b, size_t N, size_t C, size_t OC) {
    if (q && q->data && !m->training) qmat_forward(out, in, q, b, N, m->qscratch);
    else matmul_forward(out, in, w, b, N, C, OC);
}

const xf_layer_q *model_layer_q(const xf_model *m, const xf_layer_w *w) {
    return m->lq && !m->training ? &m->lq[w - m->lw] : NULL;
}
