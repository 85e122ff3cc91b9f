/* xfmr: reading the pipeline parts of a tokenizer.json (docs/tokenizers.md
 * §Pipeline): "normalizer", "pre_tokenizer", "decoder", "post_processor" and
 * "added_tokens" into a tok_pipe. Sequences are flattened. Every component is
 * looked up by its "type" in a table; an unknown type or option value is
 * refused by name (XF_ERR_UNSUPPORTED), never approximated. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tok_json_pipe.h"

const char *tok_jstr(const cJSON *o, const char *key) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

int tok_jbool(const cJSON *o, const char *key, int def) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return def;
    if (cJSON_IsBool(j)) return cJSON_IsTrue(j) ? 1 : 0;
    return -1;
}

static int jint(const cJSON *o, const char *key, int def, int lo, int hi) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return def;
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < lo ||
        j->valuedouble > hi)
        return INT32_MIN;
    return (int)j->valuedouble;
}

static char *dup_str(const char *s, size_t *len) {
    size_t l = strlen(s);
    char *d = malloc(l + 1);
    if (d) memcpy(d, s, l + 1);
    if (len) *len = l;
    return d;
}

/* {"String": s} or {"Regex": r}: literal -> *lit (malloc'd), regex -> *re */
static xf_status read_pattern(const cJSON *o, const char *key, char **lit, size_t *litlen, void **re,
                              int want_regex_for_string, const char *what, const char *path) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, key);
    const char *s = cJSON_IsObject(p) ? tok_jstr(p, "String") : NULL;
    const char *r = cJSON_IsObject(p) ? tok_jstr(p, "Regex") : NULL;
    if (!s && !r) return xf_fail(XF_ERR_FORMAT, "%s: %s needs \"%s\": {\"String\"|\"Regex\": ...}", path, what, key);
    xf_status st;
    if (s) {
        if (want_regex_for_string) {
            st = tok_pipe_regex(re, s, strlen(s), 1, what);
        } else {
            *lit = dup_str(s, litlen);
            st = *lit ? XF_OK : xf_fail(XF_ERR_OOM, "out of memory");
        }
    } else {
        st = tok_pipe_regex(re, r, strlen(r), 0, what);
    }
    if (st) xf_error_prefix("%s", path);
    return st;
}

typedef struct {
    void *v;
    size_t n, cap, size;
} vec;

static void *vec_add(vec *a) {
    if (a->n == a->cap) {
        size_t c = a->cap ? a->cap * 2 : 8;
        void *v = realloc(a->v, c * a->size);
        if (!v) return NULL;
        a->v = v;
        a->cap = c;
    }
    void *e = (char *)a->v + a->n * a->size;
    memset(e, 0, a->size);
    a->n++;
    return e;
}

/* ------------------------------------------------------------ normalizers */

typedef xf_status (*nz_reader)(const cJSON *o, tok_nz *z, const char *path);

static xf_status nz_plain(const cJSON *o, tok_nz *z, const char *path) {
    (void)o;
    (void)z;
    (void)path;
    return XF_OK;
}

static xf_status nz_strip(const cJSON *o, tok_nz *z, const char *path) {
    z->left = tok_jbool(o, "strip_left", 1);
    z->right = tok_jbool(o, "strip_right", 1);
    if (z->left < 0 || z->right < 0) return xf_fail(XF_ERR_FORMAT, "%s: Strip normalizer options must be booleans", path);
    return XF_OK;
}

static xf_status nz_replace(const cJSON *o, tok_nz *z, const char *path) {
    const char *c = tok_jstr(o, "content");
    if (!c) return xf_fail(XF_ERR_FORMAT, "%s: Replace normalizer needs a string \"content\"", path);
    if (!(z->b = dup_str(c, &z->blen))) return xf_fail(XF_ERR_OOM, "out of memory");
    return read_pattern(o, "pattern", &z->a, &z->alen, &z->re, 0, "Replace normalizer", path);
}

static xf_status nz_prepend(const cJSON *o, tok_nz *z, const char *path) {
    const char *c = tok_jstr(o, "prepend");
    if (!c) return xf_fail(XF_ERR_FORMAT, "%s: Prepend normalizer needs a string \"prepend\"", path);
    if (!(z->a = dup_str(c, &z->alen))) return xf_fail(XF_ERR_OOM, "out of memory");
    return XF_OK;
}

