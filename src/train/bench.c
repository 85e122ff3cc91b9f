/* Training benchmark on synthetic tokens: the same step as xf_train (forward,
 * backward, clip, AdamW) timed per step; reports the median of the wall time
 * and, separately, of the process CPU time (all threads; on a shared machine
 * the CPU time moves less with other tenants' load than the wall time).
 *
 * FLOPs per step (for gflops): 6 per matmul weight per token it sees (forward
 * 2, backward 4), counting the LM head and only the active experts, plus
 * attention's 4·Tk·C per query token per layer forward (QKᵀ and AV), times 3
 * for forward + backward. An encoder-decoder counts source and target tokens. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "model/model_internal.h"
#include "train/flops.h"
#include "xfmr/memory.h"
#include "xfmr/train.h"

/* CPU time of the whole process (all threads), ms */
static double process_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median of x[0..n) (sorts x) */
static double median(double *x, size_t n) {
    qsort(x, n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Tokens weight i sees per step: an encoder-decoder's encoder weights and
 * cross-attention k/v read the source (Ns tokens), the rest the main stack
 * (Nm); an expert sees K/E of them. */
static double weight_tokens(const xf_model *m, size_t i, double Ns, double Nm) {
    const xf_param_slot *sl = &m->slots[i];
    int role = m->table[i].role;
    int enc = m->cfg.arch == XF_ARCH_ENCODER_DECODER && !sl->top && m->li[sl->layer].stack == XF_ENC;
    double n = enc || role == XF_ROLE_CROSS_KV ? Ns : Nm;
    if (role == XF_ROLE_EXPERT) n *= (double)m->moe.K / (double)m->moe.E;
    return n;
}

/* Training FLOPs of one step of B rows of T main-stack (and S encoder) tokens:
 * 6 flops per weight per token it sees (2 forward, 4 backward), embeddings
 * excluded, plus attention's QKᵀ and AV (src/train/flops.h). */
double train_step_flops(const xf_model *m, size_t batch, size_t T, size_t S) {
    const xf_config *cfgp = &m->cfg;
    int encdec = cfgp->arch == XF_ARCH_ENCODER_DECODER;
    if (!encdec) S = 0;
    size_t N = batch * T, NS = batch * S;
    double flops = 0;
    for (size_t i = 0; i < m->ntensors; i++) {
        const xf_param_info *p = &m->table[i];
        if (p->ndim != 2 || p->role == XF_ROLE_EMBED || p->role == XF_ROLE_RELPOS) continue; /* lookups, not matmuls */
        flops += 6.0 * (double)p->numel * weight_tokens(m, i, (double)NS, (double)N);
    }
    if (cfgp->tie_word_embeddings) flops += 6.0 * (double)cfgp->vocab_size * cfgp->hidden_size * (double)N;
    /* attention: QKᵀ and AV, 4·Tk·C per query token per layer forward, x3 with backward */
    double C = (double)cfgp->hidden_size;
    flops += 12.0 * C * ((double)m->Lenc * (double)(encdec ? NS : N) * (double)(encdec ? S : T) +
                         (double)m->Ldec * (double)N * ((double)T + (encdec ? (double)S : 0.0)));
    return flops;
}

xf_status xf_bench_train(const char *model_spec, size_t batch, size_t seq, size_t target_seq, size_t steps,
                         int threads, xf_bench_result *res) {
    return xf_bench_train_dtype(model_spec, batch, seq, target_seq, steps, threads, XF_DTYPE_FP32, res);
}

xf_status xf_bench_train_dtype(const char *model_spec, size_t batch, size_t seq, size_t target_seq,
                               size_t steps, int threads, int dtype, xf_bench_result *res) {
    xf_config cfg;
    xf_status s = xf_model_open_config(&cfg, model_spec);
    if (s) return s;
    return xf_bench_train_config(&cfg, batch, seq, target_seq, steps, threads, dtype, res);
}

xf_status xf_bench_train_config(const xf_config *cfg0, size_t batch, size_t seq, size_t target_seq, size_t steps,
                                int threads, int dtype, xf_bench_result *res) {
    xf_config cfg = *cfg0;
    xf_model *m = NULL;
    float *mom = NULL, *vel = NULL;
    int32_t *in = NULL, *tg = NULL, *src = NULL;
    double *times = NULL;
    xf_status s;
    if (steps == 0) return xf_fail(XF_ERR_ARG, "--steps must be positive");
    int encdec = cfg.arch == XF_ARCH_ENCODER_DECODER;
    /* an encoder-decoder reads seq source tokens and writes target_seq (default seq) */
    size_t S = encdec ? seq : 0, T = encdec && target_seq ? target_seq : seq;
    xf_set_threads(threads);
    xf_mem_plan plan;
    xf_mem_plan_train(&plan, &cfg, batch, T, S);
    if ((s = xf_mem_check(&plan, "bench train", "use a smaller --batch or --seq, or a smaller model"))) return s;
    if ((s = xf_train_set_dtype(dtype))) return s;
    if ((s = xf_model_create(&m, &cfg))) goto done;
    if ((s = xf_model_reserve_ex(m, batch, T, S, 1))) goto done;
    xf_model_init_weights(m, 1);
    size_t N = batch * T, NS = batch * S;
    mom = calloc(m->nparams, sizeof(float));
    vel = calloc(m->nparams, sizeof(float));
    in = malloc(N * sizeof(int32_t));
    tg = malloc(N * sizeof(int32_t));
    src = malloc((NS ? NS : 1) * sizeof(int32_t));
    times = malloc(2 * steps * sizeof(double)); /* wall, then CPU */
    if (!mom || !vel || !in || !tg || !src || !times) {
        s = xf_fail(XF_ERR_OOM, "out of memory");
        goto done;
    }
    xf_rng rng;
    xf_rng_seed(&rng, 7);
    xf_train_opts o;
    xf_train_opts_default(&o);
    xf_batch b = {.B = batch, .T = T, .ids = in, .targets = tg, .S = S, .src = encdec ? src : NULL};
    /* one untimed warm-up step, then the timed ones */
    for (size_t it = 0; it <= steps; it++) {
        for (size_t i = 0; i < N; i++) {
            in[i] = (int32_t)xf_rng_below(&rng, cfg.vocab_size);
            tg[i] = (int32_t)xf_rng_below(&rng, cfg.vocab_size);
        }
        for (size_t i = 0; i < NS; i++) src[i] = (int32_t)xf_rng_below(&rng, cfg.vocab_size);
        double t0 = xf_now_ms(), c0 = process_cpu_ms();
        xf_model_zero_grad(m);
        float loss;
        if ((s = xf_model_forward_batch(m, &b, &loss, NULL))) goto done;
        if ((s = xf_model_backward(m, 1.0f))) goto done;
        xf_clip_grad_norm(m, 1.0f);
        xf_adamw_step(m, mom, vel, it + 1, 1e-4f, &o);
        xf_model_moe_update_bias(m);
        if (it) {
            times[it - 1] = xf_now_ms() - t0;
            times[steps + it - 1] = process_cpu_ms() - c0;
        }
    }
    double med = median(times, steps);
    res->cpu_ms = median(times + steps, steps);
    double flops = train_step_flops(m, batch, T, S);
    res->step_ms = med;
    res->tokens_per_s = (double)(N + NS) / (med / 1e3);
    res->gflops = flops / (med / 1e3) / 1e9;
    res->params = xf_model_num_params(m);
done:
    free(mom);
    free(vel);
    free(in);
    free(tg);
    free(src);
    free(times);
    xf_model_free(m);
    xf_train_set_dtype(XF_DTYPE_FP32);
    return s;
}
