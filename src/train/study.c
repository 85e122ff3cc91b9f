/* xfmr study: the run. For each model of the grid (and each seed): size it
 * to the budget, train it with xf_train in OUT/models/NAME (its own
 * checkpoint, so a killed study resumes inside the model it was training),
 * read its validation curve and timing back from its log.jsonl, evaluate it on
 * the fixed held-out sets, and record the result in OUT/study.json, written
 * atomically after every model (docs/study.md §Resume). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "io/file.h"
#include "xfmr/study.h"
#include "xfmr/train.h"

#define STATE_VERSION 1
#define MAX_STATE_BYTES ((size_t)64 << 20)

void xf_study_opts_default(xf_study_opts *o) {
    memset(o, 0, sizeof *o);
    o->grid = "default";
    o->seeds = 1;
    o->batch = 8;
    o->seq = 128;
    o->curve_points = 10;
    o->eval_windows = 32;
    o->lr = 2e-3f;
}

void xf_study_free(xf_study *s) {
    if (!s) return;
    free(s->r);
    free(s);
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- the state file ---------------------------------------------------------- */

static cJSON *num_array(const double *x, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(x[i]));
    return a;
}

/* The options that must match for a study to resume. */
static void add_opts(cJSON *root, const xf_study *s) {
    const xf_study_opts *o = &s->opts;
    cJSON_AddNumberToObject(root, "version", STATE_VERSION);
    cJSON_AddStringToObject(root, "data", o->data);
    cJSON_AddStringToObject(root, "grid", s->grid_name);
    cJSON_AddStringToObject(root, "tokenizer", o->tokenizer ? o->tokenizer : "byte");
    cJSON_AddNumberToObject(root, "budget", o->budget);
    cJSON_AddNumberToObject(root, "seeds", (double)o->seeds);
    cJSON_AddNumberToObject(root, "batch", (double)o->batch);
    cJSON_AddNumberToObject(root, "seq", (double)o->seq);
    cJSON_AddNumberToObject(root, "curve_points", (double)o->curve_points);
    cJSON_AddNumberToObject(root, "eval_windows", (double)o->eval_windows);
    cJSON_AddNumberToObject(root, "lr", o->lr);
}

