/* xfmr: the tokenizer interface (include/xfmr/tokenizer.h): SPEC dispatch, the
 * shared token table, the "byte" tokenizer, decoding, hashing and saving.
 *
 * The "byte" tokenizer (vocab 360):
 *   ids 0..255   the byte with that value
 *   256          <|endoftext|>  (BOS and EOS)
 *   257          <pad>
 *   258          <unk>
 *   259          <mask>
 *   260..359     sentinels: <extra_id_k> = 359 - k (T5: counting down from the end)
 * It is a byte-level BPE model with no merges, so it is saved as a Hugging Face
 * tokenizer.json (byte tokens in GPT-2's byte-to-unicode spelling) that the
 * Python/JS tokenizers libraries read as well.
 *
 * Hash (FNV-1a 64) of the canonical description:
 *   "xfmr-tokenizer-v1", kind, flags, vocab size, then per id: type, piece length
 *   (u32 LE), piece bytes, score bits (SentencePiece); merge count and each merge
 *   as two u32 LE ids; the special ids and sentinel ids. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/tok_impl.h"
#include "data/tok_pipe.h"
#include "io/file.h"
#include "xfmr/tokenizer.h"

#define TOK_FILE_MAX ((size_t)1 << 30) /* largest tokenizer file read */

static const char *const k_special_text[4] = {"<|endoftext|>", "<pad>", "<unk>", "<mask>"};
#define BYTE_VOCAB 360
#define BYTE_SENTINELS 100

/* ---------------------------------------------------------------- helpers */

uint64_t tok_fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t hash_bytes(const void *data, size_t n) {
    return tok_fnv1a(0xcbf29ce484222325ULL, data, n);
}

xf_status tok_ivec_grow(tok_ivec *a, size_t need) {
    size_t cap = a->cap ? a->cap : 64;
    while (cap - a->n < need) {
        if (cap > SIZE_MAX / 2 / sizeof(int32_t)) return xf_fail(XF_ERR_OOM, "token buffer too large");
        cap *= 2;
    }
    int32_t *v = realloc(a->v, cap * sizeof(int32_t));
    if (!v) return xf_fail(XF_ERR_OOM, "out of memory growing token buffer to %zu ids", cap);
    a->v = v;
    a->cap = cap;
    return XF_OK;
}

xf_status tok_alloc(xf_tokenizer **out, tok_kind kind, size_t n) {
    *out = NULL;
    if (n == 0 || n > TOK_MAX_VOCAB)
        return xf_fail(XF_ERR_FORMAT, "vocabulary size %zu out of range [1, %zu]", n, TOK_MAX_VOCAB);
    xf_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return xf_fail(XF_ERR_OOM, "out of memory allocating tokenizer");
    t->kind = kind;
    t->n = n;
    t->piece_off = calloc(n, sizeof *t->piece_off);
    t->piece_len = calloc(n, sizeof *t->piece_len);
    t->raw_off = calloc(n, sizeof *t->raw_off);
    t->raw_len = calloc(n, sizeof *t->raw_len);
    t->type = calloc(n, 1);
    if (!t->piece_off || !t->piece_len || !t->raw_off || !t->raw_len || !t->type) {
        xf_tokenizer_free(t);
        return xf_fail(XF_ERR_OOM, "out of memory allocating a %zu-token vocabulary", n);
    }
    for (int i = 0; i < XF_TOK_SPECIAL_COUNT; i++) t->special[i] = -1;
    for (int i = 0; i < 256; i++) t->byte_id[i] = t->spm_byte[i] = -1;
    t->unk_id = -1;
    *out = t;
    return XF_OK;
}

static xf_status pool_add(xf_tokenizer *t, const char *s, size_t len, size_t *off) {
    if (t->pool_cap - t->pool_len < len + 1) {
        size_t cap = t->pool_cap ? t->pool_cap : 4096;
        while (cap - t->pool_len < len + 1) {
            if (cap > SIZE_MAX / 2) return xf_fail(XF_ERR_OOM, "tokenizer strings too large");
            cap *= 2;
        }
        char *p = realloc(t->pool, cap);
        if (!p) return xf_fail(XF_ERR_OOM, "out of memory for tokenizer strings");
        t->pool = p;
        t->pool_cap = cap;
    }
    *off = t->pool_len;
    if (len) memcpy(t->pool + t->pool_len, s, len);
    t->pool[t->pool_len + len] = '\0';
    t->pool_len += len + 1;
    return XF_OK;
}

