/* xfmr: private tokenizer representation shared by src/data/tokenizer.c and
 * src/data/tok_*.c.
 *
 * Every backend fills the same table: for each id a "piece" (the token's
 * spelling in its vocabulary file: GPT-2's byte-to-unicode form for byte-level
 * BPE, the SentencePiece piece with U+2581 for spaces) and its "raw" bytes (what
 * the token contributes when decoding). Strings live in one growing pool and are
 * addressed by offset, so a hostile vocabulary cannot scatter allocations.
 *
 * Kinds:
 *   TOK_BYTELEVEL  GPT-2 style byte-level BPE (tokenizer.json, gpt2:DIR, "byte",
 *                  trained); merges are rules (left id, right id) -> rank.
 *   TOK_SPM        SentencePiece BPE (.model, llama2.c tokenizer.bin); merges are
 *                  driven by piece scores.
 *   TOK_UNIGRAM    Unigram language model (SentencePiece .model with model_type
 *                  UNIGRAM, tokenizer.json "Unigram"): Viterbi over piece scores
 *                  (tok_unigram.c).
 *   TOK_WORDPIECE  WordPiece (BERT vocab.txt, tokenizer.json "WordPiece"): BERT's
 *                  basic tokenizer, then greedy longest match with a continuation
 *                  prefix (tok_wordpiece.c). */
#ifndef XF_DATA_TOK_IMPL_H
#define XF_DATA_TOK_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "xfmr/tokenizer.h"

/* Longest token accepted from any file (bytes of piece or raw form). */
#define TOK_MAX_TOKEN_BYTES 1024
/* Largest vocabulary accepted (ids must fit comfortably in int32_t). */
#define TOK_MAX_VOCAB ((size_t)1 << 24)

typedef enum { TOK_BYTELEVEL = 1, TOK_SPM = 2, TOK_UNIGRAM = 3, TOK_WORDPIECE = 4 } tok_kind;

/* The tokenizer.json pipeline around the model (data/tok_pipe.h); NULL for
 * tokenizers from other files. */
typedef struct tok_pipe tok_pipe;

/* Token types (SentencePiece's enum; byte-level tokens are NORMAL or CONTROL). */
enum {
    TT_NORMAL = 1,
    TT_UNKNOWN = 2,
    TT_CONTROL = 3,
    TT_USER = 4,
    TT_UNUSED = 5,
    TT_BYTE = 6
};

/* Where a SentencePiece tokenizer came from (decides what save() writes). */
enum { SPM_SRC_MODEL = 1, SPM_SRC_BIN = 2 };

/* Open-addressing table of ids keyed by the piece string of that id (the key
 * is not stored: slot holds the id, key = piece(id), and 32 bits of the key's
 * hash, so a probe that lands on another piece rarely touches its string). */
typedef struct {
    int32_t id;   /* -1 = empty */
    uint32_t tag; /* high half of tok_str_hash(piece) */
    uint8_t len;  /* piece length, 255 = 255 or more */
    char key[7];  /* the piece when len <= 7: compared here, no string fetch */
} tok_strslot;

typedef struct {
    tok_strslot *slot;
    size_t cap;    /* power of two */
} tok_strmap;

/* Open-addressing table: 64-bit key (left id << 32 | right id) -> merge. */
typedef struct {
    uint64_t key; /* UINT64_MAX = empty */
    int32_t rank;
    int32_t id;   /* id of the merged token */
} tok_pairslot;

typedef struct {
    tok_pairslot *slot;
    size_t cap;
} tok_pairmap;

/* SentencePiece precompiled_charsmap (tok_spmnorm.c): a double-array trie
 * mapping input prefixes to offsets of NUL-ended replacement strings. */
typedef struct {
    uint32_t *unit; /* Darts-clone double-array units */
    size_t n_unit;  /* 0 = identity */
    char *norm;     /* replacement strings, plus one final NUL */
    size_t norm_len;
} tok_charsmap;

