/* xfmr: Hugging Face tokenizer.json (byte-level BPE models) and GPT-2's
 * encoder.json + vocab.bpe.
 *
 * tokenizer.json, the parts read:
 *   added_tokens  [{id, content, special, ...}]  (special -> CONTROL, else USER)
 *   pre_tokenizer {"type":"ByteLevel", add_prefix_space (default true), use_regex
 *                 (default true)} or {"type":"Sequence","pretokenizers":[
 *                 {"type":"Split","pattern":{"Regex":P},...}, {"type":"ByteLevel",
 *                 "use_regex":false}]} (a custom regex, as in Llama 3)
 *   model         {"type":"BPE", vocab {token: id}, merges ["a b", ...] or
 *                 [["a","b"], ...] (rank = index), ignore_merges, unk_token}
 * An added token that is also in model.vocab must have the same id; ids must
 * cover 0..N-1 exactly once. Every byte must have a token (its GPT-2 unicode
 * spelling), and every merge must name known tokens whose concatenation is a
 * token.
 *
 * Writing produces the same layout as the tokenizers library (version "1.0",
 * ByteLevel pre-tokenizer and decoder, merges in the current list form or the
 * legacy string form); specials are both in model.vocab and in added_tokens so
 * the library keeps their ids.
 *
 * GPT-2 (gpt2:DIR): DIR/encoder.json is {token: id}; DIR/vocab.bpe is
 * "#version: 0.2" then one merge "left right" per line (rank = line index). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "data/tok_impl.h"
#include "data/tok_json_fast.h"
#include "data/tok_json_pipe.h"
#include "data/tok_pipe.h"
#include "io/file.h"

#define JSON_FILE_MAX ((size_t)1 << 30)

typedef struct {
    const char *s; /* NUL-terminated (cJSON) */
    size_t len;
    int32_t id;
    int type;
} entry;

typedef struct {
    entry *v;
    size_t n, cap;
} entries;

static xf_status ent_push(entries *e, const char *s, int32_t id, int type) {
    if (e->n == e->cap) {
        size_t c = e->cap ? e->cap * 2 : 1024;
        entry *v = realloc(e->v, c * sizeof *v);
        if (!v) return xf_fail(XF_ERR_OOM, "out of memory reading vocabulary");
        e->v = v;
        e->cap = c;
    }
    e->v[e->n++] = (entry){s, strlen(s), id, type};
    return XF_OK;
}

static int json_id(const cJSON *j, int32_t *id) {
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= 0 && d < (double)TOK_MAX_VOCAB) || d != floor(d)) return -1;
    *id = (int32_t)d;
    return 0;
}

/* Build a byte-level tokenizer from entries and merges given as piece pairs
 * (merge_a[r], merge_b[r]). Takes no ownership. */