xf_status tok_set(xf_tokenizer *t, size_t id, const char *piece, size_t plen, const char *raw,
                  size_t rlen, int type) {
    if (id >= t->n) return xf_fail(XF_ERR_FORMAT, "token id %zu out of range [0, %zu)", id, t->n);
    if (t->type[id]) return xf_fail(XF_ERR_FORMAT, "duplicate token id %zu", id);
    if (plen > TOK_MAX_TOKEN_BYTES || rlen > TOK_MAX_TOKEN_BYTES)
        return xf_fail(XF_ERR_FORMAT, "token %zu is longer than %d bytes", id, TOK_MAX_TOKEN_BYTES);
    xf_status s = pool_add(t, piece, plen, &t->piece_off[id]);
    if (s) return s;
    t->piece_len[id] = (uint32_t)plen;
    if (raw == piece && rlen == plen) {
        t->raw_off[id] = t->piece_off[id];
    } else {
        s = pool_add(t, raw, rlen, &t->raw_off[id]);
        if (s) return s;
    }
    t->raw_len[id] = (uint32_t)rlen;
    t->type[id] = (uint8_t)type;
    return XF_OK;
}

xf_status tok_set_raw(xf_tokenizer *t, size_t id, const char *raw, size_t rlen) {
    if (id >= t->n) return xf_fail(XF_ERR_FORMAT, "token id %zu out of range [0, %zu)", id, t->n);
    if (rlen > TOK_MAX_TOKEN_BYTES) return xf_fail(XF_ERR_FORMAT, "token %zu decodes to more than %d bytes", id, TOK_MAX_TOKEN_BYTES);
    xf_status s = pool_add(t, raw, rlen, &t->raw_off[id]);
    if (!s) t->raw_len[id] = (uint32_t)rlen;
    return s;
}

/* ------------------------------------------------------------ piece map */

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c *= 2;
    return c;
}

/* probe for s whose tok_str_hash is h */
static int32_t find_h(const xf_tokenizer *t, const char *s, size_t len, uint64_t h) {
    const tok_strmap *m = &t->pieces;
    uint32_t tag = (uint32_t)(h >> 32);
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    for (;;) {
        const tok_strslot *e = &m->slot[i];
        if (e->id < 0) return -1;
        if (e->tag == tag && e->len == (len < 255 ? len : 255)) {
            if (len <= sizeof e->key) {
                if (memcmp(e->key, s, len) == 0) return e->id;
            } else if (t->piece_len[e->id] == len && memcmp(tok_piece(t, (size_t)e->id), s, len) == 0) {
                return e->id;
            }
        }
        i = (i + 1) & mask;
    }
}

int32_t tok_find(const xf_tokenizer *t, const char *s, size_t len) {
    if (!t->pieces.cap) return -1;
    return find_h(t, s, len, tok_str_hash(s, len));
}

/* Loading a large vocabulary looks up millions of strings at random places of
 * a table far larger than the caches: hashing a block of them first and
 * prefetching their slots lets the memory fetches overlap. */
#define FIND_BLOCK 32

void tok_find_many(const xf_tokenizer *t, const char *const *s, const size_t *len, size_t n, int32_t *ids) {
    uint64_t h[FIND_BLOCK];
    if (!t->pieces.cap) {
        for (size_t i = 0; i < n; i++) ids[i] = -1;
        return;
    }
    size_t mask = t->pieces.cap - 1;
    for (size_t b = 0; b < n; b += FIND_BLOCK) {
        size_t m = n - b < FIND_BLOCK ? n - b : FIND_BLOCK;
        for (size_t k = 0; k < m; k++) {
            h[k] = tok_str_hash(s[b + k], len[b + k]);
            __builtin_prefetch(&t->pieces.slot[(size_t)h[k] & mask]);
        }
        for (size_t k = 0; k < m; k++) ids[b + k] = find_h(t, s[b + k], len[b + k], h[k]);
    }
}

