/* xfmr: training (AdamW, warmup + cosine schedule, clipping, accumulation,
 * evaluation, checkpoints, resume) and the training benchmark. */
#ifndef XFMR_TRAIN_H
#define XFMR_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/model.h"
#include "xfmr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t steps;        /* optimizer steps to reach (total, counting resumed ones) */
    size_t decay_steps;  /* cosine horizon (nanoGPT lr_decay_iters); 0 = steps */
    size_t batch, seq, accum;
    size_t warmup;
    float lr, min_lr, weight_decay, beta1, beta2, eps, grad_clip;
    size_t eval_every, eval_batches, save_every; /* 0 = never (save: only at the end) */
    double val_fraction;
    uint64_t seed;
    int threads;         /* <= 0: all cores */
    int objective;       /* xf_objective (objective.h); -1 = the architecture's default */
    size_t target_seq;   /* encoder-decoder: decoder tokens; 0 = derived from seq and the objective */
    float noise_density, mean_span, mlm_probability; /* 0 = the objective's defaults */
    float ul2_weights[3];/* R, S, X mixing weights; all 0 = defaults */
    int dtype;           /* matmul inputs: XF_DTYPE_FP32 (default) or XF_DTYPE_BF16 (fp32
                            accumulation, master weights and AdamW state stay fp32); not
                            saved in the checkpoint: pass it again on --resume */
    size_t skip_nonfinite; /* 0: a non-finite loss or gradient norm stops the run; N: skip such a
                              step (no update) and stop after N of them in a row */
    int zero;              /* launched by mpirun (docs/scale-out.md): 1 shards the AdamW moments
                              across the ranks (ZeRO-1); 0 keeps them whole on every rank */
} xf_train_opts;

enum { XF_DTYPE_FP32 = 0, XF_DTYPE_BF16 = 1 };
/* "fp32"/"f32" or "bf16" -> XF_DTYPE_*; XF_ERR_ARG naming the value otherwise */
xf_status xf_dtype_parse(const char *name, int *dtype);
/* Make the GEMMs use `dtype` (process-wide). bf16 on a CPU without AVX512-BF16
 * fails with a message naming the CPU. */
xf_status xf_train_set_dtype(int dtype);

void xf_train_opts_default(xf_train_opts *o);

/* One event for the caller's progress display. */
typedef struct {
    int is_eval;         /* 1: val_loss is set; 0: a training step */
    size_t step, steps;  /* step just finished (1-based), total */
    float loss, lr, grad_norm, val_loss;
    float aux_loss;      /* MoE: weighted load-balancing + z losses (not in loss) */
    double ms, tokens_per_s, eta_s;
    const char *warning; /* non-NULL: something to show the user (an expert collapsing) */
} xf_train_event;
/* Return nonzero to stop: the run saves a checkpoint at the current step and
 * returns XF_OK (an interrupted run resumes bit for bit). */
typedef int (*xf_train_cb)(const xf_train_event *ev, void *ctx);

typedef struct {
    const char *model;     /* preset, config file or checkpoint dir (NULL with resume) */
    const char *data;      /* token file or UTF-8 text */
    const char *out;       /* checkpoint directory */
    const char *tokenizer; /* tokenizer spec; NULL = "byte" (or the checkpoint's on resume) */
    int resume;            /* continue from `out` */
    int init_random;       /* 1: random weights even when `model` has weights (a checkpoint, .gguf, .bin) */
    const char *const *sets; /* n_sets "KEY=VALUE" config overrides (xf_config_apply_sets) */
    size_t n_sets;
    const char *val_data;  /* separate validation data (file, shard dir or glob); NULL: the
                            * tail of `data` (val_fraction) */
} xf_train_paths;

/* Whether `model` (a train --model SPEC) carries weights: a checkpoint
 * directory or a foreign model file, not a preset or a config file. */
int xf_train_spec_has_weights(const char *model);

/* Train. On resume the optimizer state, step, RNG and data position come from
 * out/train_state.safetensors and the run continues bit for bit. Appends JSONL
 * to out/log.jsonl. Bad input fails before anything in `out` is written. */
xf_status xf_train(const xf_train_paths *paths, const xf_train_opts *o, xf_train_cb cb, void *ctx);

/* Read the options a checkpoint was trained with (out/train_state.safetensors). */
xf_status xf_train_load_opts(const char *dir, xf_train_opts *o);

/* Learning rate at 0-based iteration `it` (nanoGPT get_lr). */
float xf_lr_at(const xf_train_opts *o, size_t it);

/* AdamW step t (1-based) over the model's parameters with its gradients,
 * decay only on tensors with ndim >= 2. m and v have the parameter arena's
 * layout: xf_model_param_arena_len(model) floats each (not xf_model_num_params).
 * xf_optimizer (optim.h) owns them for you. */
void xf_adamw_step(xf_model *model, float *m, float *v, size_t t, float lr,
                   const xf_train_opts *o);

/* Global L2 norm of the gradients; if clip > 0 and norm > clip, scales them by
 * clip/(norm+1e-6). Returns the norm before clipping. */
float xf_clip_grad_norm(xf_model *model, float clip);

/* Benchmark: train `steps` steps on synthetic tokens with the given shape;
 * writes median step ms, tokens/s and achieved GFLOP/s. An encoder-decoder
 * reads `seq` source tokens and predicts `target_seq` (0: seq) target tokens,
 * and tokens/s counts both. */
typedef struct {
    double step_ms, tokens_per_s, gflops;
    size_t params;
    double cpu_ms; /* median process CPU time of a step (all threads): less sensitive to other load */
} xf_bench_result;
xf_status xf_bench_train(const char *model_spec, size_t batch, size_t seq, size_t target_seq, size_t steps,
                         int threads, xf_bench_result *r);
/* The same at a matmul dtype (XF_DTYPE_*). */
xf_status xf_bench_train_dtype(const char *model_spec, size_t batch, size_t seq, size_t target_seq,
                               size_t steps, int threads, int dtype, xf_bench_result *r);
/* The same on a config already resolved (e.g. with --set overrides). */
xf_status xf_bench_train_config(const xf_config *cfg, size_t batch, size_t seq, size_t target_seq, size_t steps,
                                int threads, int dtype, xf_bench_result *r);

#ifdef __cplusplus
}
#endif

#endif
