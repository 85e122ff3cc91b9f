/* Hugging Face directories, in and out (docs/formats.md §Hugging Face directories).
 *
 * A directory as transformers saves it: config.json (that architecture's own
 * field names), model.safetensors or shards model-0000K-of-0000N.safetensors
 * listed by model.safetensors.index.json, and a tokenizer (tokenizer.json or
 * tokenizer.model) when there is one. Everything specific to an architecture
 * is a row of src/model/hf_arch.c; this file walks the rows.
 *
 * Reading: the config becomes an xf_config, every shard is opened (memory-
 * mapped, validated by io/safetensors.c) and its tensors go into one sorted
 * index (name -> shard, tensor), checked against the index json. Each tensor
 * of xfmr's parameter table is then looked up there by its HF name (a binary
 * search) and converted (F32/F16/BF16/F64 -> f32, with the row's layout
 * change). A tensor left over that the row does not list as ignorable is an
 * error, as is a missing one: the load is all or nothing. */
#include "model/hf_io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/file.h"
#include "model/hf_arch.h"
#include "model/model_internal.h"
#include "xfmr/safetensors.h"

#define HF_CONFIG_MAX ((size_t)1 << 20) /* config.json */
#define HF_INDEX_MAX ((size_t)64 << 20) /* model.safetensors.index.json */
#define HF_MAX_SHARDS 100000
#define HF_NAME_MAX 256

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Read and parse a JSON object file of at most max bytes. */
static xf_status read_json(const char *path, size_t max, cJSON **out) {
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    xf_status st = xf_file_read_all(path, &text, &len, max);
    if (st) return st;
    if (len == 0) {
        free(text);
        return xf_fail(XF_ERR_FORMAT, "%s: the file is empty", path);
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    size_t off = root ? 0 : (end && end >= text && end <= text + len) ? (size_t)(end - text) : 0;
    free(text);
    if (!root) return xf_fail(XF_ERR_FORMAT, "%s: invalid JSON (truncated or malformed) near byte %zu", path, off);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return xf_fail(XF_ERR_FORMAT, "%s: the top level must be a JSON object", path);
    }
    for (const cJSON *it = root->child; it; it = it->next)
        for (const cJSON *q = root->child; q != it; q = q->next)
            if (it->string && q->string && !strcmp(it->string, q->string)) {
                xf_status s = xf_fail(XF_ERR_FORMAT, "%s: duplicate field \"%.64s\"", path, it->string);
                cJSON_Delete(root);
                return s;
            }
    *out = root;
    return XF_OK;
}

/* DIR/NAME into buf; an error when it does not fit. */
static xf_status join(char *buf, size_t n, const char *dir, const char *name) {
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    int w = snprintf(buf, n, "%.*s/%s", (int)dl, dir, name);
    if (w < 0 || (size_t)w >= n) return xf_fail(XF_ERR_ARG, "%s: path too long", dir);
    return XF_OK;
}

/* ---------------------------------------------------------------- config */

/* The value of `it` as compact JSON, cut to fit buf[n], for messages. */
static const char *json_text(const cJSON *it, char *buf, size_t n) {
    char *t = cJSON_PrintUnformatted(it);
    snprintf(buf, n, "%s", t ? t : "?");
    if (t && strlen(t) >= n && n > 4) memcpy(buf + n - 4, "...", 4);
    free(t);
    return buf;
}

/* 1 when the compact JSON text of `it` is one of the "|"-separated `allowed`. */
static int json_allowed(const cJSON *it, const char *allowed) {
    char *t = cJSON_PrintUnformatted(it);
    if (!t) return 0;
    int ok = 0;
    size_t tl = strlen(t);
    for (const char *p = allowed; *p && !ok;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        ok = n == tl && !memcmp(p, t, n);
        p += n + (bar ? 1 : 0);
    }
    free(t);
    return ok;
}

