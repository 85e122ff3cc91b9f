/* xfmr: WordPiece (BERT). See docs/tokenizers.md §WordPiece.
 *
 * vocab.txt: one token per line, id = line number - 1; trailing whitespace
 * (and a CR) is not part of the token. Empty or over-long tokens, NUL bytes,
 * invalid UTF-8 and duplicates are errors. [CLS] [SEP] [PAD] [MASK] are
 * control tokens (BOS, EOS, PAD, MASK), [UNK] the unknown token. A vocabulary
 * with no ASCII capital letter outside [..] tokens is taken as uncased
 * (lowercase and strip accents, like bert-base-uncased), else as cased.
 *
 * Encoding, as Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece
 * (tokenizers normalizers/bert.rs, pre_tokenizers/bert.rs, models/wordpiece):
 *   clean text: drop U+0000, U+FFFD and control characters (categories Cc,
 *     Cf, Co, Cs except tab, LF, CR; unassigned code points stay); whitespace (White_Space, tab, LF, CR) -> ' ';
 *   CJK ideographs (the BERT ranges) get a space on each side;
 *   strip accents: canonical decomposition, then drop nonspacing marks (Mn);
 *   lowercase: each code point's full lowercase mapping;
 *   split at whitespace (dropped) and around punctuation (ASCII punctuation
 *     or categories P*; each its own word);
 *   each word: longer than max_input_chars_per_word code points -> [UNK];
 *     else greedy longest match from the left, pieces after the first spelled
 *     with the prefix "##"; if some position has no match, the whole word is
 *     [UNK].
 * Invalid UTF-8 bytes read as U+FFFD (and so vanish with clean text).
 * Character properties come from ICU (Unicode 15 in ICU 72). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "data/tok_impl.h"
#include "data/tok_unicode.h"

#define WP_MAX_CHARS_DEFAULT 100

static const char *const k_specials[] = {"[CLS]", "[SEP]", "[PAD]", "[MASK]", NULL};

/* ------------------------------------------------------------- building */

static int is_special_name(const char *s, size_t n) {
    for (int i = 0; k_specials[i]; i++)
        if (strlen(k_specials[i]) == n && memcmp(k_specials[i], s, n) == 0) return 1;
    return 0;
}

/* Set id's entry: raw = " word" or the continuation without its prefix. */
static xf_status wp_set(xf_tokenizer *t, size_t id, const char *s, size_t n, int type) {
    char raw[TOK_MAX_TOKEN_BYTES + 1];
    if (type == TT_CONTROL) return tok_set(t, id, s, n, "", 0, type);
    if (n > TOK_MAX_TOKEN_BYTES) return xf_fail(XF_ERR_FORMAT, "token %zu is longer than %d bytes", id, TOK_MAX_TOKEN_BYTES);
    if (t->wp_prefix_len && n > t->wp_prefix_len && memcmp(s, t->wp_prefix, t->wp_prefix_len) == 0)
        return tok_set(t, id, s, n, s + t->wp_prefix_len, n - t->wp_prefix_len, type);
    raw[0] = ' ';
    memcpy(raw + 1, s, n);
    return tok_set(t, id, s, n, raw, n + 1, type);
}

static void wp_defaults(xf_tokenizer *t) {
    t->wp_clean = t->wp_chinese = 1;
    t->wp_max_chars = WP_MAX_CHARS_DEFAULT;
    memcpy(t->wp_prefix, "##", 3);
    t->wp_prefix_len = 2;
}

/* After every tok_set: piece map, specials; unk_token names the unknown. */
static xf_status wp_finish(xf_tokenizer *t, const char *unk, const char *path) {
    xf_status s = tok_finish(t, path);
    if (s) return s;
    int32_t u = tok_find(t, unk, strlen(unk));
    if (u < 0) return xf_fail(XF_ERR_FORMAT, "%s: the unknown token \"%.40s\" is not in the vocabulary", path, unk);
    t->unk_id = t->special[XF_TOK_UNK] = u;
    t->type[u] = TT_UNKNOWN;
    tok_seal(t);
    return XF_OK;
}

