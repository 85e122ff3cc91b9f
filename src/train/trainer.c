/* The training loop: data windows -> forward/backward (with accumulation) ->
 * clip -> AdamW -> log, evaluate, checkpoint.
 *
 * A checkpoint directory holds config.json, model.safetensors, tokenizer.json,
 * train_state.safetensors (AdamW moments, step, RNG state, the options) and
 * log.jsonl. The RNG state is the data position: windows are drawn from it
 * and nothing else, so a resumed run draws the same windows and reaches the
 * same losses bit for bit (same threads). The weights and the state of one
 * step are committed as one unit (train/checkpoint.h, docs/formats.md §6).
 *
 * Guards: a non-finite loss or gradient norm is caught before the update
 * (the run stops naming the step, or skips it with skip_nonfinite), and
 * weights that are not finite are never saved, so a diverging run cannot
 * overwrite the last good checkpoint. A log line that cannot be written stops
 * the run. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "dist/dist.h"
#include "dist/dp.h"
#include "io/file.h"
#include "model/model_internal.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "xfmr/data.h"
#include "xfmr/memory.h"
#include "xfmr/objective.h"
#include "xfmr/safetensors.h"
#include "xfmr/tokenizer.h"
#include "xfmr/train.h"

void xf_train_opts_default(xf_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->steps = 1000;
    o->batch = 16;
    o->seq = 128;
    o->accum = 1;
    o->warmup = 50;
    o->lr = 1e-3f;
    o->min_lr = 1e-4f;
    o->weight_decay = 0.1f;
    o->beta1 = 0.9f;
    o->beta2 = 0.99f;
    o->eps = 1e-8f;
    o->grad_clip = 1.0f;
    o->eval_every = 100;
    o->eval_batches = 8;
    o->save_every = 0;
    o->val_fraction = 0.1;
    o->seed = 1337;
    o->threads = 0;
    o->objective = -1;
}

/* Steps an expert must stay under 1% or over 50% of the tokens before a warning. */
#define COLLAPSE_STEPS 100

/* Everything one training run holds. */
typedef struct {
    xf_model *model;
    xf_tokenizer *tok;
    xf_dataset *data;
    float *m, *v;   /* AdamW moments, parameter-arena layout (ZeRO-1: this rank's [zlo, zhi)) */
    /* data parallel (docs/scale-out.md): rank of size, rows [row0, row0 + Bl) of each global batch */
    int rank, size;
    size_t Bl, row0, zlo, zhi;
    xf_rng rng;     /* data windows */
    size_t step;    /* optimizer steps done */
    int32_t *inputs, *targets; /* [B*T] */
    FILE *log;
    /* objectives other than plain causal LM on a token stream */
    int stream_clm;            /* 1: the classic path (xf_dataset windows) */
    xf_objective_opts oo;
    xf_pairs *pairs;           /* input<TAB>target data, or NULL */
    xf_batch_buf bb;
    size_t T, S;               /* main-stack tokens per row, encoder tokens per row */
    /* MoE */
    size_t *streak;            /* [nmoe * E] steps in a row outside [1%, 50%] */
    char warning[256];
} run_state;

static void run_free(run_state *r) {
    dp_moe_detach(r->model);
    xf_model_free(r->model);
    xf_tokenizer_free(r->tok);
    xf_dataset_free(r->data);
    free(r->m);
    free(r->v);
    free(r->inputs);
    free(r->targets);
    free(r->bb.lengths);
    free(r->bb.prefix_len);
    free(r->bb.src);
    free(r->bb.src_lengths);
    free(r->bb.position_ids);
    free(r->bb.block_position_ids);
    free(r->streak);
    xf_pairs_free(r->pairs);
    if (r->log) fclose(r->log);
}

/* The first config field that differs between a and b, said for --resume, or NULL. */
static const char *config_diff(const xf_config *a, const xf_config *b, char *buf, size_t cap) {
    char fa[256], fb[256];
    size_t d = xf_config_diff(a, b, 1, fa, fb, sizeof fa);
    if (d == 0) return NULL;
    if (d == (size_t)-1 || !fa[0]) return "config";
    snprintf(buf, cap, "--model has %.200s, the checkpoint %.200s", fa, fb);
    return buf;
}

/* Name of the parameter tensor holding arena index i. */
static const char *tensor_at(const xf_model *m, size_t i) {
    for (size_t t = 0; t < m->ntensors; t++)
        if (i >= m->table[t].offset && i - m->table[t].offset < m->table[t].numel) return m->table[t].name;
    return "(padding)";
}

static xf_status save_state_at0(const run_state *r, const xf_train_opts *o, const char *dir, const float *m,
                                const float *v);

/* Every rank calls it: under ZeRO-1 rank 0 gathers the moments; rank 0 alone
 * writes, and every rank returns its status (a failed save stops them all). */