static xf_status build_piece_map(xf_tokenizer *t, const char *what) {
    free(t->pieces.slot);
    t->pieces.cap = pow2_at_least(t->n * 2);
    t->pieces.slot = malloc(t->pieces.cap * sizeof *t->pieces.slot);
    if (!t->pieces.slot) return xf_fail(XF_ERR_OOM, "out of memory for the vocabulary map");
    memset(t->pieces.slot, 0, t->pieces.cap * sizeof *t->pieces.slot);
    for (size_t i = 0; i < t->pieces.cap; i++) t->pieces.slot[i].id = -1;
    size_t mask = t->pieces.cap - 1;
    uint64_t hb[FIND_BLOCK];
    for (size_t id = 0; id < t->n; id++) {
        if (id % FIND_BLOCK == 0) /* hash a block ahead, prefetching its slots */
            for (size_t k = 0; k < FIND_BLOCK && id + k < t->n; k++) {
                hb[k] = tok_str_hash(tok_piece(t, id + k), t->piece_len[id + k]);
                __builtin_prefetch(&t->pieces.slot[(size_t)hb[k] & mask]);
            }
        const char *p = tok_piece(t, id);
        size_t len = t->piece_len[id];
        uint64_t h = hb[id % FIND_BLOCK];
        uint32_t tag = (uint32_t)(h >> 32);
        size_t i = (size_t)h & mask;
        for (;;) {
            tok_strslot o = t->pieces.slot[i];
            if (o.id < 0) {
                tok_strslot *e = &t->pieces.slot[i];
                e->id = (int32_t)id;
                e->tag = tag;
                e->len = (uint8_t)(len < 255 ? len : 255);
                if (len <= sizeof e->key) memcpy(e->key, p, len);
                break;
            }
            if (o.tag == tag && t->piece_len[o.id] == len && memcmp(tok_piece(t, (size_t)o.id), p, len) == 0)
                return xf_fail(XF_ERR_FORMAT, "%s: token \"%.60s\" appears twice (ids %d and %zu)",
                               what, p, o.id, id);
            i = (i + 1) & mask;
        }
    }
    return XF_OK;
}

/* ------------------------------------------------------------- pair map */

static size_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

xf_status tok_pairmap_init(tok_pairmap *m, size_t n) {
    free(m->slot);
    m->cap = pow2_at_least(n * 2 + 1);
    m->slot = malloc(m->cap * sizeof *m->slot);
    if (!m->slot) {
        m->cap = 0;
        return xf_fail(XF_ERR_OOM, "out of memory for %zu merges", n);
    }
    for (size_t i = 0; i < m->cap; i++) m->slot[i].key = UINT64_MAX;
    return XF_OK;
}

int tok_pairmap_add(tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t id) {
    uint64_t k = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t mask = m->cap - 1, i = pair_hash(k) & mask;
    while (m->slot[i].key != UINT64_MAX) {
        if (m->slot[i].key == k) return -1;
        i = (i + 1) & mask;
    }
    m->slot[i].key = k;
    m->slot[i].rank = rank;
    m->slot[i].id = id;
    return 0;
}

const tok_pairslot *tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b) {
    if (!m->cap) return NULL;
    uint64_t k = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t mask = m->cap - 1, i = pair_hash(k) & mask;
    for (;;) {
        const tok_pairslot *s = &m->slot[i];
        if (s->key == k) return s;
        if (s->key == UINT64_MAX) return NULL;
        i = (i + 1) & mask;
    }
}

/* ------------------------------------------------------ specials, seal */

static void find_special(xf_tokenizer *t, xf_tok_special which, const char *const *names) {
    if (t->special[which] >= 0) return;
    for (; *names; names++) {
        int32_t id = tok_find(t, *names, strlen(*names));
        if (id >= 0) {
            t->special[which] = id;
            return;
        }
    }
}