static xf_status build_bytelevel(xf_tokenizer **out, const entries *e, const char *const *merge_a,
                                 const char *const *merge_b, size_t n_merges, const char *pattern,
                                 int use_regex, int add_prefix_space, int ignore_merges,
                                 const char *unk, tok_pipe *pipe, const char *path) {
    *out = NULL;
    size_t n = 0;
    for (size_t i = 0; i < e->n; i++)
        if ((size_t)e->v[i].id + 1 > n) n = (size_t)e->v[i].id + 1;
    /* pipe is owned from here: freed on every error */
    if (n == 0) {
        tok_pipe_free(pipe);
        return xf_fail(XF_ERR_FORMAT, "%s: empty vocabulary", path);
    }
    /* ids must cover 0..n-1: more ids than entries means a gap (checked before
     * allocating, so a single huge id cannot make us allocate a huge table) */
    if (n > e->n) {
        tok_pipe_free(pipe);
        return xf_fail(XF_ERR_FORMAT, "%s: ids are not contiguous (largest id %zu, %zu tokens)", path,
                       n - 1, e->n);
    }
    xf_tokenizer *t;
    xf_status s = tok_alloc(&t, TOK_BYTELEVEL, n);
    if (s) {
        xf_error_prefix("%s", path);
        tok_pipe_free(pipe);
        return s;
    }
    t->pipe = pipe; /* owned by t from here */
    int chars = pipe && !pipe->byte_level;
    char raw[TOK_MAX_TOKEN_BYTES];
    int32_t (*mids)[2] = NULL;
    for (size_t i = 0; i < e->n && !s; i++) {
        const entry *x = &e->v[i];
        if (t->type[x->id]) {
            /* an added token repeating its model.vocab entry is fine */
            if (t->piece_len[x->id] == x->len && memcmp(tok_piece(t, (size_t)x->id), x->s, x->len) == 0) {
                if (x->type != TT_NORMAL) t->type[x->id] = (uint8_t)x->type;
                continue;
            }
            s = xf_fail(XF_ERR_FORMAT, "%s: duplicate id %d (\"%.40s\" and \"%.40s\")", path,
                        (int)x->id, tok_piece(t, (size_t)x->id), x->s);
            break;
        }
        if (x->len > TOK_MAX_TOKEN_BYTES) {
            s = xf_fail(XF_ERR_FORMAT, "%s: token %d is longer than %d bytes", path, (int)x->id,
                        TOK_MAX_TOKEN_BYTES);
            break;
        }
        long rl = -1;
        if (x->type == TT_NORMAL && chars) {
            /* what the decoder chain makes of the token in running text */
            tok_buf b = {0};
            s = tok_pipe_token_raw(pipe, x->s, x->len, &b);
            if (!s && b.n <= TOK_MAX_TOKEN_BYTES) {
                memcpy(raw, b.s ? b.s : "", b.n);
                rl = (long)b.n;
            }
            tok_buf_free(&b);
            if (s) break;
        } else if (x->type == TT_NORMAL) {
            rl = tok_unicode_to_bytes(x->s, x->len, raw);
        }
        if (rl < 0)
            s = tok_set(t, (size_t)x->id, x->s, x->len, x->s, x->len, x->type);
        else
            s = tok_set(t, (size_t)x->id, x->s, x->len, raw, (size_t)rl, x->type);
    }
    if (!s) s = tok_finish(t, path);
    if (!s && unk) {
        int32_t u = tok_find(t, unk, strlen(unk));
        if (u >= 0) t->special[XF_TOK_UNK] = u;
    }
    if (!s && pipe) {
        pipe->unk = unk ? tok_find(t, unk, strlen(unk)) : -1;
        for (int b = 0; b < 256; b++) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            pipe->byte_tok[b] = tok_find(t, name, 6);
        }
    }
    for (int b = 0; b < 256 && !s && !chars; b++) {
        char u[4];
        size_t ul = tok_utf8_put(u, tok_b2u((unsigned char)b));
        t->byte_id[b] = tok_find(t, u, ul);
        if (t->byte_id[b] < 0)
            s = xf_fail(XF_ERR_FORMAT, "%s: byte 0x%02x has no token (\"%.*s\")", path, b, (int)ul, u);
    }
    if (!s && n_merges) {
        mids = malloc(n_merges * sizeof *mids);
        if (!mids) s = xf_fail(XF_ERR_OOM, "out of memory for %zu merges", n_merges);
        int32_t ia[64], ib[64];
        size_t la[64], lb[64];
        for (size_t r = 0; r < n_merges && !s; r++) {
            if (r % 64 == 0) { /* look up 64 at a time (tok_find_many) */
                size_t m = n_merges - r < 64 ? n_merges - r : 64;
                for (size_t k = 0; k < m; k++) la[k] = strlen(merge_a[r + k]), lb[k] = strlen(merge_b[r + k]);
                tok_find_many(t, merge_a + r, la, m, ia);
                tok_find_many(t, merge_b + r, lb, m, ib);
            }
            int32_t a = ia[r % 64], b = ib[r % 64];
            if (a < 0 || b < 0)
                s = xf_fail(XF_ERR_FORMAT, "%s: merge %zu names unknown token \"%.60s\"", path, r,
                            a < 0 ? merge_a[r] : merge_b[r]);
            else {
                mids[r][0] = a;
                mids[r][1] = b;
            }
        }
    }
    if (!s) s = tok_bl_set_merges(t, (const int32_t(*)[2])mids, n_merges, path);
    free(mids);
    t->add_prefix_space = add_prefix_space;
    t->ignore_merges = ignore_merges;
    if (!s && (use_regex || pattern) && (!pipe || pipe->legacy)) {
        s = tok_bl_compile(t, pattern);
        if (s) xf_error_prefix("%s", path);
    }
    if (s) {
        xf_tokenizer_free(t);
        return s;
    }
    if (!pipe) tok_seal(t); /* with a pipeline, finish_pipe seals */
    *out = t;
    return XF_OK;
}

typedef struct {
    int byte_level, use_regex, add_prefix_space;
    const char *pattern;
} pretok;

