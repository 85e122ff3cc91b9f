/* Private: models in GGUF (src/model/gguf_arch.c; docs/formats.md §GGUF). */
#ifndef XF_MODEL_GGUF_ARCH_H
#define XF_MODEL_GGUF_ARCH_H

#include "model/model_open.h"

/* The row of FORMATS: a regular file that starts with "GGUF" or is named *.gguf */
int gguf_model_detect(const char *spec);
xf_status gguf_model_config(xf_config *cfg, const char *spec);
xf_status gguf_model_open(xf_model **out, const char *spec);
xf_status gguf_model_tokenizer(xf_tokenizer **out, const char *spec);
/* The row of WRITERS: "llama" (dense or Mixtral-style MoE) or "gpt2"; dtype
 * NULL/f32, f16, bf16, q8_0 for the matrices (norms and biases stay f32). */
xf_status gguf_model_export(const xf_model *m, const xf_tokenizer *tok, const char *out, const char *dtype);

#endif
