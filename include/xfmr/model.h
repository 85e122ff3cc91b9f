/* xfmr: the model handle (weights + optional gradients + activation arena).
 *
 * Ownership: xf_model owns its config copy, the parameter table, and three
 * arenas: parameters (P floats), gradients (P floats, allocated by
 * xf_model_reserve(training=1)) and activations (sized once by
 * xf_model_reserve for a batch shape). Kernels never allocate. */
#ifndef XFMR_MODEL_H
#define XFMR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/config.h"
#include "xfmr/status.h"

typedef struct xf_model xf_model;

/* One row of the parameter table: drives allocation, checkpoint names, init,
 * weight decay and tests. */
typedef struct {
    char name[96];      /* safetensors name, e.g. "model.layers.0.self_attn.q_proj.weight" */
    size_t ndim;        /* 1 or 2 */
    size_t shape[2];    /* [out, in] for linear weights */
    size_t numel;
    size_t offset;      /* in floats from the start of the parameter arena */
    int decay;          /* AdamW weight decay applies (ndim >= 2) */
    float init_std;     /* > 0: N(0, init_std); else constant init_value */
    float init_value;
} xf_param_info;

/* Build a model for `cfg` (validated here) with zeroed parameters. */
xf_status xf_model_create(xf_model **out, const xf_config *cfg);
void xf_model_free(xf_model *m); /* NULL-safe */

const xf_config *xf_model_config(const xf_model *m);
size_t xf_model_num_tensors(const xf_model *m);
const xf_param_info *xf_model_tensor(const xf_model *m, size_t i);
/* Index of the tensor called `name`, or (size_t)-1. */
size_t xf_model_find_tensor(const xf_model *m, const char *name);
size_t xf_model_num_params(const xf_model *m);
float *xf_model_params(xf_model *m);
float *xf_model_grads(xf_model *m); /* NULL until xf_model_reserve(..., training=1) */

/* Initialise weights from the param table (normal with per-tensor std, constants). */
void xf_model_init_weights(xf_model *m, uint64_t seed);

/* Size the activation arena for batches of B sequences of T tokens (T <= max
 * positions). training=1 keeps every layer's activations and allocates gradients. */
xf_status xf_model_reserve(xf_model *m, size_t B, size_t T, int training);

/* Bytes the activation arena needs for (B, T, training), for `xfmr info`. */
size_t xf_model_activation_bytes(const xf_config *cfg, size_t B, size_t T, int training);

/* Forward over inputs [B,T]. With targets [B,T] (XF_IGNORE_INDEX = -1 skips),
 * *loss gets the mean cross-entropy over valid targets (NaN-free; 0 when none)
 * and *valid the count (either pointer may be NULL). Shapes must fit the reservation. */
xf_status xf_model_forward(xf_model *m, const int32_t *inputs, const int32_t *targets, size_t B,
                           size_t T, float *loss, size_t *valid);

/* Logits [B,T,V] of the last forward (invalid after backward, which reuses them). */
const float *xf_model_logits(const xf_model *m);

/* Backward of the last forward (which must have had targets): gradients of
 * loss_scale * mean loss are ADDED to the gradient arena. */
xf_status xf_model_backward(xf_model *m, float loss_scale);
void xf_model_zero_grad(xf_model *m);

/* Inference with a KV cache, batch 1: reserve for up to Tmax positions, then
 * feed n tokens at absolute position pos (pos = tokens already cached).
 * *logits points to the [V] logits of the last fed token (valid until the next call). */
xf_status xf_model_cache_reserve(xf_model *m, size_t Tmax);
xf_status xf_model_decode(xf_model *m, const int32_t *tokens, size_t n, size_t pos,
                          const float **logits);

/* Checkpoints: DIR/config.json and DIR/model.safetensors (atomic writes). */
xf_status xf_model_save(const xf_model *m, const char *dir);
/* Load from DIR (config.json + model.safetensors); every tensor is checked
 * against the table (missing, extra, shape, dtype). */
xf_status xf_model_load(xf_model **out, const char *dir);
/* Load weights from a safetensors file into an existing model (same checks). */
xf_status xf_model_load_weights(xf_model *m, const char *path);

#endif