/* Parse one field row's value into c; `first` is the row that already set the same field, or NULL. */
static xf_status parse_field(const hf_field *f, const cJSON *it, xf_config *c, const hf_field *first,
                             const char *path) {
    void *slot = (char *)c + f->off;
    xf_config before = *c;
    char got[48];
    switch (f->kind) {
    case HF_SIZE:
    case HF_INT: {
        double v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
        double lo = f->kind == HF_INT ? -1.0 : 1.0, hi = 1073741824.0;
        if (!isfinite(v) || v != floor(v) || v < lo || v > hi)
            return xf_fail(XF_ERR_FORMAT, "%s: %s must be an integer in [%.0f, 2^30], got %s", path, f->key, lo,
                           json_text(it, got, sizeof got));
        if (f->kind == HF_INT) *(int *)slot = (int)v;
        else *(size_t *)slot = (size_t)v;
        break;
    }
    case HF_FLOAT:
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
            return xf_fail(XF_ERR_FORMAT, "%s: %s must be a finite number, got %s", path, f->key,
                           json_text(it, got, sizeof got));
        *(float *)slot = (float)it->valuedouble;
        break;
    case HF_BOOL:
        if (!cJSON_IsBool(it))
            return xf_fail(XF_ERR_FORMAT, "%s: %s must be true or false, got %s", path, f->key,
                           json_text(it, got, sizeof got));
        *(int *)slot = cJSON_IsTrue(it);
        break;
    case HF_ACT: {
        xf_act a;
        if (!cJSON_IsString(it) || hf_act_parse(it->valuestring, &a))
            return xf_fail(XF_ERR_UNSUPPORTED, "%s: %s: %s is not supported (supported: %s)", path, f->key,
                           json_text(it, got, sizeof got), hf_act_list());
        *(xf_act *)slot = a;
        break;
    }
    }
    if (first && memcmp((char *)&before + f->off, slot, f->kind == HF_SIZE ? sizeof(size_t) : sizeof(int)) != 0)
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: %s must equal %s (xfmr has one setting for both)", path, f->key,
                       first->key);
    return XF_OK;
}

/* An HF config (parsed) -> xf_config, validated. *arch_out gets the row. */
xf_status hf_config_from_json(const cJSON *root, const char *path, const hf_arch **arch_out, xf_config *cfg) {
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    char list[256];
    hf_arch_list(list, sizeof list);
    if (!mt || !cJSON_IsString(mt))
        return xf_fail(XF_ERR_FORMAT, "%s: model_type: missing or not a string (supported: %s)", path, list);
    const hf_arch *a = hf_arch_find(mt->valuestring);
    if (!a)
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: model_type: \"%.64s\" is not supported (supported: %s)", path,
                       mt->valuestring, list);
    xf_config c;
    a->fixed(&c);
    for (size_t i = 0; i < a->nmusts; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, a->musts[i].key);
        if (it && !cJSON_IsNull(it) && !json_allowed(it, a->musts[i].allowed)) {
            char got[64];
            return xf_fail(XF_ERR_UNSUPPORTED, "%s: %s = %s is not supported by xfmr's %s (supported: %s)", path,
                           a->musts[i].key, json_text(it, got, sizeof got), a->model_type, a->musts[i].allowed);
        }
    }
    for (size_t i = 0; i < a->nfields; i++) {
        const hf_field *f = &a->fields[i];
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, f->key);
        if (!it || cJSON_IsNull(it)) {
            if (f->required) return xf_fail(XF_ERR_FORMAT, "%s: missing required field %s", path, f->key);
            continue;
        }
        const hf_field *first = NULL; /* an earlier row, present in the file, that fills the same field */
        for (size_t j = 0; j < i && !first; j++)
            if (a->fields[j].off == f->off) {
                const cJSON *jt = cJSON_GetObjectItemCaseSensitive(root, a->fields[j].key);
                if (jt && !cJSON_IsNull(jt)) first = &a->fields[j];
            }
        xf_status s = parse_field(f, it, &c, first, path);
        if (s) return s;
    }
    if (a->post) {
        xf_status s = a->post(&c, root, path);
        if (s) return s;
    }
    xf_status s = xf_config_validate(&c, path);
    if (s) return s;
    *cfg = c;
    *arch_out = a;
    return XF_OK;
}

