/* Private: the table of model sources (src/model/model_open.c). */
#ifndef XF_MODEL_MODEL_OPEN_H
#define XF_MODEL_MODEL_OPEN_H

#include "xfmr/config.h"
#include "xfmr/model.h"
#include "xfmr/tokenizer.h"

typedef struct {
    const char *name;                                  /* "xfmr", "hf", "gguf", "llama2c" */
    int (*detect)(const char *spec);                   /* 1: this SPEC is of this format */
    xf_status (*config)(xf_config *cfg, const char *spec);
    xf_status (*open)(xf_model **out, const char *spec);     /* config + weights */
    xf_status (*tokenizer)(xf_tokenizer **out, const char *spec); /* *out = NULL: carries none */
} model_format;

const model_format *model_format_of(const char *spec);

#endif