static xf_status save_state(const run_state *r, const xf_train_opts *o, const char *dir) {
    const float *m = r->m, *v = r->v;
    float *fm = NULL, *fv = NULL;
    xf_status s = XF_OK;
    size_t np = r->model->nparams;
    if (o->zero && r->size > 1) {
        if (r->rank == 0 && (!(fm = malloc(np * sizeof(float))) || !(fv = malloc(np * sizeof(float)))))
            s = xf_fail(XF_ERR_OOM, "out of memory gathering the optimizer state for the checkpoint");
        if (fm) memcpy(fm, r->m, (r->zhi - r->zlo) * sizeof(float));
        if (fv) memcpy(fv, r->v, (r->zhi - r->zlo) * sizeof(float));
        xf_status g1 = dist_gather0(fm, np, r->m), g2 = dist_gather0(fv, np, r->v);
        if (!s) s = g1 ? g1 : g2;
        m = fm;
        v = fv;
    }
    if (!s && r->rank == 0) s = save_state_at0(r, o, dir, m, v);
    free(fm);
    free(fv);
    if (r->size > 1) {
        double failed = s != XF_OK;
        xf_status a = dist_allreduce_sum_f64(&failed, 1);
        if (a) return a;
        if (failed > 0 && !s)
            return xf_fail(XF_ERR_IO, "rank %d: rank 0 could not save the checkpoint (its message says why)",
                           r->rank);
    }
    return s;
}

static xf_status save_state_at0(const run_state *r, const xf_train_opts *o, const char *dir, const float *m,
                                const float *v) {
    /* the weights go out only when every one is finite: a checkpoint is never
     * replaced by a diverged model */
    const float *w = r->model->params;
    for (size_t i = 0, n = r->model->nparams; i < n; i++)
        if (!isfinite(w[i]))
            return xf_fail(XF_ERR_ARG,
                           "step %zu: the weights are no longer finite (%s = %g); not saving, %s keeps "
                           "the last good checkpoint (lower --lr)",
                           r->step, tensor_at(r->model, i), (double)w[i], dir);
    xf_status s = model_save_config(r->model, dir);
    if (!s) s = xf_tokenizer_save(r->tok, dir);
    if (s) return s;
    char stamp[32], mpath[4096], path[4096];
    snprintf(stamp, sizeof stamp, "%zu", r->step);
    if ((s = ckpt_path(mpath, sizeof mpath, dir, XF_CKPT_MODEL, 1))) return s;
    if ((s = ckpt_path(path, sizeof path, dir, XF_CKPT_STATE, 1))) return s;
    if ((s = model_save_weights(r->model, mpath, "step", stamp))) return s;
    ckpt_test_delay(); /* a kill here leaves a complete model.next and nothing else */
    xf_st_writer *wr = NULL;
    if ((s = xf_st_writer_create(&wr))) {
        remove(mpath);
        return s;
    }
    size_t np = r->model->nparams, one = 1, four = 4;
    int64_t step = (int64_t)r->step;
    int64_t rng[4];
    memcpy(rng, r->rng.s, sizeof rng);
    char opts[1024];
    snprintf(opts, sizeof opts,
             "{\"steps\":%zu,\"decay_steps\":%zu,\"batch\":%zu,\"seq\":%zu,\"accum\":%zu,"
             "\"warmup\":%zu,\"lr\":%.9g,\"min_lr\":%.9g,\"weight_decay\":%.9g,\"beta1\":%.9g,"
             "\"beta2\":%.9g,\"eps\":%.9g,\"grad_clip\":%.9g,\"val_fraction\":%.17g,\"seed\":%llu,"
             "\"objective\":%d,\"target_seq\":%zu,\"noise_density\":%.9g,\"mean_span\":%.9g,"
             "\"mlm_probability\":%.9g,\"ul2_weights\":[%.9g,%.9g,%.9g]}",
             o->steps, o->decay_steps, o->batch, o->seq, o->accum, o->warmup, o->lr, o->min_lr,
             o->weight_decay, o->beta1, o->beta2, o->eps, o->grad_clip, o->val_fraction,
             (unsigned long long)o->seed, o->objective, o->target_seq, o->noise_density, o->mean_span,
             o->mlm_probability, o->ul2_weights[0], o->ul2_weights[1], o->ul2_weights[2]);
    s = xf_st_writer_add(wr, "optimizer.exp_avg", XF_DT_F32, 1, &np, m);
    if (!s) s = xf_st_writer_add(wr, "optimizer.exp_avg_sq", XF_DT_F32, 1, &np, v);
    if (!s) s = xf_st_writer_add(wr, "step", XF_DT_I64, 1, &one, &step);
    if (!s) s = xf_st_writer_add(wr, "rng", XF_DT_I64, 1, &four, rng);
    if (!s) s = xf_st_writer_meta(wr, "train_opts", opts);
    if (!s) s = xf_st_writer_meta(wr, "step", stamp);
    if (!s) s = xf_st_writer_write(wr, path);
    xf_st_writer_free(wr);
    if (s) {
        remove(mpath); /* the old pair stands; free the space the new weights took */
        return s;
    }
    ckpt_test_delay(); /* a kill here leaves both .next files: resume rolls forward */
    return ckpt_commit(dir);
}

