/* Tokenizer vocabularies in GGUF metadata (see tok_gguf.h).
 *
 * SentencePiece ("llama"): tokens are the pieces (U+2581 for spaces), with
 * scores and SentencePiece's token types. Reading one back goes through the
 * llama2.c tokenizer.bin constructor (tok_spm_parse_bin) on a tokenizer.bin
 * image built here, so the result is a SentencePiece tokenizer xfmr can save.
 * Byte-level BPE ("gpt2"): tokens in GPT-2's byte-to-unicode spelling and the
 * merges as "left right" strings in rank order. */
#include "data/tok_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tok_impl.h"

xf_status tok_gguf_write(const xf_tokenizer *t, size_t V, gguf_writer *w) {
    if (!t) return gguf_w_str(w, "tokenizer.ggml.model", "none");
    if (t->n > V)
        return xf_fail(XF_ERR_SHAPE, "gguf: the tokenizer has %zu ids but the model only %zu", t->n, V);
    const char **s = malloc(V * sizeof *s);
    size_t *len = malloc(V * sizeof *len);
    char *fill = malloc(V * 24);
    float *score = malloc(V * sizeof *score);
    int32_t *type = malloc(V * sizeof *type);
    xf_status st = XF_OK;
    if (!s || !len || !fill || !score || !type) st = xf_fail(XF_ERR_OOM, "out of memory");
    for (size_t i = 0; !st && i < V; i++) {
        if (i < t->n) {
            s[i] = tok_piece(t, i);
            len[i] = t->piece_len[i];
            score[i] = t->score ? t->score[i] : 0.0f;
            type[i] = t->type[i];
        } else { /* ids the model has but the tokenizer does not */
            char *f = fill + 24 * i;
            len[i] = (size_t)snprintf(f, 24, "<xfmr_unused_%zu>", i);
            s[i] = f;
            score[i] = 0.0f;
            type[i] = TT_UNUSED;
        }
    }
    int spm = t->kind == TOK_SPM;
    if (!st) st = gguf_w_str(w, "tokenizer.ggml.model", spm ? "llama" : "gpt2");
    if (!st && !spm) st = gguf_w_str(w, "tokenizer.ggml.pre", t->pattern ? "default" : "gpt-2");
    if (!st) st = gguf_w_arr_str(w, "tokenizer.ggml.tokens", s, len, V);
    if (!st && spm) st = gguf_w_arr_f32(w, "tokenizer.ggml.scores", score, V);
    if (!st) st = gguf_w_arr_i32(w, "tokenizer.ggml.token_type", type, V);
    if (!st && !spm) { /* merges "left right" */
        char **m = calloc(t->n_merges ? t->n_merges : 1, sizeof *m);
        size_t *ml = malloc((t->n_merges ? t->n_merges : 1) * sizeof *ml);
        if (!m || !ml) st = xf_fail(XF_ERR_OOM, "out of memory");
        for (size_t r = 0; !st && r < t->n_merges; r++) {
            size_t a = (size_t)t->merge[r][0], b = (size_t)t->merge[r][1];
            ml[r] = t->piece_len[a] + 1 + t->piece_len[b];
            if (!(m[r] = malloc(ml[r]))) {
                st = xf_fail(XF_ERR_OOM, "out of memory");
                break;
            }
            memcpy(m[r], tok_piece(t, a), t->piece_len[a]);
            m[r][t->piece_len[a]] = ' ';
            memcpy(m[r] + t->piece_len[a] + 1, tok_piece(t, b), t->piece_len[b]);
        }
        if (!st) st = gguf_w_arr_str(w, "tokenizer.ggml.merges", (const char *const *)m, ml, t->n_merges);
        for (size_t r = 0; m && r < t->n_merges; r++) free(m[r]);
        free(m);
        free(ml);
    }
    static const char *const keys[4] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                        "tokenizer.ggml.padding_token_id", "tokenizer.ggml.unknown_token_id"};
    static const xf_tok_special which[4] = {XF_TOK_BOS, XF_TOK_EOS, XF_TOK_PAD, XF_TOK_UNK};
    for (int k = 0; k < 4 && !st; k++)
        if (t->special[which[k]] >= 0) st = gguf_w_u32(w, keys[k], (uint32_t)t->special[which[k]]);
    if (!st) st = gguf_w_bool(w, "tokenizer.ggml.add_bos_token", spm && t->special[XF_TOK_BOS] >= 0);
    if (!st) st = gguf_w_bool(w, "tokenizer.ggml.add_eos_token", 0);
    free(s);
    free(len);
    free(fill);
    free(score);
    free(type);
    return st;
}