/* Byte trie over pieces (tok_unigram.c): node i's children are the contiguous
 * nodes [first, first + n), sorted by byte. Node 0 is the root. */
typedef struct {
    int32_t id;     /* piece ending here, -1 if none */
    uint32_t first;
    uint16_t n;
    uint8_t byte;
} tok_trie_node;

struct xf_tokenizer {
    tok_kind kind;
    char name[64];
    size_t n;             /* vocab size */
    char *pool;           /* all strings */
    size_t pool_len, pool_cap;
    size_t *piece_off;    /* n entries */
    uint32_t *piece_len;
    size_t *raw_off;
    uint32_t *raw_len;
    uint8_t *type;        /* TT_* */
    float *score;         /* TOK_SPM only (else NULL) */
    int32_t special[XF_TOK_SPECIAL_COUNT];
    int32_t *sentinel;    /* sentinel[k] = id of <extra_id_k> */
    size_t n_sentinel;
    tok_strmap pieces;    /* piece -> id, every id */
    uint64_t hash;

    /* TOK_BYTELEVEL */
    int32_t byte_id[256];  /* id of the token for one byte, -1 if none */
    int32_t (*merge)[2];   /* merge[rank] = {left id, right id} */
    size_t n_merges;
    tok_pairmap pairs;
    void *re;              /* pcre2_code * (pre-tokenizer), NULL = no regex */
    char *pattern;         /* custom pre-tokenizer regex (HF Split), NULL = GPT-2's */
    int add_prefix_space;
    int ignore_merges;     /* HF: a pre-token that is in the vocab is taken whole */
    int is_byte;           /* exactly the "byte" tokenizer layout */

    /* TOK_SPM */
    int spm_src;
    int add_dummy_prefix, remove_extra_ws, escape_ws, byte_fallback;
    int32_t spm_byte[256]; /* id of <0xNN>, -1 if none */
    int32_t unk_id;
    int has_user;          /* any USER_DEFINED pieces */
    int spm_segment;       /* text may be split before each U+2581 (see tok_spm.c) */
    char *src_data;        /* original file bytes (saved verbatim) */
    size_t src_len;

    /* SentencePiece normalizer (TOK_SPM and TOK_UNIGRAM from a .model) */
    tok_charsmap cmap;
    uint32_t user_max;     /* longest USER_DEFINED piece (bytes) */
    uint8_t user_first[32];/* bit set: bytes a USER_DEFINED piece starts with */

    /* TOK_UNIGRAM */
    tok_trie_node *trie;
    size_t n_trie;
    int32_t trie_root[256]; /* the root's child for each byte, -1 if none */
    int uni_hf;            /* tokenizer.json semantics: f64 sums, every piece in
                              the trie, unk fused per word, Metaspace split */
    double *dscore;        /* uni_hf: the scores as written (f64) */
    double min_score, max_score;

    /* TOK_WORDPIECE */
    int wp_clean, wp_chinese, wp_strip_accents, wp_lower;
    size_t wp_max_chars;   /* longer words become [UNK] */
    char wp_prefix[32];    /* continuation prefix, "##" */
    size_t wp_prefix_len;
    /* tokenizer.json: the pipeline (every model: BPE, Unigram, WordPiece);
     * src_data then holds the file, which is saved verbatim and hashed when
     * the pipeline is more than the legacy layout (byte-level BPE, or the
     * layout the Unigram / WordPiece reader understands itself) */
    tok_pipe *pipe;
    int pipe_custom;       /* the pipeline is not such a legacy layout */
};

/* ---- tokenizer.c: construction helpers -------------------------------- */

/* New empty tokenizer with room for n ids (all entries zero/empty). */
xf_status tok_alloc(xf_tokenizer **out, tok_kind kind, size_t n);
/* Set id's piece and raw bytes (copied into the pool). */
xf_status tok_set(xf_tokenizer *t, size_t id, const char *piece, size_t plen, const char *raw,
                  size_t rlen, int type);
/* After all tok_set calls: build the piece map (fails on a duplicate piece or a
 * missing id), fill specials still unset and sentinels by name. `what` names
 * the source in messages. */
