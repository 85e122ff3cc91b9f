/* Driver for the family / MoE parity test (tests/ref/parity_families.py):
 *
 *   ref_driver_batch MODEL_DIR BATCH.safetensors OUT.safetensors
 *
 * Loads MODEL_DIR (config.json + model.safetensors) and BATCH (integer tensors,
 * any dtype xf_st_read_i64 accepts): "ids" [B,T], "targets" [B,T] (-1 = ignore),
 * and optionally "lengths" [B], "prefix_len" [B], "token_types" [B,T], "src" [B,S],
 * "src_lengths" [B], "position_ids" [B,T], "block_position_ids" [B,T]. Fills an xf_batch, reserves (B, T, S, training), runs
 * xf_model_forward_batch + xf_model_backward(1.0) and writes (all F32):
 *   "logits" [B,T,V], "loss" [1] (mean CE), "aux_loss" [1] (xf_model_aux_loss),
 *   "grad.<name>" for every tensor of the table (gradient of CE + MoE losses),
 *   "train_losses" [10] and "train_aux_losses" [10]: the mean CE and the weighted MoE
 *   loss before each of 10 AdamW steps on that batch (the recipe of ref_driver.c:
 *   lr 1e-3, warmup 2, cosine to 1e-4 over 10 steps, betas 0.9/0.95, eps 1e-8,
 *   weight decay 0.1 on matrices, clip 1.0; xf_model_moe_update_bias after each step),
 *   "final.<name>" for every tensor with trainable == 0 (its value after the 10 steps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfmr/model.h"
#include "xfmr/safetensors.h"
#include "xfmr/train.h"

#define STEPS 10

static int fail(void) {
    fprintf(stderr, "ref_driver_batch: %s\n", xf_last_error());
    return 1;
}

/* Read integer tensor `name` of exactly (ndim, shape) into a new int32 array.
 * Returns 0 and *out = NULL when the tensor is absent and optional. */
