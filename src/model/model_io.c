/* Model checkpoints: DIR/config.json + DIR/model.safetensors.
 *
 * Names and shapes come from the parameter table, so writing and reading are
 * the same loop. Reading refuses a file that lacks a tensor, has an extra one,
 * or disagrees in shape or dtype (F32, F16 and BF16 are converted to F32).
 * Writes are atomic, so a failure never damages an existing checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "model/model_internal.h"
#include "xfmr/safetensors.h"

xf_status model_save_config(const xf_model *m, const char *dir) {
    xf_status s = mkdir_p(dir);
    if (s) return s;
    char path[4096];
    char *json = xf_config_to_json(&m->cfg);
    if (!json) return xf_fail(XF_ERR_OOM, "out of memory writing the config");
    snprintf(path, sizeof path, "%s/config.json", dir);
    s = xf_file_write_atomic(path, json, strlen(json));
    free(json);
    return s;
}

xf_status model_save_weights(const xf_model *m, const char *path, const char *key, const char *value) {
    xf_st_writer *w = NULL;
    xf_status s = xf_st_writer_create(&w);
    if (s) return s;
    for (size_t i = 0; i < m->ntensors && !s; i++) {
        const xf_param_info *p = &m->table[i];
        s = xf_st_writer_add(w, p->name, XF_DT_F32, p->ndim, p->shape, m->params + p->offset);
    }
    if (!s) s = xf_st_writer_meta(w, "producer", "xfmr");
    if (!s && key) s = xf_st_writer_meta(w, key, value);
    if (!s) s = xf_st_writer_write(w, path);
    xf_st_writer_free(w);
    return s;
}

xf_status xf_model_save(const xf_model *m, const char *dir) {
    xf_status s = model_save_config(m, dir);
    if (s) return s;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    return model_save_weights(m, path, NULL, NULL);
}

xf_status xf_model_load_weights(xf_model *m, const char *path) {
    xf_st_file *f = NULL;
    xf_status s = xf_st_open(&f, path);
    if (s) return s;
    for (size_t i = 0; i < m->ntensors && !s; i++) {
        const xf_param_info *p = &m->table[i];
        s = xf_st_read_f32(f, p->name, m->params + p->offset, p->ndim, p->shape);
    }
    /* every tensor in the file must belong to the model */
    for (size_t i = 0; i < xf_st_count(f) && !s; i++) {
        const xf_st_tensor *t = xf_st_at(f, i);
        if (xf_model_find_tensor(m, t->name) == (size_t)-1)
            s = xf_fail(XF_ERR_FORMAT, "%s: tensor '%s' is not part of this model's config", path,
                        t->name);
    }
    xf_st_close(f);
    return s;
}

xf_status xf_model_load(xf_model **out, const char *dir) {
    *out = NULL;
    xf_config cfg;
    char path[4096];
    if (!xf_path_is_dir(dir)) return xf_fail(XF_ERR_IO, "%s: not a checkpoint directory", dir);
    snprintf(path, sizeof path, "%s/config.json", dir);
    xf_status s = xf_config_load(&cfg, path);
    if (s) return s;
    xf_model *m = NULL;
    if ((s = xf_model_create(&m, &cfg))) return s;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if ((s = xf_model_load_weights(m, path))) {
        xf_model_free(m);
        return s;
    }
    *out = m;
    return XF_OK;
}