static xf_status load_state(run_state *r, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/train_state.safetensors", dir);
    xf_st_file *f = NULL;
    xf_status s = xf_st_open(&f, path);
    if (s) return s;
    size_t np = r->model->nparams, one = 1, four = 4, nz = r->zhi - r->zlo;
    int64_t step = 0, rng[4];
    int shard = nz != np; /* ZeRO-1: read the whole moments, keep this rank's range */
    float *m = shard ? malloc(np * sizeof(float)) : r->m, *v = shard ? malloc(np * sizeof(float)) : r->v;
    s = m && v ? XF_OK : xf_fail(XF_ERR_OOM, "out of memory reading %s", path);
    if (!s) s = xf_st_read_f32(f, "optimizer.exp_avg", m, 1, &np);
    if (!s) s = xf_st_read_f32(f, "optimizer.exp_avg_sq", v, 1, &np);
    if (shard) {
        if (!s) memcpy(r->m, m + r->zlo, nz * sizeof(float));
        if (!s) memcpy(r->v, v + r->zlo, nz * sizeof(float));
        free(m);
        free(v);
    }
    if (!s) s = xf_st_read_i64(f, "step", &step, 1, &one);
    if (!s) s = xf_st_read_i64(f, "rng", rng, 1, &four);
    if (!s && step < 0) s = xf_fail(XF_ERR_FORMAT, "%s: negative step %lld", path, (long long)step);
    xf_st_close(f);
    if (s) return s;
    r->step = (size_t)step;
    memcpy(r->rng.s, rng, sizeof rng);
    return XF_OK;
}

xf_status xf_train_load_opts(const char *dir, xf_train_opts *o) {
    char path[4096];
    snprintf(path, sizeof path, "%s/train_state.safetensors", dir);
    xf_st_file *f = NULL;
    xf_status s = xf_st_open(&f, path);
    if (s) return s;
    const char *js = xf_st_meta(f, "train_opts");
    if (!js) {
        xf_st_close(f);
        return xf_fail(XF_ERR_FORMAT, "%s: no train_opts metadata", path);
    }
    unsigned long long seed = 0;
    int n = sscanf(js,
                   "{\"steps\":%zu,\"decay_steps\":%zu,\"batch\":%zu,\"seq\":%zu,\"accum\":%zu,"
                   "\"warmup\":%zu,\"lr\":%g,\"min_lr\":%g,\"weight_decay\":%g,\"beta1\":%g,"
                   "\"beta2\":%g,\"eps\":%g,\"grad_clip\":%g,\"val_fraction\":%lg,\"seed\":%llu,"
                   "\"objective\":%d,\"target_seq\":%zu,\"noise_density\":%g,\"mean_span\":%g,"
                   "\"mlm_probability\":%g,\"ul2_weights\":[%g,%g,%g]}",
                   &o->steps, &o->decay_steps, &o->batch, &o->seq, &o->accum, &o->warmup, &o->lr,
                   &o->min_lr, &o->weight_decay, &o->beta1, &o->beta2, &o->eps, &o->grad_clip,
                   &o->val_fraction, &seed, &o->objective, &o->target_seq, &o->noise_density,
                   &o->mean_span, &o->mlm_probability, &o->ul2_weights[0], &o->ul2_weights[1],
                   &o->ul2_weights[2]);
    xf_st_close(f);
    if (n != 23) return xf_fail(XF_ERR_FORMAT, "%s: malformed train_opts metadata", path);
    o->seed = seed;
    return XF_OK;
}

static xf_status check_opts(const xf_train_opts *o, const xf_config *cfg) {
    if (o->batch == 0 || o->seq == 0 || o->accum == 0)
        return xf_fail(XF_ERR_ARG, "--batch, --seq and --accum must be positive");
    if (o->seq > cfg->max_position_embeddings)
        return xf_fail(XF_ERR_ARG, "--seq %zu exceeds the model's max_position_embeddings %zu",
                       o->seq, cfg->max_position_embeddings);
    if (!(o->lr >= 0) || !(o->min_lr >= 0) || !(o->weight_decay >= 0) || !(o->grad_clip >= 0))
        return xf_fail(XF_ERR_ARG, "learning rates, weight decay and clip must be >= 0");
    if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps > 0))
        return xf_fail(XF_ERR_ARG, "betas must be in [0, 1) and eps > 0");
    if (!(o->val_fraction >= 0 && o->val_fraction < 1))
        return xf_fail(XF_ERR_ARG, "--val-fraction must be in [0, 1)");
    return XF_OK;
}

/* One batch of the run's objective into r->bb (training: from r->rng; validation
 * batch `index`: from an RNG seeded by the index, so every evaluation sees the same). */
static xf_status next_batch(run_state *r, const xf_train_opts *o, int val, size_t index, xf_batch *b) {
    xf_rng vr;
    xf_rng *rng = &r->rng;
    if (val) {
        xf_rng_seed(&vr, o->seed * 0x9E3779B97F4A7C15ull + 0xE7A1u + index);
        rng = &vr;
    }
    xf_status s;
    if (r->stream_clm) {
        if (val) xf_dataset_val_batch(r->data, index, o->batch, o->seq, r->bb.ids, r->bb.targets);
        else xf_dataset_train_batch(r->data, rng, o->batch, o->seq, r->bb.ids, r->bb.targets);
        s = XF_OK;
    } else if (r->pairs) {
        s = xf_pairs_batch(&r->oo, r->pairs, val, index, rng, &r->bb);
    } else {
        s = xf_objective_batch(&r->oo, r->data, val, rng, &r->bb);
    }
    if (s) return s;
    /* every rank draws the whole global batch (the data order does not depend
     * on the world size) and keeps its rows [row0, row0 + Bl) */
    size_t r0 = r->row0;
    memset(b, 0, sizeof *b);
    b->B = r->Bl;
    b->T = r->T;
    b->ids = r->bb.ids + r0 * r->T;
    b->targets = r->bb.targets + r0 * r->T;
    if (!r->stream_clm) {
        b->lengths = r->bb.lengths + r0;
        b->prefix_len = r->oo.arch == XF_ARCH_PREFIX_LM ? r->bb.prefix_len + r0 : NULL;
        /* GLM's 2D positions (docs/objectives.md §GLM), where the model has the tables */
        if (r->bb.position_ids && xf_model_config(r->model)->position_type == XF_POS_LEARNED)
            b->position_ids = r->bb.position_ids + r0 * r->T;
        if (r->bb.block_position_ids && xf_model_config(r->model)->block_position_embeddings)
            b->block_position_ids = r->bb.block_position_ids + r0 * r->T;
        if (r->oo.arch == XF_ARCH_ENCODER_DECODER) {
            b->S = r->S;
            b->src = r->bb.src + r0 * r->S;
            b->src_lengths = r->bb.src_lengths + r0;
        }
    }
    return XF_OK;
}

