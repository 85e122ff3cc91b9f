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

xf_status tok_precompiled_init(tok_charsmap **out, const char *b64, size_t n, const char *path) {
    *out = NULL;
    unsigned char *blob;
    size_t len;
    xf_status st = base64_decode(b64, n, &blob, &len, path);
    if (st) return st;
    tok_charsmap *cm = calloc(1, sizeof *cm);
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
        free(cm);
        return st;
    }
    *out = cm;
    return XF_OK;
}

void tok_precompiled_free(tok_charsmap *cm) {
    if (!cm) return;
    tok_charsmap_free(cm);
    free(cm);
}

/* A replacement is used only when it is whole UTF-8 (an offset into the middle
 * of a character would be a panic in Rust; here the rule is ignored). */
static int rule(const tok_charsmap *cm, const char *s, size_t n, const char **rep, size_t *rl) {
    return tok_charsmap_first(cm, s, n, rep, rl) && tok_utf8_valid(*rep, *rl);
}

/* One grapheme cluster s[0..n) (valid UTF-8) onto out. */
static xf_status cluster(const tok_charsmap *cm, const char *s, size_t n, tok_buf *out) {
    const char *rep;
    size_t rl;
    if (n < 6 && rule(cm, s, n, &rep, &rl)) return tok_buf_put(out, rep, rl);
    xf_status st = XF_OK;
    for (size_t i = 0; i < n && !st;) {
        size_t l = tok_utf8_char_len((const unsigned char *)s + i, n - i);
        if (l == 0) l = 1; /* not reached on valid input */
        st = rule(cm, s + i, l, &rep, &rl) ? tok_buf_put(out, rep, rl) : tok_buf_put(out, s + i, l);
        i += l;
    }
    return st;
}

xf_status tok_precompiled_apply(const tok_charsmap *cm, const char *s, size_t n, tok_buf *out) {
    xf_status st = tok_buf_put(out, "", 0);
    if (st || n == 0) return st;
    if (n > INT32_MAX) return xf_fail(XF_ERR_ARG, "text too long for the Precompiled normalizer (%zu bytes)", n);
    UErrorCode err = U_ZERO_ERROR;
    UText *ut = utext_openUTF8(NULL, s, (int64_t)n, &err);
    UBreakIterator *bi = U_SUCCESS(err) ? ubrk_open(UBRK_CHARACTER, "", NULL, 0, &err) : NULL;
    if (U_SUCCESS(err)) ubrk_setUText(bi, ut, &err);
    if (U_FAILURE(err)) {
        if (bi) ubrk_close(bi);
        utext_close(ut);
        return xf_fail(XF_ERR_UNSUPPORTED, "ICU grapheme break iterator unavailable: %s", u_errorName(err));
    }
    /* native indexes of a UTF-8 UText are byte offsets */
    int32_t a = ubrk_first(bi);
    for (int32_t b = ubrk_next(bi); b != UBRK_DONE && !st; a = b, b = ubrk_next(bi)) {
        if (a < 0 || b <= a || (size_t)b > n) break;
        st = cluster(cm, s + a, (size_t)(b - a), out);
    }
    ubrk_close(bi);
    utext_close(ut);
    return st;
}
