/* Private: Hugging Face directories in and out (src/model/hf_io.c), the
 * functions of the "hf" rows of FORMATS (model_open.c) and WRITERS
 * (model_export.c). */
#ifndef XF_MODEL_HF_IO_H
#define XF_MODEL_HF_IO_H

#include "xfmr/config.h"
#include "xfmr/model.h"
#include "xfmr/tokenizer.h"

/* 1: SPEC is a directory whose config.json names a model_type other than xfmr's. */
int hf_detect(const char *spec);
xf_status hf_config(xf_config *cfg, const char *spec);
xf_status hf_open(xf_model **out, const char *spec);
xf_status hf_tokenizer(xf_tokenizer **out, const char *spec);
xf_status hf_export(const xf_model *m, const xf_tokenizer *tok, const char *out, const char *dtype);

#endif
