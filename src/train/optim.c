/* AdamW (PyTorch semantics, decoupled decay), global-norm clipping and the
 * warmup + cosine schedule (docs/algorithms.md §6).
 *
 *   θ ← θ − lr·λ·θ                 (only tensors with ndim >= 2)
 *   m ← β1·m + (1−β1)·g ;  v ← β2·v + (1−β2)·g²
 *   θ ← θ − lr·(m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps)
 * Tensors marked not trainable in the parameter table are left alone. */
#include <math.h>

#include <string.h>

#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "model/model_internal.h"
#include "train/adamw.h"
#include "xfmr/train.h"

xf_status xf_dtype_parse(const char *name, int *dtype) {
    if (!strcmp(name, "fp32") || !strcmp(name, "f32")) *dtype = XF_DTYPE_FP32;
    else if (!strcmp(name, "bf16")) *dtype = XF_DTYPE_BF16;
    else return xf_fail(XF_ERR_ARG, "--dtype '%s': expected fp32 or bf16", name);
    return XF_OK;
}

xf_status xf_train_set_dtype(int dtype) {
    if (dtype != XF_DTYPE_FP32 && dtype != XF_DTYPE_BF16)
        return xf_fail(XF_ERR_ARG, "dtype %d: expected fp32 or bf16", dtype);
    xf_status s = gemm_set_precision(dtype == XF_DTYPE_BF16 ? XF_GEMM_BF16 : XF_GEMM_FP32);
    if (s) return xf_fail(s, "--dtype bf16: %s", xf_last_error());
    return XF_OK;
}

float xf_lr_at(const xf_train_opts *o, size_t it) {
    size_t W = o->warmup, Dk = o->decay_steps ? o->decay_steps : o->steps;
    if (it < W) return o->lr * (float)(it + 1) / (float)(W + 1);
    if (it > Dk || Dk <= W) return o->min_lr;
    double ratio = (double)(it - W) / (double)(Dk - W);
    double coeff = 0.5 * (1.0 + cos(3.14159265358979323846 * ratio));
    return (float)(o->min_lr + coeff * (o->lr - o->min_lr));
}

/* parameters [j0, j1) of one tensor: the update above, one vectorised loop
 * (XF_SIMD_CLONES; sqrtf vectorises under the build's -fno-math-errno) */
static XF_SIMD_CLONES void adamw_range(float *p, const float *g, float *m, float *v, size_t j0,
                                       size_t j1, float b1, float b2, float bc1, float bc2,
                                       float lr, float eps, float decay) {
#pragma omp simd
    for (size_t j = j0; j < j1; j++) {
        float gj = g[j];
        p[j] -= decay * p[j];
        m[j] = b1 * m[j] + (1.0f - b1) * gj;
        v[j] = b2 * v[j] + (1.0f - b2) * gj * gj;
        float mhat = m[j] / bc1, vhat = v[j] / bc2;
        p[j] -= lr * mhat / (sqrtf(vhat) + eps);
    }
}

/* parameters per parallel task of the AdamW step */
#define ADAMW_CHUNK 16384

void xf_adamw_step(xf_model *model, float *m, float *v, size_t t, float lr,
                   const xf_train_opts *o) {
    adamw_update_range(model, m, v, 0, model->nparams, t, lr, o);
}

void adamw_update_range(xf_model *model, float *m, float *v, size_t lo, size_t hi, size_t t, float lr,
                    const xf_train_opts *o) {
    const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    const float bc1 = 1.0f - powf(b1, (float)t), bc2 = 1.0f - powf(b2, (float)t);
    float *p = model->params, *g = model->grads;
    for (size_t i = 0; i < model->ntensors; i++) {
        const xf_param_info *info = &model->table[i];
        if (!info->trainable) continue; /* a buffer (the MoE balancing bias) */
        const float decay = info->decay ? lr * o->weight_decay : 0.0f;
        const size_t a = info->offset > lo ? info->offset : lo;
        const size_t b = info->offset + info->numel < hi ? info->offset + info->numel : hi;
        if (a >= b) continue;
        const size_t n = b - a, nchunks = (n + ADAMW_CHUNK - 1) / ADAMW_CHUNK;
#pragma omp parallel for schedule(static) if (nchunks > 1)
        for (size_t c = 0; c < nchunks; c++) {
            size_t j0 = c * ADAMW_CHUNK, j1 = j0 + ADAMW_CHUNK < n ? j0 + ADAMW_CHUNK : n;
            adamw_range(p + a, g + a, m + (a - lo), v + (a - lo), j0, j1, b1, b2, bc1, bc2, lr, eps, decay);
        }
    }
}

float xf_clip_grad_norm(xf_model *model, float clip) {
    /* padding between tensors is zero, so the whole arena can be summed;
     * per-thread partial sums in a fixed order keep the result deterministic */
    double total = 0;
    const float *g = model->grads;
    size_t n = model->nparams;
    enum { CHUNKS = 64 };
    double part[CHUNKS] = {0};
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < CHUNKS; c++) {
        size_t lo = n * c / CHUNKS, hi = n * (c + 1) / CHUNKS;
        double s = 0;
        for (size_t j = lo; j < hi; j++) s += (double)g[j] * g[j];
        part[c] = s;
    }
    for (size_t c = 0; c < CHUNKS; c++) total += part[c];
    float norm = (float)sqrt(total);
    if (clip > 0 && norm > clip) {
        float scale = clip / (norm + 1e-6f);
        float *gw = model->grads;
#pragma omp parallel for schedule(static)
        for (size_t j = 0; j < n; j++) gw[j] *= scale;
    }
    return norm;
}