xf_status tok_finish(xf_tokenizer *t, const char *what) {
    for (size_t id = 0; id < t->n; id++)
        if (!t->type[id]) return xf_fail(XF_ERR_FORMAT, "%s: no token has id %zu", what, id);
    xf_status s = build_piece_map(t, what);
    if (s) return s;
    static const char *const bos[] = {"<|endoftext|>", "<s>", "<|begin_of_text|>", "<bos>", "[CLS]", NULL};
    static const char *const eos[] = {"<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>", "[SEP]", NULL};
    static const char *const pad[] = {"<pad>", "<|pad|>", "[PAD]", NULL};
    static const char *const unk[] = {"<unk>", "<|unk|>", "[UNK]", NULL};
    static const char *const mask[] = {"<mask>", "<|mask|>", "[MASK]", NULL};
    find_special(t, XF_TOK_BOS, bos);
    find_special(t, XF_TOK_EOS, eos);
    find_special(t, XF_TOK_PAD, pad);
    find_special(t, XF_TOK_UNK, unk);
    find_special(t, XF_TOK_MASK, mask);
    /* sentinels <extra_id_0>, <extra_id_1>, ... while present */
    size_t k = 0;
    char name[32];
    for (;; k++) {
        int l = snprintf(name, sizeof name, "<extra_id_%zu>", k);
        if (tok_find(t, name, (size_t)l) < 0) break;
    }
    free(t->sentinel);
    t->sentinel = NULL;
    t->n_sentinel = k;
    if (k) {
        t->sentinel = malloc(k * sizeof(int32_t));
        if (!t->sentinel) return xf_fail(XF_ERR_OOM, "out of memory for sentinels");
        for (size_t j = 0; j < k; j++) {
            int l = snprintf(name, sizeof name, "<extra_id_%zu>", j);
            t->sentinel[j] = tok_find(t, name, (size_t)l);
        }
    }
    return XF_OK;
}

static uint64_t h_u32(uint64_t h, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return tok_fnv1a(h, b, 4);
}

static uint64_t compute_hash(const xf_tokenizer *t) {
    uint64_t h = hash_bytes("xfmr-tokenizer-v1", 17);
    h = h_u32(h, (uint32_t)t->kind);
    /* without merges the regex cannot change the ids: it is not part of the identity */
    int regex = t->re != NULL && t->n_merges > 0;
    uint32_t flags = (uint32_t)(regex | (t->add_prefix_space << 1) |
                                (t->add_dummy_prefix << 2) | (t->remove_extra_ws << 3) |
                                (t->escape_ws << 4) | (t->byte_fallback << 5) |
                                (t->ignore_merges << 6));
    h = h_u32(h, flags);
    if (regex && t->pattern) h = tok_fnv1a(h, t->pattern, strlen(t->pattern) + 1);
    h = h_u32(h, (uint32_t)t->n);
    for (size_t id = 0; id < t->n; id++) {
        h = h_u32(h, t->type[id]);
        h = h_u32(h, t->piece_len[id]);
        h = tok_fnv1a(h, tok_piece(t, id), t->piece_len[id]);
        if (t->score) {
            uint32_t bits;
            memcpy(&bits, &t->score[id], 4);
            h = h_u32(h, bits);
        }
    }
    h = h_u32(h, (uint32_t)t->n_merges);
    for (size_t r = 0; r < t->n_merges; r++) {
        h = h_u32(h, (uint32_t)t->merge[r][0]);
        h = h_u32(h, (uint32_t)t->merge[r][1]);
    }
    if (t->kind == TOK_UNIGRAM || t->kind == TOK_WORDPIECE) {
        /* normalizer rules, tokenizer.json semantics, WordPiece options */
        h = h_u32(h, (uint32_t)t->cmap.n_unit);
        h = tok_fnv1a(h, t->cmap.unit, t->cmap.n_unit * sizeof(uint32_t));
        h = tok_fnv1a(h, t->cmap.norm, t->cmap.norm_len);
        h = h_u32(h, (uint32_t)(t->uni_hf | t->wp_clean << 1 | t->wp_chinese << 2 |
                                t->wp_strip_accents << 3 | t->wp_lower << 4));
        h = h_u32(h, (uint32_t)t->wp_max_chars);
        h = tok_fnv1a(h, t->wp_prefix, t->wp_prefix_len);
        if (t->dscore) h = tok_fnv1a(h, t->dscore, t->n * sizeof(double));
    }
    /* a tokenizer.json pipeline beyond the legacy layout: the file itself */
    if (t->pipe_custom && t->src_data) {
        h = h_u32(h, 0x70697065u);
        h = tok_fnv1a(h, t->src_data, t->src_len);
    }
    for (int i = 0; i < XF_TOK_SPECIAL_COUNT; i++) h = h_u32(h, (uint32_t)t->special[i]);
    h = h_u32(h, (uint32_t)t->n_sentinel);
    for (size_t k = 0; k < t->n_sentinel; k++) h = h_u32(h, (uint32_t)t->sentinel[k]);
    return h;
}

