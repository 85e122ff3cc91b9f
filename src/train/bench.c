/* Training benchmark on synthetic tokens: the same step as xf_train (forward,
 * backward, clip, AdamW) timed per step; reports the median.
 *
 * FLOPs per step (for gflops): 6 per matmul weight per token (forward 2,
 * backward 4), counting the LM head, plus attention's 4·T·C per token per
 * layer forward (QKᵀ and AV), times 3 for forward + backward. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "model/model_internal.h"
#include "xfmr/train.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

xf_status xf_bench_train(const char *model_spec, size_t batch, size_t seq, size_t steps,
                         int threads, xf_bench_result *res) {
    xf_config cfg;
    xf_model *m = NULL;
    float *mom = NULL, *vel = NULL;
    int32_t *in = NULL, *tg = NULL;
    double *times = NULL;
    xf_status s = xf_config_load(&cfg, model_spec);
    if (s) return s;
    if (steps == 0) return xf_fail(XF_ERR_ARG, "--steps must be positive");
    xf_set_threads(threads);
    if ((s = xf_model_create(&m, &cfg))) return s;
    if ((s = xf_model_reserve(m, batch, seq, 1))) goto done;
    xf_model_init_weights(m, 1);
    size_t N = batch * seq;
    mom = calloc(m->nparams, sizeof(float));
    vel = calloc(m->nparams, sizeof(float));
    in = malloc(N * sizeof(int32_t));
    tg = malloc(N * sizeof(int32_t));
    times = malloc(steps * sizeof(double));
    if (!mom || !vel || !in || !tg || !times) {
        s = xf_fail(XF_ERR_OOM, "out of memory");
        goto done;
    }
    xf_rng rng;
    xf_rng_seed(&rng, 7);
    xf_train_opts o;
    xf_train_opts_default(&o);
    /* one untimed warm-up step, then the timed ones */
    for (size_t it = 0; it <= steps; it++) {
        for (size_t i = 0; i < N; i++) {
            in[i] = (int32_t)xf_rng_below(&rng, cfg.vocab_size);
            tg[i] = (int32_t)xf_rng_below(&rng, cfg.vocab_size);
        }
        double t0 = xf_now_ms();
        xf_model_zero_grad(m);
        float loss;
        if ((s = xf_model_forward(m, in, tg, batch, seq, &loss, NULL))) goto done;
        if ((s = xf_model_backward(m, 1.0f))) goto done;
        xf_clip_grad_norm(m, 1.0f);
        xf_adamw_step(m, mom, vel, it + 1, 1e-4f, &o);
        if (it) times[it - 1] = xf_now_ms() - t0;
    }
    qsort(times, steps, sizeof *times, cmp_double);
    double med = steps % 2 ? times[steps / 2] : 0.5 * (times[steps / 2 - 1] + times[steps / 2]);
    double mat = 0;
    for (size_t i = 0; i < m->ntensors; i++) {
        const xf_param_info *p = &m->table[i];
        if (p->ndim == 2 && strcmp(p->name, "model.embed_tokens.weight") &&
            strcmp(p->name, "model.embed_positions.weight"))
            mat += (double)p->numel;
    }
    if (cfg.tie_word_embeddings) mat += (double)cfg.vocab_size * cfg.hidden_size;
    double flops = 6.0 * mat * (double)N +
                   3.0 * 4.0 * (double)cfg.num_hidden_layers * (double)N * (double)seq * cfg.hidden_size;
    res->step_ms = med;
    res->tokens_per_s = (double)N / (med / 1e3);
    res->gflops = flops / (med / 1e3) / 1e9;
    res->params = xf_model_num_params(m);
done:
    free(mom);
    free(vel);
    free(in);
    free(tg);
    free(times);
    xf_model_free(m);
    return s;
}