static xf_status load_config(const char *dir, const hf_arch **a, xf_config *cfg) {
    char path[4096];
    xf_status s = join(path, sizeof path, dir, "config.json");
    cJSON *root = NULL;
    if (!s) s = read_json(path, HF_CONFIG_MAX, &root);
    if (!s) s = hf_config_from_json(root, path, a, cfg);
    cJSON_Delete(root);
    return s;
}

int hf_detect(const char *spec) {
    char path[4096];
    if (!xf_path_is_dir(spec) || join(path, sizeof path, spec, "config.json") || !file_exists(path)) return 0;
    cJSON *root = NULL;
    if (read_json(path, HF_CONFIG_MAX, &root)) {
        xf_clear_error();
        return 0; /* the native reader reports what is wrong with it */
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    /* a model_type that is not xfmr's (any non-string one is reported by the HF reader) */
    int hf = mt && (!cJSON_IsString(mt) || strcmp(mt->valuestring, "xfmr") != 0);
    cJSON_Delete(root);
    return hf;
}

xf_status hf_config(xf_config *cfg, const char *spec) {
    const hf_arch *a;
    return load_config(spec, &a, cfg);
}

/* The tokenizer the directory carries: tokenizer.model (SentencePiece) when
 * there is one, since xfmr reads tokenizer.json only for byte-level BPE and
 * LLaMA-family directories often hold both; else tokenizer.json; else none. */
xf_status hf_tokenizer(xf_tokenizer **out, const char *spec) {
    *out = NULL;
    char path[4096];
    static const char *const names[] = {"tokenizer.model", "tokenizer.json"};
    for (int i = 0; i < 2; i++) {
        xf_status s = join(path, sizeof path, spec, names[i]);
        if (s) return s;
        if (file_exists(path)) return xf_tokenizer_load(out, path);
    }
    return XF_OK; /* carries none */
}

/* ---------------------------------------------------------------- shards */

typedef struct {
    const char *name;
    const xf_st_tensor *t;
    size_t shard;
    int used, listed;
} hf_entry;

typedef struct {
    xf_st_file **files;
    char **fnames; /* shard file names, as in the index (or "model.safetensors") */
    size_t nfiles;
    hf_entry *ents; /* sorted by name */
    size_t nents;
    const char *dir;
} hf_shards;

static void shards_close(hf_shards *h) {
    for (size_t i = 0; i < h->nfiles; i++) {
        xf_st_close(h->files[i]);
        free(h->fnames[i]);
    }
    free(h->files);
    free(h->fnames);
    free(h->ents);
    memset(h, 0, sizeof *h);
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const hf_entry *)a)->name, ((const hf_entry *)b)->name);
}
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static hf_entry *shards_find(const hf_shards *h, const char *name) {
    hf_entry key = {.name = name};
    return bsearch(&key, h->ents, h->nents, sizeof key, cmp_entry);
}

/* A shard name from the index: a plain file name in the directory. */
static xf_status check_shard_name(const char *ipath, const char *tensor, const cJSON *v) {
    if (!cJSON_IsString(v))
        return xf_fail(XF_ERR_FORMAT, "%s: weight_map[\"%.64s\"] must be a file name string", ipath, tensor);
    const char *s = v->valuestring;
    size_t n = strlen(s);
    if (n == 0 || n > 255 || strchr(s, '/') || strchr(s, '\\') || !strcmp(s, ".") || !strcmp(s, ".."))
        return xf_fail(XF_ERR_FORMAT, "%s: weight_map[\"%.64s\"] = \"%.64s\" is not a file name in the directory",
                       ipath, tensor, s);
    return XF_OK;
}

