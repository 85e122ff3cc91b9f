/* The optimizer pieces against hand-written arithmetic: the warmup + cosine
 * schedule at chosen iterations, AdamW's first two steps element by element in
 * double (decoupled decay only on ndim >= 2, buffers untouched), global-norm
 * clipping, and the optimizer object (moments sized like the parameter arena,
 * gradients zeroed after a step, a tiny model's loss going down). Only the
 * public API is used. */
#include "test.h"
#include "xfmr/xfmr.h"

static xf_config tiny(void) {
    xf_config c;
    xf_config_defaults(&c);
    c.vocab_size = 11;
    c.hidden_size = 8;
    c.intermediate_size = 12;
    c.num_hidden_layers = 1;
    c.num_attention_heads = 2;
    c.num_key_value_heads = 2;
    c.max_position_embeddings = 8;
    c.tie_word_embeddings = 0;
    return c;
}

/* A tiny model with zeroed weights, reserved for training when `training`. */
static xf_model *tiny_model(int training) {
    xf_config c = tiny();
    xf_model *m = NULL;
    CHECK_OK(xf_model_create(&m, &c));
    if (training) CHECK_OK(xf_model_reserve(m, 1, 4, 1));
    return m;
}

static xf_train_opts const_lr(float lr) {
    xf_train_opts o;
    xf_train_opts_default(&o);
    o.lr = o.min_lr = lr;
    o.warmup = 0;
    o.steps = 1000;
    o.grad_clip = 0;
    o.weight_decay = 0.1f;
    o.beta1 = 0.9f;
    o.beta2 = 0.95f;
    o.eps = 1e-8f;
    return o;
}

TEST(test_lr_schedule) {
    xf_train_opts o;
    xf_train_opts_default(&o);
    o.lr = 1e-3f;
    o.min_lr = 1e-4f;
    o.warmup = 4;
    o.steps = 20;
    o.decay_steps = 0;
    /* warmup: lr * (it + 1) / (warmup + 1) */
    CHECK_NEAR(xf_lr_at(&o, 0), 2e-4, 1e-9);
    CHECK_NEAR(xf_lr_at(&o, 3), 8e-4, 1e-9);
    /* cosine over it - 4 in [0, 16]: min + 0.5 (1 + cos(pi r)) (lr - min) */
    CHECK_NEAR(xf_lr_at(&o, 4), 1e-3, 1e-9);
    CHECK_NEAR(xf_lr_at(&o, 8), 8.6819805e-4, 1e-9);  /* r = 1/4: coeff 0.85355339 */
    CHECK_NEAR(xf_lr_at(&o, 12), 5.5e-4, 1e-9);       /* r = 1/2: halfway */
    CHECK_NEAR(xf_lr_at(&o, 20), 1e-4, 1e-9);         /* r = 1: min_lr */
    CHECK_NEAR(xf_lr_at(&o, 25), 1e-4, 1e-9);         /* past the horizon */
    o.decay_steps = 12;                                /* horizon before the last step */
    CHECK_NEAR(xf_lr_at(&o, 8), 5.5e-4, 1e-9);
    CHECK_NEAR(xf_lr_at(&o, 15), 1e-4, 1e-9);
}

/* Deterministic, distinct values for parameter j and gradient j at step s. */
static float pval(size_t j) { return 0.3f * sinf(0.7f * (float)j + 0.1f); }
static float gval(size_t j, int s) { return 0.05f * cosf(1.3f * (float)j + (float)s) + (j % 7 == 0 ? 1e-3f : 0.0f); }

TEST(test_adamw_two_steps_by_hand) {
    xf_model *m = tiny_model(1);
    size_t n = xf_model_param_arena_len(m);
    CHECK(n >= xf_model_num_params(m));
    float *p = xf_model_params(m), *g = xf_model_grads(m);
    double *ref = calloc(n, sizeof *ref), *rm = calloc(n, sizeof *rm), *rv = calloc(n, sizeof *rv);
    CHECK(ref && rm && rv);
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *t = xf_model_tensor(m, i);
        for (size_t j = t->offset; j < t->offset + t->numel; j++) p[j] = pval(j), ref[j] = p[j];
    }
    xf_train_opts o = const_lr(0.01f);
    xf_optimizer *opt = NULL;
    CHECK_OK(xf_optimizer_create(&opt, m, &o));
    float *om, *ov;
    size_t on;
    xf_optimizer_moments(opt, &om, &ov, &on);
    CHECK(on == n);
    const double lr = 0.01, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
    for (int s = 1; s <= 2; s++) {
        for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
            const xf_param_info *t = xf_model_tensor(m, i);
            for (size_t j = t->offset; j < t->offset + t->numel; j++) {
                g[j] = gval(j, s);
                double gj = g[j];
                if (t->ndim >= 2) ref[j] -= lr * wd * ref[j];
                rm[j] = b1 * rm[j] + (1 - b1) * gj;
                rv[j] = b2 * rv[j] + (1 - b2) * gj * gj;
                double mh = rm[j] / (1 - pow(b1, s)), vh = rv[j] / (1 - pow(b2, s));
                ref[j] -= lr * mh / (sqrt(vh) + eps);
            }
        }
        float used = 0;
        CHECK_OK(xf_optimizer_step(opt, &used, NULL));
        CHECK_NEAR(used, 0.01, 1e-9);
        CHECK(xf_optimizer_steps(opt) == (size_t)s);
        double worst = 0;
        for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
            const xf_param_info *t = xf_model_tensor(m, i);
            for (size_t j = t->offset; j < t->offset + t->numel; j++) {
                double e = fabs(p[j] - ref[j]) / (fabs(ref[j]) > 1e-2 ? fabs(ref[j]) : 1e-2);
                if (e > worst) worst = e;
                CHECK_MSG(fabs(om[j] - rm[j]) <= 1e-5 * fabs(rm[j]) + 1e-10, "m[%zu] %g vs %g", j, om[j], rm[j]);
                CHECK_MSG(g[j] == 0.0f, "gradient %zu not zeroed after the step", j);
            }
        }
        CHECK_MSG(worst < 1e-5, "step %d: max relative error %g", s, worst);
    }
    xf_optimizer_free(opt);
    xf_model_free(m);
    free(ref);
    free(rm);
    free(rv);
}

