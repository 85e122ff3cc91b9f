/* xfmr: GPT-2 style byte-level BPE encoding.
 *
 * Byte mapping (GPT-2 bytes_to_unicode): bytes 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF
 * are their own code point; the other 68 bytes (0x00-0x20, 0x7F-0xA0, 0xAD), in
 * increasing order, map to U+0100..U+0143. Vocabulary files spell tokens in
 * this form (space = U+0120 'Ġ').
 *
 * Pre-tokenizer: GPT-2's regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * with Python-regex \s (Unicode White_Space = [\p{Z}\x09-\x0D\x85]) written out,
 * since PCRE2's UCP \s differs (it adds U+180E). Compiled with PCRE2_UTF |
 * PCRE2_UCP | PCRE2_MATCH_INVALID_UTF and JIT. Matching resumes at the end of
 * the previous match; every valid character starts some alternative, so bytes
 * between matches are invalid UTF-8 and form pre-tokens of their own (that
 * keeps decode(encode(x)) == x for every byte string).
 *
 * Merging, per pre-token: symbols start as the byte tokens; repeatedly merge the
 * adjacent pair with the lowest merge rank (leftmost on ties), until no pair
 * has a rank. For a merge list where every merge's operands come from earlier
 * merges (GPT-2's, HF's, ours) this equals GPT-2's "merge every occurrence of
 * the best bigram" loop. Short pre-tokens use an O(m^2) scan; long ones a heap
 * over a linked list (O(m log m)), so hostile inputs stay fast. Results per
 * distinct pre-token are cached for the duration of one encode call (texts of
 * 4 kB or more; at most 2^20 entries of at most 64 bytes). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "data/tok_impl.h"
#include "data/tok_pipe.h"

/* ----------------------------------------------------------- byte table */

