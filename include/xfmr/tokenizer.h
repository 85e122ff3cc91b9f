/* xfmr: tokenizers behind one interface.
 *
 * A tokenizer is opened from a SPEC:
 *   "byte"                 256 byte tokens plus special tokens
 *   DIR                    a checkpoint directory (reads the tokenizer saved there)
 *   (later: tokenizer.json, SentencePiece .model, llama2.c tokenizer.bin, gpt2:DIR)
 * Ids are int32_t in [0, vocab_size). */
#ifndef XFMR_TOKENIZER_H
#define XFMR_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/status.h"

typedef struct xf_tokenizer xf_tokenizer;

typedef enum {
    XF_TOK_BOS = 0,
    XF_TOK_EOS,
    XF_TOK_PAD,
    XF_TOK_UNK,
    XF_TOK_MASK,
    XF_TOK_SPECIAL_COUNT
} xf_tok_special;

xf_status xf_tokenizer_load(xf_tokenizer **out, const char *spec);
void xf_tokenizer_free(xf_tokenizer *tok);

/* Number of ids, specials included. */
size_t xf_tokenizer_vocab_size(const xf_tokenizer *tok);

/* Id of a special token, or -1 if the tokenizer has none. */
int32_t xf_tokenizer_special(const xf_tokenizer *tok, xf_tok_special which);

/* Short description, e.g. "byte" or "bpe(8192)". */
const char *xf_tokenizer_name(const xf_tokenizer *tok);

/* 64-bit FNV-1a hash of the tokenizer's full description: token files record it
 * so training can refuse data made with another tokenizer. */
uint64_t xf_tokenizer_hash(const xf_tokenizer *tok);

/* Encode `len` bytes of text. On success *ids is malloc'd (caller frees), *n its length. */
xf_status xf_tokenizer_encode(const xf_tokenizer *tok, const char *text, size_t len, int32_t **ids,
                              size_t *n);

/* Decode ids to bytes. *text is malloc'd and NUL-terminated; *len excludes the NUL.
 * An id out of range is an error. */
xf_status xf_tokenizer_decode(const xf_tokenizer *tok, const int32_t *ids, size_t n, char **text,
                              size_t *len);

/* The bytes one token contributes when it follows `prev` (-1 at the start), for
 * streaming output. Writes at most cap bytes to buf; *len gets the byte count. */
xf_status xf_tokenizer_piece(const xf_tokenizer *tok, int32_t prev, int32_t id, char *buf,
                             size_t cap, size_t *len);

/* Save the tokenizer's description into checkpoint directory `dir`
 * (atomically), so xf_tokenizer_load(dir) gives back the same tokenizer. */
xf_status xf_tokenizer_save(const xf_tokenizer *tok, const char *dir);

#endif