static xf_status save_state(const xf_study *s) {
    cJSON *root = cJSON_CreateObject();
    cJSON *models = root ? cJSON_AddArrayToObject(root, "done") : NULL;
    if (!models) {
        cJSON_Delete(root);
        return xf_fail(XF_ERR_OOM, "out of memory");
    }
    add_opts(root, s);
    for (size_t i = 0; i < s->n; i++) {
        const xf_study_result *r = &s->r[i];
        if (!r->done) continue;
        cJSON *m = cJSON_CreateObject();
        cJSON_AddItemToArray(models, m);
        cJSON_AddStringToObject(m, "name", r->name);
        cJSON_AddNumberToObject(m, "steps", (double)r->steps);
        cJSON_AddNumberToObject(m, "train_s", r->train_s);
        cJSON_AddNumberToObject(m, "tokens_per_s", r->tokens_per_s);
        cJSON_AddNumberToObject(m, "bpb", r->scores.bpb);
        cJSON_AddNumberToObject(m, "denoise", r->scores.denoise);
        cJSON_AddNumberToObject(m, "fill", r->scores.fill);
        cJSON_AddItemToObject(m, "curve_flops", num_array(r->curve_flops, r->n_curve));
        cJSON_AddItemToObject(m, "curve_loss", num_array(r->curve_loss, r->n_curve));
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return xf_fail(XF_ERR_OOM, "out of memory");
    char path[4096];
    snprintf(path, sizeof path, "%s/study.json", s->opts.out);
    xf_status st = xf_file_write_atomic(path, text, strlen(text));
    free(text);
    return st;
}

static double num_or_nan(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Read the curve arrays of a state entry into r (at most XF_STUDY_MAX_CURVE). */
static xf_status load_curve(const cJSON *m, xf_study_result *r, const char *path) {
    const cJSON *fx = cJSON_GetObjectItemCaseSensitive(m, "curve_flops");
    const cJSON *fy = cJSON_GetObjectItemCaseSensitive(m, "curve_loss");
    int n = cJSON_GetArraySize(fx);
    if (!cJSON_IsArray(fx) || !cJSON_IsArray(fy) || n != cJSON_GetArraySize(fy) || n > XF_STUDY_MAX_CURVE)
        return xf_fail(XF_ERR_FORMAT, "%s: %s: malformed curve", path, r->name);
    r->n_curve = (size_t)n;
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(fx, i), *y = cJSON_GetArrayItem(fy, i);
        r->curve_flops[i] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
        r->curve_loss[i] = cJSON_IsNumber(y) ? y->valuedouble : NAN;
    }
    return XF_OK;
}

/* Compare a state file's options with this study's; mark the models it holds as done. */
static xf_status load_state(xf_study *s) {
    char path[4096];
    snprintf(path, sizeof path, "%s/study.json", s->opts.out);
    if (!exists(path)) return XF_OK;
    char *text = NULL;
    size_t len = 0;
    xf_status st = xf_file_read_all(path, &text, &len, MAX_STATE_BYTES);
    if (st) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return xf_fail(XF_ERR_FORMAT, "%s: not a study state (invalid JSON)", path);
    }
    cJSON *want = cJSON_CreateObject();
    if (!want) {
        cJSON_Delete(root);
        return xf_fail(XF_ERR_OOM, "out of memory");
    }
    add_opts(want, s);
    for (const cJSON *w = want->child; w && !st; w = w->next) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, w->string);
        if (!h || !cJSON_Compare(w, h, 1)) {
            char *a = cJSON_PrintUnformatted(w), *b = h ? cJSON_PrintUnformatted(h) : NULL;
            st = xf_fail(XF_ERR_ARG, "%s: this directory holds a study with %s %s, not %s: rerun with its options "
                                     "or choose another --out", path, w->string, b ? b : "(none)", a ? a : "?");
            free(a);
            free(b);
        }
    }
    cJSON_Delete(want);
    const cJSON *done = cJSON_GetObjectItemCaseSensitive(root, "done");
    if (!st && !cJSON_IsArray(done)) st = xf_fail(XF_ERR_FORMAT, "%s: no \"done\" list", path);
    for (const cJSON *m = done ? done->child : NULL; m && !st; m = m->next) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
        if (!cJSON_IsString(name) || !name->valuestring) {
            st = xf_fail(XF_ERR_FORMAT, "%s: a model without a name", path);
            break;
        }
        for (size_t i = 0; i < s->n; i++) {
            xf_study_result *r = &s->r[i];
            if (strcmp(r->name, name->valuestring) || r->skip[0]) continue;
            if (num_or_nan(m, "steps") != (double)r->steps) {
                st = xf_fail(XF_ERR_FORMAT, "%s: %s ran %g steps, its plan is %zu", path, r->name,
                             num_or_nan(m, "steps"), r->steps);
                break;
            }
            r->train_s = num_or_nan(m, "train_s");
            r->tokens_per_s = num_or_nan(m, "tokens_per_s");
            r->scores.bpb = num_or_nan(m, "bpb");
            r->scores.denoise = num_or_nan(m, "denoise");
            r->scores.fill = num_or_nan(m, "fill");
            st = load_curve(m, r, path);
            r->done = !st;
        }
    }
    cJSON_Delete(root);
    return st;
}

/* ---- one model ---------------------------------------------------------------- */

/* The validation curve and the step times from a run's log.jsonl (a resumed
 * run logs some steps twice: the last line of a step wins; they agree). */
static xf_status read_log(xf_study_result *r, const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/log.jsonl", dir);
    char *text = NULL;
    size_t len = 0;
    xf_status st = xf_file_read_all(path, &text, &len, (size_t)1 << 30);
    if (st) return st;
    double *ms = calloc(r->steps + 1, sizeof *ms), *val = malloc((r->steps + 1) * sizeof *val);
    if (!ms || !val) {
        free(ms), free(val), free(text);
        return xf_fail(XF_ERR_OOM, "out of memory");
    }
    for (size_t i = 0; i <= r->steps; i++) val[i] = NAN;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step");
        if (cJSON_IsNumber(step) && step->valuedouble >= 1 && step->valuedouble <= (double)r->steps) {
            size_t k = (size_t)step->valuedouble;
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "val_loss");
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "ms");
            if (cJSON_IsNumber(v)) val[k] = v->valuedouble;
            if (cJSON_IsNumber(t)) ms[k] = t->valuedouble;
        }
        cJSON_Delete(j);
        line = nl ? nl + 1 : NULL;
    }
    double total = 0;
    r->n_curve = 0;
    for (size_t k = 1; k <= r->steps; k++) {
        total += ms[k];
        if (!isnan(val[k]) && r->n_curve < XF_STUDY_MAX_CURVE) {
            r->curve_flops[r->n_curve] = (double)k * r->flops_per_step;
            r->curve_loss[r->n_curve++] = val[k];
        }
    }
    r->train_s = total / 1e3;
    r->tokens_per_s = total > 0 ? r->tokens / (total / 1e3) : 0;
    free(ms), free(val), free(text);
    return XF_OK;
}

typedef struct {
    xf_study *s;
    xf_study_cb cb;
    void *ctx;
    size_t k;              /* index of the model in training */
    double flops_todo;     /* of the whole study when this process started */
    double flops_done;     /* by this process, models finished */
    double t0;
    const xf_study_result *r;
    int asked_stop;        /* the callback asked the model in training to stop */
} run_ctx;

