/* xfmr: Unicode normalization forms, lowercase and character classes for the
 * tokenizer pipeline (docs/tokenizers.md §Normalizers).
 *
 * Normalization (UAX #15): decode to code points; decompose each (Hangul
 * syllables S = 0xAC00 + (L*21 + V)*28 + T by arithmetic, others from the
 * full NFD / NFKD table); put every run of non-starters into canonical order
 * (stable sort by combining class); for NFC/NFKC compose: a character C
 * combines with the last starter L when nothing between them blocks it (the
 * previous character has a class lower than C's, or is L itself) and (L, C)
 * has a primary composite. Text without a byte >= 0x80 is unchanged by all four
 * forms and is copied as is. */
#include <stdlib.h>
#include <string.h>

#include "data/tok_impl.h"
#include "data/tok_unicode.h"

xf_status tok_buf_put(tok_buf *b, const void *s, size_t n) {
    if (b->cap - b->n < n + 1) {
        size_t c = b->cap ? b->cap : 256;
        while (c - b->n < n + 1) {
            if (c > SIZE_MAX / 2) return xf_fail(XF_ERR_OOM, "text too large");
            c *= 2;
        }
        char *p = realloc(b->s, c);
        if (!p) return xf_fail(XF_ERR_OOM, "out of memory for %zu bytes of text", c);
        b->s = p;
        b->cap = c;
    }
    if (n) memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
    return XF_OK;
}

size_t tok_utf8_next(const char *str, size_t n, uint32_t *cp) {
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        *cp = TOK_BAD_BYTE | c;
        return 1;
    }
    if (len > n) {
        *cp = TOK_BAD_BYTE | c;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = TOK_BAD_BYTE | c;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = TOK_BAD_BYTE | c;
        return 1;
    }
    *cp = v;
    return len;
}

/* A code point as UTF-8, or a byte that was not valid UTF-8 as itself. */
static size_t put_cp(char *buf, uint32_t cp) {
    if (cp & TOK_BAD_BYTE) {
        buf[0] = (char)(cp & 0xFF);
        return 1;
    }
    return tok_utf8_put(buf, cp);
}

static const tok_urange *find_range(const tok_urange *t, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (cp < t[m].lo)
            hi = m;
        else if (cp > t[m].hi)
            lo = m + 1;
        else
            return &t[m];
    }
    return NULL;
}

uint32_t tok_ucat(uint32_t cp) {
    if (cp & TOK_BAD_BYTE) return 0;
    const tok_urange *r = find_range(tok_cat_tab, tok_cat_n, cp);
    return r ? r->v : 0;
}

/* Every White_Space character is U+0009..U+000D, U+0020, U+0085, U+00A0 or in
 * [U+1680, U+3000] (scripts/gen_unicode_tables.py, WS); the table is searched
 * only in that last range. tests/data/test_tok_precompiled.c compares this
 * with the table for every code point. */
int tok_uis_ws(uint32_t cp) {
    if (cp < 0x1680) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0;
    if (cp > 0x3000) return 0;
    return (tok_ucat(cp) & UC_WS) != 0;
}

int tok_uccc(uint32_t cp) {
    if (cp < 0x300 || (cp & TOK_BAD_BYTE)) return 0;
    const tok_urange *r = find_range(tok_ccc_tab, tok_ccc_n, cp);
    return r ? (int)r->v : 0;
}

static const tok_udecomp *find_decomp(uint32_t cp) {
    size_t lo = 0, hi = tok_decomp_n;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (tok_decomp_tab[m].cp == cp) return &tok_decomp_tab[m];
        if (tok_decomp_tab[m].cp < cp)
            lo = m + 1;
        else
            hi = m;
    }
    return NULL;
}

static uint32_t find_comp(uint32_t a, uint32_t b) {
    size_t lo = 0, hi = tok_comp_n;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        const tok_ucomp *c = &tok_comp_tab[m];
        if (c->a == a && c->b == b) return c->c;
        if (c->a < a || (c->a == a && c->b < b))
            lo = m + 1;
        else
            hi = m;
    }
    return 0;
}

/* Hangul (UAX #15 §Hangul) */
enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7, LCOUNT = 19, VCOUNT = 21,
       TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

typedef struct {
    uint32_t *v;
    int *ccc;
    size_t n, cap;
} cpvec;

static int cp_push(cpvec *a, uint32_t cp) {
    if (a->n == a->cap) {
        size_t c = a->cap ? a->cap * 2 : 256;
        uint32_t *v = realloc(a->v, c * sizeof *v);
        if (!v) return -1;
        a->v = v;
        int *k = realloc(a->ccc, c * sizeof *k);
        if (!k) return -1;
        a->ccc = k;
        a->cap = c;
    }
    a->ccc[a->n] = tok_uccc(cp);
    a->v[a->n++] = cp;
    return 0;
}