/* The vocabulary arrays, checked: tokens (strings), token_type and scores
 * (numbers, optional) all of n elements. */
static xf_status vocab_arrays(const gguf_file *f, const gguf_kv **tokens, const gguf_kv **types,
                              const gguf_kv **scores) {
    const char *path = gguf_path(f);
    *tokens = gguf_find(f, "tokenizer.ggml.tokens");
    *types = gguf_find(f, "tokenizer.ggml.token_type");
    *scores = gguf_find(f, "tokenizer.ggml.scores");
    if (!*tokens || (*tokens)->type != GGUF_ARRAY || (*tokens)->atype != GGUF_STRING)
        return xf_fail(XF_ERR_FORMAT, "%s: tokenizer.ggml.tokens is missing or not an array of strings", path);
    uint64_t n = (*tokens)->n;
    if (n == 0 || n > TOK_MAX_VOCAB)
        return xf_fail(XF_ERR_FORMAT, "%s: tokenizer.ggml.tokens has %llu entries (1 to %zu)", path,
                       (unsigned long long)n, TOK_MAX_VOCAB);
    const gguf_kv *arr[2] = {*types, *scores};
    static const char *const names[2] = {"tokenizer.ggml.token_type", "tokenizer.ggml.scores"};
    for (int i = 0; i < 2; i++)
        if (arr[i] && (arr[i]->type != GGUF_ARRAY || arr[i]->atype == GGUF_STRING || arr[i]->n != n))
            return xf_fail(XF_ERR_FORMAT, "%s: %s is not a numeric array of %llu entries", path, names[i],
                           (unsigned long long)n);
    return XF_OK;
}

static int token_type(const gguf_kv *types, uint64_t i) {
    double v = types ? gguf_arr_num(types, i) : TT_NORMAL;
    return v >= TT_NORMAL && v <= TT_BYTE ? (int)v : TT_NORMAL;
}

/* "llama": through a llama2.c tokenizer.bin image. */
static xf_status read_spm(xf_tokenizer **out, const gguf_file *f) {
    const gguf_kv *tokens, *types, *scores;
    xf_status s = vocab_arrays(f, &tokens, &types, &scores);
    if (s) return s;
    size_t cap = 4, maxlen = 1;
    for (uint64_t i = 0; i < tokens->n; i++) {
        const char *p;
        size_t l;
        gguf_arr_str(tokens, i, &p, &l);
        if (l == 0 || l > TOK_MAX_TOKEN_BYTES)
            return xf_fail(XF_ERR_FORMAT, "%s: token %llu has %zu bytes (1 to %d)", gguf_path(f),
                           (unsigned long long)i, l, TOK_MAX_TOKEN_BYTES);
        cap += 8 + l + 2;
        if (l + 2 > maxlen) maxlen = l + 2;
    }
    char *img = malloc(cap), *q = img;
    if (!img) return xf_fail(XF_ERR_OOM, "out of memory");
    uint32_t ml = (uint32_t)maxlen;
    memcpy(q, &ml, 4);
    q += 4;
    for (uint64_t i = 0; i < tokens->n; i++) {
        const char *p;
        size_t l;
        gguf_arr_str(tokens, i, &p, &l);
        float sc = scores ? (float)gguf_arr_num(scores, i) : 0.0f;
        int ctl = token_type(types, i) == TT_CONTROL && ((l == 3 && !memcmp(p, "<s>", 3)) || (l == 4 && !memcmp(p, "</s>", 4)));
        int32_t L = (int32_t)(l + (ctl ? 2 : 0)); /* tokenizer.bin spells BOS/EOS "\n<s>\n", "\n</s>\n" */
        memcpy(q, &sc, 4);
        memcpy(q + 4, &L, 4);
        q += 8;
        if (ctl) *q++ = '\n';
        memcpy(q, p, l);
        q += l;
        if (ctl) *q++ = '\n';
    }
    s = tok_spm_parse_bin(out, img, (size_t)(q - img), gguf_path(f));
    free(img);
    return s;
}

