/* xfmr: running the tokenizer.json pipeline (docs/tokenizers.md §Pipeline).
 *
 * encode(text):
 *   1. invalid UTF-8 becomes U+FFFD (one per maximal ill-formed subsequence,
 *      as a JavaScript or Python UTF-8 decoder does) unless the model reads
 *      bytes (ByteLevel), which keeps them as bytes;
 *   2. added tokens with normalized = false are cut out of the raw text
 *      (leftmost-longest; lstrip/rstrip swallow whitespace beside them,
 *      single_word needs non-word characters around them; special ones only
 *      when parse_special);
 *   3. every other piece is normalized, then added tokens with
 *      normalized = true are cut out of the normalized text;
 *   4. pre-tokenizers split the pieces further (each component maps a list of
 *      pieces to a list of pieces);
 *   5. the model encodes each pre-token; 6. the post-processor adds its ids.
 * decode(ids): the tokens' strings through the decoder chain, concatenated. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "data/tok_pipe.h"

/* ------------------------------------------------------------- helpers */

#define REPL_CHAR "\xEF\xBF\xBD"

/* WHATWG / Unicode "maximal subpart" replacement of ill-formed UTF-8. */
static xf_status utf8_replace(const char *str, size_t n, tok_buf *out) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    xf_status st = XF_OK;
    while (i < n && !st) {
        unsigned c = s[i];
        size_t need = 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            run++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        }
        size_t k = 1;
        if (need) {
            for (; k <= need && i + k < n; k++) {
                unsigned b = s[i + k];
                unsigned l2 = k == 1 ? lo : 0x80, h2 = k == 1 ? hi : 0xBF;
                if (b < l2 || b > h2) break;
            }
            if (k == need + 1) { /* valid */
                i += k;
                run += k;
                continue;
            }
        }
        st = tok_buf_put(out, s + i - run, run);
        if (!st) st = tok_buf_put(out, REPL_CHAR, 3);
        run = 0;
        i += k;
    }
    if (!st) st = tok_buf_put(out, s + i - run, run);
    return st;
}

int tok_utf8_valid(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        i += tok_utf8_next(s + i, n - i, &cp);
        if (cp & TOK_BAD_BYTE) return 0;
    }
    return 1;
}

xf_status tok_pipe_regex(void **out, const char *pattern, size_t len, int literal, const char *what) {
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, len,
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF |
                                       (literal ? PCRE2_LITERAL : PCRE2_UCP),
                                   &err, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return xf_fail(XF_ERR_FORMAT, "%s regex does not compile at offset %zu: %s", what,
                       (size_t)off, (const char *)msg);
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    *out = re;
    return XF_OK;
}

void tok_pipe_regex_free(void *re) { pcre2_code_free((pcre2_code *)re); }

/* A span of the work buffer. first: it starts at offset 0 of the input
 * (Metaspace's prepend_scheme "first"). */
typedef struct {
    size_t off, len;
    int first;
} span;

typedef struct {
    span *v;
    size_t n, cap;
} spans;

static xf_status sp_push(spans *a, size_t off, size_t len, int first) {
    if (a->n == a->cap) {
        size_t c = a->cap ? a->cap * 2 : 64;
        span *v = realloc(a->v, c * sizeof *v);
        if (!v) return xf_fail(XF_ERR_OOM, "out of memory splitting text");
        a->v = v;
        a->cap = c;
    }
    a->v[a->n++] = (span){off, len, first};
    return XF_OK;
}

/* Matches of re in s[0..n) as (start, end) pairs appended to m (empty matches
 * kept, as HF's find_iter gives them). */
typedef struct {
    size_t *v;
    size_t n, cap;
} sizes;

static xf_status sz_push(sizes *a, size_t x) {
    if (a->n == a->cap) {
        size_t c = a->cap ? a->cap * 2 : 64;
        size_t *v = realloc(a->v, c * sizeof *v);
        if (!v) return xf_fail(XF_ERR_OOM, "out of memory matching text");
        a->v = v;
        a->cap = c;
    }
    a->v[a->n++] = x;
    return XF_OK;
}