/* Open the shards named (sorted, distinct) in names[n]; build the sorted entry index. */
static xf_status shards_open_files(hf_shards *h, char **names, size_t n, const char *listed_by) {
    h->files = calloc(n, sizeof *h->files);
    h->fnames = calloc(n, sizeof *h->fnames);
    if (!h->files || !h->fnames) return xf_fail(XF_ERR_OOM, "%s: out of memory", h->dir);
    char path[4096];
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        h->fnames[i] = names[i];
        names[i] = NULL;
        h->nfiles = i + 1;
        xf_status s = join(path, sizeof path, h->dir, h->fnames[i]);
        if (!s && listed_by && !file_exists(path))
            return xf_fail(XF_ERR_IO, "%s: shard %s listed in %s is missing", path, h->fnames[i], listed_by);
        if (!s) s = xf_st_open(&h->files[i], path);
        if (s) return s;
        total += xf_st_count(h->files[i]);
    }
    h->ents = calloc(total ? total : 1, sizeof *h->ents);
    if (!h->ents) return xf_fail(XF_ERR_OOM, "%s: out of memory", h->dir);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < xf_st_count(h->files[i]); k++) {
            const xf_st_tensor *t = xf_st_at(h->files[i], k);
            h->ents[h->nents++] = (hf_entry){.name = t->name, .t = t, .shard = i};
        }
    qsort(h->ents, h->nents, sizeof *h->ents, cmp_entry);
    for (size_t i = 1; i < h->nents; i++)
        if (!strcmp(h->ents[i].name, h->ents[i - 1].name))
            return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s' is in two shards, %s and %s", h->dir, h->ents[i].name,
                           h->fnames[h->ents[i - 1].shard], h->fnames[h->ents[i].shard]);
    return XF_OK;
}

static xf_status shards_open(hf_shards *h, const char *dir) {
    memset(h, 0, sizeof *h);
    h->dir = dir;
    char ipath[4096], spath[4096];
    xf_status s = join(ipath, sizeof ipath, dir, "model.safetensors.index.json");
    if (!s) s = join(spath, sizeof spath, dir, "model.safetensors");
    if (s) return s;
    if (!file_exists(ipath)) {
        if (!file_exists(spath))
            return xf_fail(XF_ERR_IO, "%s: no model.safetensors or model.safetensors.index.json", dir);
        char *one = strdup("model.safetensors");
        if (!one) return xf_fail(XF_ERR_OOM, "%s: out of memory", dir);
        s = shards_open_files(h, &one, 1, NULL);
        free(one);
        return s;
    }
    cJSON *root = NULL;
    if ((s = read_json(ipath, HF_INDEX_MAX, &root))) return s;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    size_t n = 0;
    char **names = NULL;
    if (!wm || !cJSON_IsObject(wm)) {
        s = xf_fail(XF_ERR_FORMAT, "%s: weight_map: missing or not an object", ipath);
        goto out;
    }
    for (const cJSON *it = wm->child; it; it = it->next) n++;
    if (n == 0) {
        s = xf_fail(XF_ERR_FORMAT, "%s: weight_map is empty", ipath);
        goto out;
    }
    names = calloc(n, sizeof *names);
    if (!names) {
        s = xf_fail(XF_ERR_OOM, "%s: out of memory", ipath);
        goto out;
    }
    size_t k = 0;
    for (const cJSON *it = wm->child; it; it = it->next) {
        if ((s = check_shard_name(ipath, it->string ? it->string : "", it))) goto out;
        names[k++] = it->valuestring; /* borrowed until deduplicated */
    }
    qsort(names, n, sizeof *names, cmp_str);
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        if (!d || strcmp(names[i], names[d - 1])) names[d++] = names[i];
    if (d > HF_MAX_SHARDS) {
        s = xf_fail(XF_ERR_FORMAT, "%s: %zu shards (more than %d)", ipath, d, HF_MAX_SHARDS);
        goto out;
    }
    for (size_t i = 0; i < d; i++) {
        char *c = strdup(names[i]);
        if (!c) {
            for (size_t j = 0; j < i; j++) free(names[j]);
            s = xf_fail(XF_ERR_OOM, "%s: out of memory", ipath);
            goto out_names;
        }
        names[i] = c;
    }
    s = shards_open_files(h, names, d, "model.safetensors.index.json");
    for (size_t i = 0; i < d; i++) free(names[i]); /* those not handed over */
    if (s) goto out_names;
    /* the index and the shards must agree, tensor by tensor */
    for (const cJSON *it = wm->child; it; it = it->next) {
        hf_entry *e = shards_find(h, it->string);
        if (!e) {
            s = xf_fail(XF_ERR_FORMAT, "%s: tensor '%.64s' is listed in %s but no shard holds it", ipath, it->string,
                        it->valuestring);
            goto out_names;
        }
        if (strcmp(h->fnames[e->shard], it->valuestring)) {
            s = xf_fail(XF_ERR_FORMAT, "%s: tensor '%.64s' is listed in %s but is in %s", ipath, it->string,
                        it->valuestring, h->fnames[e->shard]);
            goto out_names;
        }
        if (e->listed) {
            s = xf_fail(XF_ERR_FORMAT, "%s: tensor '%.64s' is listed twice", ipath, it->string);
            goto out_names;
        }
        e->listed = 1;
    }
    for (size_t i = 0; i < h->nents; i++)
        if (!h->ents[i].listed) {
            s = xf_fail(XF_ERR_FORMAT, "%s: tensor '%s' of %s is not in the index's weight_map", ipath,
                        h->ents[i].name, h->fnames[h->ents[i].shard]);
            goto out_names;
        }
out_names:
    free(names);
    names = NULL;
out:
    free(names);
    cJSON_Delete(root);
    return s;
}

