/* Private: the table of model writers (src/model/model_export.c). */
#ifndef XF_MODEL_MODEL_EXPORT_H
#define XF_MODEL_MODEL_EXPORT_H

#include "xfmr/model.h"
#include "xfmr/tokenizer.h"

typedef struct {
    const char *name; /* --format NAME */
    const char *what; /* one line for --help */
    /* dtype: NULL for the format's default, else "f32", "f16", "bf16", "q8_0" */
    xf_status (*write)(const xf_model *m, const xf_tokenizer *tok, const char *out, const char *dtype);
} model_writer;

size_t model_writer_count(void);
const model_writer *model_writer_at(size_t i);

#endif
