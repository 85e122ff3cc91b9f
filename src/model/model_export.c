/* Writing a model in a foreign format: one table of writers.
 *
 * Each row names a format (`xfmr export --format NAME`) and the function that
 * writes a model and its tokenizer there; docs/formats.md describes each
 * layout. Writers never need the training state: the weights and the config
 * are the whole model. */
#include <string.h>

#include "model/hf_io.h"
#include "model/gguf_arch.h"
#include "model/llama2c.h"
#include "model/model_internal.h"
#include "model/model_export.h"
#include "xfmr/model.h"

/* xfmr's own checkpoint directory (config.json, model.safetensors, tokenizer). */
static xf_status export_xfmr(const xf_model *m, const xf_tokenizer *tok, const char *out, const char *dtype) {
    if (dtype && strcmp(dtype, "f32") != 0)
        return xf_fail(XF_ERR_UNSUPPORTED, "export xfmr: --dtype %s is not supported (xfmr checkpoints are f32)", dtype);
    xf_status s = xf_model_save(m, out);
    if (!s && tok) s = xf_tokenizer_save(tok, out);
    return s;
}

static const model_writer WRITERS[] = {
    /* one row per format: the name --format takes, a line for --help, the writer */
    {"xfmr", "an xfmr checkpoint directory", export_xfmr},
    {"hf", "a Hugging Face directory (config.json, model.safetensors, tokenizer)", hf_export},
    {"gguf", "a GGUF v3 file for llama.cpp (llama or gpt2; --dtype f32, f16, bf16, q8_0)", gguf_model_export},
    {"llama2c", "a llama2.c checkpoint: version 1 (f32) or 2 (--dtype q8_0)", llama2c_export},
    {"llama2c-v0", "a legacy headerless llama2.c checkpoint (f32)", llama2c_export_v0},
};
#define N_WRITERS (sizeof WRITERS / sizeof WRITERS[0])

size_t model_writer_count(void) { return N_WRITERS; }
const model_writer *model_writer_at(size_t i) { return i < N_WRITERS ? &WRITERS[i] : NULL; }

xf_status xf_model_export(const xf_model *m, const xf_tokenizer *tok, const char *format, const char *out,
                          const char *dtype) {
    if (!m || !format || !out) return xf_fail(XF_ERR_ARG, "xf_model_export: NULL argument");
    for (size_t i = 0; i < N_WRITERS; i++)
        if (!strcmp(WRITERS[i].name, format)) return WRITERS[i].write(m, tok, out, dtype);
    char list[256] = "";
    for (size_t i = 0; i < N_WRITERS; i++) {
        if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, WRITERS[i].name, sizeof list - strlen(list) - 1);
    }
    return xf_fail(XF_ERR_ARG, "unknown export format '%s' (supported: %s)", format, list);
}