static int in_identity_range(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

uint32_t tok_b2u(unsigned char b) {
    if (in_identity_range(b)) return b;
    /* position of b among the 68 remapped bytes, in increasing order */
    unsigned k;
    if (b <= 0x20)
        k = b;                    /* 0x00..0x20 -> 0..32 */
    else if (b <= 0xA0)
        k = 33 + (b - 0x7F);      /* 0x7F..0xA0 -> 33..66 */
    else
        k = 67;                   /* 0xAD */
    return 0x100 + k;
}

int tok_u2b(uint32_t cp) {
    if (cp < 0x100) return in_identity_range(cp) ? (int)cp : -1;
    if (cp > 0x143) return -1;
    unsigned k = cp - 0x100;
    if (k <= 32) return (int)k;
    if (k <= 66) return (int)(0x7F + (k - 33));
    return 0xAD;
}

size_t tok_utf8_put(char *buf, uint32_t cp) {
    if (cp < 0x80) {
        buf[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        buf[0] = (char)(0xC0 | (cp >> 6));
        buf[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        buf[0] = (char)(0xE0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    buf[0] = (char)(0xF0 | (cp >> 18));
    buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

long tok_unicode_to_bytes(const char *s, size_t len, char *out) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < len) {
        uint32_t cp;
        if (p[i] < 0x80) {
            cp = p[i++];
        } else if ((p[i] & 0xE0) == 0xC0 && i + 1 < len && (p[i + 1] & 0xC0) == 0x80) {
            cp = ((uint32_t)(p[i] & 0x1F) << 6) | (p[i + 1] & 0x3F);
            i += 2;
        } else {
            return -1; /* every table code point is < U+0800 */
        }
        int b = tok_u2b(cp);
        if (b < 0) return -1;
        out[o++] = (char)b;
    }
    return (long)o;
}

size_t tok_bytes_to_unicode(const unsigned char *s, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) o += tok_utf8_put(out + o, tok_b2u(s[i]));
    return o;
}

/* ----------------------------------------------------------------- regex */

#define WS "\\p{Z}\\x{09}-\\x{0D}\\x{85}"
const char tok_gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS
    "])|[" WS "]+";
#undef WS

void tok_bl_free_regex(void *re) { pcre2_code_free((pcre2_code *)re); }

xf_status tok_bl_compile(xf_tokenizer *t, const char *pattern) {
    const char *pat = pattern ? pattern : tok_gpt2_pattern;
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return xf_fail(XF_ERR_FORMAT, "pre-tokenizer regex does not compile at offset %zu: %s",
                       (size_t)off, (const char *)msg);
    }
    /* JIT is an optimisation: without it pcre2_match interprets */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    if (t->re) pcre2_code_free((pcre2_code *)t->re);
    t->re = re;
    if (pattern) {
        free(t->pattern);
        size_t l = strlen(pattern);
        t->pattern = malloc(l + 1);
        if (!t->pattern) return xf_fail(XF_ERR_OOM, "out of memory");
        memcpy(t->pattern, pattern, l + 1);
    }
    return XF_OK;
}

int tok_re_match(const void *re, const char *s, size_t n, size_t pos, void *md, void **mc, void **js,
                 xf_status *st) {
    for (;;) {
        int rc = pcre2_match((const pcre2_code *)re, (PCRE2_SPTR)s, n, pos, 0, md, *mc);
        if (rc != PCRE2_ERROR_JIT_STACKLIMIT || *js) return rc;
        /* rare: a long backtracking run; retry with a big JIT stack */
        *mc = pcre2_match_context_create(NULL);
        *js = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL);
        if (!*mc || !*js) {
            *st = xf_fail(XF_ERR_OOM, "out of memory for regex stack");
            return PCRE2_ERROR_NOMEMORY;
        }
        pcre2_jit_stack_assign(*mc, NULL, *js);
    }
}

xf_status tok_pretokenize(const xf_tokenizer *t, const char *text, size_t len, tok_piece_fn fn,
                          void *ctx) {
    if (len == 0) return XF_OK;
    if (!t->re) {
        fn(ctx, text, len);
        return XF_OK;
    }
    const pcre2_code *re = (const pcre2_code *)t->re;
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    if (!md) return xf_fail(XF_ERR_OOM, "out of memory for regex match data");
    void *mc = NULL, *js = NULL;
    xf_status st = XF_OK;
    size_t pos = 0;
    while (pos < len) {
        int rc = tok_re_match(re, text, len, pos, md, &mc, &js, &st);
        if (st) break;
        if (rc == PCRE2_ERROR_NOMATCH) {
            fn(ctx, text + pos, len - pos);
            break;
        }
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            st = xf_fail(XF_ERR_FORMAT, "pre-tokenizer regex failed at byte %zu: %s", pos,
                         (const char *)msg);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (ms < pos || me < ms || me > len) {
            st = xf_fail(XF_ERR_FORMAT, "pre-tokenizer regex returned a bad match");
            break;
        }
        if (ms > pos && fn(ctx, text + pos, ms - pos)) break;
        if (me == ms) me = ms + 1; /* an empty match (custom regex): take one byte */
        if (fn(ctx, text + ms, me - ms)) break;
        pos = me;
    }
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    pcre2_jit_stack_free(js);
    return st;
}

/* ---------------------------------------------------------------- merges */

xf_status tok_bl_set_merges(xf_tokenizer *t, const int32_t (*merges)[2], size_t n,
                            const char *what) {
    if (n > TOK_MAX_VOCAB) return xf_fail(XF_ERR_FORMAT, "%s: %zu merges is too many", what, n);
    free(t->merge);
    t->merge = NULL;
    t->n_merges = 0;
    xf_status s = tok_pairmap_init(&t->pairs, n);
    if (s) return s;
    if (n) {
        t->merge = malloc(n * sizeof *t->merge);
        if (!t->merge) return xf_fail(XF_ERR_OOM, "out of memory for %zu merges", n);
    }
    /* the merged tokens of a block of merges are looked up together
     * (tok_find_many): buf holds their spellings */
    enum { BLK = 32 };
    char *buf = malloc(BLK * 2 * TOK_MAX_TOKEN_BYTES);
    if (!buf) return xf_fail(XF_ERR_OOM, "out of memory for merges");
    const char *cs[BLK];
    size_t cl[BLK];
    int32_t cid[BLK];
    for (size_t r = 0; r < n && !s; r++) {
        if (r % BLK == 0) {
            size_t m = n - r < BLK ? n - r : BLK;
            for (size_t k = 0; k < m; k++) {
                int32_t a = merges[r + k][0], b = merges[r + k][1];
                char *q = buf + k * 2 * TOK_MAX_TOKEN_BYTES;
                cs[k] = q;
                cl[k] = 0;
                if (a < 0 || b < 0 || (size_t)a >= t->n || (size_t)b >= t->n) continue;
                size_t la = t->piece_len[a], lb = t->piece_len[b];
                const char *pb = tok_piece(t, (size_t)b);
                /* HF: with a continuing-subword prefix the merged token is a + b
                 * without b's prefix */
                if (t->pipe && t->pipe->cont_len && lb >= t->pipe->cont_len &&
                    memcmp(pb, t->pipe->cont, t->pipe->cont_len) == 0) {
                    pb += t->pipe->cont_len;
                    lb -= t->pipe->cont_len;
                }
                memcpy(q, tok_piece(t, (size_t)a), la);
                memcpy(q + la, pb, lb);
                cl[k] = la + lb;
            }
            tok_find_many(t, cs, cl, m, cid);
        }
        int32_t a = merges[r][0], b = merges[r][1];
        if (a < 0 || b < 0 || (size_t)a >= t->n || (size_t)b >= t->n) {
            s = xf_fail(XF_ERR_FORMAT, "%s: merge %zu names an unknown token id", what, r);
            break;
        }
        int32_t id = cid[r % BLK];
        if (id < 0)
            s = xf_fail(XF_ERR_FORMAT, "%s: merge %zu (\"%.40s\" + \"%.40s\") makes a token not in the vocabulary",
                        what, r, tok_piece(t, (size_t)a), tok_piece(t, (size_t)b));
        else if (tok_pairmap_add(&t->pairs, a, b, (int32_t)r, id) != 0)
            s = xf_fail(XF_ERR_FORMAT, "%s: merge %zu (\"%.40s\" \"%.40s\") repeats an earlier merge",
                        what, r, tok_piece(t, (size_t)a), tok_piece(t, (size_t)b));
        if (s) break;
        t->merge[r][0] = a;
        t->merge[r][1] = b;
    }
    free(buf);
    if (s) return s;
    t->n_merges = n;
    return XF_OK;
}

/* ---------------------------------------------------------- word merging */

#define SMALL_WORD 48

static inline int32_t pair_rank(const xf_tokenizer *t, int32_t a, int32_t b, int32_t *id) {
    const tok_pairslot *s = tok_pairmap_get(&t->pairs, a, b);
    if (!s) return INT32_MAX;
    *id = s->id;
    return s->rank;
}

/* O(m^2) merge of sym[0..m) in place; returns the new length. */
static size_t merge_small(const xf_tokenizer *t, int32_t *sym, size_t m) {
    int32_t rank[SMALL_WORD], res[SMALL_WORD];
    for (size_t i = 0; i + 1 < m; i++) rank[i] = pair_rank(t, sym[i], sym[i + 1], &res[i]);
    while (m > 1) {
        size_t best = 0;
        int32_t br = INT32_MAX;
        for (size_t i = 0; i + 1 < m; i++)
            if (rank[i] < br) {
                br = rank[i];
                best = i;
            }
        if (br == INT32_MAX) break;
        sym[best] = res[best];
        /* drop sym[best+1] and rank[best] */
        for (size_t i = best + 1; i + 1 < m; i++) sym[i] = sym[i + 1];
        for (size_t i = best + 1; i + 2 < m; i++) {
            rank[i] = rank[i + 1];
            res[i] = res[i + 1];
        }
        m--;
        if (best > 0) rank[best - 1] = pair_rank(t, sym[best - 1], sym[best], &res[best - 1]);
        if (best + 1 < m) rank[best] = pair_rank(t, sym[best], sym[best + 1], &res[best]);
    }
    return m;
}

typedef struct {
    int32_t rank;
    uint32_t left;      /* node index of the left symbol */
    int32_t a, b;       /* the symbols when pushed (stale check) */
} heap_ent;

static int heap_less(const heap_ent *x, const heap_ent *y) {
    return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

static void heap_push(heap_ent *h, size_t *n, heap_ent e) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&e, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static heap_ent heap_pop(heap_ent *h, size_t *n) {
    heap_ent top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && heap_less(&h[c + 1], &h[c])) c++;
        if (!heap_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

/* Heap merge of sym[0..m) in place; returns the new length (or (size_t)-1 on OOM). */
static size_t merge_large(const xf_tokenizer *t, int32_t *sym, size_t m) {
    if (m > UINT32_MAX / 2) return (size_t)-1;
    int32_t *nx = malloc(m * sizeof(int32_t)), *pv = malloc(m * sizeof(int32_t));
    /* every merge pushes at most two entries: total pushes < 3m */
    heap_ent *h = malloc(3 * m * sizeof(heap_ent));
    if (!nx || !pv || !h) {
        free(nx);
        free(pv);
        free(h);
        return (size_t)-1;
    }
    size_t hn = 0;
    for (size_t i = 0; i < m; i++) {
        nx[i] = i + 1 < m ? (int32_t)(i + 1) : -1;
        pv[i] = (int32_t)i - 1;
    }
    for (size_t i = 0; i + 1 < m; i++) {
        int32_t id;
        int32_t r = pair_rank(t, sym[i], sym[i + 1], &id);
        if (r != INT32_MAX) heap_push(h, &hn, (heap_ent){r, (uint32_t)i, sym[i], sym[i + 1]});
    }
    while (hn) {
        heap_ent e = heap_pop(h, &hn);
        int32_t l = (int32_t)e.left, r = nx[l];
        if (sym[l] != e.a || r < 0 || sym[r] != e.b) continue; /* stale */
        int32_t id;
        if (pair_rank(t, e.a, e.b, &id) == INT32_MAX) continue;
        sym[l] = id;
        sym[r] = -1;
        nx[l] = nx[r];
        if (nx[r] >= 0) pv[nx[r]] = l;
        if (pv[l] >= 0) {
            int32_t p = pv[l], rk = pair_rank(t, sym[p], sym[l], &id);
            if (rk != INT32_MAX) heap_push(h, &hn, (heap_ent){rk, (uint32_t)p, sym[p], sym[l]});
        }
        if (nx[l] >= 0) {
            int32_t q = nx[l], rk = pair_rank(t, sym[l], sym[q], &id);
            if (rk != INT32_MAX) heap_push(h, &hn, (heap_ent){rk, (uint32_t)l, sym[l], sym[q]});
        }
    }
    size_t o = 0;
    for (int32_t i = 0; i >= 0; i = nx[i]) sym[o++] = sym[i];
    free(nx);
    free(pv);
    free(h);
    return o;
}

/* ----------------------------------------------------------- word cache */

#define CACHE_MAX_KEY 64
#define CACHE_MAX_ENTRIES ((size_t)1 << 20)
#define CACHE_MIN_TEXT 4096

typedef struct {
    uint64_t h;
    uint32_t key_off, ids_off;
    uint16_t key_len, n_ids; /* key_len 0 = empty slot */
} cache_ent;

typedef struct {
    const xf_tokenizer *t;
    tok_ivec out;
    cache_ent *tab;
    size_t cap, used;
    char *keys;
    size_t keys_len, keys_cap;
    tok_ivec ids;
    int use_cache; /* short texts skip the cache (its setup costs more than it saves) */
    xf_status err;
} enc_ctx;

static cache_ent *cache_find(enc_ctx *c, const char *s, size_t n, uint64_t h) {
    size_t mask = c->cap - 1, i = (size_t)h & mask;
    for (;;) {
        cache_ent *e = &c->tab[i];
        if (e->key_len == 0) return e;
        if (e->h == h && e->key_len == n && memcmp(c->keys + e->key_off, s, n) == 0) return e;
        i = (i + 1) & mask;
    }
}

static int cache_grow(enc_ctx *c) {
    size_t ncap = c->cap ? c->cap * 2 : 4096;
    cache_ent *nt = calloc(ncap, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < c->cap; i++) {
        cache_ent *e = &c->tab[i];
        if (!e->key_len) continue;
        size_t j = (size_t)e->h & (ncap - 1);
        while (nt[j].key_len) j = (j + 1) & (ncap - 1);
        nt[j] = *e;
    }
    free(c->tab);
    c->tab = nt;
    c->cap = ncap;
    return 0;
}

/* Initial symbols of a pre-token for a character-level BPE (tokenizer.json
 * without ByteLevel): one per character, spelled with the continuing-subword
 * prefix after the first and the end-of-word suffix on the last; a character
 * not in the vocabulary becomes its <0xNN> byte tokens (byte_fallback, when all
 * exist), else the unknown token (consecutive ones fused with fuse_unk), else
 * nothing (HF drops it when there is no unk_token). sym has room for n. */
static size_t init_chars(const xf_tokenizer *t, const char *s, size_t n, int32_t *sym) {
    const tok_pipe *p = t->pipe;
    char buf[TOK_MAX_TOKEN_BYTES + 8];
    size_t m = 0;
    int last_unk = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = tok_utf8_next(s + i, n - i, &cp);
        size_t bl = 0;
        int32_t id = -1;
        if (p->cont_len + l + p->eow_len <= sizeof buf) {
            if (i > 0 && p->cont_len) {
                memcpy(buf, p->cont, p->cont_len);
                bl = p->cont_len;
            }
            memcpy(buf + bl, s + i, l);
            bl += l;
            if (i + l == n && p->eow_len) {
                memcpy(buf + bl, p->eow, p->eow_len);
                bl += p->eow_len;
            }
            id = tok_find(t, buf, bl);
        }
        if (id >= 0) {
            sym[m++] = id;
            last_unk = 0;
        } else {
            int all = p->byte_fallback;
            for (size_t k = 0; k < l && all; k++) all = p->byte_tok[(unsigned char)s[i + k]] >= 0;
            if (all) {
                for (size_t k = 0; k < l; k++) sym[m++] = p->byte_tok[(unsigned char)s[i + k]];
                last_unk = 0;
            } else if (p->unk >= 0) {
                if (!(p->fuse_unk && last_unk)) sym[m++] = p->unk;
                last_unk = 1;
            }
        }
        i += l;
    }
    return m;
}

/* Encode one pre-token (bytes s[0..n)) and append its ids to c->out. */
static xf_status encode_word(enc_ctx *c, const char *s, size_t n) {
    const xf_tokenizer *t = c->t;
    xf_status st;
    int chars = t->pipe && !t->pipe->byte_level;
    if (n == 1 && !chars) return tok_ivec_push(&c->out, t->byte_id[(unsigned char)s[0]]);
    if (chars && t->ignore_merges) {
        int32_t id = tok_find(t, s, n);
        if (id >= 0) return tok_ivec_push(&c->out, id);
    } else if (t->ignore_merges && n <= TOK_MAX_TOKEN_BYTES) {
        char u[2 * TOK_MAX_TOKEN_BYTES];
        size_t ul = tok_bytes_to_unicode((const unsigned char *)s, n, u);
        int32_t id = tok_find(t, u, ul);
        if (id >= 0) return tok_ivec_push(&c->out, id);
    }
    cache_ent *e = NULL;
    uint64_t h = 0;
    if (n <= CACHE_MAX_KEY && c->use_cache) {
        if (c->cap == 0 && cache_grow(c)) return xf_fail(XF_ERR_OOM, "out of memory for word cache");
        h = tok_str_hash(s, n);
        e = cache_find(c, s, n, h);
        if (e->key_len) {
            st = tok_ivec_reserve(&c->out, e->n_ids);
            if (st) return st;
            memcpy(c->out.v + c->out.n, c->ids.v + e->ids_off, e->n_ids * sizeof(int32_t));
            c->out.n += e->n_ids;
            return XF_OK;
        }
    }
    st = tok_ivec_reserve(&c->out, n);
    if (st) return st;
    int32_t *sym = c->out.v + c->out.n;
    size_t m0 = n;
    if (chars)
        m0 = init_chars(t, s, n, sym);
    else
        for (size_t i = 0; i < n; i++) sym[i] = t->byte_id[(unsigned char)s[i]];
    size_t m = m0 <= 1 ? m0 : m0 <= SMALL_WORD ? merge_small(t, sym, m0) : merge_large(t, sym, m0);
    if (m == (size_t)-1) return xf_fail(XF_ERR_OOM, "out of memory merging a %zu-byte word", n);
    c->out.n += m;
    /* remember the result (bounded: hostile text cannot grow the cache forever) */
    if (e && c->used < CACHE_MAX_ENTRIES && c->keys_len < UINT32_MAX - CACHE_MAX_KEY &&
        c->ids.n < UINT32_MAX - CACHE_MAX_KEY) {
        if (c->keys_cap - c->keys_len < n) {
            size_t kc = c->keys_cap ? c->keys_cap * 2 : 65536;
            char *k = realloc(c->keys, kc);
            if (!k) return XF_OK;
            c->keys = k;
            c->keys_cap = kc;
        }
        if (tok_ivec_reserve(&c->ids, m)) {
            xf_clear_error();
            return XF_OK;
        }
        sym = c->out.v + c->out.n - m;
        memcpy(c->keys + c->keys_len, s, n);
        e->h = h;
        e->key_off = (uint32_t)c->keys_len;
        e->key_len = (uint16_t)n;
        e->ids_off = (uint32_t)c->ids.n;
        e->n_ids = (uint16_t)m;
        memcpy(c->ids.v + c->ids.n, sym, m * sizeof(int32_t));
        c->ids.n += m;
        c->keys_len += n;
        c->used++;
        if (c->used * 2 > c->cap && cache_grow(c)) c->used = CACHE_MAX_ENTRIES; /* stop caching */
    }
    return XF_OK;
}

struct tok_wordenc {
    enc_ctx c;
};

xf_status tok_wordenc_new(const xf_tokenizer *t, size_t text_len, tok_wordenc **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return xf_fail(XF_ERR_OOM, "out of memory");
    (*out)->c.t = t;
    (*out)->c.use_cache = text_len >= CACHE_MIN_TEXT;
    return XF_OK;
}

xf_status tok_wordenc_word(tok_wordenc *w, const char *s, size_t n, tok_ivec *out) {
    if (n == 0) return XF_OK;
    w->c.out = *out;
    xf_status st = encode_word(&w->c, s, n);
    *out = w->c.out;
    return st;
}

void tok_wordenc_free(tok_wordenc *w) {
    if (!w) return;
    free(w->c.tab);
    free(w->c.keys);
    free(w->c.ids.v);
    free(w);
}

static int on_piece(void *ctx, const char *s, size_t n) {
    enc_ctx *c = ctx;
    c->err = encode_word(c, s, n);
    return c->err != XF_OK;
}

xf_status tok_bl_encode(const xf_tokenizer *t, const char *text, size_t len, int32_t **ids,
                        size_t *n) {
    enc_ctx c;
    memset(&c, 0, sizeof c);
    c.t = t;
    c.use_cache = len >= CACHE_MIN_TEXT;
    xf_status st = tok_ivec_reserve(&c.out, len / 3 + 16);
    char *tmp = NULL;
    if (!st && t->add_prefix_space && len > 0 && text[0] != ' ') {
        tmp = malloc(len + 1);
        if (!tmp) {
            st = xf_fail(XF_ERR_OOM, "out of memory");
        } else {
            tmp[0] = ' ';
            memcpy(tmp + 1, text, len);
            text = tmp;
            len++;
        }
    }
    if (!st) st = tok_pretokenize(t, text, len, on_piece, &c);
    if (!st) st = c.err;
    free(tmp);
    free(c.tab);
    free(c.keys);
    free(c.ids.v);
    if (st) {
        free(c.out.v);
        return st;
    }
    *ids = c.out.v;
    *n = c.out.n;
    return XF_OK;
}
