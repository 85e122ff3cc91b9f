/* xfmr: the Unigram model (SentencePiece's model_type UNIGRAM, Hugging Face's
 * "Unigram"). See docs/tokenizers.md §Unigram.
 *
 * Every piece has a score (its log probability). Encoding picks the
 * segmentation of the normalized text whose pieces' scores sum highest
 * (Viterbi, left to right over character boundaries):
 *   best[0] = 0; for each character start s (in order), for each piece p that
 *   the text spells from s (a walk down the byte trie), with end e = s + |p|:
 *     cand = best[s] + score(p); keep it at e if e is unset or cand > best[e]
 *   and when no piece covers exactly the one character at s, the unknown
 *   candidate best[s] + (min score - 10) ends one character later.
 * Backtracking from the end gives the pieces. Which pieces take part and how
 * the sums are rounded follows the source:
 *   .model (sentencepiece unigram_model.cc, EncodeOptimized): NORMAL,
 *     USER_DEFINED and UNUSED pieces are in the trie, UNUSED ones are skipped;
 *     a USER_DEFINED piece of L bytes scores L * max - 0.1 (max over NORMAL
 *     pieces, starting at FLT_MIN); min is over NORMAL pieces; a candidate
 *     is computed in double (score + best so far) and compared with the
 *     stored best, which is kept as a float. Consecutive unknowns fuse into one <unk> over the whole text;
 *     with byte_fallback each unknown becomes its bytes' <0xNN> pieces.
 *   tokenizer.json (tokenizers unigram/model.rs): every vocab entry is in the
 *     trie; min is over all scores; sums are double. The Metaspace
 *     pre-tokenizer (split) cuts the text before each U+2581 and each part is
 *     encoded alone; unknowns fuse within a part; with byte_fallback a fused
 *     unknown becomes its bytes' <0xNN> pieces when all of them exist.
 *
 * The trie: piece ids sorted by spelling, built breadth first so that each
 * node's children are contiguous and sorted (a binary search per byte). */
#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/tok_impl.h"

#define UNK_PENALTY 10.0 /* sentencepiece kUnkPenalty, tokenizers K_UNK_PENALTY */

static const char k_ws[] = "\xE2\x96\x81"; /* U+2581 */

/* ------------------------------------------------------------------ trie */

static const xf_tokenizer *g_sort_tok; /* qsort has no context argument */

static int cmp_piece(const void *a, const void *b) {
    const xf_tokenizer *t = g_sort_tok;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    size_t lx = t->piece_len[x], ly = t->piece_len[y];
    int c = memcmp(tok_piece(t, (size_t)x), tok_piece(t, (size_t)y), lx < ly ? lx : ly);
    if (c) return c;
    return lx < ly ? -1 : lx > ly;
}

static int in_trie(const xf_tokenizer *t, size_t id) {
    if (t->uni_hf) return 1;
    int ty = t->type[id];
    return ty == TT_NORMAL || ty == TT_USER || ty == TT_UNUSED;
}

typedef struct {
    uint32_t node, lo, hi, depth;
} span;

static xf_status build_trie(xf_tokenizer *t, const char *what) {
    size_t m = 0, bytes = 0;
    int32_t *ids = malloc(t->n * sizeof *ids);
    if (!ids) return xf_fail(XF_ERR_OOM, "out of memory for the piece trie");
    for (size_t i = 0; i < t->n; i++)
        if (in_trie(t, i)) {
            ids[m++] = (int32_t)i;
            bytes += t->piece_len[i];
        }
    g_sort_tok = t; /* loading is single-threaded per tokenizer; see tokenizer.h */
    qsort(ids, m, sizeof *ids, cmp_piece);
    size_t cap = bytes + 1;
    t->trie = calloc(cap, sizeof *t->trie);
    span *q = malloc(cap * sizeof *q);
    if (!t->trie || !q) {
        free(ids);
        free(q);
        return xf_fail(XF_ERR_OOM, "out of memory for the piece trie");
    }
    t->trie[0].id = -1;
    size_t nn = 1, qh = 0, qt = 0;
    q[qt++] = (span){0, 0, (uint32_t)m, 0};
    while (qh < qt) {
        span sp = q[qh++];
        uint32_t lo = sp.lo;
        /* the piece equal to this node's prefix sorts first */
        if (lo < sp.hi && t->piece_len[ids[lo]] == sp.depth) t->trie[sp.node].id = ids[lo++];
        t->trie[sp.node].first = (uint32_t)nn;
        while (lo < sp.hi) {
            unsigned char c = (unsigned char)tok_piece(t, (size_t)ids[lo])[sp.depth];
            uint32_t hi = lo + 1;
            while (hi < sp.hi && (unsigned char)tok_piece(t, (size_t)ids[hi])[sp.depth] == c) hi++;
            t->trie[nn] = (tok_trie_node){-1, 0, 0, c};
            t->trie[sp.node].n++;
            q[qt++] = (span){(uint32_t)nn, lo, hi, sp.depth + 1};
            nn++;
            lo = hi;
        }
    }
    free(ids);
    free(q);
    t->n_trie = nn;
    for (int c = 0; c < 256; c++) t->trie_root[c] = -1;
    for (uint32_t k = t->trie[0].first; k < t->trie[0].first + t->trie[0].n; k++) t->trie_root[t->trie[k].byte] = (int32_t)k;
    (void)what;
    return XF_OK;
}