void tok_seal(xf_tokenizer *t) {
    uint64_t h = compute_hash(t);
    t->hash = h;

    if (t->kind == TOK_BYTELEVEL) {
        xf_tokenizer *b = NULL;
        t->is_byte = 0;
        if (t->n == BYTE_VOCAB && t->n_merges == 0 && tok_byte_new(&b) == XF_OK)
            t->is_byte = (compute_hash(b) == h);
        xf_tokenizer_free(b);
        if (t->is_byte)
            snprintf(t->name, sizeof t->name, "byte");
        else
            snprintf(t->name, sizeof t->name, "bpe(%zu)", t->n);
    } else if (t->kind == TOK_UNIGRAM) {
        snprintf(t->name, sizeof t->name, "unigram(%zu)", t->n);
    } else if (t->kind == TOK_WORDPIECE) {
        snprintf(t->name, sizeof t->name, "wordpiece(%zu)", t->n);
    } else {
        snprintf(t->name, sizeof t->name, "%s(%zu)",
                 t->spm_src == SPM_SRC_BIN ? "llama2c" : "sentencepiece", t->n);
    }
}

/* --------------------------------------------------------- byte backend */

xf_status tok_byte_new(xf_tokenizer **out) {
    xf_tokenizer *t;
    xf_status s = tok_alloc(&t, TOK_BYTELEVEL, BYTE_VOCAB);
    if (s) return s;
    for (int b = 0; b < 256 && !s; b++) {
        char u[4];
        size_t ul = tok_utf8_put(u, tok_b2u((unsigned char)b));
        char raw = (char)b;
        s = tok_set(t, (size_t)b, u, ul, &raw, 1, TT_NORMAL);
        t->byte_id[b] = b;
    }
    for (int i = 0; i < 4 && !s; i++)
        s = tok_set(t, 256 + (size_t)i, k_special_text[i], strlen(k_special_text[i]),
                    k_special_text[i], strlen(k_special_text[i]), TT_CONTROL);
    for (size_t k = 0; k < BYTE_SENTINELS && !s; k++) {
        char name[32];
        int l = snprintf(name, sizeof name, "<extra_id_%zu>", k);
        s = tok_set(t, BYTE_VOCAB - 1 - k, name, (size_t)l, name, (size_t)l, TT_CONTROL);
    }
    if (!s) s = tok_finish(t, "byte tokenizer");
    if (s) {
        xf_tokenizer_free(t);
        return s;
    }
    /* no regex: encoding maps every byte to its own id directly */
    t->is_byte = 1;
    *out = t;
    return XF_OK;
}

/* ------------------------------------------------------------- loading */

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

