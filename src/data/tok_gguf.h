/* Private: a tokenizer's vocabulary in GGUF metadata (tokenizer.ggml.*), both
 * ways (src/data/tok_gguf.c; docs/formats.md §GGUF). */
#ifndef XF_DATA_TOK_GGUF_H
#define XF_DATA_TOK_GGUF_H

#include <stddef.h>

#include "io/gguf.h"
#include "xfmr/tokenizer.h"

/* Write tok's vocabulary padded to V ids (unused filler tokens past the
 * tokenizer's own): "llama" for SentencePiece, "gpt2" for byte-level BPE. */
xf_status tok_gguf_write(const xf_tokenizer *tok, size_t V, gguf_writer *w);
/* Build a tokenizer from the file's vocabulary; *out = NULL when it carries
 * none (no tokenizer.ggml.model, or "none"/"no_vocab"). */
xf_status tok_gguf_read(xf_tokenizer **out, const gguf_file *f);

#endif