/* The child of node for byte c, or -1: the root by its table, a node with few
 * children by a scan (they are sorted), others by binary search. */
static inline int32_t trie_child(const xf_tokenizer *t, int32_t node, unsigned char c) {
    if (node == 0) return t->trie_root[c];
    const tok_trie_node *nd = &t->trie[node];
    uint32_t lo = nd->first, hi = nd->first + nd->n;
    if (nd->n <= 8) {
        for (; lo < hi; lo++) {
            unsigned char b = t->trie[lo].byte;
            if (b >= c) return b == c ? (int32_t)lo : -1;
        }
        return -1;
    }
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        unsigned char b = t->trie[mid].byte;
        if (b == c) return (int32_t)mid;
        if (b < c) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

xf_status tok_unigram_prepare(xf_tokenizer *t, const char *what) {
    if (t->uni_hf) {
        double mn = INFINITY;
        for (size_t i = 0; i < t->n; i++)
            if (t->dscore[i] < mn) mn = t->dscore[i];
        t->min_score = mn;
        t->max_score = 0;
    } else {
        float mn = FLT_MAX, mx = FLT_MIN;
        for (size_t i = 0; i < t->n; i++)
            if (t->type[i] == TT_NORMAL) {
                if (t->score[i] < mn) mn = t->score[i];
                if (t->score[i] > mx) mx = t->score[i];
            }
        t->min_score = mn == FLT_MAX ? 0.0 : mn;
        t->max_score = mx == FLT_MIN && mn == FLT_MAX ? 0.0 : mx;
    }
    free(t->trie);
    t->trie = NULL;
    return build_trie(t, what);
}

/* ---------------------------------------------------------------- Viterbi */

typedef struct {
    double score;
    int32_t start; /* -1 = unset */
    int32_t id;
} vnode;

/* Best path over s[0..n): v[e] = best node ending at e (n + 1 entries). */
/* tokenizer.json (uni_hf): the same walk with double scores and no piece
 * types to consult. */
static void viterbi_hf(const xf_tokenizer *t, const char *s, size_t n, vnode *v) {
    const unsigned char *u = (const unsigned char *)s;
    const tok_trie_node *trie = t->trie;
    const double *score = t->dscore;
    double unk = t->min_score - UNK_PENALTY;
    for (size_t i = 0; i <= n; i++) v[i] = (vnode){0, -1, -1};
    v[0].start = 0;
    for (size_t st = 0; st < n;) {
        size_t mb = u[st] < 0x80 ? 1 : tok_utf8_char_len(u + st, n - st);
        if (mb == 0) mb = 1; /* not after normalization; keeps invalid bytes safe */
        double here = v[st].score;
        int single = 0;
        int32_t node = t->trie_root[u[st]];
        for (size_t k = st; node >= 0;) {
            int32_t id = trie[node].id;
            if (id >= 0) {
                double cand = score[id] + here;
                vnode *e = &v[k + 1];
                if (e->start < 0 || cand > e->score) {
                    e->score = cand;
                    e->start = (int32_t)st;
                    e->id = id;
                }
                if (k + 1 - st == mb) single = 1;
            }
            if (++k >= n) break;
            node = trie_child(t, node, u[k]);
        }
        if (!single) {
            vnode *e = &v[st + mb];
            double cand = unk + here;
            if (e->start < 0 || cand > e->score) {
                e->score = cand;
                e->start = (int32_t)st;
                e->id = t->unk_id;
            }
        }
        st += mb;
    }
}

static void viterbi(const xf_tokenizer *t, const char *s, size_t n, vnode *v) {
    if (t->uni_hf) {
        viterbi_hf(t, s, n, v);
        return;
    }
    /* .model: every score and sum is a float, as in sentencepiece */
    double unk = t->uni_hf ? t->min_score - UNK_PENALTY : (double)((float)t->min_score - (float)UNK_PENALTY);
    for (size_t i = 0; i <= n; i++) v[i] = (vnode){0, -1, -1};
    v[0].start = 0;
    for (size_t st = 0; st < n;) {
        size_t mb = tok_utf8_char_len((const unsigned char *)s + st, n - st);
        if (mb == 0) mb = 1; /* not after normalization; keeps invalid bytes safe */
        double here = v[st].score;
        int single = 0;
        int32_t node = 0;
        for (size_t k = st; k < n; k++) {
            node = trie_child(t, node, (unsigned char)s[k]);
            if (node < 0) break;
            int32_t id = t->trie[node].id;
            if (id < 0) continue;
            if (!t->uni_hf && t->type[id] == TT_UNUSED) continue;
            size_t len = k + 1 - st;
            double cand;
            if (t->uni_hf)
                cand = t->dscore[id] + here;
            else if (t->type[id] == TT_USER) /* (float)(L * max) - 0.1 in double */
                cand = (double)((float)len * (float)t->max_score) - 0.1 + here;
            else /* the score is a double there (a ?: with the line above) */
                cand = (double)t->score[id] + here;
            vnode *e = &v[k + 1];
            if (e->start < 0 || cand > e->score) {
                e->score = t->uni_hf ? cand : (double)(float)cand;
                e->start = (int32_t)st;
                e->id = id;
            }
            if (len == mb) single = 1;
        }
        if (!single) {
            vnode *e = &v[st + mb];
            double cand = t->uni_hf ? unk + here : (double)((float)unk + (float)here);
            if (e->start < 0 || cand > e->score) {
                e->score = cand;
                e->start = (int32_t)st;
                e->id = t->unk_id;
            }
        }
        st += mb;
    }
}

static xf_status push_bytes(const xf_tokenizer *t, tok_ivec *out, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        xf_status st = tok_ivec_push(out, t->spm_byte[(unsigned char)s[i]]);
        if (st) return st;
    }
    return XF_OK;
}

