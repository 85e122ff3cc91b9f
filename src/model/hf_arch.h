/* Private: the Hugging Face architecture table (src/model/hf_arch.c).
 *
 * One row per transformers `model_type`, in the manner of llama.cpp's
 * architecture and tensor-name tables: how that architecture's config.json
 * fields map to xf_config, which xfmr settings the architecture fixes, which
 * field values xfmr cannot express, and its tensor names and layouts against
 * xfmr's (src/model/params.c). The reader and writer (src/model/hf_io.c) walk
 * these rows and know nothing about any one architecture. docs/formats.md
 * §"Hugging Face directories" describes every row. */
#ifndef XF_MODEL_HF_ARCH_H
#define XF_MODEL_HF_ARCH_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "model/namemap.h"
#include "xfmr/config.h"

/* Kinds of a config field. */
enum { HF_SIZE, HF_FLOAT, HF_BOOL, HF_INT, HF_ACT };

/* One config.json key and the xf_config field it fills (offsetof). A key
 * may be listed twice to fill two fields; two keys filling one field must
 * agree. Absent or null keys keep the arch's default. */
typedef struct {
    const char *key;
    int kind;
    size_t off;
    int required;
} hf_field;

/* A key whose value xfmr cannot change: when present (and not null) its JSON
 * text must be one of `allowed` ("|"-separated compact JSON values). */
typedef struct {
    const char *key;
    const char *allowed;
} hf_must;

/* Tensor layout changes (the `op` of a name row): the HF tensor is read into
 * xfmr's tensor as ... */
enum {
    HF_COPY = 0,  /* the same shape */
    HF_T,         /* its transpose (Conv1D weights [in, out]) */
    HF_QKV0,      /* part 0/1/2 (q, k, v) of a fused projection along its output */
    HF_QKV1,      /*   dimension; a 2-D fused weight is Conv1D [in, Q+2KV] */
    HF_QKV2,
    HF_ROW,       /* the same numbers, HF shape [1, n] (BART's final_logits_bias) */
    HF_ZERO,      /* the architecture has no such tensor: xfmr keeps it at 0 */
};

typedef struct hf_arch {
    const char *model_type;
    const char *architecture;                  /* "architectures" on export */
    void (*fixed)(xf_config *c);               /* xfmr settings and the arch's HF defaults */
    const hf_field *fields;
    size_t nfields;
    const hf_must *musts;
    size_t nmusts;
    /* after the fields: derived settings and cross-field checks (NULL: none) */
    xf_status (*post)(xf_config *c, const cJSON *root, const char *path);
    /* on export: keys the field table cannot express (NULL: none); 0 or an error */
    xf_status (*pre_export)(const xf_config *c, cJSON *out);
    const namemap_row *names;                  /* native (xfmr) <-> HF rows */
    size_t nnames;
    int identity;                              /* names not in `names` are the same in both */
    const char *const *ignore;                 /* HF tensors that carry nothing xfmr needs */
    const char *prefix;                        /* optional prefix of HF names ("transformer.") */
} hf_arch;

/* The row for `model_type`, or NULL. */
const hf_arch *hf_arch_find(const char *model_type);
size_t hf_arch_count(void);
const hf_arch *hf_arch_at(size_t i);
/* "llama, mistral, ..." into buf[n], for messages. */
void hf_arch_list(char *buf, size_t n);

/* Activation names: HF name <-> xf_act (the first name of an act is written). */
int hf_act_parse(const char *name, xf_act *out);
const char *hf_act_name(xf_act a);
const char *hf_act_list(void);

/* hf_io.c, shared with the writer (hf_export.c): an HF config (parsed) ->
 * a validated xf_config and its row; the HF name of xfmr's tensor `native`
 * (*row: its name row, NULL for an identity name; nothing in buf for HF_ZERO). */
xf_status hf_config_from_json(const cJSON *root, const char *path, const hf_arch **arch_out, xf_config *cfg);
xf_status hf_name(const hf_arch *a, const char *native, const namemap_row **row, char *buf, size_t n);

#endif
