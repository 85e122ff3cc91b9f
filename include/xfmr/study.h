/* xfmr study (docs/study.md): train a grid of models (family x objective x
 * dense/MoE) on the same data at equal training FLOPs, then evaluate every
 * one on the same held-out text with measures that compare across
 * objectives. The library part: the grid (study_grid.c), the sizing to the
 * budget (study_grid.c), the fixed evaluation sets and the evaluation
 * (study_eval.c), the run with its resumable state file (study.c). The CLI
 * (src/cli/cmd_study.c) parses flags, shows progress and writes the report. */
#ifndef XF_TRAIN_STUDY_H
#define XF_TRAIN_STUDY_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/config.h"
#include "xfmr/data.h"
#include "xfmr/objective.h"
#include "xfmr/status.h"
#include "xfmr/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XF_STUDY_MAX_ROWS 64
#define XF_STUDY_MAX_SETS 24
#define XF_STUDY_SET_LEN 160
#define XF_STUDY_MAX_CURVE 64

/* ---- the grid (study_grid.c) ------------------------------------------- */

/* One model of the grid: a family, an objective, dense or MoE, and for a user
 * grid the config fields it sets ("key=<json>", checked as config.json). */
typedef struct {
    char name[64];
    char objective[16];       /* as written; parsed when the study runs */
    xf_arch arch;
    int moe;                  /* 1: the MoE twin (8 experts, top-2, half-width: equal active params) */
    char sets[XF_STUDY_MAX_SETS][XF_STUDY_SET_LEN];
    size_t n_sets;
    int fixed_shape;          /* the sets give hidden_size or num_hidden_layers: not sized */
} xf_study_row;

typedef struct {
    char name[256];           /* "default" or the file */
    xf_study_row rows[XF_STUDY_MAX_ROWS];
    size_t n;
} xf_study_grid;

/* "default" (the table in study_grid.c) or a JSON file:
 *   {"models": [{"name": "gpt", "arch": "decoder", "objective": "clm",
 *                "moe": false, "config": {"hidden_size": 64, ...}}, ...]}
 * name, moe and config are optional. Anything malformed is one line naming the
 * file, the entry and the problem. */
xf_status xf_study_grid_load(xf_study_grid *g, const char *spec);

/* ---- sizing to the budget (study_grid.c) ------------------------------- */

typedef struct {
    size_t batch, seq;        /* rows per step, tokens per row (encoder-decoder: source tokens) */
    size_t vocab;             /* the tokenizer's ids (the config pads it) */
    double budget;            /* training FLOPs per model */
} xf_study_shape_opts;

typedef struct {
    xf_config cfg;
    size_t T, S;              /* main-stack and encoder tokens per row */
    size_t target_seq;        /* train's --target-seq (encoder-decoder) */
    double flops_per_step;    /* bench's count (src/train/flops.h) */
    size_t steps;             /* floor(budget / flops_per_step) */
    size_t params, active_params;
    size_t shape;             /* row of the shape table, or (size_t)-1 for a fixed user shape */
} xf_study_plan;

/* Parameters a token passes through: every trainable parameter, an expert's
 * counted K/E times (the MoE twin of a dense model has the same number). */
size_t xf_study_active_params(const xf_config *cfg);

/* The config and step count of `row` for the budget: the largest shape of the
 * table whose steps * tokens reach 20 tokens per active parameter
 * (Chinchilla's ratio), else the smallest; a fixed user shape as it is.
 * XF_ERR_ARG when the budget does not pay for one step, or when the objective
 * is unknown to this build or makes no sense for the family (the message says). */
xf_status xf_study_plan_row(const xf_study_row *row, const xf_study_shape_opts *o, xf_study_plan *p);

/* ---- evaluation (study_eval.c) ----------------------------------------- */

/* The fixed held-out sets: windows of the validation split, the same for
 * every model. */