xf_status tok_wordpiece_parse_txt(xf_tokenizer **out, const char *data, size_t len, const char *path) {
    *out = NULL;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += data[i] == '\n';
    if (len && data[len - 1] != '\n') lines++;
    if (lines == 0) return xf_fail(XF_ERR_FORMAT, "%s: empty vocab.txt", path);
    xf_tokenizer *t;
    xf_status s = tok_alloc(&t, TOK_WORDPIECE, lines);
    if (s) {
        xf_error_prefix("%s", path);
        return s;
    }
    wp_defaults(t);
    int cased = 0;
    size_t pos = 0;
    for (size_t id = 0; id < lines && !s; id++) {
        const char *ln = data + pos;
        const char *nl = memchr(ln, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - ln) : len - pos;
        pos += n + (nl ? 1 : 0);
        while (n && (ln[n - 1] == ' ' || ln[n - 1] == '\t' || ln[n - 1] == '\r')) n--;
        if (n == 0) s = xf_fail(XF_ERR_FORMAT, "%s: line %zu is empty", path, id + 1);
        else if (n > TOK_MAX_TOKEN_BYTES)
            s = xf_fail(XF_ERR_FORMAT, "%s: line %zu is longer than %d bytes", path, id + 1, TOK_MAX_TOKEN_BYTES);
        else if (memchr(ln, '\0', n))
            s = xf_fail(XF_ERR_FORMAT, "%s: line %zu has a NUL byte", path, id + 1);
        if (s) break;
        for (size_t i = 0; i < n && !s;) {
            size_t l = tok_utf8_char_len((const unsigned char *)ln + i, n - i);
            if (!l) s = xf_fail(XF_ERR_FORMAT, "%s: line %zu is not valid UTF-8", path, id + 1);
            i += l;
        }
        if (s) break;
        int special = is_special_name(ln, n);
        if (!special && !(ln[0] == '[' && ln[n - 1] == ']'))
            for (size_t i = 0; i < n; i++)
                if (ln[i] >= 'A' && ln[i] <= 'Z') cased = 1;
        s = wp_set(t, id, ln, n, special ? TT_CONTROL : TT_NORMAL);
        if (s) xf_error_prefix("%s: line %zu", path, id + 1);
    }
    t->wp_lower = t->wp_strip_accents = !cased;
    if (!s) s = wp_finish(t, "[UNK]", path);
    if (s) {
        xf_tokenizer_free(t);
        return s;
    }
    *out = t;
    return XF_OK;
}

/* ------------------------------------------------- the basic tokenizer */

static const UNormalizer2 *nfd(void) {
    UErrorCode e = U_ZERO_ERROR;
    const UNormalizer2 *n = unorm2_getNFDInstance(&e);
    return U_FAILURE(e) ? NULL : n;
}

static int is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int is_ws(uint32_t c) { return c == '\t' || c == '\n' || c == '\r' || u_isUWhiteSpace((UChar32)c); }

static int is_control(uint32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    int8_t ty = u_charType((UChar32)c);
    /* tokenizers' is_other (Cc, Cf, Co, Cs): in practice it keeps unassigned
     * code points (Cn), e.g. U+0378, so they are not dropped here either */
    return ty == U_CONTROL_CHAR || ty == U_FORMAT_CHAR || ty == U_PRIVATE_USE_CHAR || ty == U_SURROGATE;
}

static int is_punct(uint32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return 1;
    if (c < 128) return 0;
    int8_t ty = u_charType((UChar32)c);
    return ty == U_DASH_PUNCTUATION || ty == U_START_PUNCTUATION || ty == U_END_PUNCTUATION ||
           ty == U_CONNECTOR_PUNCTUATION || ty == U_OTHER_PUNCTUATION || ty == U_INITIAL_PUNCTUATION ||
           ty == U_FINAL_PUNCTUATION;
}

typedef struct {
    uint32_t *v;
    size_t n, cap;
} cpvec;

static int cp_push(cpvec *a, uint32_t c) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        uint32_t *v = realloc(a->v, cap * sizeof *v);
        if (!v) return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = c;
    return 0;
}

/* Code points of a UTF-16 string onto out. */
static int push_utf16(cpvec *out, const UChar *u, int32_t n) {
    for (int32_t i = 0; i < n;) {
        UChar32 c;
        U16_NEXT(u, i, n, c);
        if (cp_push(out, (uint32_t)c)) return -1;
    }
    return 0;
}

