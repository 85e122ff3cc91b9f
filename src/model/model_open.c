/* Opening a model from any source: one table of formats.
 *
 * A model SPEC is a preset name, a config.json path, an xfmr checkpoint
 * directory, or a foreign model (a Hugging Face directory, a .gguf file, a
 * llama2.c .bin). Each row of FORMATS says how to recognise its kind of SPEC
 * and how to read its config, its weights and the tokenizer it carries.
 * Readers for new formats add one row; callers never test formats themselves.
 *
 * Rows are tried in order; the first whose `detect` says yes owns the SPEC.
 * The native row comes last and also takes presets and config files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "model/hf_io.h"
#include "model/gguf_arch.h"
#include "model/llama2c.h"
#include "model/model_internal.h"
#include "model/model_open.h"
#include "xfmr/model.h"
#include "xfmr/tokenizer.h"

/* ---- xfmr's own checkpoints, presets and config files ---- */

static int native_detect(const char *spec) {
    (void)spec;
    return 1; /* the fallback: presets, config files and checkpoint directories */
}

static xf_status native_config(xf_config *cfg, const char *spec) { return xf_config_load(cfg, spec); }

static xf_status native_open(xf_model **out, const char *spec) {
    if (!xf_path_is_dir(spec))
        return xf_fail(XF_ERR_ARG, "%s: not a model (expected a checkpoint directory, a Hugging Face directory, "
                                   "a .gguf or a llama2.c .bin file)", spec);
    return xf_model_load(out, spec);
}

static xf_status native_tokenizer(xf_tokenizer **out, const char *spec) {
    *out = NULL;
    if (!xf_path_is_dir(spec)) return XF_OK; /* a preset or config file carries none */
    static const char *const names[] = {"tokenizer.json", "tokenizer.model", "tokenizer.bin"};
    int any = 0;
    for (size_t i = 0; i < 3 && !any; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", spec, names[i]);
        FILE *f = fopen(path, "rb");
        any = f != NULL;
        if (f) fclose(f);
    }
    if (!any) return XF_OK; /* a checkpoint converted from a model without one carries none */
    return xf_tokenizer_load(out, spec);
}

static const model_format FORMATS[] = {
    /* foreign readers go above the native row */
    {"hf", hf_detect, hf_config, hf_open, hf_tokenizer},
    {"gguf", gguf_model_detect, gguf_model_config, gguf_model_open, gguf_model_tokenizer}, /* src/model/gguf_arch.c */
    {"llama2c", llama2c_detect, llama2c_config, llama2c_open, llama2c_tokenizer}, /* src/model/llama2c.c */
    {"xfmr", native_detect, native_config, native_open, native_tokenizer},
};
#define N_FORMATS (sizeof FORMATS / sizeof FORMATS[0])

const model_format *model_format_of(const char *spec) {
    for (size_t i = 0; i < N_FORMATS; i++)
        if (FORMATS[i].detect(spec)) return &FORMATS[i];
    return &FORMATS[N_FORMATS - 1];
}

const char *xf_model_format_name(const char *spec) {
    if (!spec) return "none";
    return model_format_of(spec)->name;
}

xf_status xf_model_open_config(xf_config *cfg, const char *spec) {
    if (!spec || !*spec) return xf_fail(XF_ERR_ARG, "no model given");
    return model_format_of(spec)->config(cfg, spec);
}

xf_status xf_model_open(xf_model **out, const char *spec) {
    *out = NULL;
    if (!spec || !*spec) return xf_fail(XF_ERR_ARG, "no model given");
    return model_format_of(spec)->open(out, spec);
}

xf_status xf_model_open_tokenizer(xf_tokenizer **out, const char *spec) {
    *out = NULL;
    if (!spec || !*spec) return xf_fail(XF_ERR_ARG, "no model given");
    return model_format_of(spec)->tokenizer(out, spec);
}