static xf_status nz_bert(const cJSON *o, tok_nz *z, const char *path) {
    z->clean = tok_jbool(o, "clean_text", 1);
    z->chinese = tok_jbool(o, "handle_chinese_chars", 1);
    z->lower = tok_jbool(o, "lowercase", 1);
    z->accents = tok_jbool(o, "strip_accents", -2);
    if (z->accents == -2) z->accents = z->lower; /* null: follows lowercase */
    if (z->clean < 0 || z->chinese < 0 || z->lower < 0 || z->accents < 0)
        return xf_fail(XF_ERR_FORMAT, "%s: BertNormalizer options must be booleans", path);
    return XF_OK;
}

static xf_status nz_precompiled(const cJSON *o, tok_nz *z, const char *path) {
    const char *b = tok_jstr(o, "precompiled_charsmap");
    if (!b) return xf_fail(XF_ERR_FORMAT, "%s: Precompiled normalizer needs a string \"precompiled_charsmap\"", path);
    return tok_precompiled_init(&z->cmap, b, strlen(b), path);
}

static const struct {
    const char *name;
    int kind;
    nz_reader read;
} k_nz[] = {
    {"NFC", NZ_NFC, nz_plain},           {"NFD", NZ_NFD, nz_plain},
    {"NFKC", NZ_NFKC, nz_plain},         {"NFKD", NZ_NFKD, nz_plain},
    {"Lowercase", NZ_LOWER, nz_plain},   {"StripAccents", NZ_STRIP_ACCENTS, nz_plain},
    {"Strip", NZ_STRIP, nz_strip},       {"Replace", NZ_REPLACE, nz_replace},
    {"Prepend", NZ_PREPEND, nz_prepend}, {"BertNormalizer", NZ_BERT, nz_bert},
    {"Precompiled", NZ_PRECOMPILED, nz_precompiled},
};

static xf_status read_nz(const cJSON *o, vec *out, int depth, const char *path) {
    if (!o || cJSON_IsNull(o)) return XF_OK;
    if (depth > 8) return xf_fail(XF_ERR_FORMAT, "%s: normalizer Sequences nested too deeply", path);
    const char *type = cJSON_IsObject(o) ? tok_jstr(o, "type") : NULL;
    if (!type) return xf_fail(XF_ERR_FORMAT, "%s: normalizer without a string \"type\"", path);
    if (!strcmp(type, "Sequence")) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "normalizers"), *it;
        if (!cJSON_IsArray(a)) return xf_fail(XF_ERR_FORMAT, "%s: Sequence normalizer has no \"normalizers\" array", path);
        cJSON_ArrayForEach(it, a) {
            xf_status st = read_nz(it, out, depth + 1, path);
            if (st) return st;
        }
        return XF_OK;
    }
    for (size_t i = 0; i < sizeof k_nz / sizeof *k_nz; i++) {
        if (strcmp(type, k_nz[i].name)) continue;
        tok_nz *z = vec_add(out);
        if (!z) return xf_fail(XF_ERR_OOM, "out of memory");
        z->kind = k_nz[i].kind;
        return k_nz[i].read(o, z, path);
    }
    return xf_fail(XF_ERR_UNSUPPORTED, "%s: normalizer \"%.40s\" is not supported", path, type);
}

/* --------------------------------------------------------- pre-tokenizers */

static int behavior_of(const char *b) {
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                        "Contiguous"};
    static const int vals[] = {SB_REMOVED, SB_ISOLATED, SB_PREV, SB_NEXT, SB_CONTIG};
    for (int i = 0; b && i < 5; i++)
        if (!strcmp(b, names[i])) return vals[i];
    return 0;
}

typedef xf_status (*pt_reader)(const cJSON *o, tok_pt *p, const char *path);

#define WORDC "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}"
#define SPACEC "\\p{Z}\\x{09}-\\x{0D}\\x{85}"

static xf_status pt_bytelevel(const cJSON *o, tok_pt *p, const char *path) {
    p->add_prefix_space = tok_jbool(o, "add_prefix_space", 1);
    p->use_regex = tok_jbool(o, "use_regex", 1);
    if (p->add_prefix_space < 0 || p->use_regex < 0)
        return xf_fail(XF_ERR_FORMAT, "%s: ByteLevel pre_tokenizer options must be booleans", path);
    if (!p->use_regex) return XF_OK;
    xf_status st = tok_pipe_regex(&p->re, tok_gpt2_pattern, strlen(tok_gpt2_pattern), 0, "ByteLevel");
    if (st) xf_error_prefix("%s", path);
    return st;
}