/* Append c after the accent and case steps (decomposition, lowercase). */
static int push_folded(const xf_tokenizer *t, const UNormalizer2 *norm, cpvec *out, uint32_t c) {
    UChar d[32];
    int32_t dn = -1;
    UErrorCode e = U_ZERO_ERROR;
    if (t->wp_strip_accents && c >= 0xC0 && norm) {
        dn = unorm2_getDecomposition(norm, (UChar32)c, d, 32, &e);
        if (U_FAILURE(e)) dn = -1;
    }
    UChar buf[32];
    int32_t bn = 0;
    if (dn < 0) U16_APPEND_UNSAFE(buf, bn, (UChar32)c);
    else {
        memcpy(buf, d, (size_t)dn * sizeof(UChar));
        bn = dn;
    }
    /* one code point at a time: drop nonspacing marks, then lowercase */
    for (int32_t i = 0; i < bn;) {
        UChar32 x;
        U16_NEXT(buf, i, bn, x);
        if (t->wp_strip_accents && u_charType(x) == U_NON_SPACING_MARK) continue;
        if (!t->wp_lower) {
            if (cp_push(out, (uint32_t)x)) return -1;
        } else if (x < 128) {
            if (cp_push(out, (uint32_t)(x >= 'A' && x <= 'Z' ? x + 32 : x))) return -1;
        } else {
            UChar one[2], low[8];
            int32_t on = 0;
            U16_APPEND_UNSAFE(one, on, x);
            e = U_ZERO_ERROR;
            int32_t ln = u_strToLower(low, 8, one, on, "", &e);
            if (U_FAILURE(e) || ln > 8) {
                if (cp_push(out, (uint32_t)x)) return -1;
            } else if (push_utf16(out, low, ln)) {
                return -1;
            }
        }
    }
    return 0;
}