static int have_val(const run_state *r) {
    return r->pairs ? xf_pairs_val_count(r->pairs) > 0 : xf_dataset_val_len(r->data) > 0;
}

/* Validation loss: mean over eval_batches deterministic batches. */
static float evaluate(run_state *r, const xf_train_opts *o) {
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < o->eval_batches; i++) {
        float loss = 0;
        size_t valid = 0;
        xf_batch b;
        if (next_batch(r, o, 1, i, &b) || xf_model_forward_batch(r->model, &b, &loss, &valid)) return NAN;
        if (r->size > 1) { /* the global batch's mean: losses and counts summed over the ranks */
            double lv[2] = {(double)loss * (double)valid, (double)valid};
            if (dist_allreduce_sum_f64(lv, 2)) return NAN;
            loss = lv[1] > 0 ? (float)(lv[0] / lv[1]) : 0.0f;
        }
        sum += loss;
        n++;
    }
    return n ? (float)(sum / (double)n) : NAN;
}

/* Choose the objective and the data path, and size the batch buffers. */
static xf_status setup_objective(run_state *r, const xf_train_paths *p, const xf_train_opts *o,
                                 const xf_config *cfg) {
    xf_objective obj = o->objective < 0 ? xf_objective_default(cfg->arch) : (xf_objective)o->objective;
    xf_status s;
    size_t n = strlen(p->data);
    int tsv = n > 4 && strcmp(p->data + n - 4, ".tsv") == 0;
    if (!tsv && (s = xf_objective_check(obj, cfg->arch))) return s;
    /* pairs need no sentinels or mask token: only pad, eos and the start token */
    if ((s = xf_objective_opts_init(&r->oo, tsv ? XF_OBJ_CLM : obj, cfg, r->tok))) return s;
    r->oo.arch = cfg->arch;
    if (o->noise_density > 0) r->oo.noise_density = o->noise_density;
    if (o->mean_span > 0) r->oo.mean_span = o->mean_span;
    if (o->mlm_probability > 0) r->oo.mlm_probability = o->mlm_probability;
    if (o->ul2_weights[0] > 0 || o->ul2_weights[1] > 0 || o->ul2_weights[2] > 0)
        memcpy(r->oo.ul2_weights, o->ul2_weights, sizeof r->oo.ul2_weights);
    int encdec = cfg->arch == XF_ARCH_ENCODER_DECODER;
    r->stream_clm = !tsv && obj == XF_OBJ_CLM && !encdec;
    r->T = o->seq;
    r->S = 0;
    if (encdec) {
        r->S = o->seq;
        r->T = o->target_seq;
        if (!r->T) {
            size_t raw = 0, tg = 0;
            if (obj == XF_OBJ_SPAN && !tsv) xf_span_lengths(o->seq, r->oo.noise_density, r->oo.mean_span, &raw, &tg);
            r->T = tg ? tg : o->seq;
        }
        if (r->T > cfg->max_position_embeddings)
            return xf_fail(XF_ERR_ARG, "--target-seq %zu exceeds the model's max_position_embeddings %zu", r->T,
                           cfg->max_position_embeddings);
    }
    if (tsv) {
        if (p->val_data) return xf_fail(XF_ERR_ARG, "--val-data is not supported with input<TAB>target data (%s)", p->data);
        if ((s = xf_pairs_open(&r->pairs, p->data, r->tok))) return s;
        if ((s = xf_pairs_split(r->pairs, o->val_fraction))) return s;
    } else {
        if ((s = xf_dataset_open(&r->data, p->data, r->tok))) return s;
        if (p->val_data) { /* docs/data.md §Validation data */
            xf_dataset *val;
            if ((s = xf_dataset_open(&val, p->val_data, r->tok))) return s;
            if ((s = xf_dataset_set_val(r->data, val))) return s;
        }
        if ((s = xf_dataset_split(r->data, o->val_fraction, o->seq))) return s;
    }
    size_t B = o->batch;
    r->bb.B = B;
    r->bb.T = r->T;
    r->bb.S = r->S;
    r->inputs = malloc(B * r->T * sizeof(int32_t));
    r->targets = malloc(B * r->T * sizeof(int32_t));
    r->bb.lengths = malloc(B * sizeof(int32_t));
    r->bb.prefix_len = malloc(B * sizeof(int32_t));
    r->bb.src = malloc(B * (r->S ? r->S : 1) * sizeof(int32_t));
    r->bb.src_lengths = malloc(B * sizeof(int32_t));
    if (!r->inputs || !r->targets || !r->bb.lengths || !r->bb.prefix_len || !r->bb.src || !r->bb.src_lengths)
        return xf_fail(XF_ERR_OOM, "out of memory for the batch buffers");
    if (!tsv && (obj == XF_OBJ_GLM || obj == XF_OBJ_GMASK)) {
        r->bb.position_ids = malloc(B * r->T * sizeof(int32_t));
        r->bb.block_position_ids = malloc(B * r->T * sizeof(int32_t));
        if (!r->bb.position_ids || !r->bb.block_position_ids)
            return xf_fail(XF_ERR_OOM, "out of memory for the batch buffers");
    }
    r->bb.ids = r->inputs;
    r->bb.targets = r->targets;
    return XF_OK;
}