static xf_status re_matches(const void *rev, const char *s, size_t n, sizes *m) {
    const pcre2_code *re = rev;
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    if (!md) return xf_fail(XF_ERR_OOM, "out of memory for regex match data");
    void *mc = NULL, *js = NULL;
    xf_status st = XF_OK;
    size_t pos = 0;
    while (pos <= n) {
        int rc = tok_re_match(re, s, n, pos, md, &mc, &js, &st);
        if (st || rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            st = xf_fail(XF_ERR_FORMAT, "pipeline regex failed at byte %zu: %s", pos, (const char *)msg);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (ms < pos || me < ms || me > n) {
            st = xf_fail(XF_ERR_FORMAT, "pipeline regex returned a bad match");
            break;
        }
        if ((st = sz_push(m, ms)) || (st = sz_push(m, me))) break;
        if (me == ms) {
            /* empty match: step over one character */
            if (ms >= n) break;
            uint32_t cp;
            pos = ms + tok_utf8_next(s + ms, n - ms, &cp);
        } else {
            pos = me;
        }
    }
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    pcre2_jit_stack_free(js);
    return st;
}

/* Character-class matches: each character with pred(cp) is one match. */
static xf_status class_matches(int (*pred)(uint32_t), const char *s, size_t n, sizes *m) {
    xf_status st = XF_OK;
    for (size_t i = 0; i < n && !st;) {
        uint32_t cp = (unsigned char)s[i];
        size_t l = cp < 0x80 ? 1 : tok_utf8_next(s + i, n - i, &cp);
        if (pred(cp)) {
            st = sz_push(m, i);
            if (!st) st = sz_push(m, i + l);
        }
        i += l;
    }
    return st;
}

/* Split piece [off, off+len) of buf given match pairs (relative), per HF's
 * NormalizedString::split: the matches and the gaps between them form a list
 * of (span, is_match) (invert flips is_match), then the behaviour decides. */
static xf_status split_by(const span *p, const sizes *m, int behavior, int invert, spans *out) {
    /* build (start, end, is_match) runs, skipping empty ones at the end */
    size_t cnt = 0, prev = 0;
    xf_status st = XF_OK;
    /* at most 2 entries per match + 1 */
    size_t cap = m->n + 1;
    size_t *ss = malloc(cap * 2 * sizeof *ss);
    unsigned char *ism = malloc(cap * 2);
    if (!ss || !ism) {
        free(ss);
        free(ism);
        return xf_fail(XF_ERR_OOM, "out of memory splitting text");
    }
    size_t *se = malloc(cap * 2 * sizeof *se);
    if (!se) {
        free(ss);
        free(ism);
        return xf_fail(XF_ERR_OOM, "out of memory splitting text");
    }
    for (size_t k = 0; k + 1 < m->n; k += 2) {
        size_t a = m->v[k], b = m->v[k + 1];
        if (prev != a) {
            ss[cnt] = prev;
            se[cnt] = a;
            ism[cnt++] = (unsigned char)invert;
        }
        ss[cnt] = a;
        se[cnt] = b;
        ism[cnt++] = (unsigned char)!invert;
        prev = b;
    }
    if (prev != p->len || cnt == 0) {
        ss[cnt] = prev;
        se[cnt] = p->len;
        ism[cnt++] = (unsigned char)invert;
    }
    /* behaviour: rewrite into (start, end, remove) */
    size_t o = 0;
    unsigned char *rm = ism; /* reused: after this loop ism[i] means "remove" */
    if (behavior == SB_REMOVED) {
        o = cnt;
    } else if (behavior == SB_ISOLATED) {
        for (size_t i = 0; i < cnt; i++) rm[i] = 0;
        o = cnt;
    } else if (behavior == SB_CONTIG || behavior == SB_PREV) {
        int pm = 0;
        for (size_t i = 0; i < cnt; i++) {
            int is = ism[i];
            int merge = behavior == SB_CONTIG ? (is == pm) : (is && !pm);
            if (merge && o > 0)
                se[o - 1] = se[i];
            else {
                ss[o] = ss[i];
                se[o] = se[i];
                rm[o] = 0;
                o++;
            }
            pm = is;
        }
    } else { /* SB_NEXT: the same from the right */
        int pm = 0;
        size_t w = cnt; /* write position from the end */
        for (size_t i = cnt; i-- > 0;) {
            int is = ism[i];
            if (is && !pm && w < cnt)
                ss[w] = ss[i];
            else {
                w--;
                ss[w] = ss[i];
                se[w] = se[i];
            }
            pm = is;
        }
        for (size_t i = w; i < cnt; i++) {
            ss[o] = ss[i];
            se[o] = se[i];
            rm[o] = 0;
            o++;
        }
    }
    for (size_t i = 0; i < o && !st; i++) {
        if (rm[i] || se[i] == ss[i]) continue;
        st = sp_push(out, p->off + ss[i], se[i] - ss[i], p->first && ss[i] == 0);
    }
    free(ss);
    free(se);
    free(ism);
    return st;
}

/* ---------------------------------------------------------- normalizers */

static int is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int is_ws(uint32_t c) { return tok_uis_ws(c); }

/* Keep the characters for which keep(cp) is true; map(cp) may replace one. */
static xf_status filter_chars(const char *s, size_t n, tok_buf *out, int mode) {
    xf_status st = XF_OK;
    for (size_t i = 0; i < n && !st;) {
        uint32_t cp;
        size_t l = tok_utf8_next(s + i, n - i, &cp);
        uint32_t cat = tok_ucat(cp);
        if (mode == 0) { /* StripAccents: drop marks */
            if (!(cat & UC_MARK)) st = tok_buf_put(out, s + i, l);
        } else if (mode == 1) { /* Bert strip accents: drop Mn */
            if (!(cat & UC_MN)) st = tok_buf_put(out, s + i, l);
        } else if (mode == 2) { /* Bert clean_text */
            int ctrl = cp != '\t' && cp != '\n' && cp != '\r' && (cat & UC_OTHER);
            if (cp == 0 || cp == 0xFFFD || ctrl) {
            } else if (cat & UC_WS)
                st = tok_buf_put(out, " ", 1);
            else
                st = tok_buf_put(out, s + i, l);
        } else { /* Bert Chinese characters: surrounded by spaces */
            if (is_chinese(cp)) {
                st = tok_buf_put(out, " ", 1);
                if (!st) st = tok_buf_put(out, s + i, l);
                if (!st) st = tok_buf_put(out, " ", 1);
            } else {
                st = tok_buf_put(out, s + i, l);
            }
        }
        i += l;
    }
    return st;
}

/* Room for n more bytes (and the NUL) in b, in one step rather than by doubling. */
static xf_status buf_room(tok_buf *b, size_t n) {
    if (b->cap - b->n >= n + 1) return XF_OK;
    if (n > SIZE_MAX / 2 - b->n) return xf_fail(XF_ERR_OOM, "text too large");
    char *q = realloc(b->s, b->n + n + 1);
    if (!q) return xf_fail(XF_ERR_OOM, "out of memory for %zu bytes of text", b->n + n + 1);
    b->s = q;
    b->cap = b->n + n + 1;
    b->s[b->n] = '\0';
    return XF_OK;
}

static xf_status replace_all(const void *re, const char *pat, size_t plen, const char *with, size_t wl,
                             const char *s, size_t n, tok_buf *out) {
    /* the output is most often about as long as the input */
    xf_status st = buf_room(out, n + 16);
    if (st) return st;
    if (!re) {
        size_t i = 0;
        while (i < n && !st) {
            const char *hit = plen ? memmem(s + i, n - i, pat, plen) : NULL;
            if (!hit) break;
            size_t h = (size_t)(hit - s);
            st = tok_buf_put(out, s + i, h - i);
            if (!st) st = tok_buf_put(out, with, wl);
            i = h + plen;
        }
        if (!st) st = tok_buf_put(out, s + i, n - i);
        return st;
    }
    sizes m = {0};
    st = re_matches(re, s, n, &m);
    size_t prev = 0;
    for (size_t k = 0; k + 1 < m.n && !st; k += 2) {
        st = tok_buf_put(out, s + prev, m.v[k] - prev);
        if (!st) st = tok_buf_put(out, with, wl);
        prev = m.v[k + 1];
    }
    if (!st) st = tok_buf_put(out, s + prev, n - prev);
    free(m.v);
    return st;
}

static xf_status nz_apply(const tok_nz *z, const char *s, size_t n, tok_buf *out) {
    switch (z->kind) {
    case NZ_NFC: return tok_unormalize(TOK_NFC, s, n, out);
    case NZ_NFD: return tok_unormalize(TOK_NFD, s, n, out);
    case NZ_NFKC: return tok_unormalize(TOK_NFKC, s, n, out);
    case NZ_NFKD: return tok_unormalize(TOK_NFKD, s, n, out);
    case NZ_LOWER: return tok_ulower(s, n, out);
    case NZ_STRIP_ACCENTS: return filter_chars(s, n, out, 0);
    case NZ_STRIP: {
        size_t a = 0, b = n;
        while (z->left && a < b) {
            uint32_t cp;
            size_t l = tok_utf8_next(s + a, b - a, &cp);
            if (!is_ws(cp)) break;
            a += l;
        }
        while (z->right && b > a) {
            size_t k = b - 1;
            while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
            uint32_t cp;
            tok_utf8_next(s + k, b - k, &cp);
            if (!is_ws(cp)) break;
            b = k;
        }
        return tok_buf_put(out, s + a, b - a);
    }
    case NZ_REPLACE: return replace_all(z->re, z->a, z->alen, z->b, z->blen, s, n, out);
    case NZ_PREPEND: {
        if (n == 0) return tok_buf_put(out, "", 0);
        xf_status st = tok_buf_put(out, z->a, z->alen);
        return st ? st : tok_buf_put(out, s, n);
    }
    case NZ_PRECOMPILED: return tok_precompiled_apply(z->cmap, s, n, out);
    case NZ_BERT: {
        tok_buf a = {0}, b = {0};
        xf_status st = XF_OK;
        const char *cur = s;
        size_t cl = n;
        tok_buf *bufs[2] = {&a, &b};
        int w = 0;
#define STEP(call)                                                                                  \
    do {                                                                                            \
        bufs[w]->n = 0;                                                                             \
        if (!st) st = (call);                                                                       \
        cur = bufs[w]->s ? bufs[w]->s : "";                                                         \
        cl = bufs[w]->n;                                                                            \
        w ^= 1;                                                                                     \
    } while (0)
        if (z->clean) STEP(filter_chars(cur, cl, bufs[w], 2));
        if (z->chinese) STEP(filter_chars(cur, cl, bufs[w], 3));
        if (z->accents) {
            STEP(tok_unormalize(TOK_NFD, cur, cl, bufs[w]));
            STEP(filter_chars(cur, cl, bufs[w], 1));
        }
        if (z->lower) STEP(tok_ulower(cur, cl, bufs[w]));
#undef STEP
        if (!st) st = tok_buf_put(out, cur, cl);
        tok_buf_free(&a);
        tok_buf_free(&b);
        return st;
    }
    }
    return xf_fail(XF_ERR_UNSUPPORTED, "unknown normalizer");
}

xf_status tok_pipe_normalize(const tok_pipe *p, const char *s, size_t n, tok_buf *out) {
    if (p->n_nz == 0) return tok_buf_put(out, s, n);
    tok_buf a = {0}, b = {0};
    const char *cur = s;
    size_t cl = n;
    xf_status st = XF_OK;
    for (size_t i = 0; i < p->n_nz && !st; i++) {
        tok_buf *dst = (i & 1) ? &b : &a;
        dst->n = 0;
        st = nz_apply(&p->nz[i], cur, cl, dst);
        cur = dst->s ? dst->s : "";
        cl = dst->n;
    }
    if (!st && out->n == 0 && cur && (cur == a.s || cur == b.s)) {
        /* out is empty: take the last normalizer's buffer as it is */
        tok_buf *last = cur == a.s ? &a : &b;
        tok_buf_free(out);
        *out = *last;
        *last = (tok_buf){0};
    } else if (!st) {
        st = tok_buf_put(out, cur, cl);
    }
    tok_buf_free(&a);
    tok_buf_free(&b);
    return st;
}

/* -------------------------------------------------------- added tokens */

static int32_t trie_node(tok_trie *t, int32_t node, unsigned char c, int create) {
    for (int32_t e = t->first[node]; e >= 0; e = t->edge[e].next)
        if (t->edge[e].byte == c) return t->edge[e].node;
    if (!create) return -1;
    return -2;
}

static xf_status trie_add(tok_trie *t, const char *s, size_t n, int32_t idx) {
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int32_t nx = trie_node(t, node, c, 1);
        if (nx < 0) {
            /* new node + edge (arrays grown one by one: at most the total
             * bytes of all added tokens) */
            int32_t *f = realloc(t->first, (t->n_nodes + 1) * sizeof *f);
            if (f) t->first = f;
            int32_t *tm = realloc(t->term, (t->n_nodes + 1) * sizeof *tm);
            if (tm) t->term = tm;
            struct tok_trie_edge *e = realloc(t->edge, (t->n_edges + 1) * sizeof *e);
            if (e) t->edge = e;
            if (!f || !tm || !e) return xf_fail(XF_ERR_OOM, "out of memory for added tokens");
            nx = (int32_t)t->n_nodes++;
            t->first[nx] = -1;
            t->term[nx] = -1;
            t->edge[t->n_edges] = (struct tok_trie_edge){t->first[node], nx, c};
            t->first[node] = (int32_t)t->n_edges++;
        }
        node = nx;
    }
    if (t->term[node] < 0) t->term[node] = idx;
    if (n) t->start[(unsigned char)s[0]] = 1;
    return XF_OK;
}

