/* xfmr: reading a tokenizer.json's pipeline (see tok_json_pipe.c). */
#ifndef XF_DATA_TOK_JSON_PIPE_H
#define XF_DATA_TOK_JSON_PIPE_H

#include <cjson/cJSON.h>

#include "data/tok_pipe.h"

/* normalizer, pre_tokenizer, decoder, post_processor of root into a new pipe
 * (added tokens and the model's options are filled by tok_json.c). */
/* The member `key` of `o` as a string, or NULL when absent or not a string. */
const char *tok_jstr(const cJSON *o, const char *key);
/* 1 / 0 for a bool member, def if absent or null; -1 if another type. */
int tok_jbool(const cJSON *o, const char *key, int def);

xf_status tok_json_read_pipe(const cJSON *root, tok_pipe **out, const char *path);

#endif