/* Encode one part s[0..n) onto out. *prev_unk carries unknown fusion. */
static xf_status encode_part(const xf_tokenizer *t, const char *s, size_t n, vnode *v, int32_t *rev,
                             tok_ivec *out, int *prev_unk) {
    viterbi(t, s, n, v);
    /* backtrack: node ends, last first */
    size_t k = 0;
    for (size_t e = n; e > 0; e = (size_t)v[e].start) rev[k++] = (int32_t)e;
    xf_status st = XF_OK;
    for (size_t j = k; j-- > 0 && !st;) {
        size_t e = (size_t)rev[j], b = (size_t)v[e].start;
        int32_t id = v[e].id;
        if (id != t->unk_id || id < 0) {
            if (id < 0) return xf_fail(XF_ERR_FORMAT, "unknown character and the tokenizer has no unk token");
            *prev_unk = 0;
            st = tok_ivec_push(out, id);
            continue;
        }
        if (t->byte_fallback) {
            /* HF: a fused run goes to bytes only if every byte has a piece */
            size_t run_end = e;
            if (t->uni_hf)
                while (j > 0 && v[rev[j - 1]].id == t->unk_id) run_end = (size_t)rev[--j];
            int all = 1;
            for (size_t i = b; i < run_end; i++)
                if (t->spm_byte[(unsigned char)s[i]] < 0) all = 0;
            if (all) {
                *prev_unk = 0;
                st = push_bytes(t, out, s + b, run_end - b);
                continue;
            }
        }
        if (!*prev_unk) st = tok_ivec_push(out, id);
        *prev_unk = 1;
    }
    return st;
}