/* The normalized text as code points (BertNormalizer). */
static int bert_normalize(const xf_tokenizer *t, const char *text, size_t len, cpvec *out) {
    const UNormalizer2 *norm = t->wp_strip_accents ? nfd() : NULL;
    for (size_t i = 0; i < len;) {
        const unsigned char *s = (const unsigned char *)text + i;
        size_t l = tok_utf8_char_len(s, len - i);
        uint32_t c;
        if (l == 0) {
            c = 0xFFFD;
            l = 1;
        } else if (l == 1) {
            c = s[0];
        } else if (l == 2) {
            c = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3Fu);
        } else if (l == 3) {
            c = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3Fu);
        } else {
            c = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 |
                (s[3] & 0x3Fu);
        }
        i += l;
        if (t->wp_clean) {
            if (c == 0 || c == 0xFFFD || is_control(c)) continue;
            if (is_ws(c)) c = ' ';
        }
        if (t->wp_chinese && is_chinese(c)) {
            if (cp_push(out, ' ') || push_folded(t, norm, out, c) || cp_push(out, ' ')) return -1;
        } else if (push_folded(t, norm, out, c)) {
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ WordPiece */

/* One word w[0..n) (UTF-8, with char boundaries in cb[0..nc]) onto out. */
static xf_status wordpiece(const xf_tokenizer *t, const char *w, const size_t *cb, size_t nc, char *tmp,
                           tok_ivec *out) {
    if (nc > t->wp_max_chars) return tok_ivec_push(out, t->unk_id);
    size_t before = out->n, start = 0;
    while (start < nc) {
        int32_t id = -1;
        size_t end = nc;
        for (; end > start; end--) {
            size_t bl = cb[end] - cb[start], pl = start ? t->wp_prefix_len : 0;
            if (bl + pl > TOK_MAX_TOKEN_BYTES) continue;
            memcpy(tmp, t->wp_prefix, pl);
            memcpy(tmp + pl, w + cb[start], bl);
            id = tok_find(t, tmp, pl + bl);
            if (id >= 0) break;
        }
        if (id < 0) {
            out->n = before;
            return tok_ivec_push(out, t->unk_id);
        }
        xf_status s = tok_ivec_push(out, id);
        if (s) return s;
        start = end;
    }
    return XF_OK;
}

xf_status tok_wordpiece_words(const xf_tokenizer *t, const char *text, size_t len, tok_word_fn fn, void *ctx) {
    cpvec cp = {0};
    char *word = NULL;
    size_t *cb = NULL;
    xf_status s = XF_OK;
    if (bert_normalize(t, text, len, &cp)) {
        s = xf_fail(XF_ERR_OOM, "out of memory normalizing %zu bytes", len);
        goto done;
    }
    word = malloc(4 * cp.n + 1);
    cb = malloc((cp.n + 1) * sizeof *cb);
    if (!word || !cb) {
        s = xf_fail(XF_ERR_OOM, "out of memory splitting %zu bytes", len);
        goto done;
    }
    /* words end at whitespace (dropped); punctuation is a word of its own */
    size_t wl = 0, nc = 0;
    cb[0] = 0;
    for (size_t i = 0; i <= cp.n && !s; i++) {
        uint32_t c = i < cp.n ? cp.v[i] : ' ';
        int ws = is_ws(c), pu = !ws && is_punct(c);
        if ((ws || pu) && nc) {
            s = fn(ctx, word, cb, nc);
            wl = nc = 0;
        }
        if (ws || s) continue;
        wl += tok_utf8_put(word + wl, c);
        cb[++nc] = wl;
        if (pu) {
            s = fn(ctx, word, cb, nc);
            wl = nc = 0;
        }
    }
done:
    free(cp.v);
    free(word);
    free(cb);
    return s;
}

typedef struct {
    const xf_tokenizer *t;
    char *tmp;
    tok_ivec out;
} wp_enc;

static xf_status encode_word(void *ctx, const char *w, const size_t *cb, size_t nc) {
    wp_enc *e = ctx;
    return wordpiece(e->t, w, cb, nc, e->tmp, &e->out);
}

xf_status tok_wordpiece_append(const xf_tokenizer *t, const char *text, size_t len, tok_ivec *out) {
    wp_enc e = {t, malloc(TOK_MAX_TOKEN_BYTES + sizeof t->wp_prefix), *out};
    xf_status s = e.tmp ? tok_wordpiece_words(t, text, len, encode_word, &e)
                        : xf_fail(XF_ERR_OOM, "out of memory encoding %zu bytes", len);
    free(e.tmp);
    *out = e.out;
    return s;
}

xf_status tok_wordpiece_encode(const xf_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n) {
    wp_enc e = {t, malloc(TOK_MAX_TOKEN_BYTES + sizeof t->wp_prefix), {0}};
    xf_status s = e.tmp ? tok_wordpiece_words(t, text, len, encode_word, &e)
                        : xf_fail(XF_ERR_OOM, "out of memory encoding %zu bytes", len);
    free(e.tmp);
    if (s) {
        free(e.out.v);
        return s;
    }
    if (!e.out.v && !(e.out.v = malloc(sizeof(int32_t)))) return xf_fail(XF_ERR_OOM, "out of memory");
    *ids = e.out.v;
    *n = e.out.n;
    return XF_OK;
}

xf_status tok_wordpiece_word(const xf_tokenizer *t, const char *s, size_t n, tok_ivec *out) {
    if (n == 0) return XF_OK;
    size_t cbs[65], *cb = cbs, nc = 0;
    if (n >= 64 && !(cb = malloc((n + 1) * sizeof *cb))) return xf_fail(XF_ERR_OOM, "out of memory encoding %zu bytes", n);
    char *tmp = malloc(TOK_MAX_TOKEN_BYTES + sizeof t->wp_prefix);
    xf_status st = XF_OK;
    if (!tmp) st = xf_fail(XF_ERR_OOM, "out of memory encoding %zu bytes", n);
    cb[0] = 0;
    for (size_t i = 0; i < n && !st;) { /* the pipeline gives valid UTF-8 */
        uint32_t cp;
        i += tok_utf8_next(s + i, n - i, &cp);
        cb[++nc] = i;
    }
    if (!st) st = wordpiece(t, s, cb, nc, tmp, out);
    free(tmp);
    if (cb != cbs) free(cb);
    return st;
}

/* -------------------------------------------------------- tokenizer.json */

int tok_json_wordpiece_own(const void *root_) {
    const cJSON *root = root_;
    const cJSON *nz = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *nt = cJSON_IsObject(nz) ? cJSON_GetObjectItemCaseSensitive(nz, "type") : NULL;
    const cJSON *ptt = cJSON_IsObject(pt) ? cJSON_GetObjectItemCaseSensitive(pt, "type") : NULL;
    if (nz && !cJSON_IsNull(nz) && !(cJSON_IsString(nt) && strcmp(nt->valuestring, "BertNormalizer") == 0)) return 0;
    return cJSON_IsString(ptt) && strcmp(ptt->valuestring, "BertPreTokenizer") == 0;
}

static int jflag(const cJSON *o, const char *key, int def) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return def;
    return cJSON_IsBool(j) ? cJSON_IsTrue(j) : -1;
}