xf_status tok_unormalize(tok_nform form, const char *s, size_t n, tok_buf *out) {
    size_t i = 0;
    while (i < n && (unsigned char)s[i] < 0x80) i++;
    if (i == n) return tok_buf_put(out, s, n);
    int compat = form == TOK_NFKC || form == TOK_NFKD;
    int compose = form == TOK_NFC || form == TOK_NFKC;
    cpvec a = {0};
    xf_status st = XF_OK;
    for (i = 0; i < n && !st;) {
        uint32_t cp;
        i += tok_utf8_next(s + i, n - i, &cp);
        if (cp >= SBASE && cp < SBASE + SCOUNT) {
            uint32_t si = cp - SBASE;
            if (cp_push(&a, LBASE + si / NCOUNT) || cp_push(&a, VBASE + (si % NCOUNT) / TCOUNT) ||
                (si % TCOUNT && cp_push(&a, TBASE + si % TCOUNT)))
                st = xf_fail(XF_ERR_OOM, "out of memory normalizing text");
            continue;
        }
        const tok_udecomp *d = cp >= 0xA0 && !(cp & TOK_BAD_BYTE) ? find_decomp(cp) : NULL;
        if (!d) {
            if (cp_push(&a, cp)) st = xf_fail(XF_ERR_OOM, "out of memory normalizing text");
            continue;
        }
        const uint32_t *p = tok_decomp_pool + (compat ? d->nfkd_off : d->nfd_off);
        size_t pl = compat ? d->nfkd_len : d->nfd_len;
        for (size_t k = 0; k < pl; k++)
            if (cp_push(&a, p[k])) {
                st = xf_fail(XF_ERR_OOM, "out of memory normalizing text");
                break;
            }
    }
    /* canonical ordering: stable insertion sort inside each run of non-starters */
    for (size_t k = 1; k < a.n && !st; k++) {
        if (a.ccc[k] == 0) continue;
        size_t j = k;
        while (j > 0 && a.ccc[j - 1] > a.ccc[j]) {
            uint32_t tv = a.v[j];
            a.v[j] = a.v[j - 1];
            a.v[j - 1] = tv;
            int tc = a.ccc[j];
            a.ccc[j] = a.ccc[j - 1];
            a.ccc[j - 1] = tc;
            j--;
        }
    }
    size_t m = a.n;
    if (compose && !st && a.n) {
        size_t starter = (size_t)-1, o = 0;
        int last_ccc = -1; /* class of the last character kept after the starter */
        for (size_t k = 0; k < a.n; k++) {
            uint32_t c = a.v[k];
            int cc = a.ccc[k];
            if (starter != (size_t)-1 && (last_ccc == -1 || (last_ccc != 0 && last_ccc < cc))) {
                uint32_t L = a.v[starter], comp = 0;
                if (L >= LBASE && L < LBASE + LCOUNT && c >= VBASE && c < VBASE + VCOUNT)
                    comp = SBASE + ((L - LBASE) * VCOUNT + (c - VBASE)) * TCOUNT;
                else if (L >= SBASE && L < SBASE + SCOUNT && (L - SBASE) % TCOUNT == 0 && c > TBASE &&
                         c < TBASE + TCOUNT)
                    comp = L + (c - TBASE);
                else if (!(L & TOK_BAD_BYTE) && !(c & TOK_BAD_BYTE))
                    comp = find_comp(L, c);
                if (comp) {
                    a.v[starter] = comp;
                    continue;
                }
            }
            if (cc == 0) {
                starter = o;
                last_ccc = -1;
            } else {
                last_ccc = cc;
            }
            a.v[o] = c;
            a.ccc[o] = cc;
            o++;
        }
        m = o;
    }
    char buf[4];
    for (size_t k = 0; k < m && !st; k++) st = tok_buf_put(out, buf, put_cp(buf, a.v[k]));
    free(a.v);
    free(a.ccc);
    return st;
}

xf_status tok_ulower(const char *s, size_t n, tok_buf *out) {
    xf_status st = XF_OK;
    char buf[4];
    for (size_t i = 0; i < n && !st;) {
        uint32_t cp;
        size_t l = tok_utf8_next(s + i, n - i, &cp);
        if (cp < 0x80) {
            char c = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
            st = tok_buf_put(out, &c, 1);
        } else {
            const tok_umap *f = NULL;
            size_t lo = 0, hi = tok_lower_n;
            while (lo < hi && !(cp & TOK_BAD_BYTE)) {
                size_t mid = (lo + hi) / 2;
                if (tok_lower_tab[mid].cp == cp) {
                    f = &tok_lower_tab[mid];
                    break;
                }
                if (tok_lower_tab[mid].cp < cp)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (!f)
                st = tok_buf_put(out, s + i, l);
            else
                for (uint32_t k = 0; k < f->len && !st; k++)
                    st = tok_buf_put(out, buf, put_cp(buf, tok_lower_pool[f->off + k]));
        }
        i += l;
    }
    return st;
}