/* tokenizers' Metaspace: ' ' -> U+2581, then U+2581 first unless there
 * (an empty text stays empty). */
static xf_status metaspace(const xf_tokenizer *t, const char *text, size_t len, char **out, size_t *n) {
    char *b = malloc(3 * len + 4);
    if (!b) return xf_fail(XF_ERR_OOM, "out of memory normalizing %zu bytes", len);
    size_t o = 0;
    if (len && t->escape_ws && t->add_dummy_prefix && text[0] != ' ' &&
        !(len >= 3 && memcmp(text, k_ws, 3) == 0)) {
        memcpy(b, k_ws, 3);
        o = 3;
    }
    for (size_t i = 0; i < len; i++)
        if (text[i] == ' ' && t->escape_ws) memcpy(b + o, k_ws, 3), o += 3;
        else b[o++] = text[i];
    *out = b;
    *n = o;
    return XF_OK;
}

xf_status tok_unigram_encode(const xf_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n) {
    char *norm = NULL;
    size_t nl = 0;
    tok_ivec out = {0};
    xf_status st = t->uni_hf ? metaspace(t, text, len, &norm, &nl) : tok_spm_normalize(t, text, len, &norm, &nl);
    if (st) return st;
    if (nl > (size_t)INT32_MAX - 1) {
        free(norm);
        return xf_fail(XF_ERR_ARG, "text too long for one Unigram encode call (%zu bytes)", len);
    }
    vnode *v = malloc((nl + 1) * sizeof *v);
    int32_t *rev = malloc((nl + 1) * sizeof *rev);
    if (!v || !rev || tok_ivec_reserve(&out, nl / 3 + 16)) {
        st = xf_fail(XF_ERR_OOM, "out of memory encoding %zu bytes", len);
        goto done;
    }
    int prev_unk = 0;
    if (t->uni_hf && t->spm_segment) {
        /* Metaspace split: a part starts at each U+2581 */
        size_t a = 0;
        for (size_t i = 1; i <= nl && !st; i++) {
            if (i < nl && !(i + 3 <= nl && memcmp(norm + i, k_ws, 3) == 0)) continue;
            prev_unk = 0;
            st = encode_part(t, norm + a, i - a, v, rev, &out, &prev_unk);
            a = i;
        }
    } else if (nl) {
        st = encode_part(t, norm, nl, v, rev, &out, &prev_unk);
    }
done:
    free(norm);
    free(v);
    free(rev);
    if (st) {
        free(out.v);
        return st;
    }
    if (!out.v && !(out.v = malloc(sizeof(int32_t)))) return xf_fail(XF_ERR_OOM, "out of memory");
    *ids = out.v;
    *n = out.n;
    return XF_OK;
}

xf_status tok_unigram_word(const xf_tokenizer *t, const char *s, size_t n, tok_ivec *out) {
    if (n == 0) return XF_OK;
    if (n > (size_t)INT32_MAX - 1) return xf_fail(XF_ERR_ARG, "pre-token too long for Unigram (%zu bytes)", n);
    vnode vs[129];
    int32_t rs[129];
    vnode *v = n < 129 ? vs : malloc((n + 1) * sizeof *v);
    int32_t *rev = n < 129 ? rs : malloc((n + 1) * sizeof *rev);
    int prev_unk = 0;
    xf_status st = v && rev ? encode_part(t, s, n, v, rev, out, &prev_unk)
                            : xf_fail(XF_ERR_OOM, "out of memory encoding %zu bytes", n);
    if (v != vs) free(v);
    if (rev != rs) free(rev);
    return st;
}

/* -------------------------------------------------------- tokenizer.json */


static int jbool_or(const cJSON *o, const char *key, int def) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return def;
    return cJSON_IsBool(j) ? cJSON_IsTrue(j) : -1;
}

/* "<0xNN>" -> byte, else -1 (the spelling tokenizers' byte_fallback looks up) */
static int byte_name(const char *s, size_t len) {
    static const char hex[] = "0123456789ABCDEF";
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    const char *a = memchr(hex, s[3], 16), *b = memchr(hex, s[4], 16);
    if (!a || !b || !s[3] || !s[4]) return -1;
    return (int)((a - hex) * 16 + (b - hex));
}

/* Metaspace pre-tokenizer options: replacement U+2581, prepend_scheme
 * "always" / "first" (the same on one sequence without added tokens) or
 * "never", or the older add_prefix_space; split. */
