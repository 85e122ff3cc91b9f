/* xfmr: an optimizer object that owns its state. It wraps the AdamW step,
 * the warmup + cosine schedule and global-norm clipping of train.h (the same
 * functions xf_train uses, in the same order), so an embedder's loop is
 *
 *   xf_optimizer_create(&opt, model, &opts);        (model reserved with training=1)
 *   for each step:  xf_model_forward_batch(...); xf_model_backward(model, 1);
 *                   xf_optimizer_step(opt, &lr, &norm);
 *   xf_optimizer_free(opt);
 *
 * The moments are laid out like the parameter arena: two arrays of
 * xf_model_param_arena_len(model) floats, zeroed at creation. */
#ifndef XFMR_OPTIM_H
#define XFMR_OPTIM_H

#include <stddef.h>

#include "xfmr/model.h"
#include "xfmr/status.h"
#include "xfmr/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xf_optimizer xf_optimizer;

/* AdamW for `model` with the schedule and hyperparameters of `o` (lr, min_lr,
 * warmup, steps, decay_steps, weight_decay, beta1, beta2, eps, grad_clip;
 * xf_train_opts_default gives nanoGPT's). `o` is copied; `model` is borrowed
 * and must outlive the optimizer. */
xf_status xf_optimizer_create(xf_optimizer **out, xf_model *model, const xf_train_opts *o);
void xf_optimizer_free(xf_optimizer *opt); /* NULL-safe */

/* One step from the gradients xf_model_backward accumulated: clip them to
 * grad_clip (when > 0), lr = xf_lr_at(o, steps taken), AdamW step number
 * steps taken + 1, the MoE balancing-bias update, then zero the gradients for
 * the next step. *lr and *grad_norm (the norm before clipping) may be NULL.
 * XF_ERR_ARG when the model has no gradients (not reserved for training). */
xf_status xf_optimizer_step(xf_optimizer *opt, float *lr, float *grad_norm);

/* Steps taken so far; set it (with the moments) to resume from a checkpoint. */
size_t xf_optimizer_steps(const xf_optimizer *opt);
void xf_optimizer_set_steps(xf_optimizer *opt, size_t steps);

/* The first and second moments, n floats each (n = xf_model_param_arena_len),
 * owned by the optimizer: read them to save, write them to restore. */
void xf_optimizer_moments(xf_optimizer *opt, float **m, float **v, size_t *n);

#ifdef __cplusplus
}
#endif

#endif