static xf_status trie_init(tok_trie *t) {
    memset(t, 0, sizeof *t);
    t->first = malloc(sizeof *t->first);
    t->term = malloc(sizeof *t->term);
    if (!t->first || !t->term) return xf_fail(XF_ERR_OOM, "out of memory for added tokens");
    t->first[0] = -1;
    t->term[0] = -1;
    t->n_nodes = 1;
    return XF_OK;
}

static void trie_free(tok_trie *t) {
    free(t->first);
    free(t->term);
    free(t->edge);
    memset(t, 0, sizeof *t);
}

xf_status tok_pipe_build_added(tok_pipe *p, size_t n) {
    xf_status st = trie_init(&p->raw_trie);
    if (!st) st = trie_init(&p->norm_trie);
    p->added_of_id = malloc((n ? n : 1) * sizeof *p->added_of_id);
    if (!p->added_of_id) return xf_fail(XF_ERR_OOM, "out of memory for added tokens");
    p->n_ids = n;
    for (size_t i = 0; i < n; i++) p->added_of_id[i] = -1;
    for (size_t i = 0; i < p->n_added && !st; i++) {
        tok_added *a = &p->added[i];
        if ((size_t)a->id < n) p->added_of_id[a->id] = (int32_t)i;
        if (!a->len) continue;
        if (a->normalized && p->n_nz) {
            tok_buf nb = {0};
            st = tok_pipe_normalize(p, a->content, a->len, &nb);
            if (!st && nb.n) st = trie_add(&p->norm_trie, nb.s, nb.n, (int32_t)i);
            if (!st) {
                a->norm = nb.s ? nb.s : strdup("");
                a->norm_len = nb.n;
                if (!a->norm) st = xf_fail(XF_ERR_OOM, "out of memory for added tokens");
            } else {
                tok_buf_free(&nb);
            }
        } else {
            st = trie_add(a->normalized ? &p->norm_trie : &p->raw_trie, a->content, a->len, (int32_t)i);
        }
    }
    return st;
}