/* "gpt2": byte-level BPE built directly. */
static xf_status read_bpe(xf_tokenizer **out, const gguf_file *f) {
    const char *path = gguf_path(f);
    const gguf_kv *tokens, *types, *scores, *merges = gguf_find(f, "tokenizer.ggml.merges");
    xf_status s = vocab_arrays(f, &tokens, &types, &scores);
    if (s) return s;
    if (merges && (merges->type != GGUF_ARRAY || merges->atype != GGUF_STRING))
        return xf_fail(XF_ERR_FORMAT, "%s: tokenizer.ggml.merges is not an array of strings", path);
    /* drop the filler ids tok_gguf_write appends past a tokenizer's own (they are the model's, not its) */
    size_t n = (size_t)tokens->n;
    while (n > 1) {
        const char *p;
        size_t l;
        char want[32];
        gguf_arr_str(tokens, n - 1, &p, &l);
        int wl = snprintf(want, sizeof want, "<xfmr_unused_%zu>", n - 1);
        if (token_type(types, n - 1) != TT_UNUSED || l != (size_t)wl || memcmp(p, want, l)) break;
        n--;
    }
    xf_tokenizer *t;
    if ((s = tok_alloc(&t, TOK_BYTELEVEL, n))) return s;
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    char raw[TOK_MAX_TOKEN_BYTES];
    int32_t(*mg)[2] = NULL;
    for (uint64_t i = 0; !s && i < n; i++) {
        const char *p;
        size_t l;
        gguf_arr_str(tokens, i, &p, &l);
        if (l == 0 || l > TOK_MAX_TOKEN_BYTES) {
            s = xf_fail(XF_ERR_FORMAT, "%s: token %llu has %zu bytes (1 to %d)", path, (unsigned long long)i, l,
                        TOK_MAX_TOKEN_BYTES);
            break;
        }
        int ty = token_type(types, i);
        long rl = ty == TT_NORMAL || ty == TT_BYTE ? tok_unicode_to_bytes(p, l, raw) : -1;
        if (rl < 0) { /* control, user-defined, unused, or not in the byte alphabet: decodes as written */
            s = tok_set(t, (size_t)i, p, l, p, l, ty == TT_NORMAL ? TT_USER : ty);
        } else {
            s = tok_set(t, (size_t)i, p, l, raw, (size_t)rl, TT_NORMAL);
            if (rl == 1 && t->byte_id[(unsigned char)raw[0]] < 0) t->byte_id[(unsigned char)raw[0]] = (int32_t)i;
        }
    }
    if (!s) s = tok_finish(t, path);
    size_t nm = merges ? (size_t)merges->n : 0;
    if (!s && nm && !(mg = malloc(nm * sizeof *mg))) s = xf_fail(XF_ERR_OOM, "out of memory");
    for (size_t r = 0; !s && r < nm; r++) {
        const char *p, *sp;
        size_t l;
        gguf_arr_str(merges, r, &p, &l);
        sp = l ? memchr(p, ' ', l) : NULL;
        if (!sp || sp == p || sp == p + l - 1) {
            s = xf_fail(XF_ERR_FORMAT, "%s: merge %zu is not \"left right\"", path, r);
            break;
        }
        mg[r][0] = tok_find(t, p, (size_t)(sp - p));
        mg[r][1] = tok_find(t, sp + 1, (size_t)(p + l - sp - 1));
        if (mg[r][0] < 0 || mg[r][1] < 0) s = xf_fail(XF_ERR_FORMAT, "%s: merge %zu names a token not in the vocabulary", path, r);
    }
    if (!s) s = tok_bl_set_merges(t, (const int32_t(*)[2])mg, nm, path);
    if (!s) s = tok_bl_compile(t, NULL);
    free(mg);
    if (s) {
        xf_tokenizer_free(t);
        return s;
    }
    tok_seal(t);
    *out = t;
    return XF_OK;
}

xf_status tok_gguf_read(xf_tokenizer **out, const gguf_file *f) {
    *out = NULL;
    const char *m = NULL;
    size_t ml = 0;
    xf_status s = gguf_get_str(f, "tokenizer.ggml.model", 0, &m, &ml);
    if (s || !m) return s;
    if (ml == 5 && !memcmp(m, "llama", 5)) return read_spm(out, f);
    if (ml == 4 && !memcmp(m, "gpt2", 4)) return read_bpe(out, f);
    if ((ml == 4 && !memcmp(m, "none", 4)) || (ml == 8 && !memcmp(m, "no_vocab", 8))) return XF_OK;
    return xf_fail(XF_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model \"%.*s\" is not supported (llama, gpt2, none)",
                   gguf_path(f), (int)(ml > 40 ? 40 : ml), m);
}
