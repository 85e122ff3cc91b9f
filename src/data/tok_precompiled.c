/* xfmr: the tokenizer.json "Precompiled" normalizer (docs/tokenizers.md
 * §Normalizers): SentencePiece's precompiled_charsmap (tok_spmnorm.c reads
 * and searches it; one implementation for .model files and tokenizer.json),
 * applied as Hugging Face's tokenizers applies it, which is not how
 * sentencepiece does:
 *
 *   for each extended grapheme cluster g of the text (UAX #29, ICU's
 *   character break iterator):
 *     if |g| < 6 bytes and some rule matches a prefix of g: the SHORTEST such
 *       rule's replacement stands for the whole of g;
 *     else for each character c of g: the shortest rule matching a prefix of
 *       c gives its replacement, or c stays.
 *
 * So "A" + U+0301 under nfkc_cf becomes "a" (the rule for "A" replaces the
 * whole cluster) where sentencepiece gives "á". The blob arrives base64
 * encoded (RFC 4648, standard alphabet, with padding). */
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/utext.h>

#include "data/tok_pipe.h"

/* RFC 4648 base64 (standard alphabet; '=' padding to a multiple of 4).
 * *out is malloc'd. */
static xf_status base64_decode(const char *s, size_t n, unsigned char **out, size_t *len, const char *path) {
    *out = NULL;
    *len = 0;
    if (n % 4)
        return xf_fail(XF_ERR_FORMAT, "%s: Precompiled normalizer: precompiled_charsmap is not base64 (%zu characters)",
                       path, n);
    unsigned char *b = malloc(n / 4 * 3 + 1);
    if (!b) return xf_fail(XF_ERR_OOM, "%s: out of memory for precompiled_charsmap", path);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            int d;
            if (c >= 'A' && c <= 'Z') d = c - 'A';
            else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
            else if (c >= '0' && c <= '9') d = c - '0' + 52;
            else if (c == '+') d = 62;
            else if (c == '/') d = 63;
            else if (c == '=' && i + 4 == n && k >= 2) d = -1;
            else d = -2;
            if (d == -2 || (pad && d >= 0)) {
                free(b);
                return xf_fail(XF_ERR_FORMAT, "%s: Precompiled normalizer: precompiled_charsmap is not base64 (at %zu)",
                               path, i + (size_t)k);
            }
            if (d < 0) pad++;
            v = v << 6 | (uint32_t)(d < 0 ? 0 : d);
        }
        b[o++] = (unsigned char)(v >> 16);
        if (pad < 2) b[o++] = (unsigned char)(v >> 8);
        if (pad < 1) b[o++] = (unsigned char)v;
    }
    *out = b;
    *len = o;
    return XF_OK;
}

/* The charsmap the pipeline holds, with what speeds up its application (all
 * derived from the blob and ICU's property data when it is read):
 *   solo_bmp  bit c set: BMP code point c is in the class S (gcb_solo_class)
 *   one_*     the replacement of each character below U+0800 (one or two
 *             bytes) as a cluster of its own */
typedef struct {
    tok_charsmap cm; /* first: callers hold a tok_charsmap * */
    uint64_t solo_bmp[0x10000 / 64];
    const char *one_rep[0x800];
    uint8_t one_len[0x800];
    uint8_t one_rule[0x800]; /* 1: one_rep; 0: the character stays; 2: ask rule() */
} pc_map;

static int rule(const tok_charsmap *cm, const char *s, size_t n, const char **rep, size_t *rl);

/* The class S: Grapheme_Cluster_Break Other, Control, LF, LV or LVT. Between
 * two characters of S UAX #29 always breaks (GB4, GB5, GB999): every rule that
 * joins two characters needs one of them outside S: CR x LF (GB3), L x any
 * Hangul (GB6), (LV|V) x (V|T) and (LVT|T) x T (GB7, GB8), x Extend, ZWJ or
 * SpacingMark (GB9, GB9a), Prepend x (GB9b), ZWJ x ExtPict (GB11), RI x RI
 * (GB12, GB13); ICU's rules for Indic conjuncts join after a virama (Extend). */
static int gcb_solo_class(UChar32 c) {
    int g = u_getIntPropertyValue(c, UCHAR_GRAPHEME_CLUSTER_BREAK);
    return g == U_GCB_OTHER || g == U_GCB_CONTROL || g == U_GCB_LF || g == U_GCB_LV || g == U_GCB_LVT;
}