static xf_status read_metaspace(const cJSON *p, int *prepend, int *split, const char *path) {
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(p, "replacement");
    if (!cJSON_IsString(rep) || strcmp(rep->valuestring, k_ws) != 0)
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: Metaspace replacement other than U+2581 is not supported", path);
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(p, "prepend_scheme");
    int aps = jbool_or(p, "add_prefix_space", 1);
    *split = jbool_or(p, "split", 1);
    if (aps < 0 || *split < 0) return xf_fail(XF_ERR_FORMAT, "%s: Metaspace options must be booleans", path);
    *prepend = aps;
    if (cJSON_IsString(ps)) {
        if (!strcmp(ps->valuestring, "always") || !strcmp(ps->valuestring, "first")) *prepend = 1;
        else if (!strcmp(ps->valuestring, "never")) *prepend = 0;
        else return xf_fail(XF_ERR_FORMAT, "%s: Metaspace prepend_scheme \"%.20s\" is unknown", path, ps->valuestring);
    }
    return XF_OK;
}

int tok_json_unigram_own(const void *root_) {
    const cJSON *root = root_;
    const cJSON *nz = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *ptt = cJSON_IsObject(pt) ? cJSON_GetObjectItemCaseSensitive(pt, "type") : NULL;
    int prepend, split;
    if (nz && !cJSON_IsNull(nz)) return 0;
    if (!pt || cJSON_IsNull(pt)) return 1;
    if (!(cJSON_IsString(ptt) && strcmp(ptt->valuestring, "Metaspace") == 0)) return 0;
    /* anything read_metaspace refuses goes to the pipeline (which names it) */
    int ok = read_metaspace(pt, &prepend, &split, "") == XF_OK;
    xf_clear_error();
    return ok;
}

