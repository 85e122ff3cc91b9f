/* xfmr: SentencePiece's normalizer (shared by the BPE and the Unigram models
 * read from a .model file). See docs/tokenizers.md §SentencePiece normalisation.
 *
 * precompiled_charsmap (NormalizerSpec field 2) is a blob:
 *   u32 LE  trie_size                 (bytes; a multiple of 4, < blob size - 4)
 *   trie    trie_size / 4 u32 units   (a Darts-clone double-array trie)
 *   norm    the replacement strings, each ended by a NUL byte
 * The trie maps an input byte string to an offset into `norm`. A unit packs:
 *   has_leaf = bit 8; value = bits 0..30; label = bits 0..7 and bit 31;
 *   offset = (unit >> 10) << ((unit & (1 << 9)) >> 6).
 * Common-prefix search from node 0: pos ^= offset(unit[0]); for each input byte
 * c: pos ^= c; the child unit must have label c; pos ^= its offset; if it has a
 * leaf, unit[pos].value is the value of the prefix ending here.
 *
 * Normalizing a text (sentencepiece normalizer.cc, Normalize/NormalizePrefix):
 * at each position the replacement is, in order of preference: a user-defined
 * piece spelled there (longest; copied as it is), the longest prefix among the
 * first 32 the trie reports (its replacement string, possibly empty), else one
 * UTF-8 character (an invalid byte becomes U+FFFD, consuming one byte).
 * Leading replacements equal to " " are dropped when remove_extra_whitespaces
 * is on; an all-space text normalizes to nothing. Then the dummy prefix (one
 * space) is added; leading spaces of a replacement are dropped while the
 * previous replacement ended in a space (remove_extra_whitespaces only);
 * spaces become U+2581 with escape_whitespaces; trailing spaces are removed
 * (remove_extra_whitespaces). */
#include <stdlib.h>
#include <string.h>

#include "data/tok_impl.h"
#include "data/tok_unicode.h"

#define TRIE_RESULTS_MAX 32 /* sentencepiece's kMaxTrieResultsSize */

void tok_charsmap_free(tok_charsmap *cm) {
    free(cm->unit);
    free(cm->norm);
    memset(cm, 0, sizeof *cm);
}

xf_status tok_charsmap_init(tok_charsmap *cm, const unsigned char *blob, size_t len, const char *path) {
    memset(cm, 0, sizeof *cm);
    if (len == 0) return XF_OK; /* identity */
    if (len <= 4) return xf_fail(XF_ERR_FORMAT, "%s: precompiled_charsmap of %zu bytes is truncated", path, len);
    uint32_t tsize = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    if (tsize == 0 || tsize % 4 || tsize > len - 4)
        return xf_fail(XF_ERR_FORMAT, "%s: precompiled_charsmap trie size %u does not fit its %zu bytes", path,
                       tsize, len);
    cm->n_unit = tsize / 4;
    cm->norm_len = len - 4 - tsize;
    cm->unit = malloc(tsize);
    cm->norm = malloc(cm->norm_len + 1);
    if (!cm->unit || !cm->norm) {
        tok_charsmap_free(cm);
        return xf_fail(XF_ERR_OOM, "%s: out of memory for precompiled_charsmap", path);
    }
    for (size_t i = 0; i < cm->n_unit; i++) {
        const unsigned char *u = blob + 4 + 4 * i;
        cm->unit[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(cm->norm, blob + 4 + tsize, cm->norm_len);
    cm->norm[cm->norm_len] = '\0'; /* a string running off the end stops here */
    return XF_OK;
}

static inline uint32_t du_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static inline uint32_t du_label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
static inline int du_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t du_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* Common-prefix search of s[0..n) (stops at a NUL byte, as both readers do).
 * shortest = 1: the first prefix that ends in a leaf (tokenizers'
 * spm_precompiled); 0: the longest among the first 32 (sentencepiece). Every
 * unit index is checked against the trie. Returns the prefix length, 0 if none. */
static size_t charsmap_search(const tok_charsmap *cm, const char *s, size_t n, int shortest, uint32_t *value) {
    if (!cm->n_unit) return 0;
    size_t best = 0, found = 0;
    size_t pos = du_offset(cm->unit[0]);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0) break;
        pos ^= c;
        if (pos >= cm->n_unit) break;
        uint32_t u = cm->unit[pos];
        if (du_label(u) != c) break;
        pos ^= du_offset(u);
        if (pos >= cm->n_unit) break;
        if (du_has_leaf(u)) {
            if (found < TRIE_RESULTS_MAX) {
                best = i + 1;
                *value = du_value(cm->unit[pos]);
            }
            found++;
            if (shortest) break;
        }
    }
    return best;
}