static void pc_prepare(pc_map *m) {
    for (uint32_t c = 0; c < 0x10000; c++)
        if (gcb_solo_class((UChar32)c)) m->solo_bmp[c >> 6] |= (uint64_t)1 << (c & 63);
    for (uint32_t c = 0; c < 0x800; c++) {
        char b[2];
        size_t bl = c < 0x80 ? 1 : 2;
        if (c < 0x80) b[0] = (char)c;
        else b[0] = (char)(0xC0 | c >> 6), b[1] = (char)(0x80 | (c & 0x3F));
        const char *rep;
        size_t rl;
        if (!rule(&m->cm, b, bl, &rep, &rl)) continue;
        if (rl > 255) {
            m->one_rule[c] = 2; /* a replacement too long for one_len */
            continue;
        }
        m->one_rule[c] = 1;
        m->one_rep[c] = rep;
        m->one_len[c] = (uint8_t)rl;
    }
}

xf_status tok_precompiled_init(tok_charsmap **out, const char *b64, size_t n, const char *path) {
    *out = NULL;
    unsigned char *blob;
    size_t len;
    xf_status st = base64_decode(b64, n, &blob, &len, path);
    if (st) return st;
    pc_map *m = calloc(1, sizeof *m);
    tok_charsmap *cm = m ? &m->cm : NULL;
    if (!cm) {
        free(blob);
        return xf_fail(XF_ERR_OOM, "%s: out of memory for precompiled_charsmap", path);
    }
    if (len == 0) {
        st = xf_fail(XF_ERR_FORMAT, "%s: Precompiled normalizer with an empty precompiled_charsmap", path);
    } else {
        st = tok_charsmap_init(cm, blob, len, path);
        if (st) xf_error_prefix("Precompiled normalizer");
    }
    /* tokenizers refuses replacement strings that are not UTF-8 */
    if (!st && !tok_utf8_valid(cm->norm, cm->norm_len))
        st = xf_fail(XF_ERR_FORMAT, "%s: Precompiled normalizer: replacement strings are not valid UTF-8", path);
    free(blob);
    if (st) {
        tok_charsmap_free(cm);
        free(m);
        return st;
    }
    pc_prepare(m);
    *out = cm;
    return XF_OK;
}

void tok_precompiled_free(tok_charsmap *cm) {
    if (!cm) return;
    tok_charsmap_free(cm);
    free((pc_map *)cm);
}

/* One cluster or character's replacement: the shortest rule matching a prefix
 * of s[0..n), used only when it is whole UTF-8 (an offset into the middle of a
 * character would be a panic in Rust; here the rule is ignored). The pool was
 * checked to be valid UTF-8 when it was read (tok_precompiled_init), and a
 * replacement runs from its offset to the next NUL, so it is whole UTF-8
 * exactly when it does not start on a continuation byte. */
static int rule(const tok_charsmap *cm, const char *s, size_t n, const char **rep, size_t *rl) {
    return tok_charsmap_first(cm, s, n, rep, rl) && (*rl == 0 || ((unsigned char)(*rep)[0] & 0xC0) != 0x80);
}

/* Append s[0..n) to out, whose room was reserved (tok_buf_put when not). */
static inline xf_status put(tok_buf *out, const char *s, size_t n) {
    if (out->cap - out->n < n + 1) return tok_buf_put(out, s, n);
    memcpy(out->s + out->n, s, n);
    out->n += n;
    return XF_OK;
}

/* One grapheme cluster s[0..n) (valid UTF-8) onto out. */
static xf_status cluster(const tok_charsmap *cm, const char *s, size_t n, tok_buf *out) {
    const char *rep;
    size_t rl;
    if (n < 6 && rule(cm, s, n, &rep, &rl)) return put(out, rep, rl);
    xf_status st = XF_OK;
    for (size_t i = 0; i < n && !st;) {
        size_t l = tok_utf8_char_len((const unsigned char *)s + i, n - i);
        if (l == 0) l = 1; /* not reached on valid input */
        st = rule(cm, s + i, l, &rep, &rl) ? put(out, rep, rl) : put(out, s + i, l);
        i += l;
    }
    return st;
}

/* The character at s[0..n) (n >= 1): its length (1 for an invalid byte) and
 * whether it is in the class S (gcb_solo_class; an invalid byte is not). */
static inline size_t char_class(const pc_map *m, const unsigned char *s, size_t n, int *solo, uint32_t *cpo) {
    if (s[0] < 0x80) {
        *solo = s[0] != '\r';
        *cpo = s[0];
        return 1;
    }
    size_t l = tok_utf8_char_len(s, n);
    if (l == 0) {
        *solo = 0;
        *cpo = 0xFFFFFFFFu;
        return 1;
    }
    uint32_t cp;
    if (l == 2) cp = (s[0] & 0x1Fu) << 6 | (s[1] & 0x3Fu);
    else if (l == 3) cp = (s[0] & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu);
    else cp = (s[0] & 0x07u) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3Fu);
    *solo = cp < 0x10000 ? (int)(m->solo_bmp[cp >> 6] >> (cp & 63) & 1) : gcb_solo_class((UChar32)cp);
    *cpo = cp;
    return l;
}