/* Longest added token starting at s[i]: its index, or -1; *end = its end. */
static int32_t trie_match(const tok_trie *t, const char *s, size_t n, size_t i, size_t *end) {
    int32_t node = 0, best = -1;
    for (size_t k = i; k < n; k++) {
        node = trie_node((tok_trie *)t, node, (unsigned char)s[k], 0);
        if (node < 0) break;
        if (t->term[node] >= 0) {
            best = t->term[node];
            *end = k + 1;
        }
    }
    return best;
}

/* Rust regex \w (single_word's word boundary): see UC_WORD */
static int is_word_char(uint32_t cp) { return (tok_ucat(cp) & UC_WORD) != 0; }

static uint32_t cp_before(const char *s, size_t i) {
    size_t k = i - 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80 && i - k < 4) k--;
    uint32_t cp;
    tok_utf8_next(s + k, i - k, &cp);
    return cp;
}

typedef struct {
    const xf_tokenizer *t;
    const tok_pipe *p;
    int parse_special;
    tok_wordenc *we;
    tok_ivec *out;
    tok_buf work, norm;
    spans *lv;   /* n_pt: each pre-tokenizer's output, reused for every span */
    sizes m;     /* pt_apply's matches, reused */
} enc_state;

/* Split s[0..n) on the added tokens of trie; for each text gap call gap(),
 * for each token push its id. */
typedef xf_status (*gap_fn)(enc_state *e, const char *s, size_t n, int first);

static xf_status split_added(enc_state *e, const tok_trie *tr, const char *s, size_t n, int first,
                             gap_fn gap) {
    const tok_pipe *p = e->p;
    size_t start = 0; /* start of the pending gap */
    xf_status st = XF_OK;
    if (tr->n_nodes <= 1) return gap(e, s, n, first);
    for (size_t i = 0; i < n && !st;) {
        if (!tr->start[(unsigned char)s[i]]) {
            i++;
            continue;
        }
        size_t end = i;
        int32_t k = trie_match(tr, s, n, i, &end);
        if (k < 0) {
            i++;
            continue;
        }
        const tok_added *a = &p->added[k];
        if (a->special && !e->parse_special) {
            i = end;
            continue;
        }
        size_t ms = i, me = end;
        if (a->single_word) {
            uint32_t cp;
            int before = ms > 0 && is_word_char(cp_before(s, ms));
            int after = me < n && (tok_utf8_next(s + me, n - me, &cp), is_word_char(cp));
            if (before || after) {
                i = end;
                continue;
            }
        }
        if (a->lstrip)
            while (ms > start) {
                size_t k2 = ms - 1;
                while (k2 > start && ((unsigned char)s[k2] & 0xC0) == 0x80) k2--;
                uint32_t cp;
                tok_utf8_next(s + k2, ms - k2, &cp);
                if (!is_ws(cp)) break;
                ms = k2;
            }
        if (a->rstrip)
            while (me < n) {
                uint32_t cp;
                size_t l = tok_utf8_next(s + me, n - me, &cp);
                if (!is_ws(cp)) break;
                me += l;
            }
        if (ms > start) st = gap(e, s + start, ms - start, first && start == 0);
        if (!st) st = tok_ivec_push(e->out, a->id);
        start = i = me;
    }
    if (!st && start < n) st = gap(e, s + start, n - start, first && start == 0);
    return st;
}

/* -------------------------------------------------------- pre-tokenizers */

/* Append work[off, off+len) to the end of the work buffer (which may move). */
static xf_status work_dup(tok_buf *w, size_t off, size_t len) {
    xf_status st = tok_buf_put(w, NULL, 0);
    if (!st && w->cap - w->n < len + 1) {
        size_t need = w->n + len + 1, c = w->cap;
        while (c < need) c *= 2;
        char *q = realloc(w->s, c);
        if (!q) return xf_fail(XF_ERR_OOM, "out of memory splitting text");
        w->s = q;
        w->cap = c;
    }
    if (st) return st;
    memcpy(w->s + w->n, w->s + off, len);
    w->n += len;
    w->s[w->n] = '\0';
    return XF_OK;
}