/* ---------------------------------------------------------------- weights */

static void shape_str(char *buf, size_t n, size_t ndim, const size_t *shape) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (size_t i = 0; i < ndim && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%zu", i ? ", " : "", shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static xf_status bad_shape(const xf_st_file *f, const xf_st_tensor *t, size_t ndim, const size_t *want) {
    char got[96], exp[96];
    shape_str(got, sizeof got, t->ndim, t->shape);
    shape_str(exp, sizeof exp, ndim, want);
    return xf_fail(XF_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s for this config", xf_st_path(f), t->name,
                   got, exp);
}

/* The HF name of xfmr's tensor `native` in arch a: its row (NULL for an
 * identity name) and the name in buf. */
xf_status hf_name(const hf_arch *a, const char *native, const namemap_row **row, char *buf, size_t n) {
    long L, E;
    *row = a->names ? namemap_find(a->names, a->nnames, 0, native, &L, &E) : NULL;
    if (*row) {
        if ((*row)->op == HF_ZERO) return XF_OK;
        if (namemap_render((*row)->foreign, L, E, buf, n)) return xf_fail(XF_ERR_ARG, "%s: name too long", native);
        return XF_OK;
    }
    if (!a->identity) return xf_fail(XF_ERR_UNSUPPORTED, "%s has no tensor for xfmr's '%s'", a->model_type, native);
    if (strlen(native) >= n) return xf_fail(XF_ERR_ARG, "%s: name too long", native);
    strcpy(buf, native);
    return XF_OK;
}