static xf_status read_bytelevel(const cJSON *p, pretok *pt, const char *path) {
    int ap = tok_jbool(p, "add_prefix_space", 1), ur = tok_jbool(p, "use_regex", 1);
    if (ap < 0 || ur < 0)
        return xf_fail(XF_ERR_FORMAT, "%s: ByteLevel pre_tokenizer options must be booleans", path);
    pt->byte_level = 1;
    pt->add_prefix_space = ap;
    pt->use_regex = ur;
    return XF_OK;
}

static xf_status read_pretok(const cJSON *p, pretok *pt, const char *path) {
    memset(pt, 0, sizeof *pt);
    if (!p || cJSON_IsNull(p)) return XF_OK;
    if (!cJSON_IsObject(p)) return xf_fail(XF_ERR_FORMAT, "%s: pre_tokenizer is not an object", path);
    const char *type = tok_jstr(p, "type");
    if (!type) return xf_fail(XF_ERR_FORMAT, "%s: pre_tokenizer has no string \"type\"", path);
    if (strcmp(type, "ByteLevel") == 0) return read_bytelevel(p, pt, path);
    if (strcmp(type, "Sequence") != 0)
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: pre_tokenizer type \"%.40s\" is not supported", path, type);
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
    if (!cJSON_IsArray(seq))
        return xf_fail(XF_ERR_FORMAT, "%s: Sequence pre_tokenizer has no \"pretokenizers\" array", path);
    const cJSON *it;
    cJSON_ArrayForEach(it, seq) {
        const char *ty = cJSON_IsObject(it) ? tok_jstr(it, "type") : NULL;
        if (!ty) return xf_fail(XF_ERR_FORMAT, "%s: pre_tokenizer in Sequence has no type", path);
        if (strcmp(ty, "ByteLevel") == 0) {
            if (pt->byte_level)
                return xf_fail(XF_ERR_UNSUPPORTED, "%s: two ByteLevel pre_tokenizers", path);
            const char *keep = pt->pattern;
            xf_status s = read_bytelevel(it, pt, path);
            if (s) return s;
            pt->pattern = keep;
            if (pt->pattern && pt->use_regex)
                return xf_fail(XF_ERR_UNSUPPORTED, "%s: Split followed by a regex ByteLevel is not supported", path);
        } else if (strcmp(ty, "Split") == 0 && !pt->pattern && !pt->byte_level) {
            const cJSON *pat = cJSON_GetObjectItemCaseSensitive(it, "pattern");
            const char *re = cJSON_IsObject(pat) ? tok_jstr(pat, "Regex") : NULL;
            const char *beh = tok_jstr(it, "behavior");
            int inv = tok_jbool(it, "invert", 0);
            if (!re || !beh || strcmp(beh, "Isolated") != 0 || inv != 0)
                return xf_fail(XF_ERR_UNSUPPORTED,
                               "%s: only Split with a Regex pattern, behavior Isolated, invert false is supported", path);
            pt->pattern = re;
        } else {
            return xf_fail(XF_ERR_UNSUPPORTED, "%s: pre_tokenizer \"%.40s\" in Sequence is not supported", path, ty);
        }
    }
    if (!pt->byte_level) return xf_fail(XF_ERR_UNSUPPORTED, "%s: Sequence pre_tokenizer without ByteLevel", path);
    return XF_OK;
}

/* One added token's flags into the pipeline. */
static xf_status add_added(tok_pipe *p, const cJSON *it, const char *content, int32_t id, int special,
                           const char *path) {
    int fl[4] = {tok_jbool(it, "normalized", !special), tok_jbool(it, "lstrip", 0), tok_jbool(it, "rstrip", 0),
                 tok_jbool(it, "single_word", 0)};
    for (int k = 0; k < 4; k++)
        if (fl[k] < 0)
            return xf_fail(XF_ERR_FORMAT, "%s: added token %d: normalized/lstrip/rstrip/single_word must be booleans",
                           path, (int)id);
    if (p->n_added % 64 == 0) {
        tok_added *v = realloc(p->added, (p->n_added + 64) * sizeof *v);
        if (!v) return xf_fail(XF_ERR_OOM, "out of memory for added tokens");
        p->added = v;
    }
    tok_added *a = &p->added[p->n_added];
    memset(a, 0, sizeof *a);
    a->len = strlen(content);
    if (a->len > TOK_MAX_TOKEN_BYTES)
        return xf_fail(XF_ERR_FORMAT, "%s: added token %d is longer than %d bytes", path, (int)id, TOK_MAX_TOKEN_BYTES);
    a->content = strdup(content);
    if (!a->content) return xf_fail(XF_ERR_OOM, "out of memory for added tokens");
    p->n_added++;
    a->id = id;
    a->special = (uint8_t)special;
    a->normalized = (uint8_t)fl[0];
    a->lstrip = (uint8_t)fl[1];
    a->rstrip = (uint8_t)fl[2];
    a->single_word = (uint8_t)fl[3];
    return XF_OK;
}

