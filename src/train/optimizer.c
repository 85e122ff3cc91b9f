/* The optimizer object (include/xfmr/optim.h): AdamW moments owned next to the
 * options, stepped with the functions of optim.c in xf_train's order. */
#include <stdlib.h>

#include "xfmr/optim.h"

struct xf_optimizer {
    xf_model *model;
    xf_train_opts o;
    size_t n;     /* floats per moment: the parameter arena's length */
    size_t steps; /* steps taken */
    float *m, *v; /* [n] first and second moments */
};

xf_status xf_optimizer_create(xf_optimizer **out, xf_model *model, const xf_train_opts *o) {
    *out = NULL;
    if (!model || !o) return xf_fail(XF_ERR_ARG, "optimizer: no model or options");
    if (!(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1))
        return xf_fail(XF_ERR_ARG, "optimizer: beta1 %g and beta2 %g must be in [0, 1)", o->beta1, o->beta2);
    if (!(o->eps > 0) || !(o->lr >= 0) || !(o->weight_decay >= 0))
        return xf_fail(XF_ERR_ARG, "optimizer: eps %g must be > 0, lr %g and weight_decay %g >= 0", o->eps, o->lr,
                       o->weight_decay);
    xf_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt) return xf_fail(XF_ERR_OOM, "optimizer: out of memory");
    opt->model = model;
    opt->o = *o;
    opt->n = xf_model_param_arena_len(model);
    opt->m = calloc(opt->n ? opt->n : 1, sizeof(float));
    opt->v = calloc(opt->n ? opt->n : 1, sizeof(float));
    if (!opt->m || !opt->v) {
        size_t n = opt->n;
        xf_optimizer_free(opt);
        return xf_fail(XF_ERR_OOM, "optimizer: out of memory for 2 x %zu floats of moments", n);
    }
    *out = opt;
    return XF_OK;
}

void xf_optimizer_free(xf_optimizer *opt) {
    if (!opt) return;
    free(opt->m);
    free(opt->v);
    free(opt);
}

xf_status xf_optimizer_step(xf_optimizer *opt, float *lr, float *grad_norm) {
    if (!xf_model_grads(opt->model))
        return xf_fail(XF_ERR_ARG, "optimizer: the model has no gradients (xf_model_reserve with training=1)");
    float norm = xf_clip_grad_norm(opt->model, opt->o.grad_clip);
    float rate = xf_lr_at(&opt->o, opt->steps);
    xf_adamw_step(opt->model, opt->m, opt->v, opt->steps + 1, rate, &opt->o);
    xf_model_moe_update_bias(opt->model);
    xf_model_zero_grad(opt->model);
    opt->steps++;
    if (lr) *lr = rate;
    if (grad_norm) *grad_norm = norm;
    return XF_OK;
}

size_t xf_optimizer_steps(const xf_optimizer *opt) { return opt->steps; }
void xf_optimizer_set_steps(xf_optimizer *opt, size_t steps) { opt->steps = steps; }

void xf_optimizer_moments(xf_optimizer *opt, float **m, float **v, size_t *n) {
    if (m) *m = opt->m;
    if (v) *v = opt->v;
    if (n) *n = opt->n;
}