xf_status tok_json_unigram(xf_tokenizer **out, const void *root_, const void *model_, int own_pipe, const char *path) {
    const cJSON *root = root_, *model = model_;
    *out = NULL;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_id");
    int bf = jbool_or(model, "byte_fallback", 0);
    if (!cJSON_IsArray(vocab)) return xf_fail(XF_ERR_FORMAT, "%s: Unigram model.vocab is not an array", path);
    if (bf < 0) return xf_fail(XF_ERR_FORMAT, "%s: Unigram byte_fallback must be a boolean", path);
    size_t n = (size_t)cJSON_GetArraySize(vocab);
    if (n == 0) return xf_fail(XF_ERR_FORMAT, "%s: empty Unigram vocabulary", path);
    double u = -1;
    if (unk && !cJSON_IsNull(unk)) {
        u = cJSON_IsNumber(unk) ? unk->valuedouble : -1;
        if (!(u >= 0 && u < (double)n) || u != (double)(size_t)u)
            return xf_fail(XF_ERR_FORMAT, "%s: Unigram unk_id is not an id in [0, %zu)", path, n);
    }
    /* the pipeline this hook understands: no normalizer, Metaspace or nothing */
    const cJSON *nz = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *ptt = cJSON_IsObject(pt) ? cJSON_GetObjectItemCaseSensitive(pt, "type") : NULL;
    if (own_pipe && nz && !cJSON_IsNull(nz))
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: Unigram with a normalizer is not supported here (load the .model file)", path);
    int prepend = 0, split = 0, meta = 0;
    if (own_pipe && pt && !cJSON_IsNull(pt)) {
        if (!(cJSON_IsString(ptt) && strcmp(ptt->valuestring, "Metaspace") == 0))
            return xf_fail(XF_ERR_UNSUPPORTED, "%s: Unigram with pre_tokenizer \"%.40s\" is not supported (Metaspace or none)",
                           path, cJSON_IsString(ptt) ? ptt->valuestring : "?");
        xf_status s = read_metaspace(pt, &prepend, &split, path);
        if (s) return s;
        meta = 1;
    }
    xf_tokenizer *t;
    xf_status s = tok_alloc(&t, TOK_UNIGRAM, n);
    if (s) {
        xf_error_prefix("%s", path);
        return s;
    }
    t->uni_hf = 1;
    t->escape_ws = meta;
    t->add_dummy_prefix = prepend;
    t->spm_segment = split;
    t->byte_fallback = bf;
    t->unk_id = u >= 0 ? (int32_t)u : -1;
    t->score = malloc(n * sizeof *t->score);
    t->dscore = malloc(n * sizeof *t->dscore);
    char *raw = malloc(TOK_MAX_TOKEN_BYTES + 1);
    if (!t->score || !t->dscore || !raw) s = xf_fail(XF_ERR_OOM, "out of memory for %zu pieces", n);
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    size_t id = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        if (s) break;
        const cJSON *p = cJSON_GetArrayItem(it, 0), *sc = cJSON_GetArrayItem(it, 1);
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || !cJSON_IsString(p) || !cJSON_IsNumber(sc) ||
            sc->valuedouble != sc->valuedouble) {
            s = xf_fail(XF_ERR_FORMAT, "%s: Unigram vocab entry %zu is not [piece, score]", path, id);
            break;
        }
        const char *ps = p->valuestring;
        size_t pl = strlen(ps);
        if (pl > TOK_MAX_TOKEN_BYTES) {
            s = xf_fail(XF_ERR_FORMAT, "%s: piece %zu is longer than %d bytes", path, id, TOK_MAX_TOKEN_BYTES);
            break;
        }
        int type = TT_NORMAL, b = byte_name(ps, pl);
        if ((int32_t)id == t->unk_id) type = TT_UNKNOWN;
        else if (b >= 0 && bf) type = TT_BYTE;
        else if (cJSON_IsArray(added)) {
            const cJSON *a;
            cJSON_ArrayForEach(a, added) {
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(a, "content");
                if (cJSON_IsString(c) && !strcmp(c->valuestring, ps) && jbool_or(a, "special", 0) == 1) type = TT_CONTROL;
            }
        }
        size_t rl = 0;
        if (type == TT_BYTE) {
            raw[rl++] = (char)b;
            if (t->spm_byte[b] < 0) t->spm_byte[b] = (int32_t)id;
        } else if (type == TT_NORMAL) {
            for (size_t j = 0; j < pl;) /* Metaspace decoder: U+2581 -> space */
                if (meta && j + 3 <= pl && !memcmp(ps + j, k_ws, 3)) raw[rl++] = ' ', j += 3;
                else raw[rl++] = ps[j++];
        }
        t->dscore[id] = sc->valuedouble;
        t->score[id] = (float)sc->valuedouble;
        s = tok_set(t, id, ps, pl, raw, rl, type);
        id++;
    }
    free(raw);
    if (!s) s = tok_finish(t, path);
    if (!s && t->unk_id >= 0) t->special[XF_TOK_UNK] = t->unk_id;
    if (!s) s = tok_unigram_prepare(t, path);
    if (s) {
        xf_tokenizer_free(t);
        return s;
    }
    tok_seal(t);
    *out = t;
    return XF_OK;
}

void tok_wordpiece_json_parts(const xf_tokenizer *t, void *root, void *model);

static void add_metaspace(cJSON *o, const xf_tokenizer *t) {
    cJSON_AddStringToObject(o, "type", "Metaspace");
    cJSON_AddStringToObject(o, "replacement", k_ws);
    cJSON_AddStringToObject(o, "prepend_scheme", t->add_dummy_prefix ? "always" : "never");
    cJSON_AddBoolToObject(o, "split", t->spm_segment);
}

