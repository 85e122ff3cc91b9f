/* xfmr study: the grid of models and their sizing to a FLOPs budget
 * (docs/study.md §Grid, §Sizing).
 *
 * Every model starts from one base (llama-tiny's layer: RoPE, RMSNorm,
 * SwiGLU, no biases; heads of 32) so that the family, the objective and
 * dense/MoE are what differ. A shape is (C, L, H) from SHAPES; the
 * encoder-decoder splits L into L/2 encoder and L/2 decoder layers. The MoE
 * twin has 8 experts of half the FFN width and routes each token to 2: the
 * same active parameters as its dense twin. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "train/flops.h"
#include "xfmr/study.h"
#include "xfmr/memory.h"
#include "xfmr/model.h"

/* The default grid: each row dense and MoE. A row whose objective this build
 * does not know (xf_objective_parse refuses it) is skipped by the run with the
 * reason in the report. */
static const struct {
    xf_arch arch;
    const char *objective;
    const char *sets[2]; /* config changes of the row (GLM: its learned 2D positions) */
} DEFAULT_GRID[] = {
    {XF_ARCH_DECODER, "clm", {NULL}},
    {XF_ARCH_PREFIX_LM, "prefix", {NULL}},
    {XF_ARCH_PREFIX_LM, "glm", {"position_type=learned", "block_position_embeddings=true"}},
    {XF_ARCH_ENCODER_DECODER, "span", {NULL}},
    {XF_ARCH_ENCODER_DECODER, "bart", {NULL}},
    {XF_ARCH_ENCODER, "mlm", {NULL}},
};

/* Shapes from small to large: width C, layers L, heads H (head size 32). */
static const struct {
    size_t C, L, H;
} SHAPES[] = {
    {64, 2, 2}, {96, 2, 3}, {128, 4, 4}, {192, 4, 6}, {256, 6, 8}, {384, 6, 12}, {512, 8, 16},
};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* Chinchilla's compute-optimal ratio (Hoffmann et al. 2022): about 20 training
 * tokens per parameter. */
#define TOKENS_PER_PARAM 20.0
#define MOE_EXPERTS 8
#define MOE_TOPK 2

static const char *short_arch(xf_arch a) {
    return a == XF_ARCH_ENCODER_DECODER ? "encdec" : xf_arch_name(a);
}

static void default_grid(xf_study_grid *g) {
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "default");
    for (size_t i = 0; i < sizeof DEFAULT_GRID / sizeof DEFAULT_GRID[0]; i++)
        for (int moe = 0; moe < 2; moe++) {
            xf_study_row *r = &g->rows[g->n++];
            r->arch = DEFAULT_GRID[i].arch;
            r->moe = moe;
            snprintf(r->objective, sizeof r->objective, "%s", DEFAULT_GRID[i].objective);
            for (size_t k = 0; k < 2 && DEFAULT_GRID[i].sets[k]; k++)
                snprintf(r->sets[r->n_sets++], XF_STUDY_SET_LEN, "%s", DEFAULT_GRID[i].sets[k]);
            snprintf(r->name, sizeof r->name, "%s-%s%s", short_arch(r->arch), DEFAULT_GRID[i].objective,
                     moe ? "-moe" : "");
        }
}

/* Round x up to a multiple of m. */
static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

/* The config of `row` at shape `si` (ignored for a fixed user shape). */
static xf_status row_config(const xf_study_row *row, size_t si, size_t vocab, size_t seq, xf_config *cfg,
                            const char *name) {
    xf_status s = xf_config_preset(cfg, "llama-tiny");
    if (s) return s;
    cfg->arch = row->arch;
    cfg->vocab_size = xf_config_padded_vocab(vocab);
    cfg->max_position_embeddings = seq > 256 ? seq : 256;
    size_t C = SHAPES[si].C, L = SHAPES[si].L, H = SHAPES[si].H;
    size_t I = round_up(C * 11 / 4, 16); /* SwiGLU's 8/3 C, as llama-tiny's 352 for 128 */
    cfg->hidden_size = C;
    cfg->intermediate_size = I;
    cfg->num_attention_heads = H;
    cfg->num_key_value_heads = H;
    cfg->num_hidden_layers = row->arch == XF_ARCH_ENCODER_DECODER ? L / 2 : L;
    cfg->num_decoder_layers = row->arch == XF_ARCH_ENCODER_DECODER ? L / 2 : 0;
    cfg->moe_intermediate_size = I;
    if (row->moe) {
        cfg->num_experts = MOE_EXPERTS;
        cfg->num_experts_per_tok = MOE_TOPK;
        cfg->moe_intermediate_size = I / MOE_TOPK;
    }
    const char *sets[XF_STUDY_MAX_SETS];
    for (size_t i = 0; i < row->n_sets; i++) sets[i] = row->sets[i];
    return xf_config_apply_sets(cfg, sets, row->n_sets, name);
}