static int is_punct(uint32_t cp) {
    if (cp < 0x80)
        return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
               (cp >= 0x7B && cp <= 0x7E);
    return (tok_ucat(cp) & UC_PUNCT) != 0;
}

/* Apply one pre-tokenizer to every piece of in (spans of e->work), giving out. */
static xf_status pt_apply(enc_state *e, const tok_pt *pt, const spans *in, spans *out) {
    xf_status st = XF_OK;
    sizes m = e->m; /* e->m's storage, handed back below */
    out->n = 0;
    for (size_t i = 0; i < in->n && !st; i++) {
        span p = in->v[i];
        m.n = 0;
        switch (pt->kind) {
        case PT_SPLIT:
        case PT_WHITESPACE:
            st = re_matches(pt->re, e->work.s + p.off, p.len, &m);
            if (!st) st = split_by(&p, &m, pt->behavior, pt->invert, out);
            break;
        case PT_DIGITS:
            st = re_matches(pt->re, e->work.s + p.off, p.len, &m);
            if (!st) st = split_by(&p, &m, pt->individual ? SB_ISOLATED : SB_CONTIG, 0, out);
            break;
        case PT_WSSPLIT:
            st = class_matches(is_ws, e->work.s + p.off, p.len, &m);
            if (!st) st = split_by(&p, &m, SB_REMOVED, 0, out);
            break;
        case PT_PUNCT:
            st = class_matches(is_punct, e->work.s + p.off, p.len, &m);
            if (!st) st = split_by(&p, &m, pt->behavior, 0, out);
            break;
        case PT_BERT: {
            spans tmp = {0};
            st = class_matches(is_ws, e->work.s + p.off, p.len, &m);
            if (!st) st = split_by(&p, &m, SB_REMOVED, 0, &tmp);
            for (size_t k = 0; k < tmp.n && !st; k++) {
                m.n = 0;
                st = class_matches(is_punct, e->work.s + tmp.v[k].off, tmp.v[k].len, &m);
                if (!st) st = split_by(&tmp.v[k], &m, SB_ISOLATED, 0, out);
            }
            free(tmp.v);
            break;
        }
        case PT_METASPACE: {
            /* spaces -> replacement, then maybe prepend it; the new text goes
             * to the end of the work buffer */
            size_t off = e->work.n, rl = pt->rlen, o = 0;
            if (p.len > SIZE_MAX / 8 / (rl + 1)) {
                st = xf_fail(XF_ERR_OOM, "text too large");
                break;
            }
            /* room first, so that the piece stays where it is while its
             * replaced copy is written after it */
            st = buf_room(&e->work, p.len * (rl > 1 ? rl : 1) + rl);
            if (st) break;
            const char *src = e->work.s + p.off;
            char *dst = e->work.s + off;
            for (size_t k = 0; k < p.len; k++)
                if (src[k] == ' ') memcpy(dst + o, pt->repl, rl), o += rl;
                else dst[o++] = src[k];
            if ((pt->scheme == PS_ALWAYS || (pt->scheme == PS_FIRST && p.first)) &&
                !(o >= rl && memcmp(dst, pt->repl, rl) == 0)) {
                memmove(dst + rl, dst, o);
                memcpy(dst, pt->repl, rl);
                o += rl;
            }
            e->work.n += o;
            e->work.s[e->work.n] = '\0';
            span q = {off, e->work.n - off, p.first};
            if (!pt->split) {
                st = sp_push(out, q.off, q.len, q.first);
                break;
            }
            const char *w = e->work.s + q.off;
            for (size_t k = 0; k + pt->rlen <= q.len && !st;) {
                const char *h = memchr(w + k, pt->repl[0], q.len - pt->rlen + 1 - k);
                if (!h) break;
                k = (size_t)(h - w);
                if (memcmp(w + k, pt->repl, pt->rlen) == 0) {
                    st = sz_push(&m, k);
                    if (!st) st = sz_push(&m, k + pt->rlen);
                    k += pt->rlen;
                } else {
                    k++;
                }
            }
            if (!st) st = split_by(&q, &m, SB_NEXT, 0, out);
            break;
        }
        case PT_BYTELEVEL: {
            span q = p;
            if (pt->add_prefix_space && !(p.len && e->work.s[p.off] == ' ')) {
                size_t off = e->work.n;
                st = tok_buf_put(&e->work, " ", 1);
                if (!st) st = work_dup(&e->work, p.off, p.len);
                q = (span){off, p.len + 1, p.first};
            }
            if (st) break;
            if (pt->use_regex) {
                st = re_matches(pt->re, e->work.s + q.off, q.len, &m);
                if (!st) st = split_by(&q, &m, SB_ISOLATED, 0, out);
            } else {
                st = sp_push(out, q.off, q.len, q.first);
            }
            break;
        }
        default:
            st = xf_fail(XF_ERR_UNSUPPORTED, "unknown pre-tokenizer");
        }
    }
    e->m = m;
    return st;
}

static int on_legacy_piece(void *ctx, const char *s, size_t n);

typedef struct {
    enc_state *e;
    xf_status st;
} legacy_ctx;

static int on_legacy_piece(void *ctx, const char *s, size_t n) {
    legacy_ctx *c = ctx;
    c->st = tok_wordenc_word(c->e->we, s, n, c->e->out);
    return c->st != XF_OK;
}

/* The model on one pre-token: BPE (tok_bytelevel.c), Unigram, WordPiece. */
static xf_status model_word(enc_state *e, const char *s, size_t n) {
    switch (e->t->kind) {
    case TOK_UNIGRAM: return tok_unigram_word(e->t, s, n, e->out);
    case TOK_WORDPIECE: return tok_wordpiece_word(e->t, s, n, e->out);
    default: return tok_wordenc_word(e->we, s, n, e->out);
    }
}