xf_status tok_finish(xf_tokenizer *t, const char *what);
/* Last step of every loader: compute the hash and the name. */
void tok_seal(xf_tokenizer *t);
/* The "byte" tokenizer (built on each call). */
xf_status tok_byte_new(xf_tokenizer **out);

static inline const char *tok_piece(const xf_tokenizer *t, size_t id) {
    return t->pool + t->piece_off[id];
}
static inline const char *tok_raw(const xf_tokenizer *t, size_t id) {
    return t->pool + t->raw_off[id];
}

/* Id of the piece s[0..len), or -1. */
int32_t tok_find(const xf_tokenizer *t, const char *s, size_t len);
/* ids[i] = tok_find(t, s[i], len[i]) for i < n (faster on many lookups). */
void tok_find_many(const xf_tokenizer *t, const char *const *s, const size_t *len, size_t n, int32_t *ids);

uint64_t tok_fnv1a(uint64_t h, const void *data, size_t n);

/* Fast 64-bit hash of s[0..n), 8 bytes at a time (multiply-xorshift rounds):
 * the bucket hash of the piece map and of the encoders' word/segment caches.
 * In-memory tables only; nothing written to a file depends on it. */
static inline uint64_t tok_str_hash(const char *s, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

/* Pair map: add (fails on duplicate), look up (NULL if absent). */
xf_status tok_pairmap_init(tok_pairmap *m, size_t n);
int tok_pairmap_add(tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t id);
const tok_pairslot *tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b);

/* ---- tok_bytelevel.c -------------------------------------------------- */

/* GPT-2's bytes_to_unicode: code point for each byte, and the inverse (-1 if
 * the code point is not in the table; only code points < 0x144 can be). */
uint32_t tok_b2u(unsigned char b);
int tok_u2b(uint32_t cp);
/* Append the UTF-8 of code point cp to buf (cap >= 4); returns bytes written. */
size_t tok_utf8_put(char *buf, uint32_t cp);
/* Decode a GPT-2 unicode-form token to bytes; fails (returns -1) if a code
 * point is not in the byte table. out needs room for len bytes. */
long tok_unicode_to_bytes(const char *s, size_t len, char *out);
/* Encode bytes to the unicode form; out needs 2*len bytes; returns length. */
size_t tok_bytes_to_unicode(const unsigned char *s, size_t len, char *out);

/* GPT-2's pre-tokenizer regex, with Python's \\s written out. */
extern const char tok_gpt2_pattern[];
void tok_bl_free_regex(void *re);
/* Compile GPT-2's pre-tokenizer regex (or `pattern` if not NULL) into t->re. */
xf_status tok_bl_compile(xf_tokenizer *t, const char *pattern);
/* Set up merges from (left, right) id pairs in rank order. */
xf_status tok_bl_set_merges(xf_tokenizer *t, const int32_t (*merges)[2], size_t n,
                            const char *what);
xf_status tok_bl_encode(const xf_tokenizer *t, const char *text, size_t len, int32_t **ids,
                        size_t *n);

/* Pre-tokenization callback: called for each pre-token [s, s+len). Returns
 * nonzero to stop. Invalid UTF-8 bytes between matches form their own pieces. */
typedef int (*tok_piece_fn)(void *ctx, const char *s, size_t len);
/* One pcre2_match of the compiled regex re over s[0..n) from pos, with match
 * data md. When the default JIT stack runs out it makes, once, a 64 MiB stack
 * (*mc and *js, a pcre2 match context and JIT stack the caller frees) and
 * matches again. Returns pcre2's code; *st gets an OOM status (and the code
 * PCRE2_ERROR_NOMEMORY) when that stack cannot be had. */
int tok_re_match(const void *re, const char *s, size_t n, size_t pos, void *md, void **mc, void **js,
                 xf_status *st);

xf_status tok_pretokenize(const xf_tokenizer *t, const char *text, size_t len, tok_piece_fn fn,
                          void *ctx);