static xf_status pt_split(const cJSON *o, tok_pt *p, const char *path) {
    p->behavior = behavior_of(tok_jstr(o, "behavior"));
    p->invert = tok_jbool(o, "invert", 0);
    if (!p->behavior)
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: Split behavior \"%.40s\" is not supported", path,
                       tok_jstr(o, "behavior") ? tok_jstr(o, "behavior") : "(missing)");
    if (p->invert < 0) return xf_fail(XF_ERR_FORMAT, "%s: Split invert must be a boolean", path);
    return read_pattern(o, "pattern", NULL, NULL, &p->re, 1, "Split pre_tokenizer", path);
}

static xf_status pt_digits(const cJSON *o, tok_pt *p, const char *path) {
    p->individual = tok_jbool(o, "individual_digits", 0);
    if (p->individual < 0) return xf_fail(XF_ERR_FORMAT, "%s: Digits individual_digits must be a boolean", path);
    /* Rust char::is_numeric: general category N */
    return tok_pipe_regex(&p->re, "\\p{N}", 5, 0, "Digits");
}

static xf_status pt_metaspace(const cJSON *o, tok_pt *p, const char *path) {
    const char *r = tok_jstr(o, "replacement");
    const char *sc = tok_jstr(o, "prepend_scheme");
    int ap = tok_jbool(o, "add_prefix_space", -2);
    p->split = tok_jbool(o, "split", 1);
    if (!r || !*r || p->split < 0) return xf_fail(XF_ERR_FORMAT, "%s: Metaspace needs a one-character \"replacement\"", path);
    uint32_t cp;
    if (tok_utf8_next(r, strlen(r), &cp) != strlen(r))
        return xf_fail(XF_ERR_FORMAT, "%s: Metaspace replacement must be one character", path);
    if (!(p->repl = dup_str(r, &p->rlen))) return xf_fail(XF_ERR_OOM, "out of memory");
    if (sc) {
        p->scheme = !strcmp(sc, "always") ? PS_ALWAYS : !strcmp(sc, "first") ? PS_FIRST : !strcmp(sc, "never") ? PS_NEVER : 0;
        if (!p->scheme) return xf_fail(XF_ERR_UNSUPPORTED, "%s: Metaspace prepend_scheme \"%.20s\" is not supported", path, sc);
    } else {
        /* older files: add_prefix_space true = always */
        p->scheme = ap == 0 ? PS_NEVER : PS_ALWAYS;
    }
    return XF_OK;
}

static xf_status pt_whitespace(const cJSON *o, tok_pt *p, const char *path) {
    (void)o;
    /* Rust regex \w+|[^\w\s]+ (Unicode \w), the matches kept */
    static const char re[] = "[" WORDC "]+|[^" WORDC SPACEC "]+";
    p->behavior = SB_REMOVED;
    p->invert = 1;
    xf_status st = tok_pipe_regex(&p->re, re, strlen(re), 0, "Whitespace");
    if (st) xf_error_prefix("%s", path);
    return st;
}

static xf_status pt_plain(const cJSON *o, tok_pt *p, const char *path) {
    (void)o;
    (void)p;
    (void)path;
    return XF_OK;
}

static xf_status pt_punct(const cJSON *o, tok_pt *p, const char *path) {
    const char *b = tok_jstr(o, "behavior");
    p->behavior = b ? behavior_of(b) : SB_ISOLATED;
    if (!p->behavior) return xf_fail(XF_ERR_UNSUPPORTED, "%s: Punctuation behavior \"%.40s\" is not supported", path, b);
    return XF_OK;
}

static const struct {
    const char *name;
    int kind;
    pt_reader read;
} k_pt[] = {
    {"ByteLevel", PT_BYTELEVEL, pt_bytelevel},   {"Split", PT_SPLIT, pt_split},
    {"Digits", PT_DIGITS, pt_digits},            {"Metaspace", PT_METASPACE, pt_metaspace},
    {"Whitespace", PT_WHITESPACE, pt_whitespace}, {"WhitespaceSplit", PT_WSSPLIT, pt_plain},
    {"BertPreTokenizer", PT_BERT, pt_plain},     {"Punctuation", PT_PUNCT, pt_punct},
};