/* Pre-tokenizers level.. on the spans of in, depth first: each span is split
 * by this level and its pieces go through the next levels and the model before
 * the next span is split (the same pieces in the same order as applying each
 * level to all the text in turn). What a level appends to the work buffer
 * (Metaspace, ByteLevel) is dropped once its span is done: the spans of in
 * point before it. So each level's list holds one span's pieces, not the
 * text's, and is reused. */
static xf_status pt_chain(enc_state *e, size_t level, const spans *in) {
    const tok_pipe *p = e->p;
    xf_status st = XF_OK;
    if (level == p->n_pt) {
        for (size_t i = 0; i < in->n && !st; i++) st = model_word(e, e->work.s + in->v[i].off, in->v[i].len);
        return st;
    }
    spans *out = &e->lv[level];
    for (size_t i = 0; i < in->n && !st; i++) {
        size_t mark = e->work.n;
        st = pt_apply(e, &p->pt[level], &(spans){&in->v[i], 1, 1}, out);
        if (!st) st = pt_chain(e, level + 1, out);
        e->work.n = mark;
    }
    return st;
}

/* A normalized piece without added tokens: pre-tokenize and run the model. */
static xf_status model_gap(enc_state *e, const char *s, size_t n, int first) {
    const tok_pipe *p = e->p;
    if (n == 0) return XF_OK;
    if (p->legacy) {
        /* byte-level layout: the tokenizer's own regex and prefix space */
        legacy_ctx c = {e, XF_OK};
        xf_status st;
        if (e->t->add_prefix_space && s[0] != ' ') {
            tok_buf b = {0};
            st = tok_buf_put(&b, " ", 1);
            if (!st) st = tok_buf_put(&b, s, n);
            if (!st) st = tok_pretokenize(e->t, b.s, b.n, on_legacy_piece, &c);
            tok_buf_free(&b);
        } else {
            st = tok_pretokenize(e->t, s, n, on_legacy_piece, &c);
        }
        return st ? st : c.st;
    }
    if (p->n_pt == 0) return model_word(e, s, n);
    if (!e->lv && !(e->lv = calloc(p->n_pt, sizeof *e->lv)))
        return xf_fail(XF_ERR_OOM, "out of memory splitting text");
    e->work.n = 0;
    xf_status st = tok_buf_put(&e->work, s, n);
    span whole = {0, n, first};
    if (!st) st = pt_chain(e, 0, &(spans){&whole, 1, 1});
    return st;
}

static xf_status norm_gap(enc_state *e, const char *s, size_t n, int first) {
    const tok_pipe *p = e->p;
    /* a WordPiece file in the layout its reader understands (BertNormalizer,
     * BertPreTokenizer) with no normalized added tokens: the reader's own
     * basic tokenizer (tok_wordpiece.c, the same ids) is several times faster */
    if (e->t->kind == TOK_WORDPIECE && !e->t->pipe_custom && p->norm_trie.n_nodes <= 1)
        return tok_wordpiece_append(e->t, s, n, e->out);
    if (p->n_nz == 0) return split_added(e, &p->norm_trie, s, n, first, model_gap);
    tok_buf nb = {0};
    xf_status st = tok_pipe_normalize(p, s, n, &nb);
    if (!st) st = split_added(e, &p->norm_trie, nb.s ? nb.s : "", nb.n, first, model_gap);
    tok_buf_free(&nb);
    return st;
}

xf_status tok_pipe_encode(const xf_tokenizer *t, const char *text, size_t len, int parse_special,
                          int add_special, int32_t **ids, size_t *n) {
    const tok_pipe *p = t->pipe;
    enc_state e = {0};
    e.t = t;
    e.p = p;
    e.parse_special = parse_special;
    tok_ivec out = {0};
    e.out = &out;
    tok_buf clean = {0};
    xf_status st = XF_OK;
    if (!p->byte_level && !tok_utf8_valid(text, len)) {
        st = utf8_replace(text, len, &clean);
        text = clean.s ? clean.s : "";
        len = clean.n;
    }
    if (!st) st = tok_ivec_reserve(&out, len / 3 + 16 + p->n_post_pre + p->n_post_post);
    if (!st) st = tok_wordenc_new(t, len, &e.we);
    if (!st && add_special)
        for (size_t i = 0; i < p->n_post_pre && !st; i++) st = tok_ivec_push(&out, p->post_pre[i]);
    if (!st) st = split_added(&e, &p->raw_trie, text, len, 1, norm_gap);
    if (!st && add_special)
        for (size_t i = 0; i < p->n_post_post && !st; i++) st = tok_ivec_push(&out, p->post_post[i]);
    tok_wordenc_free(e.we);
    tok_buf_free(&e.work);
    tok_buf_free(&clean);
    for (size_t i = 0; e.lv && i < p->n_pt; i++) free(e.lv[i].v);
    free(e.lv);
    free(e.m.v);
    if (st) {
        free(out.v);
        return st;
    }
    *ids = out.v;
    *n = out.n;
    return XF_OK;
}

/* -------------------------------------------------------------- decoders */

/* A list of token strings (each a tok_buf). */
typedef struct {
    tok_buf *v;
    size_t n, cap;
} strlist;

static void sl_free(strlist *l) {
    for (size_t i = 0; i < l->n; i++) tok_buf_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static xf_status sl_push(strlist *l, const char *s, size_t n) {
    if (l->n == l->cap) {
        size_t c = l->cap ? l->cap * 2 : 64;
        tok_buf *v = realloc(l->v, c * sizeof *v);
        if (!v) return xf_fail(XF_ERR_OOM, "out of memory decoding");
        l->v = v;
        l->cap = c;
    }
    l->v[l->n] = (tok_buf){0};
    return tok_buf_put(&l->v[l->n++], s, n);
}

static const char *bs(const tok_buf *b) { return b->s ? b->s : ""; }

static xf_status ws_cleanup(const char *s, size_t n, tok_buf *out) {
    static const char *const from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " do not",
                                       " 's", " 've", " 're"};
    static const char *const to[] = {".", "?", "!", ",", "'", "n't", "'m", " don't", "'s", "'ve", "'re"};
    tok_buf a = {0}, b = {0};
    xf_status st = tok_buf_put(&a, s, n);
    for (int k = 0; k < 11 && !st; k++) {
        b.n = 0;
        st = replace_all(NULL, from[k], strlen(from[k]), to[k], strlen(to[k]), bs(&a), a.n, &b);
        tok_buf t = a;
        a = b;
        b = t;
    }
    if (!st) st = tok_buf_put(out, bs(&a), a.n);
    tok_buf_free(&a);
    tok_buf_free(&b);
    return st;
}