/* wordpiece: the file is a BERT vocab.txt whatever its name */
static xf_status load_file(xf_tokenizer **out, const char *path, int wordpiece) {
    char *data = NULL;
    size_t len = 0;
    xf_status s = xf_file_read_all(path, &data, &len, TOK_FILE_MAX);
    if (s) return s;
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')) i++;
    if (!wordpiece && (has_suffix(path, ".json") || (i < len && data[i] == '{')))
        s = tok_json_parse(out, data, len, path);
    else if (has_suffix(path, ".model"))
        s = tok_spm_parse_model(out, data, len, path);
    else if (has_suffix(path, ".bin"))
        s = tok_spm_parse_bin(out, data, len, path);
    else if (has_suffix(path, ".txt") || wordpiece)
        s = tok_wordpiece_parse_txt(out, data, len, path);
    else
        s = xf_fail(XF_ERR_ARG,
                    "%s: unknown tokenizer file type (expected .json, .model, .bin or .txt)", path);
    free(data);
    return s;
}

xf_status xf_tokenizer_load(xf_tokenizer **out, const char *spec) {
    if (!out) return xf_fail(XF_ERR_ARG, "xf_tokenizer_load: out is NULL");
    *out = NULL;
    if (!spec || !*spec) return xf_fail(XF_ERR_ARG, "empty tokenizer spec");
    xf_status s;
    if (strcmp(spec, "byte") == 0) {
        s = tok_byte_new(out);
        if (!s) tok_seal(*out);
        return s;
    }
    if (strncmp(spec, "gpt2:", 5) == 0) return tok_gpt2_load(out, spec + 5);
    if (strncmp(spec, "wordpiece:", 10) == 0) {
        if (!file_exists(spec + 10)) return xf_fail(XF_ERR_ARG, "%s: no such vocab.txt file", spec + 10);
        return load_file(out, spec + 10, 1);
    }
    if (xf_path_is_dir(spec)) {
        static const char *const names[] = {"tokenizer.json", "tokenizer.model", "tokenizer.bin"};
        size_t sl = strlen(spec);
        char *path = malloc(sl + 32);
        if (!path) return xf_fail(XF_ERR_OOM, "out of memory");
        for (int i = 0; i < 3; i++) {
            snprintf(path, sl + 32, "%s/%s", spec, names[i]);
            if (file_exists(path)) {
                s = load_file(out, path, 0);
                free(path);
                return s;
            }
        }
        free(path);
        return xf_fail(XF_ERR_IO, "%s: directory has no tokenizer.json, tokenizer.model or tokenizer.bin",
                       spec);
    }
    if (!file_exists(spec))
        return xf_fail(XF_ERR_ARG,
                       "tokenizer spec '%s' is not 'byte', 'gpt2:DIR', a directory or an existing file",
                       spec);
    return load_file(out, spec, 0);
}

void xf_tokenizer_free(xf_tokenizer *t) {
    if (!t) return;
    free(t->pool);
    free(t->piece_off);
    free(t->piece_len);
    free(t->raw_off);
    free(t->raw_len);
    free(t->type);
    free(t->score);
    free(t->sentinel);
    free(t->pieces.slot);
    free(t->merge);
    free(t->pairs.slot);
    if (t->re) tok_bl_free_regex(t->re);
    free(t->pattern);
    free(t->src_data);
    tok_charsmap_free(&t->cmap);
    free(t->trie);
    free(t->dscore);
    tok_pipe_free(t->pipe);
    free(t);
}

/* ------------------------------------------------------------ accessors */

size_t xf_tokenizer_vocab_size(const xf_tokenizer *t) { return t ? t->n : 0; }

int32_t xf_tokenizer_special(const xf_tokenizer *t, xf_tok_special which) {
    if (!t || (int)which < 0 || which >= XF_TOK_SPECIAL_COUNT) return -1;
    return t->special[which];
}

int32_t xf_tokenizer_sentinel(const xf_tokenizer *t, size_t k) {
    if (!t || k >= t->n_sentinel) return -1;
    return t->sentinel[k];
}

size_t xf_tokenizer_sentinel_count(const xf_tokenizer *t) { return t ? t->n_sentinel : 0; }

const char *xf_tokenizer_name(const xf_tokenizer *t) { return t ? t->name : ""; }

uint64_t xf_tokenizer_hash(const xf_tokenizer *t) { return t ? t->hash : 0; }

const char *xf_tokenizer_id_to_str(const xf_tokenizer *t, int32_t id, size_t *len) {
    if (!t || id < 0 || (size_t)id >= t->n) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->piece_len[id];
    return tok_piece(t, (size_t)id);
}