/* Cut the text into extended grapheme clusters and replace each. Between two
 * characters of class S there is always a cluster boundary (gcb_solo_class),
 * so a character of class S whose neighbours are both of class S (or the
 * text's ends) is a cluster by itself, and is replaced here without ICU.
 * Every other stretch, from a boundary between two S characters to the next,
 * is cut by ICU's iterator over the whole text (opened on first need), which
 * lands on those same boundaries. Most text in most scripts is of class S;
 * combining marks, Hangul jamo, emoji sequences and CR LF go to ICU. */
xf_status tok_precompiled_apply(const tok_charsmap *cm, const char *s, size_t n, tok_buf *out) {
    const pc_map *m = (const pc_map *)cm;
    xf_status st = tok_buf_put(out, "", 0);
    if (st || n == 0) return st;
    if (n > INT32_MAX) return xf_fail(XF_ERR_ARG, "text too long for the Precompiled normalizer (%zu bytes)", n);
    /* room for the common case: replacements about as long as the text */
    if (out->cap - out->n < n + n / 8 + 16) {
        size_t want = out->n + n + n / 8 + 16;
        char *q = realloc(out->s, want);
        if (!q) return xf_fail(XF_ERR_OOM, "out of memory for %zu bytes of text", want);
        out->s = q;
        out->cap = want;
    }
    const unsigned char *u = (const unsigned char *)s;
    UText *ut = NULL;
    UBreakIterator *bi = NULL;
    int32_t icu_at = -1; /* the iterator's current boundary */
    size_t i = 0;
    int cur_solo;
    uint32_t cp, ncp = 0, jcp = 0;
    size_t cl = char_class(m, u, n, &cur_solo, &cp);
    while (i < n && !st) {
        /* here: a cluster boundary at i; the character at i is cl bytes */
        size_t nx = i + cl, ncl = 0;
        int next_solo = 1;
        if (nx < n) ncl = char_class(m, u + nx, n - nx, &next_solo, &ncp);
        if (cur_solo && next_solo) {
            const char *rep;
            size_t rl;
            if (cp < 0x800 && m->one_rule[cp] != 2) {
                st = m->one_rule[cp] ? put(out, m->one_rep[cp], m->one_len[cp]) : put(out, s + i, cl);
            } else {
                st = rule(cm, s + i, cl, &rep, &rl) ? put(out, rep, rl) : put(out, s + i, cl);
            }
            i = nx;
            cur_solo = next_solo;
            cl = ncl;
            cp = ncp;
            continue;
        }
        /* a stretch: up to the next boundary between two S characters (prev:
         * the class of the character before j) */
        size_t j = nx, jl = ncl;
        int prev = cur_solo, js = next_solo;
        while (j < n) {
            jl = char_class(m, u + j, n - j, &js, &jcp);
            if (prev && js) break;
            prev = js;
            j += jl;
        }
        if (!bi) {
            UErrorCode err = U_ZERO_ERROR;
            ut = utext_openUTF8(NULL, s, (int64_t)n, &err);
            bi = U_SUCCESS(err) ? ubrk_open(UBRK_CHARACTER, "", NULL, 0, &err) : NULL;
            if (U_SUCCESS(err)) ubrk_setUText(bi, ut, &err);
            if (U_FAILURE(err)) {
                if (bi) ubrk_close(bi);
                utext_close(ut);
                return xf_fail(XF_ERR_UNSUPPORTED, "ICU grapheme break iterator unavailable: %s", u_errorName(err));
            }
        }
        /* native indexes of a UTF-8 UText are byte offsets */
        size_t a = i;
        while (a < j && !st) {
            int32_t b = icu_at == (int32_t)a ? ubrk_next(bi) : ubrk_following(bi, (int32_t)a);
            if (b == UBRK_DONE || b <= (int32_t)a || (size_t)b > n) b = (int32_t)n; /* a broken iterator */
            icu_at = b;
            st = cluster(cm, s + a, (size_t)b - a, out);
            a = (size_t)b;
        }
        /* a == j, a boundary by gcb_solo_class; were ICU to cut past it, go
         * on from ICU's cut */
        if (a == j) cl = jl, cur_solo = js, cp = jcp;
        else if (a < n) cl = char_class(m, u + a, n - a, &cur_solo, &cp);
        i = a;
    }
    if (bi) ubrk_close(bi);
    if (ut) utext_close(ut);
    if (!st) out->s[out->n] = '\0';
    return st;
}