/* After the tokenizer is built: post-processor ids in range, the added-token
 * tries, and (for a pipeline beyond the legacy layout) the file kept for
 * saving and hashing. */
static xf_status finish_pipe(xf_tokenizer *t, const char *data, size_t len, int keep_file, const char *path) {
    tok_pipe *p = t->pipe;
    for (size_t i = 0; i < p->n_post_pre + p->n_post_post; i++) {
        int32_t id = i < p->n_post_pre ? p->post_pre[i] : p->post_post[i - p->n_post_pre];
        if ((size_t)id >= t->n)
            return xf_fail(XF_ERR_FORMAT, "%s: post_processor names id %d, vocabulary has %zu", path, (int)id, t->n);
    }
    xf_status s = tok_pipe_build_added(p, t->n);
    if (s) return s;
    t->pipe_custom = keep_file;
    if (!t->pipe_custom) {
        tok_seal(t);
    } else {
        t->src_data = malloc(len + 1);
        if (!t->src_data) return xf_fail(XF_ERR_OOM, "out of memory");
        memcpy(t->src_data, data, len);
        t->src_data[len] = '\0';
        t->src_len = len;
        tok_seal(t); /* the hash covers the file */
    }
    return XF_OK;
}

/* A Unigram or WordPiece tokenizer.json: the model from its own reader, then
 * the file's whole pipeline around it (added tokens, normalizer,
 * pre-tokenizer, decoder, post-processor; docs/tokenizers.md §Pipeline). When
 * the pipeline is a layout the reader understands itself (the ones xfmr
 * writes), the tokenizer keeps the reader's hash and writer; otherwise the
 * file is kept, hashed and saved as it is, as for a BPE pipeline. */
static xf_status model_json(xf_tokenizer **out, const cJSON *root, const cJSON *model, int unigram,
                            const char *data, size_t len, const char *path) {
    int own = unigram ? tok_json_unigram_own(root) : tok_json_wordpiece_own(root);
    xf_status s = unigram ? tok_json_unigram(out, root, model, own, path)
                          : tok_json_wordpiece(out, root, model, own, path);
    if (s) return s;
    xf_tokenizer *t = *out;
    s = tok_json_read_pipe(root, &t->pipe, path);
    if (!s && t->pipe->byte_level)
        s = xf_fail(XF_ERR_UNSUPPORTED, "%s: a ByteLevel pre_tokenizer before a %s model is not supported", path,
                    unigram ? "Unigram" : "WordPiece");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), *it;
    if (!s && added && !cJSON_IsNull(added) && !cJSON_IsArray(added))
        s = xf_fail(XF_ERR_FORMAT, "%s: added_tokens is not an array", path);
    if (!s && cJSON_IsArray(added)) {
        cJSON_ArrayForEach(it, added) {
            int32_t id;
            const char *content = cJSON_IsObject(it) ? tok_jstr(it, "content") : NULL;
            int special = cJSON_IsObject(it) ? tok_jbool(it, "special", 0) : -1;
            if (!content || special < 0 || json_id(cJSON_GetObjectItemCaseSensitive(it, "id"), &id)) {
                s = xf_fail(XF_ERR_FORMAT, "%s: added token needs integer \"id\", string \"content\", boolean \"special\"", path);
                break;
            }
            if (tok_find(t, content, strlen(content)) != id) {
                s = xf_fail(XF_ERR_UNSUPPORTED, "%s: added token \"%.40s\" (id %d) is not that entry of the %s vocabulary: not supported",
                            path, content, (int)id, unigram ? "Unigram" : "WordPiece");
                break;
            }
            if ((s = add_added(t->pipe, it, content, id, special, path))) break;
        }
    }
    if (!s) {
        /* what each token gives in running text: the file's decoder chain */
        for (size_t id = 0; id < t->n && !s; id++) {
            if (t->type[id] != TT_NORMAL && t->type[id] != TT_UNKNOWN && (int32_t)id != t->unk_id) continue;
            tok_buf b = {0};
            s = tok_pipe_token_raw(t->pipe, tok_piece(t, id), t->piece_len[id], &b);
            if (!s && b.n <= TOK_MAX_TOKEN_BYTES) s = tok_set_raw(t, id, b.s ? b.s : "", b.n);
            tok_buf_free(&b);
        }
    }
    if (!s) s = finish_pipe(t, data, len, !own, path);
    return s;
}