xf_status tok_json_wordpiece(xf_tokenizer **out, const void *root_, const void *model_, int own_pipe, const char *path) {
    const cJSON *root = root_, *model = model_;
    *out = NULL;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsObject(vocab)) return xf_fail(XF_ERR_FORMAT, "%s: WordPiece model.vocab is not an object", path);
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix");
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word");
    if ((unk && !cJSON_IsString(unk)) || (pre && !cJSON_IsString(pre)) || (mx && !cJSON_IsNumber(mx)))
        return xf_fail(XF_ERR_FORMAT, "%s: WordPiece unk_token / continuing_subword_prefix / max_input_chars_per_word have wrong types", path);
    if (pre && strlen(pre->valuestring) >= sizeof ((xf_tokenizer *)0)->wp_prefix)
        return xf_fail(XF_ERR_FORMAT, "%s: continuing_subword_prefix is longer than 31 bytes", path);
    if (mx && !(mx->valuedouble >= 0 && mx->valuedouble <= 1e9))
        return xf_fail(XF_ERR_FORMAT, "%s: max_input_chars_per_word %g out of range", path, mx->valuedouble);
    /* the pipeline this hook understands: BertNormalizer (or none), BertPreTokenizer */
    const cJSON *nz = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *nt = cJSON_IsObject(nz) ? cJSON_GetObjectItemCaseSensitive(nz, "type") : NULL;
    const cJSON *ptt = cJSON_IsObject(pt) ? cJSON_GetObjectItemCaseSensitive(pt, "type") : NULL;
    if (own_pipe && nz && !cJSON_IsNull(nz) && !(cJSON_IsString(nt) && strcmp(nt->valuestring, "BertNormalizer") == 0))
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: WordPiece with normalizer \"%.40s\" is not supported (BertNormalizer or none)",
                       path, cJSON_IsString(nt) ? nt->valuestring : "?");
    if (own_pipe && !(cJSON_IsString(ptt) && strcmp(ptt->valuestring, "BertPreTokenizer") == 0))
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: WordPiece with pre_tokenizer \"%.40s\" is not supported (BertPreTokenizer)",
                       path, cJSON_IsString(ptt) ? ptt->valuestring : "none");
    int clean = 0, chinese = 0, lower = 0, strip = 0;
    if (own_pipe && cJSON_IsObject(nz)) {
        clean = jflag(nz, "clean_text", 1);
        chinese = jflag(nz, "handle_chinese_chars", 1);
        lower = jflag(nz, "lowercase", 1);
        strip = jflag(nz, "strip_accents", lower); /* null: follows lowercase */
        if (clean < 0 || chinese < 0 || lower < 0 || strip < 0)
            return xf_fail(XF_ERR_FORMAT, "%s: BertNormalizer options must be booleans", path);
    }
    size_t n = (size_t)cJSON_GetArraySize(vocab);
    if (n == 0) return xf_fail(XF_ERR_FORMAT, "%s: empty WordPiece vocabulary", path);
    xf_tokenizer *t;
    xf_status s = tok_alloc(&t, TOK_WORDPIECE, n);
    if (s) {
        xf_error_prefix("%s", path);
        return s;
    }
    wp_defaults(t);
    t->wp_clean = clean;
    t->wp_chinese = chinese;
    t->wp_lower = lower;
    t->wp_strip_accents = strip;
    if (pre) {
        t->wp_prefix_len = strlen(pre->valuestring);
        memcpy(t->wp_prefix, pre->valuestring, t->wp_prefix_len + 1);
    }
    if (mx) t->wp_max_chars = (size_t)mx->valuedouble;
    /* specials: the added tokens marked special */
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        double d = cJSON_IsNumber(it) ? it->valuedouble : -1;
        if (!it->string || !(d >= 0 && d < (double)n) || d != (double)(size_t)d) {
            s = xf_fail(XF_ERR_FORMAT, "%s: vocab entry \"%.40s\" has no id in [0, %zu)", path,
                        it->string ? it->string : "", n);
            break;
        }
        int special = 0;
        if (cJSON_IsArray(added)) {
            const cJSON *a;
            cJSON_ArrayForEach(a, added) {
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(a, "content");
                if (cJSON_IsString(c) && strcmp(c->valuestring, it->string) == 0 &&
                    jflag(a, "special", 0) == 1)
                    special = 1;
            }
        }
        s = wp_set(t, (size_t)d, it->string, strlen(it->string), special ? TT_CONTROL : TT_NORMAL);
        if (s) xf_error_prefix("%s", path);
    }
    if (!s) s = wp_finish(t, cJSON_IsString(unk) ? unk->valuestring : "[UNK]", path);
    if (s) {
        xf_tokenizer_free(t);
        return s;
    }
    *out = t;
    return XF_OK;
}