static int on_train(const xf_train_event *ev, void *p) {
    run_ctx *c = p;
    double done = c->flops_done + (double)ev->step * c->r->flops_per_step;
    double el = (xf_now_ms() - c->t0) / 1e3;
    xf_study_event se = {.is_eval = ev->is_eval, .k = c->k + 1, .n = c->s->n, .name = c->r->name,
                         .step = ev->step, .steps = ev->steps, .loss = ev->is_eval ? ev->val_loss : ev->loss,
                         .eta_s = done > 0 ? el * (c->flops_todo - done) / done : 0, .warning = ev->warning};
    int stop = c->cb ? c->cb(&se, c->ctx) : 0;
    c->asked_stop |= stop != 0;
    return stop;
}

/* Train (or resume) one model, then evaluate it. */
static xf_status run_model(run_ctx *c, xf_study_result *r, const xf_study_plan *pl, const xf_study_evalset *e,
                           int *stopped) {
    const xf_study_opts *o = &c->s->opts;
    char dir[4096], cfgpath[4200], probe[4300];
    snprintf(dir, sizeof dir, "%s/models/%s", o->out, r->name);
    snprintf(cfgpath, sizeof cfgpath, "%s/models/%s.json", o->out, r->name);
    char *js = xf_config_to_json(&pl->cfg);
    if (!js) return xf_fail(XF_ERR_OOM, "out of memory");
    xf_status st = xf_file_write_atomic(cfgpath, js, strlen(js));
    free(js);
    if (st) return st;
    snprintf(probe, sizeof probe, "%s/model.safetensors", dir);
    xf_objective obj;
    if ((st = xf_objective_parse(r->objective, &obj))) return st;
    xf_train_paths p = {.model = cfgpath, .data = o->data, .out = dir, .tokenizer = o->tokenizer,
                        .resume = exists(probe)};
    xf_train_opts t;
    xf_train_opts_default(&t);
    t.steps = r->steps;
    t.batch = o->batch;
    t.seq = o->seq;
    t.target_seq = pl->target_seq;
    t.objective = (int)obj;
    t.lr = o->lr;
    t.min_lr = o->lr / 10;
    t.warmup = r->steps / 10 < 50 ? r->steps / 10 : 50;
    t.eval_every = r->steps / o->curve_points ? r->steps / o->curve_points : 1;
    t.eval_batches = 4;
    t.save_every = t.eval_every;
    t.seed = 1000 + r->seed;
    t.threads = o->threads;
    c->r = r;
    /* XF_OK also when the callback asked to stop: the checkpoint is saved */
    if ((st = xf_train(&p, &t, on_train, c))) return st;
    if ((st = read_log(r, dir))) return st;
    /* finished only when not stopped and the last step's evaluation is in the log */
    if (c->asked_stop || r->n_curve == 0 || r->curve_flops[r->n_curve - 1] < (double)r->steps * r->flops_per_step) {
        *stopped = 1;
        return XF_OK;
    }
    if ((st = xf_study_evaluate(e, dir, obj, &r->scores))) return st;
    r->done = 1;
    return XF_OK;
}

/* ---- the study ------------------------------------------------------------------ */

/* The held-out part as text, for xfmr routes' corpus summary. */
static xf_status write_heldout(const xf_study *s, const xf_dataset *ds, const xf_tokenizer *tok) {
    size_t n0 = xf_dataset_train_len(ds), n = xf_dataset_val_len(ds);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) return xf_fail(XF_ERR_OOM, "out of memory");
    xf_status st = xf_dataset_copy(ds, n0, n, ids);
    char *text = NULL;
    size_t len = 0;
    if (!st) st = xf_tokenizer_decode(tok, ids, n, &text, &len);
    free(ids);
    char path[4096];
    snprintf(path, sizeof path, "%s/heldout.txt", s->opts.out);
    if (!st) st = xf_file_write_atomic(path, text, len);
    free(text);
    return st;
}