TEST(test_clip_grad_norm) {
    xf_model *m = tiny_model(1);
    float *g = xf_model_grads(m);
    double ss = 0;
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *t = xf_model_tensor(m, i);
        for (size_t j = t->offset; j < t->offset + t->numel; j++) g[j] = gval(j, 3), ss += (double)g[j] * g[j];
    }
    double norm = sqrt(ss);
    /* no clipping: the norm is reported and nothing changes */
    float before = g[xf_model_tensor(m, 0)->offset];
    CHECK_NEAR(xf_clip_grad_norm(m, 0), norm, 1e-5 * norm);
    CHECK(g[xf_model_tensor(m, 0)->offset] == before);
    CHECK_NEAR(xf_clip_grad_norm(m, (float)(2 * norm)), norm, 1e-5 * norm);
    CHECK(g[xf_model_tensor(m, 0)->offset] == before);
    /* clip to half: every gradient scaled by clip / (norm + 1e-6), the new norm is the clip */
    float clip = (float)(norm / 2);
    CHECK_NEAR(xf_clip_grad_norm(m, clip), norm, 1e-5 * norm);
    double scale = clip / (norm + 1e-6), ss2 = 0;
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *t = xf_model_tensor(m, i);
        for (size_t j = t->offset; j < t->offset + t->numel; j++) {
            CHECK_NEAR(g[j], gval(j, 3) * scale, 1e-7);
            ss2 += (double)g[j] * g[j];
        }
    }
    CHECK_NEAR(sqrt(ss2), clip, 1e-5 * clip);
    xf_model_free(m);
}

TEST(test_optimizer_lowers_loss) {
    xf_model *m = tiny_model(0);
    xf_model_init_weights(m, 5);
    xf_train_opts o = const_lr(3e-2f);
    xf_optimizer *opt = NULL;
    CHECK_OK(xf_optimizer_create(&opt, m, &o));
    /* no gradients yet: refused, nothing changes */
    CHECK(xf_optimizer_step(opt, NULL, NULL) == XF_ERR_ARG);
    CHECK(xf_optimizer_steps(opt) == 0);
    CHECK_OK(xf_model_reserve(m, 2, 6, 1));
    int32_t in[12], tg[12];
    for (int i = 0; i < 12; i++) in[i] = (i * 5 + 1) % 11, tg[i] = (i * 3 + 2) % 11;
    float first = 0, loss = 0;
    for (int s = 0; s < 30; s++) {
        CHECK_OK(xf_model_forward(m, in, tg, 2, 6, &loss, NULL));
        if (s == 0) first = loss;
        CHECK_OK(xf_model_backward(m, 1.0f));
        float norm = 0;
        CHECK_OK(xf_optimizer_step(opt, NULL, &norm));
        CHECK(norm > 0);
    }
    CHECK_MSG(loss < 0.5f * first, "loss %g after 30 steps, %g at first", loss, first);
    xf_optimizer_free(opt);
    xf_model_free(m);
}

TEST(test_optimizer_refuses_bad_opts) {
    xf_model *m = tiny_model(0);
    xf_train_opts o = const_lr(1e-3f);
    xf_optimizer *opt = NULL;
    o.beta1 = 1.0f;
    CHECK(xf_optimizer_create(&opt, m, &o) == XF_ERR_ARG && opt == NULL);
    CHECK(strstr(xf_last_error(), "beta1") != NULL);
    o = const_lr(1e-3f);
    o.eps = 0;
    CHECK(xf_optimizer_create(&opt, m, &o) == XF_ERR_ARG && opt == NULL);
    xf_optimizer_free(NULL);
    xf_model_free(m);
}

int main(void) {
    xf_set_threads(1);
    RUN(test_lr_schedule);
    RUN(test_adamw_two_steps_by_hand);
    RUN(test_clip_grad_norm);
    RUN(test_optimizer_lowers_loss);
    RUN(test_optimizer_refuses_bad_opts);
    return test_summary();
}