int32_t xf_tokenizer_str_to_id(const xf_tokenizer *t, const char *s, size_t len) {
    if (!t || !s) return -1;
    return tok_find(t, s, len);
}

/* ------------------------------------------------------- encode/decode */

xf_status xf_tokenizer_encode(const xf_tokenizer *t, const char *text, size_t len, int32_t **ids,
                              size_t *n) {
    if (!t || !ids || !n || (!text && len)) return xf_fail(XF_ERR_ARG, "xf_tokenizer_encode: NULL argument");
    *ids = NULL;
    *n = 0;
    if (t->is_byte) {
        int32_t *v = malloc((len ? len : 1) * sizeof(int32_t));
        if (!v) return xf_fail(XF_ERR_OOM, "out of memory encoding %zu bytes", len);
        for (size_t i = 0; i < len; i++) v[i] = (unsigned char)text[i];
        *ids = v;
        *n = len;
        return XF_OK;
    }
    if (t->pipe) return tok_pipe_encode(t, text, len, 0, 0, ids, n);
    if (t->kind == TOK_BYTELEVEL) return tok_bl_encode(t, text, len, ids, n);
    if (t->kind == TOK_UNIGRAM) return tok_unigram_encode(t, text, len, ids, n);
    if (t->kind == TOK_WORDPIECE) return tok_wordpiece_encode(t, text, len, ids, n);
    return tok_spm_encode(t, text, len, ids, n);
}

xf_status xf_tokenizer_encode_ex(const xf_tokenizer *t, const char *text, size_t len, unsigned flags,
                                 int32_t **ids, size_t *n) {
    if (!t || !ids || !n || (!text && len)) return xf_fail(XF_ERR_ARG, "xf_tokenizer_encode_ex: NULL argument");
    if (!t->pipe) {
        if (!(flags & XF_TOK_ADD_SPECIAL)) return xf_tokenizer_encode(t, text, len, ids, n);
        /* only tokenizer.json files (t->pipe) have post-processors */
        return xf_fail(XF_ERR_ARG, "tokenizer %s has no post-processor", t->name);
    }
    *ids = NULL;
    *n = 0;
    return tok_pipe_encode(t, text, len, (flags & XF_TOK_PARSE_SPECIAL) != 0,
                           (flags & XF_TOK_ADD_SPECIAL) != 0, ids, n);
}

int xf_tokenizer_has_post_processor(const xf_tokenizer *t) {
    return t && t->pipe && t->pipe->has_post;
}

/* SentencePiece (0.1.97, checked against python3-sentencepiece) drops the
 * leading U+2581 of the first non-control piece when add_dummy_prefix or
 * remove_extra_whitespaces is on; control tokens (<s>, </s>) before it do not
 * count, anything else (a byte token, <unk>, "▁") ends that state. */
static int spm_strips(const xf_tokenizer *t) {
    if (t->kind == TOK_WORDPIECE) return 1; /* words are " word", continuations "ing" */
    return (t->kind == TOK_SPM || t->kind == TOK_UNIGRAM) && (t->add_dummy_prefix || t->remove_extra_ws);
}

static int spm_strip_this(const xf_tokenizer *t, int32_t id) {
    int ty = t->type[id];
    return (ty == TT_NORMAL || ty == TT_USER || ty == TT_UNUSED || (t->pipe && id == t->unk_id)) && t->raw_len[id] > 0 &&
           tok_raw(t, (size_t)id)[0] == ' ';
}

