/* Driver for the PyTorch parity test (tests/ref/parity.py):
 *
 *   ref_driver MODEL_DIR BATCH.safetensors OUT.safetensors
 *
 * Loads MODEL_DIR (config.json + model.safetensors) and BATCH ("inputs",
 * "targets": I32 [B,T], -1 = ignore), runs forward + backward and writes
 * "logits" [B,T,V], "loss" [1], "grad.<name>" for every parameter (gradient of
 * the mean loss), and "train_losses" [10]: the loss before each of 10 AdamW
 * steps on that batch (lr 1e-3, warmup 2, cosine to 1e-4 over 10 steps,
 * betas 0.9/0.95, eps 1e-8, weight decay 0.1 on matrices, clip 1.0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfmr/model.h"
#include "xfmr/safetensors.h"
#include "xfmr/train.h"

static int fail(void) {
    fprintf(stderr, "ref_driver: %s\n", xf_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: ref_driver MODEL_DIR BATCH.safetensors OUT.safetensors\n");
        return 2;
    }
    xf_model *m = NULL;
    xf_st_file *bf = NULL;
    if (xf_model_load(&m, argv[1]) || xf_st_open(&bf, argv[2])) return fail();
    const xf_st_tensor *ti = xf_st_find(bf, "inputs");
    if (!ti || ti->ndim != 2) {
        fprintf(stderr, "ref_driver: %s: need inputs [B,T]\n", argv[2]);
        return 1;
    }
    size_t B = ti->shape[0], T = ti->shape[1], N = B * T, V = xf_model_config(m)->vocab_size;
    int64_t *tmp = malloc(N * sizeof *tmp);
    int32_t *in = malloc(N * sizeof *in), *tg = malloc(N * sizeof *tg);
    if (!tmp || !in || !tg) return 1;
    if (xf_st_read_i64(bf, "inputs", tmp, 2, ti->shape)) return fail();
    for (size_t i = 0; i < N; i++) in[i] = (int32_t)tmp[i];
    if (xf_st_read_i64(bf, "targets", tmp, 2, ti->shape)) return fail();
    for (size_t i = 0; i < N; i++) tg[i] = (int32_t)tmp[i];

    if (xf_model_reserve(m, B, T, 1)) return fail();
    float loss = 0;
    xf_model_zero_grad(m);
    if (xf_model_forward(m, in, tg, B, T, &loss, NULL)) return fail();
    float *logits = malloc(N * V * sizeof(float));
    if (!logits) return 1;
    memcpy(logits, xf_model_logits(m), N * V * sizeof(float));
    if (xf_model_backward(m, 1.0f)) return fail();
    /* arena length: the end of the last tensor (moments share the layout) */
    size_t P = 0;
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        if (p->offset + p->numel > P) P = p->offset + p->numel;
    }
    float *grads = malloc(P * sizeof(float));
    if (!grads) return 1;
    memcpy(grads, xf_model_grads(m), P * sizeof(float));

    /* 10 AdamW steps on the same batch */
    xf_train_opts o;
    xf_train_opts_default(&o);
    o.lr = 1e-3f;
    o.min_lr = 1e-4f;
    o.warmup = 2;
    o.steps = 10;
    o.decay_steps = 10;
    o.beta1 = 0.9f;
    o.beta2 = 0.95f;
    o.eps = 1e-8f;
    o.weight_decay = 0.1f;
    o.grad_clip = 1.0f;
    float *mom = calloc(P, sizeof(float)), *vel = calloc(P, sizeof(float));
    float train_losses[10];
    if (!mom || !vel) return 1;
    for (size_t it = 0; it < 10; it++) {
        xf_model_zero_grad(m);
        if (xf_model_forward(m, in, tg, B, T, &train_losses[it], NULL)) return fail();
        if (xf_model_backward(m, 1.0f)) return fail();
        xf_clip_grad_norm(m, o.grad_clip);
        xf_adamw_step(m, mom, vel, it + 1, xf_lr_at(&o, it), &o);
    }

    xf_st_writer *w = NULL;
    size_t lshape[3] = {B, T, V}, one = 1, ten = 10;
    static char names[4096][128];
    size_t nt = xf_model_num_tensors(m);
    if (nt > 4096) return 1;
    if (xf_st_writer_create(&w)) return fail();
    if (xf_st_writer_add(w, "logits", XF_DT_F32, 3, lshape, logits) ||
        xf_st_writer_add(w, "loss", XF_DT_F32, 1, &one, &loss) ||
        xf_st_writer_add(w, "train_losses", XF_DT_F32, 1, &ten, train_losses))
        return fail();
    for (size_t i = 0; i < nt; i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        snprintf(names[i], sizeof names[i], "grad.%s", p->name);
        if (xf_st_writer_add(w, names[i], XF_DT_F32, p->ndim, p->shape, grads + p->offset)) return fail();
    }
    if (xf_st_writer_write(w, argv[3])) return fail();
    xf_st_writer_free(w);
    xf_st_close(bf);
    xf_model_free(m);
    free(tmp);
    free(in);
    free(tg);
    free(logits);
    free(grads);
    free(mom);
    free(vel);
    return 0;
}