int xf_train_spec_has_weights(const char *model) {
    return model && (strcmp(xf_model_format_name(model), "xfmr") != 0 || xf_path_is_dir(model));
}

/* A new run's model and tokenizer: --model's weights and the tokenizer it
 * carries (fine-tuning; a fresh optimizer), or random weights for its config
 * (a preset, a config file, or --init random). */
static xf_status open_start(run_state *r, const xf_train_paths *p, xf_config *cfg, int *from_weights) {
    xf_status s;
    *from_weights = !p->init_random && xf_train_spec_has_weights(p->model);
    if (!*from_weights) {
        if ((s = xf_model_open_config(cfg, p->model))) return s;
        if ((s = xf_tokenizer_load(&r->tok, p->tokenizer ? p->tokenizer : "byte"))) return s;
        /* a preset takes its vocab_size from the tokenizer it is given (docs/config.md) */
        if (p->tokenizer && xf_config_is_preset(p->model))
            cfg->vocab_size = xf_config_padded_vocab(xf_tokenizer_vocab_size(r->tok));
        if ((s = xf_config_apply_sets(cfg, p->sets, p->n_sets, "--set"))) return s;
        return xf_model_create(&r->model, cfg);
    }
    if (p->n_sets)
        return xf_fail(XF_ERR_ARG, "--set cannot change the config of %s, whose weights training starts from "
                                   "(add --init random to take its config alone)", p->model);
    if ((s = xf_model_open(&r->model, p->model)) || (s = xf_model_open_tokenizer(&r->tok, p->model))) return s;
    *cfg = *xf_model_config(r->model);
    if (r->tok && p->tokenizer) { /* the model's own tokenizer names its ids; another would mislabel them */
        xf_tokenizer *given = NULL;
        if ((s = xf_tokenizer_load(&given, p->tokenizer))) return s;
        int same = xf_tokenizer_hash(given) == xf_tokenizer_hash(r->tok);
        xf_tokenizer_free(given);
        if (!same)
            return xf_fail(XF_ERR_ARG, "%s carries its tokenizer (%s): --tokenizer %s would mislabel its ids", p->model,
                           xf_tokenizer_name(r->tok), p->tokenizer);
    }
    if (!r->tok) s = xf_tokenizer_load(&r->tok, p->tokenizer ? p->tokenizer : "byte"); /* a model without one */
    return s;
}