xf_status tok_json_write_model(const xf_tokenizer *t, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    if (t->kind != TOK_WORDPIECE && !(t->kind == TOK_UNIGRAM && t->uni_hf))
        return xf_fail(XF_ERR_UNSUPPORTED, "tokenizer %s cannot be written as tokenizer.json", t->name);
    if (t->pipe_custom && t->src_data) {
        /* a file whose pipeline is beyond the reader's layout: as it was read */
        if (!(*out = malloc(t->src_len + 1))) return xf_fail(XF_ERR_OOM, "out of memory");
        memcpy(*out, t->src_data, t->src_len + 1);
        *len = t->src_len;
        return XF_OK;
    }
    cJSON *root = cJSON_CreateObject();
    if (!root) return xf_fail(XF_ERR_OOM, "out of memory writing tokenizer.json");
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (size_t id = 0; id < t->n; id++) {
        if (t->type[id] != TT_CONTROL && t->type[id] != TT_UNKNOWN) continue;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", (double)id);
        cJSON_AddStringToObject(a, "content", tok_piece(t, id));
        cJSON_AddBoolToObject(a, "single_word", 0);
        cJSON_AddBoolToObject(a, "lstrip", 0);
        cJSON_AddBoolToObject(a, "rstrip", 0);
        cJSON_AddBoolToObject(a, "normalized", 0);
        cJSON_AddBoolToObject(a, "special", 1);
        cJSON_AddItemToArray(added, a);
    }
    cJSON *model = cJSON_CreateObject();
    if (t->kind == TOK_WORDPIECE) {
        tok_wordpiece_json_parts(t, root, model);
    } else {
        cJSON_AddNullToObject(root, "normalizer");
        if (t->escape_ws) add_metaspace(cJSON_AddObjectToObject(root, "pre_tokenizer"), t);
        else cJSON_AddNullToObject(root, "pre_tokenizer");
        cJSON_AddNullToObject(root, "post_processor");
        if (t->escape_ws) add_metaspace(cJSON_AddObjectToObject(root, "decoder"), t);
        else cJSON_AddNullToObject(root, "decoder");
        cJSON_AddStringToObject(model, "type", "Unigram");
        if (t->unk_id >= 0) cJSON_AddNumberToObject(model, "unk_id", t->unk_id);
        else cJSON_AddNullToObject(model, "unk_id");
        cJSON *v = cJSON_AddArrayToObject(model, "vocab");
        for (size_t id = 0; id < t->n; id++) {
            cJSON *e = cJSON_CreateArray();
            cJSON_AddItemToArray(e, cJSON_CreateString(tok_piece(t, id)));
            cJSON_AddItemToArray(e, cJSON_CreateNumber(t->dscore[id]));
            cJSON_AddItemToArray(v, e);
        }
        cJSON_AddBoolToObject(model, "byte_fallback", t->byte_fallback);
    }
    cJSON_AddItemToObject(root, "model", model);
    char *js = cJSON_Print(root);
    cJSON_Delete(root);
    if (!js) return xf_fail(XF_ERR_OOM, "out of memory writing tokenizer.json");
    *out = js;
    *len = strlen(js);
    return XF_OK;
}

xf_status tok_unigram_build(xf_tokenizer **out, const char *const *pieces, const double *scores, size_t n,
                            size_t n_special, int32_t unk_id, const char *what) {
    *out = NULL;
    xf_tokenizer *t;
    xf_status s = tok_alloc(&t, TOK_UNIGRAM, n);
    if (s) return s;
    t->uni_hf = t->escape_ws = t->add_dummy_prefix = t->spm_segment = 1;
    t->unk_id = unk_id;
    t->score = malloc(n * sizeof *t->score);
    t->dscore = malloc(n * sizeof *t->dscore);
    char *raw = malloc(TOK_MAX_TOKEN_BYTES + 1);
    if (!t->score || !t->dscore || !raw) s = xf_fail(XF_ERR_OOM, "out of memory for %zu pieces", n);
    for (size_t id = 0; id < n && !s; id++) {
        const char *ps = pieces[id];
        size_t pl = strlen(ps), rl = 0;
        int type = (int32_t)id == unk_id ? TT_UNKNOWN : id < n_special ? TT_CONTROL : TT_NORMAL;
        if (pl > TOK_MAX_TOKEN_BYTES) {
            s = xf_fail(XF_ERR_FORMAT, "%s: piece %zu is longer than %d bytes", what, id, TOK_MAX_TOKEN_BYTES);
            break;
        }
        for (size_t j = 0; type == TT_NORMAL && j < pl;) /* U+2581 -> space */
            if (j + 3 <= pl && !memcmp(ps + j, k_ws, 3)) raw[rl++] = ' ', j += 3;
            else raw[rl++] = ps[j++];
        t->dscore[id] = scores[id];
        t->score[id] = (float)scores[id];
        s = tok_set(t, id, ps, pl, raw, rl, type);
    }
    free(raw);
    if (!s) s = tok_finish(t, what);
    if (!s && unk_id >= 0) t->special[XF_TOK_UNK] = unk_id;
    if (!s) s = tok_unigram_prepare(t, what);
    if (s) {
        xf_tokenizer_free(t);
        return s;
    }
    tok_seal(t);
    *out = t;
    return XF_OK;
}