static int byte_token(const char *s, size_t n, unsigned char *b) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return 0;
    unsigned v = 0;
    for (int k = 3; k < 5; k++) {
        char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *b = (unsigned char)v;
    return 1;
}

static xf_status dc_apply(const tok_dc *d, strlist *in, strlist *out) {
    xf_status st = XF_OK;
    tok_buf tmp = {0};
    for (size_t i = 0; i < in->n && !st; i++) {
        const char *s = bs(&in->v[i]);
        size_t n = in->v[i].n;
        tmp.n = 0;
        switch (d->kind) {
        case DC_BYTELEVEL: {
            char *raw = malloc(n + 1);
            if (!raw) return xf_fail(XF_ERR_OOM, "out of memory decoding");
            long rl = tok_unicode_to_bytes(s, n, raw);
            st = rl < 0 ? sl_push(out, s, n) : sl_push(out, raw, (size_t)rl);
            free(raw);
            break;
        }
        case DC_REPLACE:
            st = replace_all(d->re, d->a, d->alen, d->b, d->blen, s, n, &tmp);
            if (!st) st = sl_push(out, bs(&tmp), tmp.n);
            break;
        case DC_BYTEFALLBACK: {
            unsigned char b;
            if (!byte_token(s, n, &b)) {
                st = sl_push(out, s, n);
                break;
            }
            size_t j = i;
            while (j < in->n && byte_token(bs(&in->v[j]), in->v[j].n, &b)) {
                st = tok_buf_put(&tmp, &b, 1);
                if (st) break;
                j++;
            }
            if (st) break;
            if (tok_utf8_valid(bs(&tmp), tmp.n)) {
                st = sl_push(out, bs(&tmp), tmp.n);
            } else {
                tok_buf r = {0};
                for (size_t k = 0; k < tmp.n && !st; k++) st = tok_buf_put(&r, REPL_CHAR, 3);
                if (!st) st = sl_push(out, bs(&r), r.n);
                tok_buf_free(&r);
            }
            i = j - 1;
            break;
        }
        case DC_FUSE:
            if (i == 0) st = sl_push(out, "", 0);
            if (!st) st = tok_buf_put(&out->v[out->n - 1], s, n);
            break;
        case DC_STRIP: {
            size_t a = 0, z = n;
            for (int k = 0; k < d->start && a < z; k++) {
                if (z - a >= d->alen && memcmp(s + a, d->a, d->alen) == 0)
                    a += d->alen;
                else
                    break;
            }
            for (int k = 0; k < d->stop && z > a; k++) {
                if (z - a >= d->alen && memcmp(s + z - d->alen, d->a, d->alen) == 0)
                    z -= d->alen;
                else
                    break;
            }
            st = sl_push(out, s + a, z - a);
            break;
        }
        case DC_METASPACE:
            st = replace_all(NULL, d->a, d->alen, (i == 0 && d->scheme != PS_NEVER) ? "" : " ",
                             (i == 0 && d->scheme != PS_NEVER) ? 0 : 1, s, n, &tmp);
            if (!st) st = sl_push(out, bs(&tmp), tmp.n);
            break;
        case DC_WORDPIECE:
            if (i > 0) {
                if (n >= d->alen && memcmp(s, d->a, d->alen) == 0) {
                    s += d->alen;
                    n -= d->alen;
                } else {
                    st = tok_buf_put(&tmp, " ", 1);
                }
            }
            if (!st) st = tok_buf_put(&tmp, s, n);
            if (!st && d->cleanup) {
                tok_buf c = {0};
                st = ws_cleanup(bs(&tmp), tmp.n, &c);
                if (!st) st = sl_push(out, bs(&c), c.n);
                tok_buf_free(&c);
            } else if (!st) {
                st = sl_push(out, bs(&tmp), tmp.n);
            }
            break;
        case DC_BPE:
            st = replace_all(NULL, d->a, d->alen, i + 1 == in->n ? "" : " ", i + 1 == in->n ? 0 : 1, s, n,
                             &tmp);
            if (!st) st = sl_push(out, bs(&tmp), tmp.n);
            break;
        case DC_CTC: {
            if (i > 0 && in->v[i - 1].n == n && memcmp(bs(&in->v[i - 1]), s, n) == 0) break;
            st = replace_all(NULL, d->a, d->alen, "", 0, s, n, &tmp);
            if (!st && d->cleanup) {
                tok_buf c = {0}, c2 = {0};
                st = ws_cleanup(bs(&tmp), tmp.n, &c);
                if (!st) st = replace_all(NULL, d->b, d->blen, " ", 1, bs(&c), c.n, &c2);
                tok_buf_free(&c);
                tok_buf_free(&tmp);
                tmp = c2;
            }
            if (!st && tmp.n) st = sl_push(out, bs(&tmp), tmp.n);
            break;
        }
        default:
            st = xf_fail(XF_ERR_UNSUPPORTED, "unknown decoder");
        }
    }
    tok_buf_free(&tmp);
    return st;
}

static xf_status run_decoders(const tok_pipe *p, strlist *l) {
    xf_status st = XF_OK;
    for (size_t k = 0; k < p->n_dc && !st; k++) {
        strlist o = {0};
        st = dc_apply(&p->dc[k], l, &o);
        sl_free(l);
        *l = o;
    }
    return st;
}