/* Plan every result (a skip reason for an objective this build lacks). */
static xf_status plan_all(xf_study *s, const xf_study_grid *g, size_t vocab, xf_study_plan *plans) {
    const xf_study_opts *o = &s->opts;
    xf_study_shape_opts so = {.batch = o->batch, .seq = o->seq, .vocab = vocab, .budget = o->budget};
    for (size_t gi = 0; gi < g->n; gi++)
        for (size_t k = 0; k < o->seeds; k++) {
            size_t i = gi * o->seeds + k;
            const xf_study_row *row = &g->rows[gi];
            xf_study_result *r = &s->r[i];
            snprintf(r->name, sizeof r->name, k ? "%s-s%zu" : "%s", row->name, k + 1);
            snprintf(r->objective, sizeof r->objective, "%s", row->objective);
            r->arch = row->arch;
            r->moe = row->moe;
            r->seed = k + 1;
            r->scores.bpb = r->scores.denoise = r->scores.fill = NAN;
            xf_objective obj;
            if (xf_objective_parse(row->objective, &obj)) {
                snprintf(r->skip, sizeof r->skip, "objective %s is not in this build (xf_objective_parse: %.200s)",
                         row->objective, xf_last_error());
                continue;
            }
            xf_status st = xf_study_plan_row(row, &so, &plans[i]);
            if (st) return st;
            const xf_study_plan *pl = &plans[i];
            r->hidden = pl->cfg.hidden_size;
            r->layers = pl->cfg.num_hidden_layers;
            r->dec_layers = pl->cfg.arch == XF_ARCH_ENCODER_DECODER ? xf_config_decoder_layers(&pl->cfg) : 0;
            r->heads = pl->cfg.num_attention_heads;
            r->experts = pl->cfg.num_experts;
            r->steps = pl->steps;
            r->params = pl->params;
            r->active_params = pl->active_params;
            r->flops_per_step = pl->flops_per_step;
            r->tokens = (double)pl->steps * (double)o->batch * (double)(pl->T + pl->S);
        }
    return XF_OK;
}

xf_status xf_study_run(const xf_study_opts *o, xf_study_cb cb, void *ctx, xf_study **out) {
    *out = NULL;
    if (!o->data || !o->out) return xf_fail(XF_ERR_ARG, "study: --data and --out are required");
    if (!(o->budget > 0) || o->seeds == 0 || o->batch == 0 || o->seq == 0 || o->curve_points == 0 ||
        o->eval_windows == 0)
        return xf_fail(XF_ERR_ARG, "study: --budget, --seeds, --batch, --seq must be positive");
    xf_study_grid *g = malloc(sizeof *g);
    xf_study *s = calloc(1, sizeof *s);
    xf_study_plan *plans = NULL;
    xf_tokenizer *tok = NULL;
    xf_dataset *ds = NULL;
    xf_study_evalset e;
    memset(&e, 0, sizeof e);
    xf_status st = g && s ? XF_OK : xf_fail(XF_ERR_OOM, "out of memory");
    if (!st) st = xf_study_grid_load(g, o->grid);
    if (st) goto done;
    s->opts = *o;
    snprintf(s->grid_name, sizeof s->grid_name, "%s", g->name);
    s->n = g->n * o->seeds;
    s->r = calloc(s->n, sizeof *s->r);
    plans = calloc(s->n, sizeof *plans);
    if (!s->r || !plans) {
        st = xf_fail(XF_ERR_OOM, "out of memory");
        goto done;
    }
    if ((st = xf_tokenizer_load(&tok, o->tokenizer ? o->tokenizer : "byte"))) goto done;
    if ((st = xf_dataset_open(&ds, o->data, tok))) goto done;
    if ((st = xf_dataset_split(ds, 0.1, o->seq))) goto done;
    if ((st = xf_study_evalset_make(&e, ds, tok, o->seq, o->eval_windows, 0x57D7ull))) goto done;
    s->L = e.L;
    s->n_masked = e.n_masked;
    s->T = e.T;
    s->lm_tokens = e.n_lm * e.T;
    s->lm_bytes = e.lm_bytes;
    if ((st = plan_all(s, g, xf_tokenizer_vocab_size(tok), plans))) goto done;
    /* every input is valid: now the output directory may be touched */
    char models[4096];
    snprintf(models, sizeof models, "%s/models", o->out);
    if ((st = mkdir_p(models))) goto done;
    if ((st = load_state(s))) goto done;
    if ((st = write_heldout(s, ds, tok))) goto done;
    xf_dataset_free(ds);
    ds = NULL;
    run_ctx c = {.s = s, .cb = cb, .ctx = ctx, .t0 = xf_now_ms()};
    for (size_t i = 0; i < s->n; i++)
        if (!s->r[i].done && !s->r[i].skip[0]) c.flops_todo += (double)s->r[i].steps * s->r[i].flops_per_step;
    for (size_t i = 0; i < s->n && !st; i++) {
        xf_study_result *r = &s->r[i];
        if (r->done || r->skip[0]) continue;
        c.k = i;
        int stopped = 0;
        st = run_model(&c, r, &plans[i], &e, &stopped);
        if (st || stopped) {
            s->interrupted = stopped;
            break;
        }
        c.flops_done += (double)r->steps * r->flops_per_step;
        st = save_state(s);
    }
    if (!st && !s->interrupted) st = save_state(s);
done:
    xf_study_evalset_free(&e);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
    free(plans);
    free(g);
    if (st) xf_study_free(s);
    else *out = s;
    return st;
}
