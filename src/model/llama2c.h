/* Private: llama2.c checkpoints (src/model/llama2c.c; docs/formats.md §llama2.c). */
#ifndef XF_MODEL_LLAMA2C_H
#define XF_MODEL_LLAMA2C_H

#include "model/model_open.h"

/* The row of FORMATS (model_open.h): a regular file named *.bin */
int llama2c_detect(const char *spec);
xf_status llama2c_config(xf_config *cfg, const char *spec);
xf_status llama2c_open(xf_model **out, const char *spec);
xf_status llama2c_tokenizer(xf_tokenizer **out, const char *spec); /* none: *out = NULL */
/* version 1 (dtype NULL or "f32") or version 2 ("q8_0", group size 64 or the
 * largest power of two below it dividing dim) */
xf_status llama2c_export(const xf_model *m, const xf_tokenizer *tok, const char *out, const char *dtype);
/* the legacy headerless v0 (f32) */
xf_status llama2c_export_v0(const xf_model *m, const xf_tokenizer *tok, const char *out, const char *dtype);

#endif
