/* xfmr: fast reading of a BPE tokenizer.json's model.vocab and model.merges
 * (see tok_json_fast.c). */
#ifndef XF_DATA_TOK_JSON_FAST_H
#define XF_DATA_TOK_JSON_FAST_H

#include "data/tok_impl.h"

typedef struct {
    char *rest;           /* the document with the members read here blanked */
    size_t rest_len;      /* NULL rest: nothing was read here, parse data itself */
    char *pool;           /* decoded strings, NUL-terminated */
    char **piece;         /* vocab keys */
    double *id_num;       /* vocab values as numbers (checked by the caller) */
    size_t n_vocab;
    int have_vocab, have_merges;
    const char **ma, **mb; /* merges as piece pairs */
    size_t n_merges;
} tok_json_fast;

/* Find and decode model.vocab and model.merges of a BPE model in data. Leaves
 * f->rest NULL when the document does not have the expected shape (the caller
 * then reads everything with cJSON, which reports what is wrong). */
xf_status tok_json_fast_split(const char *data, size_t len, tok_json_fast *f, const char *path);
void tok_json_fast_free(tok_json_fast *f);

#endif