static xf_status read_pt(const cJSON *o, vec *out, int depth, const char *path) {
    if (!o || cJSON_IsNull(o)) return XF_OK;
    if (depth > 8) return xf_fail(XF_ERR_FORMAT, "%s: pre_tokenizer Sequences nested too deeply", path);
    const char *type = cJSON_IsObject(o) ? tok_jstr(o, "type") : NULL;
    if (!type) return xf_fail(XF_ERR_FORMAT, "%s: pre_tokenizer without a string \"type\"", path);
    if (!strcmp(type, "Sequence")) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "pretokenizers"), *it;
        if (!cJSON_IsArray(a)) return xf_fail(XF_ERR_FORMAT, "%s: Sequence pre_tokenizer has no \"pretokenizers\" array", path);
        cJSON_ArrayForEach(it, a) {
            xf_status st = read_pt(it, out, depth + 1, path);
            if (st) return st;
        }
        return XF_OK;
    }
    for (size_t i = 0; i < sizeof k_pt / sizeof *k_pt; i++) {
        if (strcmp(type, k_pt[i].name)) continue;
        tok_pt *p = vec_add(out);
        if (!p) return xf_fail(XF_ERR_OOM, "out of memory");
        p->kind = k_pt[i].kind;
        return k_pt[i].read(o, p, path);
    }
    return xf_fail(XF_ERR_UNSUPPORTED, "%s: pre_tokenizer \"%.40s\" is not supported", path, type);
}

/* ---------------------------------------------------------------- decoders */

typedef xf_status (*dc_reader)(const cJSON *o, tok_dc *d, const char *path);

static xf_status dc_plain(const cJSON *o, tok_dc *d, const char *path) {
    (void)o;
    (void)d;
    (void)path;
    return XF_OK;
}

static xf_status dc_replace(const cJSON *o, tok_dc *d, const char *path) {
    const char *c = tok_jstr(o, "content");
    if (!c) return xf_fail(XF_ERR_FORMAT, "%s: Replace decoder needs a string \"content\"", path);
    if (!(d->b = dup_str(c, &d->blen))) return xf_fail(XF_ERR_OOM, "out of memory");
    return read_pattern(o, "pattern", &d->a, &d->alen, &d->re, 0, "Replace decoder", path);
}

static xf_status dc_strip(const cJSON *o, tok_dc *d, const char *path) {
    const char *c = tok_jstr(o, "content");
    d->start = jint(o, "start", 0, 0, 1 << 20);
    d->stop = jint(o, "stop", 0, 0, 1 << 20);
    if (!c || d->start == INT32_MIN || d->stop == INT32_MIN)
        return xf_fail(XF_ERR_FORMAT, "%s: Strip decoder needs \"content\", \"start\", \"stop\"", path);
    if (!(d->a = dup_str(c, &d->alen))) return xf_fail(XF_ERR_OOM, "out of memory");
    return XF_OK;
}

static xf_status dc_metaspace(const cJSON *o, tok_dc *d, const char *path) {
    tok_pt p = {0};
    xf_status st = pt_metaspace(o, &p, path);
    d->a = p.repl;
    d->alen = p.rlen;
    d->scheme = p.scheme;
    return st;
}

static xf_status dc_wordpiece(const cJSON *o, tok_dc *d, const char *path) {
    const char *pre = tok_jstr(o, "prefix");
    d->cleanup = tok_jbool(o, "cleanup", 1);
    if (d->cleanup < 0) return xf_fail(XF_ERR_FORMAT, "%s: WordPiece decoder cleanup must be a boolean", path);
    if (!(d->a = dup_str(pre ? pre : "##", &d->alen))) return xf_fail(XF_ERR_OOM, "out of memory");
    return XF_OK;
}

static xf_status dc_bpe(const cJSON *o, tok_dc *d, const char *path) {
    (void)path;
    const char *suf = tok_jstr(o, "suffix");
    if (!(d->a = dup_str(suf ? suf : "</w>", &d->alen))) return xf_fail(XF_ERR_OOM, "out of memory");
    return XF_OK;
}

static xf_status dc_ctc(const cJSON *o, tok_dc *d, const char *path) {
    const char *pad = tok_jstr(o, "pad_token"), *del = tok_jstr(o, "word_delimiter_token");
    d->cleanup = tok_jbool(o, "cleanup", 1);
    if (d->cleanup < 0) return xf_fail(XF_ERR_FORMAT, "%s: CTC decoder cleanup must be a boolean", path);
    if (!(d->a = dup_str(pad ? pad : "<pad>", &d->alen)) || !(d->b = dup_str(del ? del : "|", &d->blen)))
        return xf_fail(XF_ERR_OOM, "out of memory");
    return XF_OK;
}