xf_status tok_pipe_decode(const xf_tokenizer *t, const int32_t *ids, size_t n, char **text,
                          size_t *len) {
    strlist l = {0};
    xf_status st = XF_OK;
    for (size_t i = 0; i < n && !st; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= t->n)
            st = xf_fail(XF_ERR_ARG, "token id %ld (position %zu) out of range [0, %zu)", (long)ids[i], i,
                         t->n);
        else {
            /* HF decodes a normalized added token as its normalized form */
            const tok_pipe *p = t->pipe;
            int32_t a = (size_t)ids[i] < p->n_ids ? p->added_of_id[ids[i]] : -1;
            if (a >= 0 && p->added[a].norm)
                st = sl_push(&l, p->added[a].norm, p->added[a].norm_len);
            else
                st = sl_push(&l, tok_piece(t, (size_t)ids[i]), t->piece_len[ids[i]]);
        }
    }
    if (!st) st = run_decoders(t->pipe, &l);
    tok_buf o = {0};
    if (!st) st = tok_buf_put(&o, "", 0);
    for (size_t i = 0; i < l.n && !st; i++) st = tok_buf_put(&o, bs(&l.v[i]), l.v[i].n);
    sl_free(&l);
    if (st) {
        tok_buf_free(&o);
        return st;
    }
    *text = o.s;
    *len = o.n;
    return XF_OK;
}

/* What one token contributes in the middle of a text (streaming): the chain
 * applied to that token alone as a non-first, non-last token. Byte tokens give
 * their byte (a lone byte of a multi-byte character stays a byte here, where
 * the whole-text decode would make U+FFFD of an incomplete one). After a Fuse
 * the later decoders see the whole text, where Strip only touches its two
 * ends, so Strip is skipped then. */
xf_status tok_pipe_token_raw(const tok_pipe *p, const char *piece, size_t len, tok_buf *out) {
    tok_buf a = {0}, b = {0};
    xf_status st = tok_buf_put(&a, piece, len);
    int fused = 0;
    for (size_t k = 0; k < p->n_dc && !st; k++) {
        const tok_dc *d = &p->dc[k];
        const char *s = bs(&a);
        size_t n = a.n;
        unsigned char byte;
        b.n = 0;
        switch (d->kind) {
        case DC_BYTELEVEL: {
            st = tok_buf_put(&b, NULL, 0);
            if (st) break;
            if (b.cap < n + 1) {
                char *q = realloc(b.s, n + 1);
                if (!q) {
                    st = xf_fail(XF_ERR_OOM, "out of memory decoding");
                    break;
                }
                b.s = q;
                b.cap = n + 1;
            }
            long rl = tok_unicode_to_bytes(s, n, b.s);
            if (rl < 0) {
                b.n = 0;
                st = tok_buf_put(&b, s, n);
            } else {
                b.n = (size_t)rl;
            }
            break;
        }
        case DC_REPLACE: st = replace_all(d->re, d->a, d->alen, d->b, d->blen, s, n, &b); break;
        case DC_BYTEFALLBACK:
            st = byte_token(s, n, &byte) ? tok_buf_put(&b, &byte, 1) : tok_buf_put(&b, s, n);
            break;
        case DC_FUSE:
            fused = 1;
            st = tok_buf_put(&b, s, n);
            break;
        case DC_STRIP: {
            size_t lo = 0, hi = n;
            for (int r = 0; !fused && r < d->start && lo < hi && hi - lo >= d->alen && !memcmp(s + lo, d->a, d->alen); r++)
                lo += d->alen;
            for (int r = 0; !fused && r < d->stop && hi > lo && hi - lo >= d->alen && !memcmp(s + hi - d->alen, d->a, d->alen); r++)
                hi -= d->alen;
            st = tok_buf_put(&b, s + lo, hi - lo);
            break;
        }
        case DC_METASPACE: st = replace_all(NULL, d->a, d->alen, " ", 1, s, n, &b); break;
        case DC_WORDPIECE: {
            /* cleanup on the token alone: " ," -> ","; the rules that span
             * two tokens (" ' " -> "'", " do not") cannot apply here */
            tok_buf w = {0};
            if (n >= d->alen && memcmp(s, d->a, d->alen) == 0)
                st = tok_buf_put(&w, s + d->alen, n - d->alen);
            else if (!(st = tok_buf_put(&w, " ", 1)))
                st = tok_buf_put(&w, s, n);
            if (!st) st = d->cleanup ? ws_cleanup(bs(&w), w.n, &b) : tok_buf_put(&b, bs(&w), w.n);
            tok_buf_free(&w);
            break;
        }
        case DC_BPE: st = replace_all(NULL, d->a, d->alen, " ", 1, s, n, &b); break;
        case DC_CTC: st = replace_all(NULL, d->a, d->alen, "", 0, s, n, &b); break;
        default: st = tok_buf_put(&b, s, n);
        }
        tok_buf t = a;
        a = b;
        b = t;
    }
    if (!st) st = tok_buf_put(out, bs(&a), a.n);
    tok_buf_free(&a);
    tok_buf_free(&b);
    return st;
}

void tok_pipe_free(tok_pipe *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n_nz; i++) {
        free(p->nz[i].a);
        free(p->nz[i].b);
        if (p->nz[i].re) tok_pipe_regex_free(p->nz[i].re);
        tok_precompiled_free(p->nz[i].cmap);
    }
    for (size_t i = 0; i < p->n_pt; i++) {
        if (p->pt[i].re) tok_pipe_regex_free(p->pt[i].re);
        free(p->pt[i].repl);
    }
    for (size_t i = 0; i < p->n_dc; i++) {
        free(p->dc[i].a);
        free(p->dc[i].b);
        if (p->dc[i].re) tok_pipe_regex_free(p->dc[i].re);
    }
    for (size_t i = 0; i < p->n_added; i++) {
        free(p->added[i].content);
        free(p->added[i].norm);
    }
    free(p->added_of_id);
    free(p->nz);
    free(p->pt);
    free(p->dc);
    free(p->added);
    trie_free(&p->raw_trie);
    trie_free(&p->norm_trie);
    free(p->post_pre);
    free(p->post_post);
    free(p->cont);
    free(p->eow);
    free(p);
}