static xf_status open_run(run_state *r, const xf_train_paths *p, const xf_train_opts *o) {
    xf_status s;
    char path[4096];
    xf_config cfg;
    int from_weights = 0; /* a new run starting from --model's weights */
    if (p->resume) {
        if (p->n_sets) return xf_fail(XF_ERR_ARG, "--set cannot change the config of a checkpoint on --resume");
        if ((s = xf_model_load(&r->model, p->out))) return s;
        if (p->model) {
            xf_config want;
            char buf[512];
            if ((s = xf_model_open_config(&want, p->model))) return s;
            const char *d = config_diff(&want, xf_model_config(r->model), buf, sizeof buf);
            if (d)
                return xf_fail(XF_ERR_SHAPE, "%s: cannot resume: the checkpoint's config differs from --model %s (%s)",
                               p->out, p->model, d);
        }
        if ((s = xf_tokenizer_load(&r->tok, p->out))) return s;
        if (p->tokenizer) {
            /* the checkpoint's tokenizer is the model's; another one would mislabel it */
            xf_tokenizer *given = NULL;
            if ((s = xf_tokenizer_load(&given, p->tokenizer))) return s;
            int same = xf_tokenizer_hash(given) == xf_tokenizer_hash(r->tok);
            xf_tokenizer_free(given);
            if (!same)
                return xf_fail(XF_ERR_ARG, "%s: cannot resume with --tokenizer %s: the checkpoint was trained with %s",
                               p->out, p->tokenizer, xf_tokenizer_name(r->tok));
        }
        cfg = *xf_model_config(r->model);
    } else {
        snprintf(path, sizeof path, "%s/model.safetensors", p->out);
        FILE *probe = fopen(path, "rb");
        if (probe) {
            fclose(probe);
            return xf_fail(XF_ERR_ARG, "%s already holds a checkpoint: pass --resume, or choose another --out",
                           p->out);
        }
        if (!p->model) return xf_fail(XF_ERR_ARG, "--model is required");
        if ((s = open_start(r, p, &cfg, &from_weights))) return s;
    }
    if ((s = check_opts(o, &cfg))) return s;
    if (o->batch % (size_t)r->size)
        return xf_fail(XF_ERR_ARG, "--batch %zu (the global batch) must divide by the %d ranks", o->batch, r->size);
    r->Bl = o->batch / (size_t)r->size;
    r->row0 = r->Bl * (size_t)r->rank;
    if ((s = dp_moe_attach(r->model))) return s;
    if (xf_tokenizer_vocab_size(r->tok) > cfg.vocab_size)
        return xf_fail(XF_ERR_SHAPE, "tokenizer %s has %zu ids but the model's vocab_size is %zu",
                       xf_tokenizer_name(r->tok), xf_tokenizer_vocab_size(r->tok), cfg.vocab_size);
    xf_model_set_live_vocab(r->model, xf_tokenizer_vocab_size(r->tok));
    if (!p->data) return xf_fail(XF_ERR_ARG, "--data is required");
    if ((s = setup_objective(r, p, o, &cfg))) return s;
    /* the activations first: they check batch x seq and say how much they need */
    if ((s = xf_model_reserve_ex(r->model, r->Bl, r->T, r->S, 1))) return s;
    size_t np = r->model->nparams;
    r->zlo = 0;
    r->zhi = np;
    if (o->zero) dist_range(np, r->rank, r->size, &r->zlo, &r->zhi);
    r->m = calloc(r->zhi - r->zlo + 1, sizeof(float));
    r->v = calloc(r->zhi - r->zlo + 1, sizeof(float));
    size_t nmoe = xf_model_num_moe_layers(r->model);
    r->streak = calloc(nmoe * cfg.num_experts + 1, sizeof(size_t));
    if (!r->m || !r->v || !r->streak)
        return xf_fail(XF_ERR_OOM, "out of memory for the optimizer state");
    if (p->resume) {
        if ((s = load_state(r, p->out))) return s;
    } else {
        if (!from_weights) xf_model_init_weights(r->model, o->seed);
        xf_rng_seed(&r->rng, o->seed ^ 0x5DEECE66Dull);
        r->step = 0;
    }
    if (r->rank > 0) { /* rank 0 alone writes the log and checkpoints */
        r->log = fopen("/dev/null", "w");
        return r->log ? XF_OK : xf_fail(XF_ERR_IO, "/dev/null: cannot open");
    }
    /* every input is valid: now the output directory may be touched */
    if ((s = mkdir_p(p->out))) return s;
    snprintf(path, sizeof path, "%s/log.jsonl", p->out);
    r->log = fopen(path, "a");
    if (!r->log) return xf_fail(XF_ERR_IO, "%s: cannot open for appending", path);
    return XF_OK;
}

/* Append this step's MoE statistics to the open JSONL line, per MoE layer:
 * tokens per expert, dropped fraction, mean router entropy, aux and z loss.
 * Returns a warning when an expert has held under 1% or over 50% of the
 * assignments for COLLAPSE_STEPS steps in a row (once per streak). */
static const char *log_moe(run_state *r) {
    const char *warn = NULL;
    size_t nm = xf_model_num_moe_layers(r->model);
    fprintf(r->log, ",\"moe\":[");
    for (size_t i = 0; i < nm; i++) {
        xf_moe_stats st;
        xf_model_moe_stats(r->model, i, &st);
        double kept = 0;
        for (size_t e = 0; e < st.E; e++) kept += st.tokens[e];
        fprintf(r->log, "%s{\"stack\":\"%s\",\"layer\":%zu,\"tokens\":[", i ? "," : "",
                st.stack ? "decoder" : "encoder", st.layer);
        for (size_t e = 0; e < st.E; e++) {
            fprintf(r->log, "%s%.0f", e ? "," : "", st.tokens[e]);
            double f = kept > 0 ? st.tokens[e] / kept : 0;
            size_t *k = &r->streak[i * st.E + e];
            *k = (f < 0.01 || f > 0.5) ? *k + 1 : 0;
            if (*k == COLLAPSE_STEPS && !warn) {
                snprintf(r->warning, sizeof r->warning,
                         "expert %zu of %s layer %zu has had %.1f%% of the tokens for %d steps in a row "
                         "(collapsing; consider a larger router_aux_loss_coef)",
                         e, st.stack ? "decoder" : "encoder", st.layer, 100 * f, COLLAPSE_STEPS);
                warn = r->warning;
            }
        }
        double fw = st.forwards ? (double)st.forwards : 1, ts = st.tokens_seen ? (double)st.tokens_seen : 1;
        fprintf(r->log, "],\"dropped\":%.6g,\"entropy\":%.6g,\"aux\":%.6g,\"z\":%.6g}",
                st.assigned > 0 ? st.dropped / st.assigned : 0.0, st.entropy / ts, st.aux / fw, st.z / fw);
    }
    fprintf(r->log, "]");
    return warn;
}

/* A kill during a write can leave log.jsonl ending in part of a line: drop that
 * part before appending (readers such as xfmr plot tolerate it as the last line;
 * appending after it would bury it in the middle). Sets *dropped to its length. */
