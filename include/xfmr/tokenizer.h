/* xfmr: tokenizers behind one interface.
 *
 * A tokenizer is opened from a SPEC:
 *   "byte"                 256 byte tokens plus special tokens
 *   DIR                    a checkpoint directory (reads the tokenizer saved there)
 *   FILE.json              a Hugging Face tokenizer.json (byte-level BPE)
 *   FILE.model             a SentencePiece model (BPE as Llama 2's, Unigram as T5's)
 *   FILE.txt, wordpiece:F  a BERT vocab.txt (WordPiece)
 *   FILE.bin               a llama2.c tokenizer.bin (vocab size = entries in the file)
 *   gpt2:DIR               GPT-2's DIR/encoder.json + DIR/vocab.bpe
 * Ids are int32_t in [0, vocab_size). Encoding treats the text as plain text:
 * special tokens spelled out in it are not matched (add their ids yourself).
 * A tokenizer is immutable after loading; concurrent encode/decode calls on one
 * tokenizer from several threads are safe. See docs/tokenizers.md. */
#ifndef XFMR_TOKENIZER_H
#define XFMR_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* Longest piece xf_tokenizer_piece can produce: a buffer this big always fits. */
#define XF_TOKENIZER_PIECE_MAX 1024

/* The bytes one token contributes when it follows `prev` (-1 at the start), for
 * streaming output. Writes at most cap bytes to buf; *len gets the byte count. */
xf_status xf_tokenizer_piece(const xf_tokenizer *tok, int32_t prev, int32_t id, char *buf,
                             size_t cap, size_t *len);

/* Save the tokenizer's description into checkpoint directory `dir`
 * (atomically), so xf_tokenizer_load(dir) gives back the same tokenizer. */
xf_status xf_tokenizer_save(const xf_tokenizer *tok, const char *dir);

/* ---- the vocabulary ------------------------------------------------------ */

/* Id of sentinel <extra_id_k> (T5 denoising), or -1 if the tokenizer has fewer. */
int32_t xf_tokenizer_sentinel(const xf_tokenizer *tok, size_t k);
/* Number of sentinels <extra_id_0> ... <extra_id_{n-1}>. */
size_t xf_tokenizer_sentinel_count(const xf_tokenizer *tok);

/* The token's spelling in its vocabulary (GPT-2 unicode form, SentencePiece
 * piece with U+2581, or a special's text). Not NUL-safe: use *len. NULL if the
 * id is out of range. The pointer lives as long as the tokenizer. */
const char *xf_tokenizer_id_to_str(const xf_tokenizer *tok, int32_t id, size_t *len);
/* Id of a vocabulary spelling, or -1. */
int32_t xf_tokenizer_str_to_id(const xf_tokenizer *tok, const char *s, size_t len);

/* Write a byte-level BPE tokenizer as a Hugging Face tokenizer.json at `path`
 * (atomically). legacy_merges: merges as "a b" strings instead of ["a","b"]. */
xf_status xf_tokenizer_save_json(const xf_tokenizer *tok, const char *path, int legacy_merges);

/* ---- BPE training --------------------------------------------------------- */

/* Byte-level BPE training (GPT-2 byte mapping and pre-tokenizer regex).
 * Layout of the result: ids 0..255 bytes, 256 <|endoftext|> (BOS/EOS), 257 <pad>,
 * 258 <unk>, 259 <mask>, then merges in order, then n_sentinels sentinels with
 * <extra_id_k> = vocab_size - 1 - k. With no merges this is the "byte" tokenizer. */
typedef struct {
    size_t vocab_size;     /* total ids; >= 260 + n_sentinels */
    size_t n_sentinels;    /* default 100 */
    size_t min_frequency;  /* stop when the best pair occurs fewer times (default 2) */
    int verbose;           /* unused by the library (no printing); for callers */
} xf_bpe_train_opts;

typedef struct {
    size_t bytes;          /* input bytes read */
    size_t words;          /* distinct pre-tokens */
    size_t merges;         /* merges learned */
    double seconds;        /* wall time of counting + merging */
} xf_bpe_train_stats;

/* Train on the concatenation of `n_files` files. stats may be NULL. */
xf_status xf_bpe_train(xf_tokenizer **out, const char *const *files, size_t n_files,
                       const xf_bpe_train_opts *opts, xf_bpe_train_stats *stats);
/* Same on in-memory texts. */
xf_status xf_bpe_train_texts(xf_tokenizer **out, const char *const *texts, const size_t *lens,
                             size_t n_texts, const xf_bpe_train_opts *opts,
                             xf_bpe_train_stats *stats);

/* Train a Unigram ("unigram": <unk> <s> </s> <pad> <mask>, then pieces; a
 * Metaspace tokenizer) or WordPiece ("wordpiece": [PAD] [UNK] [CLS] [SEP]
 * [MASK], then "##" pieces; BERT's uncased normalization) tokenizer of at most
 * vocab_size ids on the concatenation of the files (docs/tokenizers.md).
 * xf_tokenizer_save_json writes them as tokenizer.json. */
xf_status xf_tokenizer_train_model(xf_tokenizer **out, const char *model, const char *const *files, size_t n_files,
                                   size_t vocab_size);

/* ---- tokenizer.json pipeline (docs/tokenizers.md §Pipeline) ------------- */

/* Flags of xf_tokenizer_encode_ex. */
#define XF_TOK_PARSE_SPECIAL 1u /* special added tokens spelled in the text are matched */
#define XF_TOK_ADD_SPECIAL 2u   /* the post-processor adds its tokens (BOS, [CLS] ...) */

/* Encode as Hugging Face's tokenizers does with these options: for a
 * tokenizer.json, added tokens (special ones with XF_TOK_PARSE_SPECIAL) are cut
 * out of the text, and XF_TOK_ADD_SPECIAL runs the post-processor. Other
 * tokenizers ignore XF_TOK_PARSE_SPECIAL and refuse XF_TOK_ADD_SPECIAL.
 * xf_tokenizer_encode is this without flags. */
xf_status xf_tokenizer_encode_ex(const xf_tokenizer *tok, const char *text, size_t len, unsigned flags,
                                 int32_t **ids, size_t *n);
/* 1 if the tokenizer's file has a post-processor that adds tokens. */
int xf_tokenizer_has_post_processor(const xf_tokenizer *tok);

#ifdef __cplusplus
}
#endif

#endif