size_t xf_study_active_params(const xf_config *cfg) {
    xf_model *m = NULL;
    if (xf_model_create(&m, cfg)) return 0;
    double n = 0;
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        if (!p->trainable) continue;
        double k = p->role == XF_ROLE_EXPERT && cfg->num_experts
                       ? (double)cfg->num_experts_per_tok / (double)cfg->num_experts
                       : 1.0;
        n += (double)p->numel * k;
    }
    xf_model_free(m);
    return (size_t)llround(n);
}

/* Main-stack and encoder tokens per row, as xf_train lays them out. */
static void row_tokens(xf_arch arch, xf_objective obj, size_t seq, size_t *T, size_t *S) {
    *T = seq;
    *S = 0;
    if (arch != XF_ARCH_ENCODER_DECODER) return;
    *S = seq;
    if (obj == XF_OBJ_SPAN) {
        size_t raw = 0, tg = 0;
        xf_span_lengths(seq, 0.15f, 3.0f, &raw, &tg);
        if (tg) *T = tg;
    }
}

/* Fill p for shape si (the config, FLOPs, steps, params). */
static xf_status plan_at(const xf_study_row *row, xf_objective obj, const xf_study_shape_opts *o, size_t si,
                         xf_study_plan *p) {
    memset(p, 0, sizeof *p);
    xf_status s = row_config(row, si, o->vocab, o->seq, &p->cfg, row->name);
    if (s) return s;
    row_tokens(row->arch, obj, o->seq, &p->T, &p->S);
    p->target_seq = row->arch == XF_ARCH_ENCODER_DECODER ? p->T : 0;
    /* a model that would not fit is refused before anything is allocated */
    xf_mem_plan mp;
    xf_mem_plan_train(&mp, &p->cfg, o->batch, p->T, p->S);
    if ((s = xf_mem_check(&mp, row->name, "make the grid's model smaller, or the --batch or --seq"))) return s;
    xf_model *m = NULL;
    if ((s = xf_model_create(&m, &p->cfg))) return s;
    p->flops_per_step = train_step_flops(m, o->batch, p->T, p->S);
    p->params = xf_model_num_params(m);
    xf_model_free(m);
    p->active_params = xf_study_active_params(&p->cfg);
    p->steps = p->flops_per_step > 0 ? (size_t)floor(o->budget / p->flops_per_step) : 0;
    p->shape = row->fixed_shape ? (size_t)-1 : si;
    return XF_OK;
}

xf_status xf_study_plan_row(const xf_study_row *row, const xf_study_shape_opts *o, xf_study_plan *p) {
    xf_objective obj;
    xf_status s = xf_objective_parse(row->objective, &obj);
    if (s) return xf_fail(XF_ERR_ARG, "objective %s is not in this build (xf_objective_parse refuses it)",
                          row->objective);
    if ((s = xf_objective_check(obj, row->arch))) return s;
    if (row->fixed_shape) {
        if ((s = plan_at(row, obj, o, 0, p))) return s;
    } else {
        /* the largest shape that still sees TOKENS_PER_PARAM tokens per active parameter */
        if ((s = plan_at(row, obj, o, 0, p))) return s;
        for (size_t si = 1; si < N_SHAPES; si++) {
            xf_study_plan q;
            if ((s = plan_at(row, obj, o, si, &q))) return s;
            double tokens = (double)q.steps * (double)o->batch * (double)(q.T + q.S);
            if (tokens < TOKENS_PER_PARAM * (double)q.active_params) break;
            *p = q;
        }
    }
    if (p->steps == 0)
        return xf_fail(XF_ERR_ARG, "a budget of %.3g FLOPs does not pay for one step of %s (%.3g FLOPs)", o->budget,
                       row->name, p->flops_per_step);
    return XF_OK;
}

/* ---- a user grid ------------------------------------------------------------ */

static xf_status bad(const char *path, size_t i, const char *what) {
    return xf_fail(XF_ERR_FORMAT, "%s: models[%zu]: %s", path, i, what);
}