static const struct {
    const char *name;
    int kind;
    dc_reader read;
} k_dc[] = {
    {"ByteLevel", DC_BYTELEVEL, dc_plain},      {"Replace", DC_REPLACE, dc_replace},
    {"ByteFallback", DC_BYTEFALLBACK, dc_plain}, {"Fuse", DC_FUSE, dc_plain},
    {"Strip", DC_STRIP, dc_strip},              {"Metaspace", DC_METASPACE, dc_metaspace},
    {"WordPiece", DC_WORDPIECE, dc_wordpiece},  {"BPEDecoder", DC_BPE, dc_bpe},
    {"CTC", DC_CTC, dc_ctc},
};

static xf_status read_dc(const cJSON *o, vec *out, int depth, const char *path) {
    if (!o || cJSON_IsNull(o)) return XF_OK;
    if (depth > 8) return xf_fail(XF_ERR_FORMAT, "%s: decoder Sequences nested too deeply", path);
    const char *type = cJSON_IsObject(o) ? tok_jstr(o, "type") : NULL;
    if (!type) return xf_fail(XF_ERR_FORMAT, "%s: decoder without a string \"type\"", path);
    if (!strcmp(type, "Sequence")) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "decoders"), *it;
        if (!cJSON_IsArray(a)) return xf_fail(XF_ERR_FORMAT, "%s: Sequence decoder has no \"decoders\" array", path);
        cJSON_ArrayForEach(it, a) {
            xf_status st = read_dc(it, out, depth + 1, path);
            if (st) return st;
        }
        return XF_OK;
    }
    for (size_t i = 0; i < sizeof k_dc / sizeof *k_dc; i++) {
        if (strcmp(type, k_dc[i].name)) continue;
        tok_dc *d = vec_add(out);
        if (!d) return xf_fail(XF_ERR_OOM, "out of memory");
        d->kind = k_dc[i].kind;
        return k_dc[i].read(o, d, path);
    }
    return xf_fail(XF_ERR_UNSUPPORTED, "%s: decoder \"%.40s\" is not supported", path, type);
}

/* ---------------------------------------------------------- post-processor */

static xf_status ids_push(int32_t **v, size_t *n, int32_t id) {
    if (*n >= 64) return xf_fail(XF_ERR_UNSUPPORTED, "post_processor adds more than 64 tokens");
    int32_t *w = realloc(*v, (*n + 1) * sizeof *w);
    if (!w) return xf_fail(XF_ERR_OOM, "out of memory");
    w[(*n)++] = id;
    *v = w;
    return XF_OK;
}

/* ["[CLS]", 101] */
static int pair_id(const cJSON *o, const char *key, int32_t *id) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 2) return -1;
    const cJSON *n = cJSON_GetArrayItem(a, 1);
    if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble >= TOK_MAX_VOCAB ||
        n->valuedouble != floor(n->valuedouble))
        return -1;
    *id = (int32_t)n->valuedouble;
    return 0;
}

