/* Private: helpers shared by the foreign-format readers and writers
 * (src/model/llama2c.c, src/model/gguf_arch.c). */
#ifndef XF_MODEL_INTEROP_H
#define XF_MODEL_INTEROP_H

#include <stddef.h>

#include "xfmr/model.h"

/* Rotary q/k rows between xfmr's layout and the interleaved one of llama2.c
 * and GGUF "llama" (docs/formats.md §GGUF, the q/k permutation). Per head of
 * D rows: xfmr rotates row j with row j + D/2 (Hugging Face rotate_half); the
 * interleaved layout rotates row 2j with row 2j+1. With i in {0,1}, j < D/2:
 *   pairs[h*D + 2j + i] = half[h*D + i*D/2 + j]
 * `cols` floats per row; dst and src must not overlap. */
void interop_rope_to_pairs(float *dst, const float *src, size_t heads, size_t D, size_t cols);
void interop_rope_from_pairs(float *dst, const float *src, size_t heads, size_t D, size_t cols);

/* The arena slice of tensor `name` after checking it exists with numel n;
 * NULL with a message naming `path` otherwise. */
float *interop_tensor(xf_model *m, const char *name, size_t n, const char *path);

/* Whether cfg is a LLaMA-style decoder (RMSNorm, RoPE, SiLU-gated FFN, no
 * biases, pre-norm, scaled attention); otherwise XF_ERR_UNSUPPORTED with a
 * message "<what>: <the first field that differs>". */
xf_status interop_check_llama(const xf_config *cfg, const char *what);

/* The ids an export writes: a vocabulary padded past the tokenizer's ids
 * (presets round vocab_size up to a multiple of 64) loses its padding rows, so
 * that no other tool can sample them. The live count is the tokenizer's id
 * count when it has fewer ids than the model, else the model's live vocab
 * (xf_model_set_live_vocab), else vocab_size. */
size_t interop_live_vocab(const xf_model *m, const struct xf_tokenizer *tok);

/* Whether table row `name` is indexed by id along its first dimension (the
 * token embedding, the untied head and its bias). */
int interop_vocab_rows(const char *name);

#endif