static int read_ints(const xf_st_file *f, const char *path, const char *name, size_t ndim,
                     const size_t *shape, int optional, int32_t **out) {
    *out = NULL;
    const xf_st_tensor *t = xf_st_find(f, name);
    if (!t) {
        if (optional) return 0;
        fprintf(stderr, "ref_driver_batch: %s: missing \"%s\"\n", path, name);
        return 1;
    }
    size_t n = 1;
    for (size_t i = 0; i < ndim; i++) n *= shape[i];
    int64_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    int32_t *v = malloc((n ? n : 1) * sizeof *v);
    if (!tmp || !v) {
        free(tmp);
        free(v);
        fprintf(stderr, "ref_driver_batch: out of memory\n");
        return 1;
    }
    if (xf_st_read_i64(f, name, tmp, ndim, shape)) {
        free(tmp);
        free(v);
        return fail();
    }
    for (size_t i = 0; i < n; i++) v[i] = (int32_t)tmp[i];
    free(tmp);
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: ref_driver_batch MODEL_DIR BATCH.safetensors OUT.safetensors\n");
        return 2;
    }
    xf_model *m = NULL;
    xf_st_file *bf = NULL;
    if (xf_model_open(&m, argv[1]) || xf_st_open(&bf, argv[2])) return fail(); /* any source: also HF dirs */
    const xf_st_tensor *ti = xf_st_find(bf, "ids");
    if (!ti || ti->ndim != 2) {
        fprintf(stderr, "ref_driver_batch: %s: need ids [B,T]\n", argv[2]);
        return 1;
    }
    size_t B = ti->shape[0], T = ti->shape[1], N = B * T, V = xf_model_config(m)->vocab_size;
    size_t S = 0;
    const xf_st_tensor *ts = xf_st_find(bf, "src");
    if (ts) {
        if (ts->ndim != 2 || ts->shape[0] != B) {
            fprintf(stderr, "ref_driver_batch: %s: need src [B,S]\n", argv[2]);
            return 1;
        }
        S = ts->shape[1];
    }
    size_t bt[2] = {B, T}, bs[2] = {B, S};
    int32_t *ids, *tg, *lengths, *prefix_len, *types, *src = NULL, *src_lengths = NULL, *pos, *blk;
    if (read_ints(bf, argv[2], "ids", 2, bt, 0, &ids) ||
        read_ints(bf, argv[2], "targets", 2, bt, 0, &tg) ||
        read_ints(bf, argv[2], "lengths", 1, bt, 1, &lengths) ||
        read_ints(bf, argv[2], "prefix_len", 1, bt, 1, &prefix_len) ||
        read_ints(bf, argv[2], "token_types", 2, bt, 1, &types) ||
        read_ints(bf, argv[2], "position_ids", 2, bt, 1, &pos) ||
        read_ints(bf, argv[2], "block_position_ids", 2, bt, 1, &blk) ||
        (ts && (read_ints(bf, argv[2], "src", 2, bs, 0, &src) ||
                read_ints(bf, argv[2], "src_lengths", 1, bs, 1, &src_lengths))))
        return 1;
    if (!ts && xf_st_find(bf, "src_lengths")) {
        fprintf(stderr, "ref_driver_batch: %s: src_lengths without src\n", argv[2]);
        return 1;
    }

    xf_batch b;
    memset(&b, 0, sizeof b);
    b.B = B;
    b.T = T;
    b.ids = ids;
    b.targets = tg;
    b.lengths = lengths;
    b.prefix_len = prefix_len;
    b.token_types = types;
    b.S = S;
    b.src = src;
    b.src_lengths = src_lengths;
    b.position_ids = pos;
    b.block_position_ids = blk;

    if (xf_model_reserve_ex(m, B, T, S, 1)) return fail();
    float loss = 0, aux = 0;
    xf_model_zero_grad(m);
    if (xf_model_forward_batch(m, &b, &loss, NULL)) return fail();
    aux = xf_model_aux_loss(m);
    float *logits = malloc(N * V * sizeof(float));
    if (!logits) return 1;
    memcpy(logits, xf_model_logits(m), N * V * sizeof(float));
    if (xf_model_backward(m, 1.0f)) return fail();
    /* arena length: the end of the last tensor (moments share the layout) */
    size_t P = 0, nt = xf_model_num_tensors(m);
    for (size_t i = 0; i < nt; i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        if (p->offset + p->numel > P) P = p->offset + p->numel;
    }
    float *grads = malloc((P ? P : 1) * sizeof(float));
    if (!grads) return 1;
    memcpy(grads, xf_model_grads(m), P * sizeof(float));

    /* 10 AdamW steps on the same batch (ref_driver.c's recipe) */
    xf_train_opts o;
    xf_train_opts_default(&o);
    o.lr = 1e-3f;
    o.min_lr = 1e-4f;
    o.warmup = 2;
    o.steps = STEPS;
    o.decay_steps = STEPS;
    o.beta1 = 0.9f;
    o.beta2 = 0.95f;
    o.eps = 1e-8f;
    o.weight_decay = 0.1f;
    o.grad_clip = 1.0f;
    float *mom = calloc(P ? P : 1, sizeof(float)), *vel = calloc(P ? P : 1, sizeof(float));
    float train_losses[STEPS], train_aux[STEPS];
    if (!mom || !vel) return 1;
    for (size_t it = 0; it < STEPS; it++) {
        xf_model_zero_grad(m);
        if (xf_model_forward_batch(m, &b, &train_losses[it], NULL)) return fail();
        train_aux[it] = xf_model_aux_loss(m);
        if (xf_model_backward(m, 1.0f)) return fail();
        xf_clip_grad_norm(m, o.grad_clip);
        xf_adamw_step(m, mom, vel, it + 1, xf_lr_at(&o, it), &o);
        xf_model_moe_update_bias(m);
    }

    xf_st_writer *w = NULL;
    size_t lshape[3] = {B, T, V}, one = 1, steps = STEPS;
    char(*names)[128] = calloc(2 * (nt ? nt : 1), sizeof *names);
    if (!names) return 1;
    const float *params = xf_model_params(m);
    if (xf_st_writer_create(&w)) return fail();
    if (xf_st_writer_add(w, "logits", XF_DT_F32, 3, lshape, logits) ||
        xf_st_writer_add(w, "loss", XF_DT_F32, 1, &one, &loss) ||
        xf_st_writer_add(w, "aux_loss", XF_DT_F32, 1, &one, &aux) ||
        xf_st_writer_add(w, "train_losses", XF_DT_F32, 1, &steps, train_losses) ||
        xf_st_writer_add(w, "train_aux_losses", XF_DT_F32, 1, &steps, train_aux))
        return fail();
    for (size_t i = 0; i < nt; i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        snprintf(names[2 * i], sizeof names[0], "grad.%s", p->name);
        if (xf_st_writer_add(w, names[2 * i], XF_DT_F32, p->ndim, p->shape, grads + p->offset))
            return fail();
        if (!p->trainable) {
            snprintf(names[2 * i + 1], sizeof names[0], "final.%s", p->name);
            if (xf_st_writer_add(w, names[2 * i + 1], XF_DT_F32, p->ndim, p->shape,
                                 params + p->offset))
                return fail();
        }
    }
    if (xf_st_writer_write(w, argv[3])) return fail();
    xf_st_writer_free(w);
    xf_st_close(bf);
    xf_model_free(m);
    free(names);
    free(ids);
    free(tg);
    free(lengths);
    free(prefix_len);
    free(types);
    free(src);
    free(src_lengths);
    free(pos);
    free(blk);
    free(logits);
    free(grads);
    free(mom);
    free(vel);
    return 0;
}