static xf_status read_post(const cJSON *o, tok_pipe *p, int depth, const char *path) {
    if (!o || cJSON_IsNull(o)) return XF_OK;
    if (depth > 8) return xf_fail(XF_ERR_FORMAT, "%s: post_processor Sequences nested too deeply", path);
    const char *type = cJSON_IsObject(o) ? tok_jstr(o, "type") : NULL;
    if (!type) return xf_fail(XF_ERR_FORMAT, "%s: post_processor without a string \"type\"", path);
    xf_status st = XF_OK;
    if (!strcmp(type, "Sequence")) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "processors"), *it;
        if (!cJSON_IsArray(a)) return xf_fail(XF_ERR_FORMAT, "%s: Sequence post_processor has no \"processors\" array", path);
        cJSON_ArrayForEach(it, a) if ((st = read_post(it, p, depth + 1, path))) return st;
        return XF_OK;
    }
    if (!strcmp(type, "ByteLevel")) return XF_OK; /* offsets only */
    if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        int32_t cls, sep;
        if (pair_id(o, "cls", &cls) || pair_id(o, "sep", &sep))
            return xf_fail(XF_ERR_FORMAT, "%s: %s needs \"cls\" and \"sep\" as [token, id]", path, type);
        p->has_post = 1;
        st = ids_push(&p->post_pre, &p->n_post_pre, cls);
        if (!st) st = ids_push(&p->post_post, &p->n_post_post, sep);
        return st;
    }
    if (!strcmp(type, "TemplateProcessing")) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(o, "single");
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(o, "special_tokens"), *it;
        if (!cJSON_IsArray(single) || (sp && !cJSON_IsObject(sp) && !cJSON_IsNull(sp)))
            return xf_fail(XF_ERR_FORMAT, "%s: TemplateProcessing needs a \"single\" array", path);
        int seen_a = 0;
        p->has_post = 1;
        cJSON_ArrayForEach(it, single) {
            const cJSON *tok = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
            const cJSON *seq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
            if (cJSON_IsObject(seq)) {
                const char *id = tok_jstr(seq, "id");
                if (!id || strcmp(id, "A") || seen_a)
                    return xf_fail(XF_ERR_UNSUPPORTED, "%s: TemplateProcessing single template must hold sequence A once", path);
                seen_a = 1;
                continue;
            }
            const char *name = cJSON_IsObject(tok) ? tok_jstr(tok, "id") : NULL;
            const cJSON *def = name && sp ? cJSON_GetObjectItemCaseSensitive(sp, name) : NULL;
            const cJSON *ids = cJSON_IsObject(def) ? cJSON_GetObjectItemCaseSensitive(def, "ids") : NULL, *x;
            if (!cJSON_IsArray(ids))
                return xf_fail(XF_ERR_FORMAT, "%s: TemplateProcessing special token \"%.40s\" has no ids", path, name ? name : "?");
            cJSON_ArrayForEach(x, ids) {
                if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble >= TOK_MAX_VOCAB ||
                    x->valuedouble != floor(x->valuedouble))
                    return xf_fail(XF_ERR_FORMAT, "%s: TemplateProcessing id is not a valid id", path);
                st = seen_a ? ids_push(&p->post_post, &p->n_post_post, (int32_t)x->valuedouble)
                            : ids_push(&p->post_pre, &p->n_post_pre, (int32_t)x->valuedouble);
                if (st) return st;
            }
        }
        if (!seen_a) return xf_fail(XF_ERR_UNSUPPORTED, "%s: TemplateProcessing single template has no sequence A", path);
        return XF_OK;
    }
    return xf_fail(XF_ERR_UNSUPPORTED, "%s: post_processor \"%.40s\" is not supported", path, type);
}

/* ------------------------------------------------------------------ entry */

xf_status tok_json_read_pipe(const cJSON *root, tok_pipe **out, const char *path) {
    *out = NULL;
    tok_pipe *p = calloc(1, sizeof *p);
    if (!p) return xf_fail(XF_ERR_OOM, "out of memory");
    vec nz = {.size = sizeof(tok_nz)}, pt = {.size = sizeof(tok_pt)}, dc = {.size = sizeof(tok_dc)};
    xf_status st = read_nz(cJSON_GetObjectItemCaseSensitive(root, "normalizer"), &nz, 0, path);
    p->nz = nz.v;
    p->n_nz = nz.n;
    if (!st) st = read_pt(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), &pt, 0, path);
    p->pt = pt.v;
    p->n_pt = pt.n;
    if (!st) st = read_dc(cJSON_GetObjectItemCaseSensitive(root, "decoder"), &dc, 0, path);
    p->dc = dc.v;
    p->n_dc = dc.n;
    if (!st) st = read_post(cJSON_GetObjectItemCaseSensitive(root, "post_processor"), p, 0, path);
    for (size_t i = 0; i < p->n_pt && !st; i++) {
        if (p->pt[i].kind != PT_BYTELEVEL) continue;
        if (i + 1 != p->n_pt)
            st = xf_fail(XF_ERR_UNSUPPORTED, "%s: a ByteLevel pre_tokenizer followed by another is not supported", path);
        p->byte_level = 1;
    }
    for (size_t i = 0; i < p->n_dc && !st; i++) {
        const tok_dc *d = &p->dc[i];
        if ((d->kind == DC_STRIP && d->start > 0 && d->alen == 1 && d->a[0] == ' ') ||
            (d->kind == DC_METASPACE && d->scheme != PS_NEVER) || d->kind == DC_WORDPIECE)
            p->strip_first_space = 1;
    }
    if (st) {
        tok_pipe_free(p);
        return st;
    }
    *out = p;
    return XF_OK;
}
