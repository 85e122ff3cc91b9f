/* Helpers of the objective tests (test_objective.c, test_bart.c, test_glm.c):
 * the byte tokenizer, an objective's options for an arch, and a token-file
 * dataset. Include after test.h and test_tok_util.h. */
#ifndef XF_TEST_OBJ_UTIL_H
#define XF_TEST_OBJ_UTIL_H

#include "xfmr/config.h"
#include "xfmr/data.h"
#include "xfmr/objective.h"
#include "xfmr/tokenizer.h"

static inline xf_tokenizer *byte_tok(void) {
    xf_tokenizer *tok = NULL;
    if (xf_tokenizer_load(&tok, "byte") != XF_OK) FAILF("byte tokenizer: %s", xf_last_error());
    return tok;
}

static inline void init_opts(xf_objective_opts *o, xf_objective kind, xf_arch arch, const xf_tokenizer *tok) {
    xf_config cfg;
    xf_config_defaults(&cfg);
    cfg.arch = arch;
    CHECK_OK(xf_objective_opts_init(o, kind, &cfg, tok));
}

/* A dataset of the byte tokenizer's hash holding ids[0..n), split with val_fraction. */
static inline xf_dataset *make_ds(const char *name, const int32_t *ids, size_t n, const xf_tokenizer *tok,
                                  double val_fraction, size_t T) {
    const char *path = tok_path(name);
    CHECK_OK(xf_tokens_write(path, ids, n, xf_tokenizer_vocab_size(tok), xf_tokenizer_hash(tok)));
    xf_dataset *ds = NULL;
    CHECK_OK(xf_dataset_open(&ds, path, tok));
    CHECK_OK(xf_dataset_split(ds, val_fraction, T));
    return ds;
}

#endif