/* ---- tok_json.c -------------------------------------------------------- */

/* Load a HF tokenizer.json from memory (path for messages). */
xf_status tok_json_parse(xf_tokenizer **out, const char *data, size_t len, const char *path);
/* Serialize a byte-level tokenizer as tokenizer.json (malloc'd, NUL-terminated). */
xf_status tok_json_write(const xf_tokenizer *t, int legacy_merges, char **out, size_t *len);
/* Load GPT-2's encoder.json + vocab.bpe from dir. */
xf_status tok_gpt2_load(xf_tokenizer **out, const char *dir);

/* ---- tok_spm.c --------------------------------------------------------- */

xf_status tok_spm_parse_model(xf_tokenizer **out, const char *data, size_t len, const char *path);
xf_status tok_spm_parse_bin(xf_tokenizer **out, const char *data, size_t len, const char *path);
xf_status tok_spm_encode(const xf_tokenizer *t, const char *text, size_t len, int32_t **ids,
                         size_t *n);

/* ---- tok_train.c: distinct strings with counts ------------------------ */
typedef struct {
    uint64_t h;
    size_t off;     /* key offset in keys */
    uint32_t len;
    uint64_t count; /* 0 = empty slot */
} tok_wslot;

typedef struct {
    tok_wslot *tab;
    size_t cap, used;
    char *keys;
    size_t keys_len, keys_cap;
    xf_status err;
} tok_wcount;

/* Count s[0..n) once more (ctx is a tok_wcount; a tok_piece_fn); nonzero and
 * w->err set when out of memory. */
int tok_wc_add(void *ctx, const char *s, size_t n);
int tok_wc_add_weight(tok_wcount *w, const char *s, size_t n, uint64_t weight);

/* ---- tok_spmnorm.c ---------------------------------------------------- */

/* Length of the valid UTF-8 character at s[0..n) (shortest form, no surrogates,
 * <= U+10FFFF), or 0 if the bytes there are not one. n >= 1. (Inline: the
 * Unigram model and the normalizers call it for every character.) */
static inline size_t tok_utf8_char_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) {
        if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
        uint32_t cp = ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
        return cp >= 0x80 ? 2 : 0;
    }
    if ((c & 0xF0) == 0xE0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        uint32_t cp = ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
        return (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) ? 3 : 0;
    }
    if ((c & 0xF8) == 0xF0) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        uint32_t cp = ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
        return (cp >= 0x10000 && cp <= 0x10FFFF) ? 4 : 0;
    }
    return 0;
}
/* Decode a precompiled_charsmap blob (empty = identity) into cm. */
xf_status tok_charsmap_init(tok_charsmap *cm, const unsigned char *blob, size_t len, const char *path);
void tok_charsmap_free(tok_charsmap *cm);
/* Longest rule matching a prefix of s[0..n): returns its length (0 = none) and
 * the replacement in *rep / *rep_len. */
size_t tok_charsmap_match(const tok_charsmap *cm, const char *s, size_t n, const char **rep,
                          size_t *rep_len);
/* Shortest rule matching a prefix of s[0..n) (Hugging Face's Precompiled
 * normalizer): 1 and the replacement, or 0 when none. */
int tok_charsmap_first(const tok_charsmap *cm, const char *s, size_t n, const char **rep, size_t *rep_len);
/* SentencePiece's normalizer with t's flags (add_dummy_prefix,
 * remove_extra_ws, escape_ws, cmap, USER_DEFINED pieces). *out is malloc'd. */
xf_status tok_spm_normalize(const xf_tokenizer *t, const char *text, size_t len, char **out,
                            size_t *out_len);

/* ---- tok_unigram.c ----------------------------------------------------- */

/* After the pieces and types are set: build the trie and the score range. */
xf_status tok_unigram_prepare(xf_tokenizer *t, const char *what);
xf_status tok_unigram_encode(const xf_tokenizer *t, const char *text, size_t len, int32_t **ids,
                             size_t *n);