/* The NUL-ended replacement string at offset value (empty when out of range). */
static void charsmap_string(const tok_charsmap *cm, uint32_t value, const char **rep, size_t *rep_len) {
    if (value >= cm->norm_len) {
        *rep = "";
        *rep_len = 0;
    } else {
        *rep = cm->norm + value;
        *rep_len = strlen(*rep);
    }
}

size_t tok_charsmap_match(const tok_charsmap *cm, const char *s, size_t n, const char **rep, size_t *rep_len) {
    uint32_t value = 0;
    size_t best = charsmap_search(cm, s, n, 0, &value);
    if (best) charsmap_string(cm, value, rep, rep_len);
    return best;
}

int tok_charsmap_first(const tok_charsmap *cm, const char *s, size_t n, const char **rep, size_t *rep_len) {
    uint32_t value = 0;
    if (!charsmap_search(cm, s, n, 1, &value)) return 0;
    charsmap_string(cm, value, rep, rep_len);
    return 1;
}

/* The replacement for the text at s[0..n): returns the bytes consumed. */
static size_t norm_prefix(const xf_tokenizer *t, const char *s, size_t n, const char **rep, size_t *rep_len) {
    unsigned char c0 = (unsigned char)s[0];
    if (t->has_user && (t->user_first[c0 >> 3] >> (c0 & 7) & 1)) {
        size_t lim = n < t->user_max ? n : t->user_max, best = 0;
        for (size_t k = 1; k <= lim; k++) {
            int32_t id = tok_find(t, s, k);
            if (id >= 0 && t->type[id] == TT_USER) best = k;
        }
        if (best) {
            *rep = s;
            *rep_len = best;
            return best;
        }
    }
    size_t m = tok_charsmap_match(&t->cmap, s, n, rep, rep_len);
    if (m) return m;
    size_t l = tok_utf8_char_len((const unsigned char *)s, n);
    if (l == 0) {
        *rep = "\xEF\xBF\xBD";
        *rep_len = 3;
        return 1;
    }
    *rep = s;
    *rep_len = l;
    return l;
}

static const char k_ws[] = "\xE2\x96\x81"; /* U+2581 */

xf_status tok_spm_normalize(const xf_tokenizer *t, const char *text, size_t len, char **out, size_t *out_len) {
    tok_buf b = {0};
    xf_status st = XF_OK;
    *out = NULL;
    *out_len = 0;
    size_t i = 0;
    const char *rep;
    size_t rl;
    if (t->remove_extra_ws)
        while (i < len) {
            size_t c = norm_prefix(t, text + i, len - i, &rep, &rl);
            if (!(rl == 1 && rep[0] == ' ')) break;
            i += c;
        }
    const char *ws = t->escape_ws ? k_ws : " ";
    size_t wl = t->escape_ws ? 3 : 1;
    if (i < len && t->add_dummy_prefix) st = tok_buf_put(&b, ws, wl);
    int prev_space = t->remove_extra_ws;
    while (i < len && !st) {
        i += norm_prefix(t, text + i, len - i, &rep, &rl);
        if (prev_space)
            while (rl && rep[0] == ' ') rep++, rl--;
        if (rl) {
            size_t a = 0;
            for (size_t k = 0; k < rl && !st; k++)
                if (rep[k] == ' ' && t->escape_ws) {
                    st = tok_buf_put(&b, rep + a, k - a);
                    if (!st) st = tok_buf_put(&b, k_ws, 3);
                    a = k + 1;
                }
            if (!st) st = tok_buf_put(&b, rep + a, rl - a);
            prev_space = rep[rl - 1] == ' ';
        }
        if (!t->remove_extra_ws) prev_space = 0;
    }
    if (t->remove_extra_ws)
        while (b.n >= wl && memcmp(b.s + b.n - wl, ws, wl) == 0) b.n -= wl;
    if (!st && !b.s) st = tok_buf_put(&b, "", 0); /* an empty result is still a buffer */
    if (st) {
        tok_buf_free(&b);
        return xf_fail(XF_ERR_OOM, "out of memory normalizing %zu bytes", len);
    }
    *out = b.s;
    *out_len = b.n;
    return XF_OK;
}