xf_status tok_json_parse(xf_tokenizer **out, const char *data, size_t len, const char *path) {
    *out = NULL;
    tok_json_fast fast;
    xf_status fs = tok_json_fast_split(data, len, &fast, path);
    if (fs) return fs;
    cJSON *root = fast.rest ? cJSON_ParseWithLength(fast.rest, fast.rest_len) : cJSON_ParseWithLength(data, len);
    if (!root) {
        tok_json_fast_free(&fast);
        return xf_fail(XF_ERR_FORMAT, "%s: not valid JSON", path);
    }
    xf_status s = XF_OK;
    entries e = {0};
    const char **ma = NULL, **mb = NULL;
    char *mbuf = NULL;
    size_t nm = 0;
    pretok pt;
    memset(&pt, 0, sizeof pt);
    tok_pipe *pipe = NULL;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(root) || !cJSON_IsObject(model)) {
        s = xf_fail(XF_ERR_FORMAT, "%s: no \"model\" object", path);
        goto done;
    }
    const char *mtype = tok_jstr(model, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    /* other models live in their own files (tok_unigram.c, tok_wordpiece.c) */
    if (mtype && (strcmp(mtype, "Unigram") == 0 || strcmp(mtype, "WordPiece") == 0)) {
        s = model_json(out, root, model, strcmp(mtype, "Unigram") == 0, data, len, path);
        if (s) {
            xf_tokenizer_free(*out);
            *out = NULL;
        }
        goto done;
    }
    if (mtype && strcmp(mtype, "BPE") != 0) {
        s = xf_fail(XF_ERR_UNSUPPORTED, "%s: model type \"%.40s\" is not supported (only BPE)", path, mtype);
        goto done;
    }
    if (!cJSON_IsObject(vocab)) {
        s = xf_fail(XF_ERR_FORMAT, "%s: model.vocab is not an object", path);
        goto done;
    }
    if (merges && !cJSON_IsNull(merges) && !cJSON_IsArray(merges)) {
        s = xf_fail(XF_ERR_FORMAT, "%s: model.merges is not an array", path);
        goto done;
    }
    const char *cont = tok_jstr(model, "continuing_subword_prefix"), *eow = tok_jstr(model, "end_of_word_suffix");
    int im = tok_jbool(model, "ignore_merges", 0), bf = tok_jbool(model, "byte_fallback", 0);
    int fu = tok_jbool(model, "fuse_unk", 0);
    if (im < 0 || bf < 0 || fu < 0) {
        s = xf_fail(XF_ERR_FORMAT, "%s: model.ignore_merges / byte_fallback / fuse_unk must be booleans", path);
        goto done;
    }
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (dropout && !cJSON_IsNull(dropout) && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0)) {
        s = xf_fail(XF_ERR_UNSUPPORTED, "%s: BPE dropout is not supported (encoding would be random)", path);
        goto done;
    }
    s = tok_json_read_pipe(root, &pipe, path);
    if (s) goto done;
    /* the legacy byte-level layout (GPT-2, Llama 3, xfmr's own files) keeps
     * its own pre-tokenizer fields, so its hash and saved form are unchanged */
    int legacy = pipe->n_nz == 0 && !bf && !(cont && *cont) && !(eow && *eow) &&
                 read_pretok(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), &pt, path) == XF_OK &&
                 pt.byte_level;
    if (!legacy) {
        xf_clear_error();
        memset(&pt, 0, sizeof pt);
    }
    pipe->legacy = legacy;
    if (legacy) pipe->byte_level = 1;
    pipe->byte_fallback = bf;
    pipe->fuse_unk = fu;
    if ((cont && *cont && !(pipe->cont = strdup(cont))) || (eow && *eow && !(pipe->eow = strdup(eow)))) {
        s = xf_fail(XF_ERR_OOM, "out of memory");
        goto done;
    }
    pipe->cont_len = pipe->cont ? strlen(pipe->cont) : 0;
    pipe->eow_len = pipe->eow ? strlen(pipe->eow) : 0;
    const cJSON *it;
    for (size_t k = 0; k < fast.n_vocab && fast.have_vocab; k++) {
        double d = fast.id_num[k];
        if (!(d >= 0 && d < (double)TOK_MAX_VOCAB) || d != floor(d)) {
            s = xf_fail(XF_ERR_FORMAT, "%s: vocab entry \"%.40s\" has no valid id", path, fast.piece[k]);
            goto done;
        }
        if ((s = ent_push(&e, fast.piece[k], (int32_t)d, TT_NORMAL))) goto done;
    }
    cJSON_ArrayForEach(it, vocab) {
        int32_t id;
        if (json_id(it, &id)) {
            s = xf_fail(XF_ERR_FORMAT, "%s: vocab entry \"%.40s\" has no valid id", path,
                        it->string ? it->string : "");
            goto done;
        }
        if (!it->string) {
            s = xf_fail(XF_ERR_FORMAT, "%s: vocab entry without a key", path);
            goto done;
        }
        if ((s = ent_push(&e, it->string, id, TT_NORMAL))) goto done;
    }
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (added && !cJSON_IsNull(added)) {
        if (!cJSON_IsArray(added)) {
            s = xf_fail(XF_ERR_FORMAT, "%s: added_tokens is not an array", path);
            goto done;
        }
        cJSON_ArrayForEach(it, added) {
            int32_t id;
            const char *content = cJSON_IsObject(it) ? tok_jstr(it, "content") : NULL;
            int special = cJSON_IsObject(it) ? tok_jbool(it, "special", 0) : -1;
            if (!content || special < 0 || json_id(cJSON_GetObjectItemCaseSensitive(it, "id"), &id)) {
                s = xf_fail(XF_ERR_FORMAT, "%s: added token needs integer \"id\", string \"content\", boolean \"special\"", path);
                goto done;
            }
            if ((s = ent_push(&e, content, id, special ? TT_CONTROL : TT_USER))) goto done;
            if ((s = add_added(pipe, it, content, id, special, path))) goto done;
        }
    }
    nm = cJSON_IsArray(merges) ? (size_t)cJSON_GetArraySize(merges) : 0;
    if (nm) {
        ma = malloc(nm * sizeof *ma);
        mb = malloc(nm * sizeof *mb);
        /* legacy "a b" strings are split into a copy */
        size_t total = 0;
        cJSON_ArrayForEach(it, merges) if (cJSON_IsString(it)) total += strlen(it->valuestring) + 1;
        mbuf = malloc(total + 1);
        if (!ma || !mb || !mbuf) {
            s = xf_fail(XF_ERR_OOM, "out of memory for merges");
            goto done;
        }
        size_t r = 0, off = 0;
        cJSON_ArrayForEach(it, merges) {
            if (cJSON_IsString(it)) {
                const char *str = it->valuestring;
                const char *sp = strchr(str, ' ');
                if (!sp || sp == str || !sp[1] || strchr(sp + 1, ' ')) {
                    s = xf_fail(XF_ERR_FORMAT, "%s: merge %zu \"%.60s\" is not \"left right\"", path, r, str);
                    goto done;
                }
                size_t l = strlen(str);
                memcpy(mbuf + off, str, l + 1);
                mbuf[off + (size_t)(sp - str)] = '\0';
                ma[r] = mbuf + off;
                mb[r] = mbuf + off + (size_t)(sp - str) + 1;
                off += l + 1;
            } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 &&
                       cJSON_IsString(cJSON_GetArrayItem(it, 0)) &&
                       cJSON_IsString(cJSON_GetArrayItem(it, 1))) {
                ma[r] = cJSON_GetArrayItem(it, 0)->valuestring;
                mb[r] = cJSON_GetArrayItem(it, 1)->valuestring;
            } else {
                s = xf_fail(XF_ERR_FORMAT, "%s: merge %zu is neither \"a b\" nor [\"a\", \"b\"]", path, r);
                goto done;
            }
            r++;
        }
    }
    if (fast.have_merges) {
        free(ma);
        free(mb);
        ma = fast.ma;
        mb = fast.mb;
        fast.ma = fast.mb = NULL;
        nm = fast.n_merges;
    }
    s = build_bytelevel(out, &e, ma, mb, nm, pt.pattern, pt.use_regex, pt.add_prefix_space, im,
                        tok_jstr(model, "unk_token"), pipe, path);
    pipe = NULL; /* owned by the tokenizer (or freed) */
    if (!s) s = finish_pipe(*out, data, len, !(*out)->pipe->legacy, path);
    if (s && *out) {
        xf_tokenizer_free(*out);
        *out = NULL;
    }