/* The WordPiece parts of a tokenizer.json (tok_json_write_model). */
void tok_wordpiece_json_parts(const xf_tokenizer *t, void *root_, void *model_);
void tok_wordpiece_json_parts(const xf_tokenizer *t, void *root_, void *model_) {
    cJSON *root = root_, *model = model_;
    cJSON *nz = cJSON_AddObjectToObject(root, "normalizer");
    cJSON_AddStringToObject(nz, "type", "BertNormalizer");
    cJSON_AddBoolToObject(nz, "clean_text", t->wp_clean);
    cJSON_AddBoolToObject(nz, "handle_chinese_chars", t->wp_chinese);
    cJSON_AddBoolToObject(nz, "strip_accents", t->wp_strip_accents);
    cJSON_AddBoolToObject(nz, "lowercase", t->wp_lower);
    cJSON *pt = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pt, "type", "BertPreTokenizer");
    int32_t cls = t->special[XF_TOK_BOS], sep = t->special[XF_TOK_EOS];
    if (cls >= 0 && sep >= 0) {
        cJSON *pp = cJSON_AddObjectToObject(root, "post_processor");
        cJSON_AddStringToObject(pp, "type", "BertProcessing");
        cJSON *a = cJSON_AddArrayToObject(pp, "sep");
        cJSON_AddItemToArray(a, cJSON_CreateString(tok_piece(t, (size_t)sep)));
        cJSON_AddItemToArray(a, cJSON_CreateNumber(sep));
        a = cJSON_AddArrayToObject(pp, "cls");
        cJSON_AddItemToArray(a, cJSON_CreateString(tok_piece(t, (size_t)cls)));
        cJSON_AddItemToArray(a, cJSON_CreateNumber(cls));
    } else {
        cJSON_AddNullToObject(root, "post_processor");
    }
    cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
    cJSON_AddStringToObject(dec, "type", "WordPiece");
    cJSON_AddStringToObject(dec, "prefix", t->wp_prefix);
    cJSON_AddBoolToObject(dec, "cleanup", 1);
    cJSON_AddStringToObject(model, "type", "WordPiece");
    cJSON_AddStringToObject(model, "unk_token", tok_piece(t, (size_t)t->unk_id));
    cJSON_AddStringToObject(model, "continuing_subword_prefix", t->wp_prefix);
    cJSON_AddNumberToObject(model, "max_input_chars_per_word", (double)t->wp_max_chars);
    cJSON *v = cJSON_AddObjectToObject(model, "vocab");
    for (size_t id = 0; id < t->n; id++) cJSON_AddNumberToObject(v, tok_piece(t, id), (double)id);
}

xf_status tok_wordpiece_build(xf_tokenizer **out, const char *const *pieces, size_t n, int lower, const char *what) {
    *out = NULL;
    xf_tokenizer *t;
    xf_status s = tok_alloc(&t, TOK_WORDPIECE, n);
    if (s) return s;
    wp_defaults(t);
    t->wp_lower = t->wp_strip_accents = lower;
    for (size_t i = 0; i < n && !s; i++) {
        size_t l = strlen(pieces[i]);
        s = wp_set(t, i, pieces[i], l, is_special_name(pieces[i], l) ? TT_CONTROL : TT_NORMAL);
    }
    if (!s) s = wp_finish(t, "[UNK]", what);
    if (s) {
        xf_tokenizer_free(t);
        return s;
    }
    *out = t;
    return XF_OK;
}
