/* xfmr: the Hugging Face tokenizer.json pipeline around the model
 * (docs/tokenizers.md §Pipeline): added tokens, normalizers, pre-tokenizers,
 * post-processors and decoders. tok_json.c fills a tok_pipe from the file;
 * tok_pipe.c runs it. The model stage (BPE here; Unigram and WordPiece in
 * their own files) is called once per pre-token through tok_wordenc. */
#ifndef XF_DATA_TOK_PIPE_H
#define XF_DATA_TOK_PIPE_H

#include "data/tok_impl.h"
#include "data/tok_unicode.h"

typedef enum {
    NZ_NFC = 1, NZ_NFD, NZ_NFKC, NZ_NFKD, NZ_LOWER, NZ_STRIP_ACCENTS, NZ_STRIP, NZ_REPLACE,
    NZ_PREPEND, NZ_BERT, NZ_PRECOMPILED
} tok_nz_kind;

typedef struct {
    int kind;
    char *a, *b;        /* Replace: pattern string (if no regex), content; Prepend: a */
    size_t alen, blen;
    void *re;           /* Replace with a Regex pattern (pcre2_code *) */
    int left, right;    /* Strip */
    int clean, chinese, accents, lower; /* BertNormalizer */
    tok_charsmap *cmap; /* Precompiled */
} tok_nz;

typedef enum {
    PT_BYTELEVEL = 1, PT_SPLIT, PT_DIGITS, PT_METASPACE, PT_WHITESPACE, PT_WSSPLIT, PT_BERT, PT_PUNCT
} tok_pt_kind;

/* Split behaviours (HF SplitDelimiterBehavior) */
enum { SB_REMOVED = 1, SB_ISOLATED, SB_PREV, SB_NEXT, SB_CONTIG };
/* Metaspace prepend_scheme */
enum { PS_ALWAYS = 1, PS_FIRST, PS_NEVER };

typedef struct {
    int kind;
    void *re;           /* Split (regex or escaped string), ByteLevel's regex, Whitespace */
    int behavior, invert;
    int add_prefix_space, use_regex; /* ByteLevel */
    int individual;     /* Digits */
    char *repl;         /* Metaspace replacement (UTF-8 of one char) */
    size_t rlen;
    int scheme, split;  /* Metaspace */
} tok_pt;

typedef enum {
    DC_BYTELEVEL = 1, DC_REPLACE, DC_BYTEFALLBACK, DC_FUSE, DC_STRIP, DC_METASPACE, DC_WORDPIECE,
    DC_BPE, DC_CTC
} tok_dc_kind;

typedef struct {
    int kind;
    char *a, *b;        /* Replace pattern/content; Strip content; Metaspace replacement;
                           WordPiece prefix; BPE suffix; CTC pad token / word delimiter */
    size_t alen, blen;
    void *re;
    int start, stop;    /* Strip */
    int scheme;         /* Metaspace prepend_scheme */
    int cleanup;        /* WordPiece / CTC */
} tok_dc;

typedef struct {
    int32_t id;
    char *content;      /* as written in the file */
    size_t len;
    char *norm;         /* normalized = true: the normalized content, which is
                           what HF matches in text and decodes (NULL: content) */
    size_t norm_len;
    uint8_t special, normalized, lstrip, rstrip, single_word;
} tok_added;

/* Byte trie over added-token contents: leftmost-longest matching. */
typedef struct {
    struct tok_trie_edge { int32_t next, node; unsigned char byte; } *edge;
    int32_t *first, *term; /* per node: first edge index (-1), added index or -1 */
    size_t n_nodes, n_edges;
    uint8_t start[256]; /* bytes that begin some token */
} tok_trie;

struct tok_pipe {
    tok_nz *nz;
    size_t n_nz;
    tok_pt *pt;
    size_t n_pt;
    tok_dc *dc;
    size_t n_dc;
    tok_added *added;
    size_t n_added;
    tok_trie raw_trie, norm_trie;
    int32_t *added_of_id;          /* n_ids entries: index into added, or -1 */
    size_t n_ids;
    int32_t *post_pre, *post_post; /* ids the post-processor puts around one sequence */
    size_t n_post_pre, n_post_post;
    int has_post;                  /* a post-processor that adds ids */
    int legacy;                    /* pre-tokenizing done by tok_pretokenize (t->re) */
    int byte_level;                /* the model sees bytes (ByteLevel pre-tokenizer) */
    int byte_fallback, fuse_unk;
    int32_t unk;                   /* -1: unknown characters are dropped */
    char *cont, *eow;              /* continuing_subword_prefix, end_of_word_suffix */
    size_t cont_len, eow_len;
    int32_t byte_tok[256];         /* id of <0xNN> or -1 */
    int strip_first_space;         /* xf_tokenizer_piece drops a leading ' ' at the start */
};

void tok_pipe_free(tok_pipe *p);
/* Encode: the full pipeline; parse_special matches special added tokens in
 * text; add_special runs the post-processor. */
xf_status tok_pipe_encode(const xf_tokenizer *t, const char *text, size_t len, int parse_special,
                          int add_special, int32_t **ids, size_t *n);
/* Decode ids through the decoder chain. */
xf_status tok_pipe_decode(const xf_tokenizer *t, const int32_t *ids, size_t n, char **text,
                          size_t *len);
/* Run the decoder chain on one token (not first): its streaming bytes. */
xf_status tok_pipe_token_raw(const tok_pipe *p, const char *piece, size_t len, tok_buf *out);
/* Normalize s with the pipeline's normalizers (appends to out). */
xf_status tok_pipe_normalize(const tok_pipe *p, const char *s, size_t n, tok_buf *out);
/* Build the two added-token tries (after the normalizers are set) and the
 * id -> added token table for a vocabulary of n ids. */
xf_status tok_pipe_build_added(tok_pipe *p, size_t n);
/* Compile a regex for a pipeline component (names it in the error). */
xf_status tok_pipe_regex(void **re, const char *pattern, size_t len, int literal, const char *what);
void tok_pipe_regex_free(void *re);

/* Valid UTF-8 (shortest forms, no surrogates)? */
int tok_utf8_valid(const char *s, size_t n);

/* ---- tok_precompiled.c: the Precompiled normalizer -------------------- */
/* Decode a base64 precompiled_charsmap into a new charsmap (refused by name:
 * not base64, empty, a trie that does not fit, replacements not UTF-8). */
xf_status tok_precompiled_init(tok_charsmap **out, const char *b64, size_t n, const char *path);
void tok_precompiled_free(tok_charsmap *cm);
/* Hugging Face's application of the charsmap to s[0..n), appended to out. */
xf_status tok_precompiled_apply(const tok_charsmap *cm, const char *s, size_t n, tok_buf *out);

/* ---- tok_bytelevel.c: the BPE model on one pre-token ------------------ */
typedef struct tok_wordenc tok_wordenc;
xf_status tok_wordenc_new(const xf_tokenizer *t, size_t text_len, tok_wordenc **out);
/* Encode one pre-token, appending ids to *out. */
xf_status tok_wordenc_word(tok_wordenc *c, const char *s, size_t n, tok_ivec *out);
void tok_wordenc_free(tok_wordenc *c);

#endif