/* Read HF tensor e into xfmr's tensor p (at dst) with layout change op. */
static xf_status read_op(const xf_model *m, const hf_shards *h, const hf_entry *e, const xf_param_info *p, int op,
                         float *dst) {
    const xf_st_file *f = h->files[e->shard];
    const xf_st_tensor *t = e->t;
    if (op == HF_COPY) return xf_st_read_f32(f, t->name, dst, p->ndim, p->shape);
    size_t fused = m->Q + 2 * m->KV, want[2];
    size_t wn;
    if (op == HF_ROW) {
        want[0] = 1, want[1] = p->numel, wn = 2;
    } else if (op == HF_T) {
        want[0] = p->shape[1], want[1] = p->shape[0], wn = 2;
    } else if (p->ndim == 2) { /* a part of a fused Conv1D weight [in, Q+2KV] */
        want[0] = p->shape[1], want[1] = fused, wn = 2;
    } else {
        want[0] = fused, wn = 1;
    }
    if (t->ndim != wn || t->shape[0] != want[0] || (wn == 2 && t->shape[1] != want[1]))
        return bad_shape(f, t, wn, want);
    if (op == HF_ROW) return xf_st_read_f32(f, t->name, dst, 2, want);
    float *tmp = malloc((t->numel ? t->numel : 1) * sizeof *tmp);
    if (!tmp) return xf_fail(XF_ERR_OOM, "%s: out of memory reading '%s'", xf_st_path(f), t->name);
    xf_status s = xf_st_read_f32(f, t->name, tmp, wn, want);
    if (!s) {
        size_t rows = p->shape[0], cols = p->ndim == 2 ? p->shape[1] : 1;
        size_t off = op == HF_QKV0 ? 0 : op == HF_QKV1 ? m->Q : op == HF_QKV2 ? m->Q + m->KV : 0;
        size_t stride = op == HF_T ? rows : fused; /* row length of the [in, out] source */
        if (p->ndim == 1) memcpy(dst, tmp + off, rows * sizeof *dst);
        else
            for (size_t o = 0; o < rows; o++)
                for (size_t i = 0; i < cols; i++) dst[o * cols + i] = tmp[i * stride + off + o];
    }
    free(tmp);
    return s;
}

/* A leftover tensor the row says carries nothing (with or without the prefix). */
static int ignorable(const hf_arch *a, const char *name) {
    size_t pl = a->prefix ? strlen(a->prefix) : 0;
    const char *bare = pl && !strncmp(name, a->prefix, pl) ? name + pl : name;
    for (const char *const *g = a->ignore; g && *g; g++)
        if (namemap_match(*g, name, NULL, NULL) || namemap_match(*g, bare, NULL, NULL)) return 1;
    return 0;
}

static xf_status load_weights(xf_model *m, const hf_arch *a, hf_shards *h) {
    char name[HF_NAME_MAX], pref[HF_NAME_MAX + 64];
    for (size_t i = 0; i < m->ntensors; i++) {
        const xf_param_info *p = &m->table[i];
        const namemap_row *row;
        xf_status s = hf_name(a, p->name, &row, name, sizeof name);
        if (s) return s;
        int op = row ? row->op : HF_COPY;
        if (op == HF_ZERO) { /* no HF tensor: the parameter is zero */
            memset(m->params + p->offset, 0, p->numel * sizeof(float));
            continue;
        }
        hf_entry *e = NULL;
        if (a->prefix) {
            snprintf(pref, sizeof pref, "%s%s", a->prefix, name);
            e = shards_find(h, pref);
        }
        if (!e) e = shards_find(h, name);
        if (!e)
            return xf_fail(XF_ERR_FORMAT, "%s: missing tensor '%s' (xfmr's %s) of a %s model with this config",
                           h->dir, name, p->name, a->model_type);
        if ((s = read_op(m, h, e, p, op, m->params + p->offset))) return s;
        e->used = 1;
    }
    for (size_t i = 0; i < h->nents; i++)
        if (!h->ents[i].used && !ignorable(a, h->ents[i].name))
            return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s' is not part of a %s model with this config",
                           xf_st_path(h->files[h->ents[i].shard]), h->ents[i].name, a->model_type);
    return XF_OK;
}

xf_status hf_open(xf_model **out, const char *spec) {
    *out = NULL;
    const hf_arch *a;
    xf_config cfg;
    xf_status s = load_config(spec, &a, &cfg);
    if (s) return s;
    hf_shards h;
    if ((s = shards_open(&h, spec))) {
        shards_close(&h);
        return s;
    }
    xf_model *m = NULL;
    if (!(s = model_create_unfilled(&m, &cfg))) s = load_weights(m, a, &h); /* writes every tensor */
    shards_close(&h);
    if (s) {
        xf_model_free(m);
        return s;
    }
    *out = m;
    return XF_OK;
}
