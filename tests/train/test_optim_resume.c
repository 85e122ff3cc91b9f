/* Resume state of the optimizer object (include/xfmr/optim.h), without the
 * trainer: 4 steps with one optimizer, and 2 steps, then the weights, both
 * moments and the step count copied into a fresh model and optimizer, then 2
 * more, end with the same weights bit for bit (the schedule has warmup and
 * cosine decay and clipping is on, so a wrong step count or a lost moment
 * shows). A resume that forgets the step count (bias correction and learning
 * rate of step 1 again) is shown to differ, so the comparison can fail. */
#include "test.h"
#include "xfmr/xfmr.h"

static xf_model *model(void) {
    xf_config c;
    xf_config_defaults(&c);
    c.vocab_size = 13;
    c.hidden_size = 8;
    c.intermediate_size = 16;
    c.num_hidden_layers = 1;
    c.num_attention_heads = 2;
    c.num_key_value_heads = 2;
    c.max_position_embeddings = 8;
    xf_model *m = NULL;
    CHECK_OK(xf_model_create(&m, &c));
    xf_model_init_weights(m, 9);
    CHECK_OK(xf_model_reserve(m, 2, 6, 1));
    return m;
}

static xf_train_opts sched(void) {
    xf_train_opts o;
    xf_train_opts_default(&o);
    o.lr = 1e-2f;
    o.min_lr = 1e-3f;
    o.warmup = 1;
    o.steps = 4;
    o.decay_steps = 0;
    o.grad_clip = 0.5f;
    o.weight_decay = 0.1f;
    return o;
}

/* One training step on a fixed batch that depends on the step number. */
static void step(xf_model *m, xf_optimizer *opt, int s) {
    int32_t in[12], tg[12];
    for (int i = 0; i < 12; i++) in[i] = (i * 5 + s) % 13, tg[i] = (i * 3 + 2 * s + 1) % 13;
    float loss = 0;
    CHECK_OK(xf_model_forward(m, in, tg, 2, 6, &loss, NULL));
    CHECK_OK(xf_model_backward(m, 1.0f));
    CHECK_OK(xf_optimizer_step(opt, NULL, NULL));
}

/* A fresh model and optimizer holding a's weights and moments, at `steps`. */
static void restore(xf_model *dst, xf_optimizer *dopt, xf_model *src, xf_optimizer *sopt, size_t steps) {
    size_t n = xf_model_param_arena_len(src);
    CHECK(xf_model_param_arena_len(dst) == n);
    memcpy(xf_model_params(dst), xf_model_params(src), n * sizeof(float));
    float *sm, *sv, *dm, *dv;
    size_t sn, dn;
    xf_optimizer_moments(sopt, &sm, &sv, &sn);
    xf_optimizer_moments(dopt, &dm, &dv, &dn);
    CHECK(sn == n && dn == n);
    memcpy(dm, sm, n * sizeof(float));
    memcpy(dv, sv, n * sizeof(float));
    xf_optimizer_set_steps(dopt, steps);
}

TEST(test_optimizer_resume_bit_for_bit) {
    xf_train_opts o = sched();
    xf_model *a = model(), *b = model(), *c = model(), *d = model();
    xf_optimizer *oa = NULL, *ob = NULL, *oc = NULL, *od = NULL;
    CHECK_OK(xf_optimizer_create(&oa, a, &o));
    CHECK_OK(xf_optimizer_create(&ob, b, &o));
    CHECK_OK(xf_optimizer_create(&oc, c, &o));
    CHECK_OK(xf_optimizer_create(&od, d, &o));
    for (int s = 0; s < 4; s++) step(a, oa, s); /* straight through */
    for (int s = 0; s < 2; s++) step(b, ob, s); /* half, then resumed in c */
    CHECK(xf_optimizer_steps(ob) == 2);
    restore(c, oc, b, ob, xf_optimizer_steps(ob));
    restore(d, od, b, ob, 0); /* the same, but the step count lost */
    for (int s = 2; s < 4; s++) step(c, oc, s), step(d, od, s);
    CHECK(xf_optimizer_steps(oa) == 4 && xf_optimizer_steps(oc) == 4 && xf_optimizer_steps(od) == 2);
    size_t n = xf_model_param_arena_len(a);
    CHECK_MSG(memcmp(xf_model_params(a), xf_model_params(c), n * sizeof(float)) == 0,
              "weights after 2 + 2 resumed steps differ from 4 straight steps");
    float *ma, *va, *mc, *vc;
    size_t na, nc;
    xf_optimizer_moments(oa, &ma, &va, &na);
    xf_optimizer_moments(oc, &mc, &vc, &nc);
    CHECK(memcmp(ma, mc, n * sizeof(float)) == 0 && memcmp(va, vc, n * sizeof(float)) == 0);
    CHECK_MSG(memcmp(xf_model_params(a), xf_model_params(d), n * sizeof(float)) != 0,
              "a resume without the step count gave the same weights: the comparison cannot fail");
    xf_optimizer_free(oa);
    xf_optimizer_free(ob);
    xf_optimizer_free(oc);
    xf_optimizer_free(od);
    xf_model_free(a);
    xf_model_free(b);
    xf_model_free(c);
    xf_model_free(d);
}

int main(void) {
    xf_set_threads(1);
    RUN(test_optimizer_resume_bit_for_bit);
    return test_summary();
}