/* A tokenizer.json-style Unigram tokenizer (Metaspace, split) from pieces and
 * scores; pieces [0, n_special) are special tokens; unk_id names <unk>. */
xf_status tok_unigram_build(xf_tokenizer **out, const char *const *pieces, const double *scores, size_t n,
                            size_t n_special, int32_t unk_id, const char *what);

/* ---- tok_wordpiece.c --------------------------------------------------- */

/* BERT vocab.txt: one token per line, id = line index. */
xf_status tok_wordpiece_parse_txt(xf_tokenizer **out, const char *data, size_t len, const char *path);
xf_status tok_wordpiece_encode(const xf_tokenizer *t, const char *text, size_t len, int32_t **ids,
                               size_t *n);
/* BERT's basic tokenizer with t's flags: calls fn for each word w (UTF-8,
 * character c spans bytes [cb[c], cb[c+1]), nc characters); stops at an error. */
typedef xf_status (*tok_word_fn)(void *ctx, const char *w, const size_t *cb, size_t nc);
xf_status tok_wordpiece_words(const xf_tokenizer *t, const char *text, size_t len, tok_word_fn fn, void *ctx);
/* A WordPiece tokenizer from its pieces (id order; [UNK] must be among them),
 * "##" continuations, BERT's uncased normalization when lower. */
xf_status tok_wordpiece_build(xf_tokenizer **out, const char *const *pieces, size_t n, int lower,
                              const char *what);

/* ---- tokenizer.json models other than BPE (tok_unigram.c, tok_wordpiece.c):
 * `root` and `model` are cJSON objects of the parsed file.
 * own_pipe = 1: the reader interprets the normalizer and pre-tokenizer itself
 * (the layouts xfmr writes: Unigram with Metaspace or nothing, WordPiece with
 * BertNormalizer and BertPreTokenizer) and keeps them in its fields (hash,
 * writer); 0: it reads only the model, the pipeline (tok_pipe.c) runs the rest.
 * tok_json_*_own(root) says whether the file's pipeline is such a layout. */
xf_status tok_json_unigram(xf_tokenizer **out, const void *root, const void *model, int own_pipe, const char *path);
xf_status tok_json_wordpiece(xf_tokenizer **out, const void *root, const void *model, int own_pipe, const char *path);
int tok_json_unigram_own(const void *root);
int tok_json_wordpiece_own(const void *root);
/* Replace id's raw bytes (what it decodes to in running text). */
xf_status tok_set_raw(xf_tokenizer *t, size_t id, const char *raw, size_t rlen);
/* Serialize a Unigram / WordPiece tokenizer as tokenizer.json (malloc'd). */
xf_status tok_json_write_model(const xf_tokenizer *t, char **out, size_t *len);

/* ---- growable int32 vector used by encoders ---------------------------- */
typedef struct {
    int32_t *v;
    size_t n, cap;
} tok_ivec;

static inline xf_status tok_ivec_reserve(tok_ivec *a, size_t extra);
xf_status tok_ivec_grow(tok_ivec *a, size_t need);
static inline xf_status tok_ivec_reserve(tok_ivec *a, size_t extra) {
    if (a->cap - a->n >= extra) return XF_OK;
    return tok_ivec_grow(a, extra);
}
static inline xf_status tok_ivec_push(tok_ivec *a, int32_t x) {
    xf_status s = tok_ivec_reserve(a, 1);
    if (s) return s;
    a->v[a->n++] = x;
    return XF_OK;
}

/* The model stage on one pre-token (pipeline): appends ids to out. */
xf_status tok_unigram_word(const xf_tokenizer *t, const char *s, size_t n, tok_ivec *out);
xf_status tok_wordpiece_word(const xf_tokenizer *t, const char *s, size_t n, tok_ivec *out);
/* BERT's basic tokenizer with t's own flags, then WordPiece: appends to out. */
xf_status tok_wordpiece_append(const xf_tokenizer *t, const char *text, size_t len, tok_ivec *out);

#endif