xf_status xf_tokenizer_decode(const xf_tokenizer *t, const int32_t *ids, size_t n, char **text,
                              size_t *len) {
    if (!t || !text || !len || (!ids && n)) return xf_fail(XF_ERR_ARG, "xf_tokenizer_decode: NULL argument");
    *text = NULL;
    *len = 0;
    /* tokenizer.json pipelines, and every Unigram / WordPiece one (whose own
     * layouts keep the reader's hash but decode through the file's decoder) */
    if (t->pipe_custom || (t->pipe && t->kind != TOK_BYTELEVEL)) return tok_pipe_decode(t, ids, n, text, len);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= t->n)
            return xf_fail(XF_ERR_ARG, "token id %ld (position %zu) out of range [0, %zu)",
                           (long)ids[i], i, t->n);
        total += t->raw_len[ids[i]]; /* <= n * 1024, cannot overflow before malloc fails */
        if (total > SIZE_MAX / 2) return xf_fail(XF_ERR_OOM, "decoded text too large");
    }
    char *out = malloc(total + 1);
    if (!out) return xf_fail(XF_ERR_OOM, "out of memory decoding %zu tokens", n);
    size_t o = 0;
    int bos_ws = spm_strips(t);
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        const char *r = tok_raw(t, (size_t)id);
        size_t rl = t->raw_len[id];
        if (bos_ws && t->type[id] != TT_CONTROL) {
            if (spm_strip_this(t, id)) {
                r++;
                rl--;
            }
            bos_ws = 0;
        }
        memcpy(out + o, r, rl);
        o += rl;
    }
    out[o] = '\0';
    *text = out;
    *len = o;
    return XF_OK;
}

xf_status xf_tokenizer_piece(const xf_tokenizer *t, int32_t prev, int32_t id, char *buf, size_t cap,
                             size_t *len) {
    if (!t || !len || (!buf && cap)) return xf_fail(XF_ERR_ARG, "xf_tokenizer_piece: NULL argument");
    *len = 0;
    if (id < 0 || (size_t)id >= t->n)
        return xf_fail(XF_ERR_ARG, "token id %ld out of range [0, %zu)", (long)id, t->n);
    const char *r = tok_raw(t, (size_t)id);
    size_t rl = t->raw_len[id];
    int strips = spm_strips(t) || (t->pipe_custom && t->pipe->strip_first_space);
    if (strips && (prev < 0 || prev == t->special[XF_TOK_BOS]) && spm_strip_this(t, id)) {
        r++;
        rl--;
    }
    if (rl > cap) {
        *len = rl;
        return xf_fail(XF_ERR_ARG, "token %ld needs %zu bytes, buffer holds %zu", (long)id, rl, cap);
    }
    if (rl) memcpy(buf, r, rl);
    *len = rl;
    return XF_OK;
}

/* ---------------------------------------------------------------- save */

xf_status xf_tokenizer_save(const xf_tokenizer *t, const char *dir) {
    if (!t || !dir || !*dir) return xf_fail(XF_ERR_ARG, "xf_tokenizer_save: NULL argument");
    static const char *const names[] = {"tokenizer.json", "tokenizer.model", "tokenizer.bin"};
    int which;
    const char *data;
    size_t len;
    char *json = NULL;
    xf_status s;
    if (t->pipe_custom) {
        data = t->src_data;
        len = t->src_len;
        which = 0;
    } else if (t->kind == TOK_WORDPIECE || (t->kind == TOK_UNIGRAM && t->uni_hf)) {
        s = tok_json_write_model(t, &json, &len);
        if (s) return s;
        data = json;
        which = 0;
    } else if (t->kind == TOK_BYTELEVEL) {
        s = tok_json_write(t, 0, &json, &len);
        if (s) return s;
        data = json;
        which = 0;
    } else {
        data = t->src_data;
        len = t->src_len;
        which = t->spm_src == SPM_SRC_BIN ? 2 : 1;
    }
    size_t dl = strlen(dir);
    char *path = malloc(dl + 32);
    if (!path) {
        free(json);
        return xf_fail(XF_ERR_OOM, "out of memory");
    }
    snprintf(path, dl + 32, "%s/%s", dir, names[which]);
    s = xf_file_write_atomic(path, data, len);
    free(json);
    /* remove the other spellings so load(dir) cannot pick a stale one */
    for (int i = 0; i < 3 && !s; i++) {
        if (i == which) continue;
        snprintf(path, dl + 32, "%s/%s", dir, names[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            s = xf_fail(XF_ERR_IO, "%s: cannot remove stale tokenizer file: %s", path, strerror(errno));
    }
    free(path);
    return s;
}