static xf_status parse_row(const cJSON *it, size_t i, const char *path, xf_study_row *r) {
    char msg[256];
    if (!cJSON_IsObject(it)) return bad(path, i, "must be an object");
    for (const cJSON *f = it->child; f; f = f->next) {
        if (!f->string) return bad(path, i, "a field without a name");
        if (strcmp(f->string, "name") && strcmp(f->string, "arch") && strcmp(f->string, "objective") &&
            strcmp(f->string, "moe") && strcmp(f->string, "config")) {
            snprintf(msg, sizeof msg, "unknown field \"%.60s\" (name, arch, objective, moe, config)", f->string);
            return bad(path, i, msg);
        }
    }
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(it, "arch");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(it, "objective");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
    const cJSON *moe = cJSON_GetObjectItemCaseSensitive(it, "moe");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(it, "config");
    if (!cJSON_IsString(arch) || !arch->valuestring) return bad(path, i, "arch must be a string");
    int found = 0;
    for (int a = 0; a < XF_ARCH_COUNT; a++)
        if (!strcmp(arch->valuestring, xf_arch_name((xf_arch)a))) {
            r->arch = (xf_arch)a;
            found = 1;
        }
    if (!found) {
        snprintf(msg, sizeof msg, "arch \"%.40s\" is not decoder, encoder, prefix_lm or encoder_decoder",
                 arch->valuestring);
        return bad(path, i, msg);
    }
    if (!cJSON_IsString(obj) || !obj->valuestring || !obj->valuestring[0] ||
        strlen(obj->valuestring) >= sizeof r->objective)
        return bad(path, i, "objective must be a short string (clm, prefix, span, mlm, ul2, bart, ...)");
    snprintf(r->objective, sizeof r->objective, "%s", obj->valuestring);
    xf_objective ob;
    if (xf_objective_parse(r->objective, &ob) == XF_OK && xf_objective_check(ob, r->arch) != XF_OK) {
        snprintf(msg, sizeof msg, "%s", xf_last_error());
        return bad(path, i, msg);
    }
    if (moe && !cJSON_IsBool(moe)) return bad(path, i, "moe must be true or false");
    r->moe = moe && cJSON_IsTrue(moe);
    if (name) {
        if (!cJSON_IsString(name) || !name->valuestring || !name->valuestring[0] ||
            strlen(name->valuestring) >= 48)
            return bad(path, i, "name must be a string of 1 to 47 characters");
        for (const char *c = name->valuestring; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
                  *c == '_' || *c == '.') || (c == name->valuestring && *c == '.'))
                return bad(path, i, "name may hold only letters, digits, '-', '_' and '.' (it names a directory)");
        snprintf(r->name, sizeof r->name, "%s", name->valuestring);
    } else {
        snprintf(r->name, sizeof r->name, "%s-%s%s-%zu", short_arch(r->arch), r->objective, r->moe ? "-moe" : "",
                 i);
    }
    if (cfg) {
        if (!cJSON_IsObject(cfg)) return bad(path, i, "config must be an object of config.json fields");
        for (const cJSON *f = cfg->child; f; f = f->next) {
            if (!f->string) return bad(path, i, "config: a field without a name");
            if (!strcmp(f->string, "arch")) return bad(path, i, "config: give arch beside objective, not in config");
            if (r->n_sets == XF_STUDY_MAX_SETS) return bad(path, i, "config: more than 24 fields");
            char *v = cJSON_PrintUnformatted(f);
            if (!v) return xf_fail(XF_ERR_OOM, "out of memory");
            int n = snprintf(r->sets[r->n_sets], XF_STUDY_SET_LEN, "%s=%s", f->string, v);
            free(v);
            if (n < 0 || n >= XF_STUDY_SET_LEN) {
                snprintf(msg, sizeof msg, "config: field \"%.40s\" is too long", f->string);
                return bad(path, i, msg);
            }
            r->n_sets++;
            if (!strcmp(f->string, "hidden_size") || !strcmp(f->string, "num_hidden_layers")) r->fixed_shape = 1;
        }
    }
    /* the config must hold as written (the fields' own checks, validation) */
    xf_config c;
    char where[300];
    snprintf(where, sizeof where, "%s: models[%zu].config", path, i);
    return row_config(r, 0, 256, 128, &c, where);
}

static xf_status load_file(xf_study_grid *g, const char *path) {
    char *text = NULL;
    size_t len = 0;
    xf_status s = xf_file_read_all(path, &text, &len, (size_t)1 << 20);
    if (s) return s;
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", path);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) return xf_fail(XF_ERR_FORMAT, "%s: not valid JSON", path);
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(models)) {
        cJSON_Delete(root);
        return xf_fail(XF_ERR_FORMAT, "%s: want {\"models\": [{\"arch\": ..., \"objective\": ...}, ...]}", path);
    }
    size_t i = 0;
    for (const cJSON *it = models->child; it && !s; it = it->next, i++) {
        if (i == XF_STUDY_MAX_ROWS) {
            s = xf_fail(XF_ERR_FORMAT, "%s: more than %d models", path, XF_STUDY_MAX_ROWS);
            break;
        }
        s = parse_row(it, i, path, &g->rows[i]);
        for (size_t j = 0; !s && j < i; j++)
            if (!strcmp(g->rows[j].name, g->rows[i].name))
                s = xf_fail(XF_ERR_FORMAT, "%s: models[%zu]: name \"%s\" is taken by models[%zu]", path, i,
                            g->rows[i].name, j);
    }
    cJSON_Delete(root);
    if (s) return s;
    if (i == 0) return xf_fail(XF_ERR_FORMAT, "%s: \"models\" is empty", path);
    g->n = i;
    return XF_OK;
}

xf_status xf_study_grid_load(xf_study_grid *g, const char *spec) {
    if (!spec || !strcmp(spec, "default")) {
        default_grid(g);
        return XF_OK;
    }
    return load_file(g, spec);
}