done:
    tok_pipe_free(pipe);
    tok_json_fast_free(&fast);
    free(e.v);
    free(ma);
    free(mb);
    free(mbuf);
    cJSON_Delete(root);
    return s;
}

/* -------------------------------------------------------------- writing */

xf_status tok_json_write(const xf_tokenizer *t, int legacy_merges, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    if (t->kind != TOK_BYTELEVEL)
        return xf_fail(XF_ERR_UNSUPPORTED, "only byte-level BPE tokenizers are written as tokenizer.json");
    if (t->pipe_custom) {
        /* a full pipeline is written back as it was read */
        *out = malloc(t->src_len + 1);
        if (!*out) return xf_fail(XF_ERR_OOM, "out of memory");
        memcpy(*out, t->src_data, t->src_len + 1);
        *len = t->src_len;
        return XF_OK;
    }
    xf_strbuf b = {0};
    char num[32];
    sb_cstr(&b, "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [");
    int first = 1;
    for (size_t id = 0; id < t->n; id++) {
        if (t->type[id] != TT_CONTROL && t->type[id] != TT_USER) continue;
        snprintf(num, sizeof num, "%zu", id);
        sb_cstr(&b, first ? "\n    {\"id\": " : ",\n    {\"id\": ");
        sb_cstr(&b, num);
        sb_cstr(&b, ", \"content\": ");
        sb_json_str(&b, tok_piece(t, id), t->piece_len[id]);
        sb_cstr(&b, ", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": ");
        sb_cstr(&b, t->type[id] == TT_CONTROL ? "true}" : "false}");
        first = 0;
    }
    sb_cstr(&b, first ? "],\n" : "\n  ],\n");
    sb_cstr(&b, "  \"normalizer\": null,\n  \"pre_tokenizer\": ");
    char bl[160];
    snprintf(bl, sizeof bl,
             "{\"type\": \"ByteLevel\", \"add_prefix_space\": %s, \"trim_offsets\": true, \"use_regex\": %s}",
             t->add_prefix_space ? "true" : "false",
             (!t->pattern && (t->re || t->n_merges == 0)) ? "true" : "false");
    if (t->pattern) {
        sb_cstr(&b, "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": ");
        sb_json_str(&b, t->pattern, strlen(t->pattern));
        sb_cstr(&b, "}, \"behavior\": \"Isolated\", \"invert\": false}, ");
        sb_cstr(&b, bl);
        sb_cstr(&b, "]}");
    } else {
        sb_cstr(&b, bl);
    }
    sb_cstr(&b, ",\n  \"post_processor\": null,\n  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n");
    sb_cstr(&b, "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
             "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
             "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": ");
    sb_cstr(&b, t->ignore_merges ? "true" : "false");
    sb_cstr(&b, ",\n    \"vocab\": {");
    for (size_t id = 0; id < t->n; id++) {
        sb_cstr(&b, id ? ",\n      " : "\n      ");
        sb_json_str(&b, tok_piece(t, id), t->piece_len[id]);
        snprintf(num, sizeof num, ": %zu", id);
        sb_cstr(&b, num);
    }
    sb_cstr(&b, "\n    },\n    \"merges\": [");
    for (size_t r = 0; r < t->n_merges; r++) {
        int32_t a = t->merge[r][0], c = t->merge[r][1];
        sb_cstr(&b, r ? ",\n      " : "\n      ");
        if (legacy_merges) {
            if (memchr(tok_piece(t, (size_t)a), ' ', t->piece_len[a]) ||
                memchr(tok_piece(t, (size_t)c), ' ', t->piece_len[c])) {
                free(b.p);
                return xf_fail(XF_ERR_UNSUPPORTED, "merge %zu has a token with a space: use the list form", r);
            }
            size_t la = t->piece_len[a], lc = t->piece_len[c];
            char tmp[2 * TOK_MAX_TOKEN_BYTES + 1];
            memcpy(tmp, tok_piece(t, (size_t)a), la);
            tmp[la] = ' ';
            memcpy(tmp + la + 1, tok_piece(t, (size_t)c), lc);
            sb_json_str(&b, tmp, la + 1 + lc);
        } else {
            sb_cstr(&b, "[");
            sb_json_str(&b, tok_piece(t, (size_t)a), t->piece_len[a]);
            sb_cstr(&b, ", ");
            sb_json_str(&b, tok_piece(t, (size_t)c), t->piece_len[c]);
            sb_cstr(&b, "]");
        }
    }
    sb_cstr(&b, t->n_merges ? "\n    ]\n  }\n}\n" : "]\n  }\n}\n");
    if (b.oom) {
        free(b.p);
        return xf_fail(XF_ERR_OOM, "out of memory writing tokenizer.json");
    }
    *out = b.p;
    *len = b.len;
    return XF_OK;
}

xf_status xf_tokenizer_save_json(const xf_tokenizer *t, const char *path, int legacy_merges) {
    if (!t || !path) return xf_fail(XF_ERR_ARG, "xf_tokenizer_save_json: NULL argument");
    char *json;
    size_t len;
    xf_status s = t->kind == TOK_BYTELEVEL ? tok_json_write(t, legacy_merges, &json, &len)
                                            : tok_json_write_model(t, &json, &len);
    if (s) return s;
    s = xf_file_write_atomic(path, json, len);
    free(json);
    return s;
}

/* ---------------------------------------------------------------- GPT-2 */

xf_status tok_gpt2_load(xf_tokenizer **out, const char *dir) {
    *out = NULL;
    size_t dl = strlen(dir);
    char *pe = malloc(dl + 16), *pb = malloc(dl + 16);
    if (!pe || !pb) {
        free(pe);
        free(pb);
        return xf_fail(XF_ERR_OOM, "out of memory");
    }
    snprintf(pe, dl + 16, "%s/encoder.json", dir);
    snprintf(pb, dl + 16, "%s/vocab.bpe", dir);
    char *ej = NULL, *bpe = NULL;
    size_t el = 0, bl = 0;
    cJSON *root = NULL;
    entries e = {0};
    const char **ma = NULL, **mb = NULL;
    size_t nm = 0;
    xf_status s = xf_file_read_all(pe, &ej, &el, JSON_FILE_MAX);
    if (!s) s = xf_file_read_all(pb, &bpe, &bl, JSON_FILE_MAX);
    if (s) goto done;
    root = cJSON_ParseWithLength(ej, el);
    if (!cJSON_IsObject(root)) {
        s = xf_fail(XF_ERR_FORMAT, "%s: not a JSON object", pe);
        goto done;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        int32_t id;
        if (!it->string || json_id(it, &id)) {
            s = xf_fail(XF_ERR_FORMAT, "%s: entry \"%.40s\" has no valid id", pe, it->string ? it->string : "");
            goto done;
        }
        int type = strcmp(it->string, "<|endoftext|>") == 0 ? TT_CONTROL : TT_NORMAL;
        if ((s = ent_push(&e, it->string, id, type))) goto done;
    }
    /* vocab.bpe: lines; NUL-terminate each in place */
    size_t lines = 1;
    for (size_t i = 0; i < bl; i++) lines += bpe[i] == '\n';
    ma = malloc(lines * sizeof *ma);
    mb = malloc(lines * sizeof *mb);
    if (!ma || !mb) {
        s = xf_fail(XF_ERR_OOM, "out of memory for merges");
        goto done;
    }
    size_t pos = 0, lineno = 0;
    while (pos < bl) {
        char *ln = bpe + pos;
        char *nl = memchr(ln, '\n', bl - pos);
        size_t ll = nl ? (size_t)(nl - ln) : bl - pos;
        pos += ll + (nl ? 1 : 0);
        lineno++;
        if (ll && ln[ll - 1] == '\r') ll--;
        ln[ll] = '\0';
        if (ll == 0) continue;
        if (lineno == 1 && strncmp(ln, "#version", 8) == 0) continue;
        if (memchr(ln, '\0', ll)) {
            s = xf_fail(XF_ERR_FORMAT, "%s: line %zu has a NUL byte", pb, lineno);
            goto done;
        }
        char *sp = strchr(ln, ' ');
        if (!sp || sp == ln || !sp[1] || strchr(sp + 1, ' ')) {
            s = xf_fail(XF_ERR_FORMAT, "%s: line %zu is not \"left right\"", pb, lineno);
            goto done;
        }
        *sp = '\0';
        ma[nm] = ln;
        mb[nm] = sp + 1;
        nm++;
    }
    s = build_bytelevel(out, &e, ma, mb, nm, NULL, 1, 0, 0, NULL, NULL, pe);
done:
    free(e.v);
    free(ma);
    free(mb);
    cJSON_Delete(root);
    free(ej);
    free(bpe);
    free(pe);
    free(pb);
    return s;
}