typedef struct {
    size_t T, n_lm;           /* bpb: n_lm windows of T + 1 tokens */
    int32_t *lm;              /* [n_lm, T+1] */
    double lm_bytes;          /* bytes the predicted tokens (all but each window's first) spell */
    size_t L, n_dn;           /* denoising: n_dn windows of L tokens */
    int32_t *dn;              /* [n_dn, L] */
    uint8_t *mask;            /* [n_dn, L] 1 = corrupted (T5 spans, density 0.15, mean 3, fixed seed) */
    size_t n_masked;
} xf_study_evalset;

/* L is the largest window whose T5-style corruption, inputs and targets
 * together, fits in seq tokens (so it fits every family's training shape). */
xf_status xf_study_evalset_make(xf_study_evalset *e, const xf_dataset *ds, const xf_tokenizer *tok, size_t seq,
                                size_t max_windows, uint64_t seed);
void xf_study_evalset_free(xf_study_evalset *e);

typedef struct {
    double bpb;               /* bits per byte of next-token prediction; NAN: not a left-to-right model */
    double denoise;           /* mean cross-entropy (nats) on the corrupted tokens; NAN: not a denoiser */
    double fill;              /* share of corrupted tokens whose argmax is the original; NAN as denoise */
} xf_study_scores;

/* Evaluate the checkpoint in `dir`, trained with `obj`: bpb for decoder and
 * prefix_lm (causal, no prefix), denoising loss and fill accuracy for models
 * trained to denoise (mlm, span, bart), each given the fixed corruption in the
 * format it was trained on (docs/study.md §Measures). */
xf_status xf_study_evaluate(const xf_study_evalset *e, const char *dir, xf_objective obj, xf_study_scores *out);

/* ---- the run (study.c) -------------------------------------------------- */

typedef struct {
    const char *data, *out, *grid, *tokenizer;
    double budget;            /* training FLOPs per model */
    size_t seeds;             /* runs per grid row (seed 1..seeds) */
    size_t batch, seq;
    size_t curve_points;      /* validation losses per model (evaluation cadence) */
    size_t eval_windows;      /* held-out windows per measure */
    float lr;
    int threads;
} xf_study_opts;

void xf_study_opts_default(xf_study_opts *o);

typedef struct {
    char name[80];            /* grid name, "-s2" for a second seed */
    char objective[16];
    xf_arch arch;
    int moe;
    size_t seed;              /* 1-based seed index */
    char skip[300];           /* non-empty: not run, and why */
    int done;
    size_t hidden, layers, dec_layers, heads, experts;
    size_t steps, params, active_params;
    double flops_per_step, tokens;
    double train_s, tokens_per_s; /* from the run's log (the steps' times, resumes included) */
    xf_study_scores scores;
    size_t n_curve;
    double curve_flops[XF_STUDY_MAX_CURVE], curve_loss[XF_STUDY_MAX_CURVE];
} xf_study_result;

typedef struct {
    xf_study_opts opts;
    char grid_name[256];
    xf_study_result *r;
    size_t n;
    int interrupted;          /* the callback asked to stop: checkpoints and state are saved */
    size_t L, n_masked, T, lm_tokens; /* what the evaluation sets hold */
    double lm_bytes;
} xf_study;

typedef struct {
    int is_eval;              /* 1: a validation loss */
    size_t k, n;              /* model k (1-based) of n */
    const char *name;
    size_t step, steps;
    float loss;
    double eta_s;             /* the whole study, from the FLOPs still to do at this run's rate */
    const char *warning;      /* non-NULL: a line to show */
} xf_study_event;
/* Nonzero stops the study: the model in training saves its checkpoint. */
typedef int (*xf_study_cb)(const xf_study_event *ev, void *ctx);

/* Run (or resume: out/study.json holds the state) the study. Every model
 * trains in out/models/NAME (a checkpoint; a killed one resumes), and each
 * finished one is written to the state atomically. *out is the study (free
 * with xf_study_free), also when interrupted. */
xf_status xf_study_run(const xf_study_opts *o, xf_study_cb cb, void *ctx, xf_study **out);
void xf_study_free(xf_study *s);

#ifdef __cplusplus
}
#endif

#endif