static xf_status trim_torn_log(const char *path, size_t *dropped) {
    *dropped = 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return xf_fail(XF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    off_t size = lseek(fd, 0, SEEK_END);
    char buf[4096];
    off_t end = size, keep = 0;
    xf_status s = XF_OK;
    while (end > 0) { /* find the last '\n' */
        off_t at = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
        ssize_t n = pread(fd, buf, (size_t)(end - at), at);
        if (n != end - at) {
            s = xf_fail(XF_ERR_IO, "%s: cannot read back: %s", path, strerror(errno));
            break;
        }
        ssize_t i = n - 1;
        while (i >= 0 && buf[i] != '\n') i--;
        if (i >= 0) {
            keep = at + i + 1;
            break;
        }
        end = at;
    }
    if (!s && size > 0 && keep < size) {
        if (ftruncate(fd, keep) != 0)
            s = xf_fail(XF_ERR_IO, "%s: cannot drop a torn last line: %s", path, strerror(errno));
        else
            *dropped = (size_t)(size - keep);
    }
    close(fd);
    return s;
}

/* Test hook: XFMR_TEST_NONFINITE_AT=K makes the K-th step this process
 * attempts report a NaN loss, once (tests/cli/test_nonfinite.sh); unset, -1. */
static long test_nonfinite_at(void) {
    static long at = -2;
    if (at == -2) {
        const char *e = getenv("XFMR_TEST_NONFINITE_AT");
        at = e ? atol(e) : -1;
    }
    return at;
}

/* Refuse, before anything is allocated, a run whose arenas would not fit
 * (xfmr/memory.h). A config that cannot be read is left to open_run to report. */
static xf_status check_memory(const xf_train_paths *p, const xf_train_opts *o) {
    xf_config cfg;
    const char *spec = p->resume ? p->out : p->model;
    if (!spec || xf_model_open_config(&cfg, spec) != XF_OK) return XF_OK;
    int encdec = cfg.arch == XF_ARCH_ENCODER_DECODER;
    size_t T = encdec && o->target_seq ? o->target_seq : o->seq, S = encdec ? o->seq : 0;
    xf_mem_plan plan;
    size_t P = (size_t)xf_dist_size(), B = o->batch / P ? o->batch / P : 1; /* this rank's rows */
    xf_mem_plan_train(&plan, &cfg, B, T, S);
    return xf_mem_check(&plan, "train", "use a smaller --batch or --seq (--accum keeps the tokens per step), "
                                        "or a smaller model");
}

/* Flush the log line just written; a failed write (disk full) stops the run. */
static xf_status log_flush(FILE *log, const char *out) {
    if (fflush(log) != 0 || ferror(log))
        return xf_fail(XF_ERR_IO, "%s/log.jsonl: write failed: %s (the last checkpoint is kept)", out,
                       strerror(errno ? errno : EIO));
    return XF_OK;
}

xf_status xf_train(const xf_train_paths *p, const xf_train_opts *o, xf_train_cb cb, void *ctx) {
    run_state r;
    memset(&r, 0, sizeof r);
    xf_set_threads(o->threads);
    /* the dtype is checked before open_run touches the output directory */
    char note[1024] = "";
    xf_status s = xf_dist_init(); /* a world of 1 without mpirun */
    r.rank = xf_dist_rank();
    r.size = xf_dist_size();
    if (!s) s = xf_train_set_dtype(o->dtype);
    if (!s && p->resume && r.rank == 0) s = ckpt_recover(p->out, note, sizeof note);
    if (!s && p->resume) s = dist_barrier(); /* the others read what rank 0 recovered */
    if (!s) s = check_memory(p, o);
    if (!s) s = open_run(&r, p, o);
    if (s) goto done;
    size_t dropped = 0;
    char logpath[4096];
    snprintf(logpath, sizeof logpath, "%s/log.jsonl", p->out);
    if (r.rank == 0 && (s = trim_torn_log(logpath, &dropped))) goto done;
    if (dropped)
        snprintf(note + strlen(note), sizeof note - strlen(note), "%s%.300s: dropped a torn last line (%zu bytes)",
                 note[0] ? "; " : "", logpath, dropped);
    size_t B = o->batch, tokens_per_step = B * (r.T + r.S) * o->accum;
    double total_ms = 0;
    size_t timed = 0, nonfinite_run = 0;
    long attempts = 0;
    while (r.step < o->steps) {
        double t0 = xf_now_ms();
        dist_test_fault(r.step + 1);
        xf_model_zero_grad(r.model);
        xf_model_moe_reset_stats(r.model);
        xf_model_set_noise_seed(r.model, o->seed + r.step);
        float loss = 0, aux = 0;
        double dl[2] = {0, 0}; /* data parallel: this rank's share of the loss and the aux loss */
        for (size_t micro = 0; micro < o->accum; micro++) {
            float l = 0;
            size_t valid = 0;
            xf_batch b;
            if ((s = next_batch(&r, o, 0, 0, &b))) goto done;
            if ((s = xf_model_forward_batch(r.model, &b, &l, &valid))) goto done;
            if (r.size > 1) {
                /* the global mean over the valid targets of all ranks' rows: this
                 * rank's mean weighted by its share of them (not a mean of means) */
                size_t all = dp_valid(r.bb.targets, o->batch * r.T);
                double w = all ? (double)valid / (double)all : 0.0;
                if ((s = dp_moe_check(r.model))) goto done;
                /* the MoE losses are partials of the global batch's (dp_moe_attach) */
                if ((s = model_backward_ex(r.model, (float)(w / (double)o->accum), 1.0f / (float)o->accum)))
                    goto done;
                dl[0] += (double)l * w / (double)o->accum;
                dl[1] += (double)xf_model_aux_loss(r.model) / (double)o->accum;
                continue;
            }
            if ((s = xf_model_backward(r.model, 1.0f / (float)o->accum))) goto done;
            loss += l / (float)o->accum;
            aux += xf_model_aux_loss(r.model) / (float)o->accum;
        }
        if (r.size > 1) { /* gradients, losses and MoE statistics summed over the ranks */
            if ((s = dist_allreduce_sum(r.model->grads, r.model->nparams))) goto done;
            if ((s = dist_allreduce_sum_f64(dl, 2))) goto done;
            if ((s = dp_sum_moe_stats(r.model))) goto done;
            loss = (float)dl[0];
            aux = (float)dl[1];
        }
        float norm = xf_clip_grad_norm(r.model, o->grad_clip);
        if (++attempts == test_nonfinite_at()) loss = NAN;
        if (!isfinite(loss) || !isfinite(norm)) {
            /* caught before the update: the weights are still those of step r.step */
            nonfinite_run++;
            fprintf(r.log, "{\"step\":%zu,\"skipped\":\"loss %g, gradient norm %g\"}\n",
                    r.step + 1, (double)loss, (double)norm);
            if ((s = log_flush(r.log, p->out))) goto done;
            if (nonfinite_run > o->skip_nonfinite) {
                if (o->skip_nonfinite)
                    s = xf_fail(XF_ERR_ARG, "step %zu: loss %g, gradient norm %g: %zu non-finite steps in a row "
                                "(--skip-nonfinite %zu); training diverged, the last checkpoint in %s is kept "
                                "(lower --lr)", r.step + 1, (double)loss, (double)norm, nonfinite_run,
                                o->skip_nonfinite, p->out);
                else
                    s = xf_fail(XF_ERR_ARG, "step %zu: loss %g, gradient norm %g: training diverged; the last "
                                "checkpoint in %s is kept (lower --lr, or --skip-nonfinite N to skip such steps)",
                                r.step + 1, (double)loss, (double)norm, p->out);
                goto done;
            }
            continue; /* this step's batch is skipped; the next one is drawn */
        }
        nonfinite_run = 0;
        float lr = xf_lr_at(o, r.step);
        if (r.zhi - r.zlo == r.model->nparams) {
            xf_adamw_step(r.model, r.m, r.v, r.step + 1, lr, o);
        } else { /* ZeRO-1: this rank's range, then every rank's updated range to all */
            adamw_update_range(r.model, r.m, r.v, r.zlo, r.zhi, r.step + 1, lr, o);
            if ((s = dist_allgather(r.model->params, r.model->nparams))) goto done;
        }
        xf_model_moe_update_bias(r.model);
        r.step++;
        double ms = xf_now_ms() - t0;
        total_ms += ms;
        timed++;
        xf_train_event ev = {.step = r.step, .steps = o->steps, .loss = loss, .lr = lr, .aux_loss = aux,
                             .grad_norm = norm, .ms = ms,
                             .tokens_per_s = tokens_per_step / (ms / 1e3),
                             .eta_s = (total_ms / timed) * (double)(o->steps - r.step) / 1e3};
        fprintf(r.log,
                "{\"step\":%zu,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.6f,\"tokens_per_s\":%.1f,"
                "\"ms\":%.2f",
                r.step, loss, lr, norm, ev.tokens_per_s, ms);
        if (r.size > 1) /* the world, and what the optimizer state costs each rank */
            fprintf(r.log, ",\"world_size\":%d,\"zero\":%d,\"optimizer_bytes_per_rank\":%zu", r.size, o->zero,
                    2 * (r.zhi - r.zlo) * sizeof(float));
        if (xf_model_num_moe_layers(r.model)) {
            fprintf(r.log, ",\"aux_loss\":%.6g", aux);
            ev.warning = log_moe(&r);
        }
        fprintf(r.log, "}\n");
        if ((s = log_flush(r.log, p->out))) goto done;
        if (note[0] && !ev.warning) {
            ev.warning = note; /* what recovery repaired, shown once */
        }
        int stop = cb && cb(&ev, ctx);
        if (r.size > 1) { /* stop together: a signal may reach the ranks at different steps */
            double st = stop;
            if ((s = dist_allreduce_sum_f64(&st, 1))) goto done;
            stop = st > 0;
        }
        note[0] = '\0';
        int last = r.step == o->steps;
        if (o->eval_every && o->eval_batches && have_val(&r) && (r.step % o->eval_every == 0 || last)) {
            xf_train_event ee = {.is_eval = 1, .step = r.step, .steps = o->steps};
            ee.val_loss = evaluate(&r, o);
            fprintf(r.log, "{\"step\":%zu,\"val_loss\":%.6f}\n", r.step, ee.val_loss);
            if ((s = log_flush(r.log, p->out))) goto done;
            if (cb && cb(&ee, ctx) && r.size == 1) stop = 1; /* many ranks: the next step's vote */
        }
        if ((o->save_every && r.step % o->save_every == 0) || last || stop)
            if ((s = save_state(&r, o, p->out))) goto done;
        if (stop) break;
    }
done:
    run_free(&r);
    xf_train_set_dtype(XF_DTYPE_FP32);
    return s;
}
